import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { CashierApi, CashierError, TillState } from './cashier-api.js';
import { toCashierError } from './cashier-service.js';

/*
 * Browser mode: the cashier UI and the CashierApi as JSON on loopback only.
 *
 * Anything on this machine (another user's process, a web page in the cashier's browser) can reach
 * 127.0.0.1, so every /api request must carry the per-session secret that only the URL printed at
 * start knows (in its #fragment, never sent to the server or logged); requests naming another host
 * are refused so a DNS-rebound page cannot talk to us as "its own" origin.
 */

export interface UiServerOptions {
  /** 0 (default): any free port. */
  port?: number;
  /** The built cashier UI (default pos-client/ui/dist). */
  staticDir?: string;
  /** Subscribe to state changes (already throttled); returns the unsubscribe function. */
  watch: (listener: (state: TillState) => void) => () => void;
  /** Where unexpected errors are reported (default: stderr). */
  log?: (message: string) => void;
}

export interface UiServer {
  /** Open this in the browser: carries the secret in its fragment. */
  url: string;
  origin: string;
  port: number;
  secret: string;
  close(): Promise<void>;
}

export const SECRET_HEADER = 'x-till-secret';

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
} as const;

const STATUS_OF: Record<string, number> = {
  invalid_input: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  unknown_product: 404,
  reserved_stock: 409,
  not_enrolled: 409,
  till_locked: 409,
  internal: 500,
};

const KEEPALIVE_MS = 15_000;

const defaultStaticDir = join(dirname(fileURLToPath(import.meta.url)), '../../ui/dist');

export async function startUiServer(api: CashierApi, options: UiServerOptions): Promise<UiServer> {
  const secret = randomBytes(32).toString('base64url');
  const secretDigest = digest(secret);
  const log = options.log ?? ((m: string) => console.error(m));
  const app = Fastify({ logger: false, bodyLimit: 256 * 1024 });
  let port = 0;
  const streams = new Set<ServerResponse>();

  const fail = (reply: FastifyReply, error: CashierError) =>
    reply.code(STATUS_OF[error.code] ?? 400).send(error);

  app.addHook('onRequest', async (request, reply) => {
    const host = request.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
      return fail(reply, {
        code: 'forbidden',
        message: 'this till only answers on its own loopback address',
      });
    // By route as well as by raw URL: an encoded path (/%61pi/…) still routes to /api.
    const path = request.url.split('?')[0] ?? '';
    if (!(request.routeOptions.url ?? '').startsWith('/api') && !path.startsWith('/api')) return;
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`)
      return fail(reply, { code: 'forbidden', message: 'cross-origin requests are refused' });
    if (!hasSecret(request, secretDigest))
      return fail(reply, {
        code: 'unauthorized',
        message: 'open the till from the address it printed at start',
      });
  });

  app.addHook('onSend', async (request, reply) => {
    reply.headers(SECURITY_HEADERS);
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.setErrorHandler((err: unknown, _request, reply) => {
    const status = (err as { statusCode?: unknown }).statusCode;
    // Fastify's own refusals (malformed JSON, body too large, wrong content type): the caller's fault.
    if (typeof status === 'number' && status >= 400 && status < 500 && err instanceof Error)
      return reply.code(status).send({ code: 'invalid_input', message: err.message });
    const error = toCashierError(err);
    if (error.code === 'internal') log(`cashier request failed: ${describe(err)}`);
    return fail(reply, error);
  });

  app.setNotFoundHandler((request, reply) =>
    fail(reply, { code: 'not_found', message: `nothing at ${request.method} ${request.url.split('?')[0]}` }),
  );

  await app.register(fastifyStatic, {
    root: options.staticDir ?? defaultStaticDir,
    index: ['index.html'],
    dotfiles: 'deny',
  });

  const orNotFound = <T>(value: T | null, what: string, reply: FastifyReply) =>
    value ?? fail(reply, { code: 'not_found', message: `no ${what}` });
  const param = (request: FastifyRequest, name: string) => (request.params as Record<string, string>)[name];
  const body = (request: FastifyRequest) => request.body;

  app.get('/api/state', () => api.state());
  app.get('/api/products/:ref', async (request, reply) =>
    orNotFound(await api.product(param(request, 'ref') ?? ''), 'such product', reply),
  );
  app.get('/api/search', (request) => api.search((request.query as { q?: string }).q ?? ''));
  app.get('/api/stock/:ref', (request) => api.stock(param(request, 'ref') ?? ''));
  app.post('/api/sales', async (request, reply) =>
    reply.code(201).send(await api.sell(body(request) as Parameters<CashierApi['sell']>[0])),
  );
  app.post('/api/returns', async (request, reply) =>
    reply.code(201).send(await api.returnItems(body(request) as Parameters<CashierApi['returnItems']>[0])),
  );
  app.get('/api/receipts/:id', async (request, reply) =>
    orNotFound(await api.receipt(param(request, 'id') ?? ''), 'such receipt', reply),
  );
  app.get('/api/pickups', () => api.pickupOrders());
  app.post('/api/pickups/:orderId', async (request, reply) =>
    reply.code(201).send(await api.pickup(param(request, 'orderId') ?? '')),
  );
  app.post('/api/counts', async (request, reply) => {
    const lines = (body(request) as { lines?: unknown } | null)?.lines;
    return reply.code(201).send(await api.count(lines as Parameters<CashierApi['count']>[0]));
  });

  // Server-Sent Events: the current state on connect, then every (throttled) change.
  app.get('/api/events', async (request, reply) => {
    const initial = await api.state();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n${stateEvent(initial)}`);
    streams.add(res);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    request.raw.on('close', () => {
      clearInterval(keepalive);
      streams.delete(res);
    });
  });

  const unwatch = options.watch((state) => {
    const event = stateEvent(state);
    for (const res of streams) res.write(event);
  });
  app.addHook('preClose', async () => {
    unwatch();
    for (const res of streams) res.end();
    streams.clear();
  });

  await app.listen({ host: '127.0.0.1', port: options.port ?? 0 });
  port = (app.server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/#secret=${secret}`,
    origin,
    port,
    secret,
    close: () => app.close(),
  };
}

function stateEvent(state: TillState): string {
  return `event: state\ndata: ${JSON.stringify(state)}\n\n`;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Header for fetch; `?secret=` only for the event stream (EventSource cannot set headers). */
function hasSecret(request: FastifyRequest, expected: Buffer): boolean {
  const header = request.headers[SECRET_HEADER];
  const query =
    request.routeOptions.url === '/api/events' ? (request.query as { secret?: unknown }).secret : undefined;
  const given = typeof header === 'string' ? header : typeof query === 'string' ? query : null;
  // Comparing fixed-length digests keeps the comparison constant-time whatever the input's length.
  return given !== null && timingSafeEqual(digest(given), expected);
}

function describe(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}
