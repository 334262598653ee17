import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/*
 * Correlation ids: a request keeps the x-request-id its caller (a proxy, a channel) sent when it is
 * a sane id, else gets a UUID. Fastify logs it as `reqId` on every line of the request, and every
 * reply carries it back, so one id ties a caller's request to the hub's log lines.
 */

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Fastify's `genReqId`: the caller's id when sane (no log injection, bounded size), else a UUID. */
export function genReqId(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  return typeof given === 'string' && SANE_ID.test(given) ? given : randomUUID();
}

/** Echo the request id on every reply, errors and 404s included. */
export function installRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
