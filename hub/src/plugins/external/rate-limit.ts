import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { requestPrincipal } from '../app/auth.js';

/**
 * Per-token request budget, keyed by the token only once it is verified: a request without a
 * token, or with one the hub does not know, spends its IP's budget (made-up tokens share it).
 * Over it: 429 with Retry-After.
 */
export default fp(
  async (app: FastifyInstance, opts: { perMinute: number }) => {
    await app.register(rateLimit, {
      max: opts.perMinute,
      timeWindow: '1 minute',
      keyGenerator: async (request) => {
        const principal = await requestPrincipal(app, request).catch(() => null);
        return principal ? `${principal.kind}:${principal.id}` : `ip:${request.ip}`;
      },
    });
  },
  { name: 'rate-limit', dependencies: ['db'] },
);
