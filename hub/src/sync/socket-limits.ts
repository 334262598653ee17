import type { IncomingMessage } from 'node:http';
import { batchLines, LIMITS, type ProtocolError, UPGRADE_REFUSED_STATUS } from '@tillsync/sync-protocol';
import { isDatabaseUnavailable } from '../db/connection-errors.js';
import type { Queryable } from '../db/database.js';
import { bearerToken } from '../plugins/app/auth.js';
import { authenticate, type Principal } from '../services/tokens.js';

/*
 * What one socket may cost the hub: its token checked before the upgrade, one message at most the
 * largest batch plus headroom, a batch's lines capped, and a budget per connection for the requests
 * a till makes on a timer (pull, checksum, heartbeat). Pushes are already one at a time per socket.
 */

/**
 * Socket.IO's cap on one message: the protocol's batch limit plus room for the frame, the event
 * name and the till's rounding. Derived, so the two never disagree.
 */
export const MAX_MESSAGE_BYTES = LIMITS.maxBatchBytes + 64 * 1024;

/**
 * Per-socket budgets: a burst, then a steady rate. A till pulls pages in a burst after being away,
 * checksums once a minute and beats every 10 s; these leave it ample room and stop a flood.
 */
export const SOCKET_BUDGETS = {
  pull: { burst: 100, perSecond: 20 },
  checksum: { burst: 10, perSecond: 1 },
  heartbeat: { burst: 10, perSecond: 5 },
} as const;
export type BudgetedRequest = keyof typeof SOCKET_BUDGETS;

/** A token bucket: `take` returns 0 when a token was taken, else the ms until one is free. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }
}

/** One connection's budgets; `take` as TokenBucket's. */
export function socketBudget(now: () => number = Date.now): (kind: BudgetedRequest) => number {
  const t = now();
  const buckets = Object.fromEntries(
    Object.entries(SOCKET_BUDGETS).map(([k, b]) => [k, new TokenBucket(b.burst, b.perSecond, t)]),
  ) as Record<BudgetedRequest, TokenBucket>;
  return (kind) => buckets[kind].take(now());
}

export function rateLimited(kind: BudgetedRequest, retryAfterMs: number): ProtocolError {
  const { burst, perSecond } = SOCKET_BUDGETS[kind];
  return {
    code: 'rate_limited',
    message: `too many ${kind} requests on this connection (${perSecond}/s, bursts of ${burst}): retry in ${retryAfterMs} ms`,
    details: { retryAfterMs },
  };
}

/** The refusal of a batch carrying more lines than LIMITS.maxLinesPerBatch, or null. */
export function linesOverLimit(ops: readonly unknown[]): ProtocolError | null {
  const lines = batchLines(ops);
  if (lines <= LIMITS.maxLinesPerBatch) return null;
  return {
    code: 'batch_too_large',
    message: `this batch carries ${lines} lines; a batch holds at most ${LIMITS.maxLinesPerBatch} lines in all: send fewer ops per batch`,
    details: { lines, maxLinesPerBatch: LIMITS.maxLinesPerBatch },
  };
}

/** What the gate verified for an accepted upgrade request: its token, who it stands for, when. */
interface Gated {
  token: string;
  principal: Principal;
  at: number;
}
const gated = new WeakMap<IncomingMessage, Gated>();

/**
 * How long the gate's verdict stands in for a fresh lookup. A Socket.IO handshake follows its
 * upgrade at once; one sent much later on a connection held open (a revocation in between would
 * have found no socket to close) is checked again.
 */
export const GATE_VERDICT_MS = 5_000;

/** The token the upgrade request carried (the handshake must present the same one). */
export function upgradeToken(req: IncomingMessage): string | undefined {
  return gated.get(req)?.token;
}

/**
 * Who `token` stands for, for a handshake on the connection `req` opened: the gate's verdict when
 * it checked this very token moments ago (one lookup per connection), else a lookup now.
 */
export function handshakePrincipal(
  db: Queryable,
  req: IncomingMessage,
  token: string,
  now = Date.now(),
): Promise<Principal | null> {
  const g = gated.get(req);
  if (g && g.token === token && now - g.at <= GATE_VERDICT_MS) return Promise.resolve(g.principal);
  return authenticate(db, token);
}

/**
 * engine.io's `allowRequest`: the HTTP request opening a socket must carry a token the hub knows,
 * in `Authorization: Bearer` (tills) or a `token` query parameter (browsers, which cannot set
 * headers on a WebSocket: the HQ dashboard). Any valid token passes; each namespace then checks
 * the role in its handshake. A refused upgrade is answered 401 at once and nothing more is read.
 */
export function upgradeGate(db: Queryable) {
  return (req: IncomingMessage, callback: (err: string | null, success: boolean) => void): void => {
    const token = bearerToken(req) ?? new URL(req.url ?? '/', 'http://hub').searchParams.get('token');
    const check = token
      ? authenticate(db, token).catch((err: unknown) =>
          // A database blip is no verdict on the token: engine.io's plain 400, which a till retries.
          isDatabaseUnavailable(err) ? DATABASE_UNAVAILABLE : null,
        )
      : Promise.resolve(null);
    void check.then((principal) => {
      if (principal === DATABASE_UNAVAILABLE) return callback("the hub's database is unavailable", false);
      if (principal && token) {
        gated.set(req, { token, principal, at: Date.now() });
        return callback(null, true);
      }
      const refuse = () => callback(REFUSED.message, false);
      // engine.io answers every refused upgrade "400 Bad Request"; the till must tell this one apart
      // (a permanent refusal), so it is written here first and engine.io finds the socket ended.
      if (req.headers.upgrade && req.socket.writable) {
        req.socket.on('error', () => undefined);
        req.socket.end(UPGRADE_REFUSAL, refuse);
      } else refuse();
    });
  };
}

const DATABASE_UNAVAILABLE = Symbol('database unavailable');

const REFUSED = {
  code: 'unauthorized',
  message: 'unknown, revoked or missing token (Authorization: Bearer <token>)',
};
const UPGRADE_REFUSAL =
  `HTTP/1.1 ${UPGRADE_REFUSED_STATUS} Unauthorized\r\nConnection: close\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${Buffer.byteLength(JSON.stringify(REFUSED))}\r\n\r\n${JSON.stringify(REFUSED)}`;
