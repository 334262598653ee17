import { performance } from 'node:perf_hooks';
import type { AttemptResult, ClaimedDelivery } from './outbox.js';
import { signatureHeader } from './signing.js';

/** How much of a failing receiver's answer the delivery log keeps. */
const ERROR_EXCERPT_CHARS = 300;

/** The JSON body of a delivery: the same bytes on every attempt of one event. */
export function deliveryBody(delivery: ClaimedDelivery): string {
  return JSON.stringify({
    eventId: delivery.eventId,
    type: delivery.eventType,
    createdAt: delivery.eventCreatedAt.toISOString(),
    data: delivery.payload,
  });
}

/** POST one delivery, signed, within `timeoutMs` (the answer's body included). Never throws. */
export async function sendDelivery(delivery: ClaimedDelivery, timeoutMs: number): Promise<AttemptResult> {
  const body = deliveryBody(delivery);
  const timestamp = Math.floor(Date.now() / 1000);
  const startedAt = new Date();
  const t0 = performance.now();
  const done = (statusCode: number | null, error: string | null): AttemptResult => ({
    statusCode,
    error,
    durationMs: Math.round(performance.now() - t0),
    startedAt,
  });
  try {
    const res = await fetch(delivery.url, {
      method: 'POST',
      body,
      // A redirect is an answer to fix at the subscription, not a place to send signed data.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'tillsync-webhooks/1',
        'x-tillsync-event-id': delivery.eventId,
        'x-tillsync-event-type': delivery.eventType,
        'x-tillsync-timestamp': String(timestamp),
        'x-tillsync-signature': signatureHeader(delivery.secret, timestamp, body),
      },
    });
    const excerpt = await readExcerpt(res);
    if (res.status >= 200 && res.status < 300) return done(res.status, null);
    return done(res.status, `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ''}`);
  } catch (err) {
    return done(null, describeError(err, timeoutMs));
  }
}

/** The start of the answer's body, without reading more of it than that. */
async function readExcerpt(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (text.length < ERROR_EXCERPT_CHARS) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  await reader.cancel();
  return text.slice(0, ERROR_EXCERPT_CHARS).trim();
}

function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `timed out after ${timeoutMs} ms`;
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) {
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
    return code ? `${code}: ${cause.message}` : cause.message;
  }
  return err instanceof Error ? err.message : String(err);
}
