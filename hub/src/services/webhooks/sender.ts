import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AttemptResult, ClaimedDelivery } from './outbox.js';
import { signatureHeader } from './signing.js';
import type { TargetGuard } from './targets.js';

/**
 * POST one delivery, signed (Standard Webhooks, ./signing.ts), within `timeoutMs` (until the
 * answer's status line). Only the status is kept: the receiver's body is never read, so the
 * delivery log cannot carry what an internal service answered. Redirects are not followed. The socket connects only to addresses `guard`
 * checked (./targets.ts). Never throws.
 */
export async function sendDelivery(
  delivery: ClaimedDelivery,
  timeoutMs: number,
  guard: TargetGuard,
): Promise<AttemptResult> {
  const { body } = delivery;
  const startedAt = new Date();
  const t0 = performance.now();
  const done = (statusCode: number | null, error: string | null): AttemptResult => ({
    statusCode,
    error,
    durationMs: Math.round(performance.now() - t0),
    startedAt,
  });
  const url = new URL(delivery.url);
  const refused = guard.literalRefusal(url);
  if (refused !== null) return done(null, `webhook_target_refused: ${refused}`);
  try {
    const status = await post(url, body, timeoutMs, guard.lookup, {
      'content-type': 'application/json',
      'user-agent': 'tillsync-webhooks/1',
      // Standard Webhooks: the id is the event's, the same on every attempt and redelivery.
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(startedAt.getTime() / 1000)),
      'webhook-signature': signatureHeader(delivery.secrets, delivery.eventId, startedAt, body),
    });
    return done(status, status >= 200 && status < 300 ? null : `HTTP ${status}`);
  } catch (err) {
    return done(null, describeError(err, timeoutMs));
  }
}

/** The status of the answer to one POST; the connection is dropped once the status is in. */
function post(
  url: URL,
  body: string,
  timeoutMs: number,
  lookup: LookupFunction,
  headers: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        // No pooled socket: each delivery connects through `lookup`, checked anew.
        agent: false,
        lookup,
        signal: AbortSignal.timeout(timeoutMs),
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `timed out after ${timeoutMs} ms`;
  if (!(err instanceof Error)) return String(err);
  const code = 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  return code ? `${code}: ${err.message}` : err.message;
}
