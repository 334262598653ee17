import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Webhook signatures. Each request carries `x-tillsync-timestamp: <unix seconds>` and
 * `x-tillsync-signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`, the key being the
 * secret's text as UTF-8. Signing the timestamp lets a receiver refuse replays of old requests;
 * several comma-separated `v1=` values are accepted, so a secret can be rotated without a gap.
 */

export const SIGNATURE_VERSION = 'v1';
/** How old a signed timestamp a receiver accepts by default, in seconds (either direction). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** 32 random bytes, base64url: the secret shared with one receiver. */
export function newWebhookSecret(): string {
  return randomBytes(32).toString('base64url');
}

function digest(secret: string, timestamp: string, body: string): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest();
}

/** The x-tillsync-signature header value for this body sent at this time. */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `${SIGNATURE_VERSION}=${digest(secret, String(timestamp), body).toString('hex')}`;
}

/**
 * For receivers: whether `header` is a valid signature of `body` at `timestamp` (the
 * x-tillsync-timestamp header) with `secret`, and the timestamp is within `toleranceSeconds` of
 * now. Compares in constant time.
 */
export function verifySignature(
  secret: string,
  timestamp: string | number,
  body: string,
  header: string,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): boolean {
  const ts = String(timestamp);
  if (!/^\d{1,12}$/.test(ts)) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(ts)) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return false;
  const expected = digest(secret, ts, body);
  let ok = false;
  for (const part of header.split(',')) {
    const [version, hex] = part.trim().split('=', 2);
    if (version !== SIGNATURE_VERSION || !hex || !/^[0-9a-f]{64}$/i.test(hex)) continue;
    // Keep comparing after a match: the time taken says nothing about which value matched.
    if (timingSafeEqual(expected, Buffer.from(hex, 'hex'))) ok = true;
  }
  return ok;
}
