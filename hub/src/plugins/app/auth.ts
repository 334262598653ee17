import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { UnauthorizedError } from '../../errors.js';
import { assertRole } from '../../services/access.js';
import { authenticate, type Principal, type Role } from '../../services/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `app.authorize(...)` on routes that require a token. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** A preHandler: require a bearer token of one of these roles. */
    authorize(roles: readonly Role[]): preHandlerAsyncHookHandler;
  }
}

export function bearerToken(request: Pick<FastifyRequest, 'headers'>): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}

const verified = new WeakMap<FastifyRequest, Promise<Principal | null>>();

/**
 * The principal of the request's bearer token, or null without one; checked once per request
 * (the rate limiter keys on it before the route's `authorize` needs it).
 */
export function requestPrincipal(app: FastifyInstance, request: FastifyRequest): Promise<Principal | null> {
  let principal = verified.get(request);
  if (!principal) {
    const token = bearerToken(request);
    principal = token ? authenticate(app.db, token) : Promise.resolve(null);
    verified.set(request, principal);
  }
  return principal;
}

export default fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('principal', null);
    app.decorate('authorize', (roles: readonly Role[]) => {
      return async (request: FastifyRequest) => {
        const token = bearerToken(request);
        if (!token) throw new UnauthorizedError('missing bearer token (Authorization: Bearer <token>)');
        const principal = await requestPrincipal(app, request);
        if (!principal) throw new UnauthorizedError('unknown, revoked, expired or malformed token');
        request.principal = principal;
        assertRole(principal, roles);
      };
    });
  },
  { name: 'auth', dependencies: ['db'] },
);

/** The authenticated principal of a route guarded by `app.authorize`. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthorizedError();
  return request.principal;
}
