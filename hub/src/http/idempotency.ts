import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import { RequestTransaction, withRequestTransaction } from '../db/request-transaction.js';
import {
  IdempotencyAnswerSealedError,
  IdempotencyKeyInUseError,
  IdempotencyKeyReusedError,
  InvalidIdempotencyKeyError,
  pgErrorCode,
} from '../errors.js';
import { principalOf } from '../plugins/app/auth.js';
import {
  answerKey,
  claimKey,
  type IdempotentRequest,
  type KeyedRequest,
  requestHash,
  type StoredResponse,
  sealingKey,
  type Verdict,
  verdictOf,
} from '../services/idempotency.js';
import { DEFAULT_RETENTION } from '../services/retention.js';

/*
 * Idempotency-Key, Stripe's semantics, on every POST and PATCH route unless the route says
 * `config: { idempotency: false }` (`'required'`: a request without a key is refused). A key
 * belongs to the token (or device) that sent it.
 *
 *   first request     runs; a 2xx/3xx answer is stored with the key (status, body as sent,
 *                     Content-Type, ETag, Location, …); a 4xx/5xx answer is not: a retry runs anew
 *   same key + same   method, path (with query) and body: the stored answer again, with
 *                     `Idempotent-Replayed: true`; the handler does not run
 *   same key, other   request: 422 idempotency_key_reused
 *   concurrent        the second waits for the first (at most `waitMs`), then replays its answer
 *                     or, if it failed, runs itself; still running after the wait: 409
 *                     idempotency_key_in_use with Retry-After
 *   after the TTL     (TILLSYNC_RETAIN_IDEMPOTENCY_KEYS_HOURS, 24 h) the key is new again; the
 *                     retention job deletes it
 *
 * Atomicity: a keyed request runs in ONE transaction (db/request-transaction.ts) that the
 * handler's queries join without being told: the key is claimed first (a concurrent claim of the
 * same key, on any hub instance, waits on its unique index), then the handler runs, then its
 * answer is stored from `onSend`, and only then is it committed and the answer sent. So a write
 * never commits without its key, and a key never commits for a write that rolled back. Changes
 * announced to tills wait for that commit (`afterCommit`). On PGlite (one connection) a keyed
 * request holds the connection from its claim to its commit, handler included; others queue.
 *
 * A route may settle its keys itself (`config: { settlesKey: true }`, POST /v1/orders): its
 * handler runs outside any request transaction, gets the key as `keyedRequest(request)`, claims
 * it and stores its answer in its own transaction (services/idempotency.ts `claimKeysCte`, with
 * many requests in one group commit), and sends a stored answer with `sendVerdict`. The client
 * sees the same semantics; a concurrent request with the key waits for the first's transaction
 * (in this instance, the group commit keeps a key's requests in order; across instances, the
 * key's unique index), without the 409 idempotency_key_in_use of the wait above.
 */

export type IdempotencyMode = 'optional' | 'required';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Idempotency-Key on this POST/PATCH route: optional by default, required, or not taken (false). */
    idempotency?: IdempotencyMode | false;
    /** The handler claims the key and stores its answer itself (`keyedRequest`): no request transaction. */
    settlesKey?: boolean;
  }
}

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';
export const MAX_KEY_LENGTH = 255;
const COVERED_METHODS = new Set(['POST', 'PATCH']);
/** Answer headers a replay repeats; the rest (request id, rate limit, date) belong to each exchange. */
const REPLAYED_HEADERS = ['content-type', 'etag', 'location', 'content-disposition', 'last-modified'];
const RETRY_AFTER_SECONDS = 1;
const LOCK_NOT_AVAILABLE = '55P03';

type RouteLike = Pick<RouteOptions, 'method'> & { config?: { idempotency?: IdempotencyMode | false } };

/** How a route takes an Idempotency-Key, or null when it takes none (not POST/PATCH, or opted out). */
export function idempotencyOf(route: RouteLike): IdempotencyMode | null {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  if (!methods.some((m) => COVERED_METHODS.has(m.toUpperCase()))) return null;
  const mode = route.config?.idempotency;
  return mode === false ? null : (mode ?? 'optional');
}

/** For the OpenAPI transform: document Idempotency-Key and Idempotent-Replayed on this route. */
export function isIdempotentRoute(route: RouteLike): boolean {
  return idempotencyOf(route) !== null;
}

export interface IdempotencyOptions {
  /** How long a key replays its answer (the retention window of idempotency_keys). */
  ttlMs?: number;
  /** How long a request waits for another one with its key before 409. */
  waitMs?: number;
}

export const DEFAULT_IDEMPOTENCY_WAIT_MS = 10_000;

function keyHeader(mode: IdempotencyMode) {
  const key = z
    .string()
    .min(1)
    .max(MAX_KEY_LENGTH)
    .describe(
      `${mode === 'required' ? 'Required' : 'Optional'}: a retry with the same key, path and body gets ` +
        'the first answer again (Idempotent-Replayed: true); with another request, 422. Kept 24 h, per token.',
    );
  return { [IDEMPOTENCY_KEY_HEADER]: mode === 'required' ? key : key.optional() };
}

/** Refuse a bad key before anything else looks at the request (400 invalid_idempotency_key). */
function checkKey(mode: IdempotencyMode) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!COVERED_METHODS.has(request.method)) return;
    const key = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (key === undefined) {
      if (mode === 'required') throw new InvalidIdempotencyKeyError('required on this route');
      return;
    }
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidIdempotencyKeyError('must not be empty');
    if (key.length > MAX_KEY_LENGTH) {
      throw new InvalidIdempotencyKeyError(`at most ${MAX_KEY_LENGTH} characters (got ${key.length})`);
    }
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Why a keyed request's transaction rolled back on purpose: its answer was not one to keep. */
const NOT_KEPT = Symbol('not kept');

/**
 * One keyed request in this hub instance, from its claim to its commit. `state` is 'answering'
 * while its handler may send the answer to keep (a handler's `reply.send` reaches onSend before
 * the handler returns); `answer` is what onSend saw (null: nothing to keep); `ended` settles once
 * the transaction has committed or rolled back.
 */
class Flight {
  state: 'claiming' | 'answering' | 'done' = 'claiming';
  readonly answer = deferred<StoredResponse | null>();
  private readonly end = deferred<{ ok: true } | { ok: false; err: unknown }>();
  readonly ended = this.end.promise;

  finish(outcome: { ok: true } | { ok: false; err: unknown }): void {
    this.state = 'done';
    this.answer.resolve(null);
    this.end.resolve(outcome);
  }
}

function sentBody(payload: unknown): string {
  if (payload === undefined || payload === null) return '';
  if (typeof payload === 'string') return payload;
  if (Buffer.isBuffer(payload)) return payload.toString('utf8');
  throw new Error('an idempotent route answered with a stream: its answer cannot be stored');
}

const keyedRequests = new WeakMap<FastifyRequest, KeyedRequest>();

/** The Idempotency-Key of a request to a `settlesKey` route (the route requires one). */
export function keyedRequest(request: FastifyRequest): KeyedRequest {
  const keyed = keyedRequests.get(request);
  if (!keyed) throw new Error(`${request.url}: not a keyed request to a route that settles its keys`);
  return keyed;
}

/** Send what the key's committed row says: the first answer again, or 422. */
export function sendVerdict(reply: FastifyReply, keyed: KeyedRequest, verdict: Verdict): FastifyReply {
  return replay(reply, keyed.request, verdict);
}

function replay(reply: FastifyReply, request: IdempotentRequest, verdict: Verdict): FastifyReply {
  if (verdict.kind === 'reused') throw new IdempotencyKeyReusedError(request.key, verdict.usedFor);
  if (verdict.kind === 'sealed') throw new IdempotencyAnswerSealedError(request.key);
  return sendAnswer(reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true'), verdict.response);
}

/** Send an answer as stored with its key (a `settlesKey` route's first answer, or a replay). */
export function sendAnswer(reply: FastifyReply, response: StoredResponse): FastifyReply {
  reply.status(response.statusCode);
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
  // A string with a JSON content type is sent as it is: the answer's stored bytes.
  return reply.send(response.body);
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export default fp(
  async (app: FastifyInstance, options: IdempotencyOptions) => {
    const ttlMs = options.ttlMs ?? DEFAULT_RETENTION.idempotencyKeysMs;
    const waitMs = options.waitMs ?? DEFAULT_IDEMPOTENCY_WAIT_MS;
    const db: Database = app.db;
    /** The latest keyed request per (scope, key) in this instance: later ones wait for it. */
    const flights = new Map<string, Flight>();
    const ofRequest = new WeakMap<FastifyRequest, Flight>();

    async function waitForOthers(id: string, key: string): Promise<void> {
      const deadline = Date.now() + waitMs;
      for (let other = flights.get(id); other; other = flights.get(id)) {
        const left = deadline - Date.now();
        if (left <= 0 || !(await settlesWithin(other.ended, left))) {
          throw new IdempotencyKeyInUseError(key, RETRY_AFTER_SECONDS);
        }
      }
    }

    function describe(request: FastifyRequest, key: string) {
      const principal = principalOf(request);
      const idempotent: IdempotentRequest = {
        scope: principal.kind === 'token' ? principal.id : `${principal.kind}:${principal.id}`,
        key,
        method: request.method,
        path: request.url,
        body: request.body,
      };
      // Authenticated already: the header holds the bearer token the answer is sealed under.
      const sealKey = sealingKey(request.headers.authorization ?? '', idempotent.scope, key);
      return { idempotent, hash: requestHash(idempotent), sealKey };
    }

    async function runKeyed(
      handler: RouteHandlerMethod,
      self: FastifyInstance,
      request: FastifyRequest,
      reply: FastifyReply,
      key: string,
    ): Promise<unknown> {
      const { idempotent, hash, sealKey } = describe(request, key);
      const id = `${idempotent.scope}\n${key}`;
      await waitForOthers(id, key);
      const flight = new Flight();
      flights.set(id, flight);
      ofRequest.set(request, flight);

      const handled = deferred<{ running: Promise<unknown> } | { verdict: Verdict }>();
      let transaction: RequestTransaction | undefined;
      db.transaction(async (tx) => {
        let other: Awaited<ReturnType<typeof claimKey>>;
        try {
          other = await claimKey(tx, idempotent, hash, ttlMs, waitMs);
        } catch (err) {
          throw pgErrorCode(err) === LOCK_NOT_AVAILABLE
            ? new IdempotencyKeyInUseError(key, RETRY_AFTER_SECONDS)
            : err;
        }
        if (other) {
          flight.state = 'done';
          handled.resolve({ verdict: verdictOf(other, hash, sealKey) });
          return;
        }
        const joined = new RequestTransaction(db, tx);
        transaction = joined;
        flight.state = 'answering';
        // Fastify takes the handler's promise as it would without a key. The answer to keep comes
        // from onSend: a handler that sends itself returns the reply, whose promise settles only
        // once it is sent, that is after this commits.
        const running = withRequestTransaction(joined, async () => handler.call(self, request, reply));
        running.catch(() => {
          flight.state = 'done';
          flight.answer.resolve(null);
        });
        handled.resolve({ running });
        const answer = await flight.answer.promise;
        joined.close();
        if (answer === null) throw NOT_KEPT;
        await answerKey(tx, idempotent.scope, key, answer, sealKey);
      })
        .then(
          () => {
            try {
              transaction?.committed();
            } catch (err) {
              request.log.error({ err }, 'announcing a committed write failed');
            }
            flight.finish({ ok: true });
          },
          (err: unknown) => {
            transaction?.rolledBack();
            flight.finish(err === NOT_KEPT ? { ok: true } : { ok: false, err });
            handled.reject(err);
          },
        )
        .finally(() => {
          if (flights.get(id) === flight) flights.delete(id);
        });

      const outcome = await handled.promise;
      return 'verdict' in outcome ? replay(reply, idempotent, outcome.verdict) : outcome.running;
    }

    app.addHook('onRoute', (route) => {
      const mode = idempotencyOf(route);
      if (mode === null) return;
      // Documented on the route (OpenAPI) and enforced by checkKey before zod validates it.
      const headers = route.schema?.headers;
      if (headers !== undefined && !(headers instanceof z.ZodObject)) {
        throw new Error(`${route.url}: an idempotent route's headers schema must be a zod object`);
      }
      route.schema = {
        ...route.schema,
        headers: headers ? headers.extend(keyHeader(mode)) : z.object(keyHeader(mode)),
      };
      const pre = route.preValidation;
      route.preValidation = [...(pre === undefined ? [] : Array.isArray(pre) ? pre : [pre]), checkKey(mode)];
      const handler = route.handler;
      const settlesKey = route.config?.settlesKey === true;
      route.handler = async function (this: FastifyInstance, request, reply) {
        const key = request.headers[IDEMPOTENCY_KEY_HEADER];
        if (typeof key !== 'string' || !COVERED_METHODS.has(request.method)) {
          return handler.call(this, request, reply);
        }
        if (settlesKey) {
          const { idempotent, hash, sealKey } = describe(request, key);
          keyedRequests.set(request, { request: idempotent, hash, sealKey, ttlMs });
          return handler.call(this, request, reply);
        }
        return runKeyed(handler, this, request, reply, key);
      };
    });

    // The answer is stored and committed here, before a byte of it is sent.
    app.addHook('onSend', async (request, reply, payload) => {
      const flight = ofRequest.get(request);
      if (flight?.state !== 'answering') return payload;
      flight.state = 'done';
      let body: string;
      try {
        body = sentBody(payload);
      } catch (err) {
        flight.answer.resolve(null);
        throw err;
      }
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      flight.answer.resolve(reply.statusCode < 400 ? { statusCode: reply.statusCode, headers, body } : null);
      const ended = await flight.ended;
      // The commit failed: the client hears so (503 when the database went away), and a retry runs anew.
      if (!ended.ok) throw ended.err;
      return payload;
    });

    // A reply that never went through onSend (it cannot, but a held transaction would stall the hub).
    app.addHook('onResponse', async (request) => {
      const flight = ofRequest.get(request);
      if (flight?.state === 'answering') flight.answer.resolve(null);
    });
  },
  { name: 'idempotency', dependencies: ['db', 'auth'] },
);
