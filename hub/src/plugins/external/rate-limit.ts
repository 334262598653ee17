import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { bearerToken } from '../app/auth.js';

/** Per-token (or per-IP without a token) request budget; over it: 429 with Retry-After. */
export default fp(
  async (app: FastifyInstance, opts: { perMinute: number }) => {
    await app.register(rateLimit, {
      max: opts.perMinute,
      timeWindow: '1 minute',
      // The token's public id part keys the budget, never the secret.
      keyGenerator: (request) => bearerToken(request)?.split('.').slice(0, 2).join('.') ?? request.ip,
    });
  },
  { name: 'rate-limit' },
);
