import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/database.js';
import { IdempotencyKeyReusedError } from '../../errors.js';

/*
 * Idempotency-Key, scoped per API token. The key row is inserted in the same transaction as the
 * write it guards:
 *   - a first request inserts it, does the work and stores its response before committing;
 *   - a concurrent request with the same key waits on the unique index until the first commits,
 *     then reads the stored response (or, if the first rolled back, inserts the key itself);
 *   - a later request with the same key gets the stored response, or 422 for another request.
 * Failed requests (400, 409 …) roll the key back with everything else: a retry is evaluated anew.
 */

export interface IdempotentRequest {
  tokenId: string;
  key: string;
  /** What the key promises to repeat: method, path and body. */
  method: string;
  path: string;
  body: unknown;
}

/** JSON with object keys sorted, so the same body always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function requestHash(r: IdempotentRequest): string {
  return createHash('sha256')
    .update(`${r.method} ${r.path}\n${canonical(r.body)}`)
    .digest('hex');
}

/**
 * Run `work` at most once per (token, key): returns the stored response body of an earlier
 * identical request instead (each endpoint answers success with one status), and throws 422 when
 * the key was used for a different request.
 */
export async function once<T>(tx: Queryable, request: IdempotentRequest, work: () => Promise<T>): Promise<T> {
  const hash = requestHash(request);
  const inserted = await tx.query(
    `INSERT INTO idempotency_keys (token_id, key, request_hash) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING key`,
    [request.tokenId, request.key, hash],
  );
  if (inserted.rows.length === 0) {
    const { rows } = await tx.query<{ request_hash: string; response: T | null }>(
      'SELECT request_hash, response FROM idempotency_keys WHERE token_id = $1 AND key = $2',
      [request.tokenId, request.key],
    );
    const stored = rows[0];
    if (!stored) throw new Error(`idempotency key ${request.key} vanished after a conflicting insert`);
    if (stored.request_hash !== hash) throw new IdempotencyKeyReusedError(request.key);
    if (stored.response === null) throw new Error(`idempotency key ${request.key} has no response`);
    return stored.response;
  }
  const response = await work();
  await tx.query('UPDATE idempotency_keys SET response = $3 WHERE token_id = $1 AND key = $2', [
    request.tokenId,
    request.key,
    JSON.stringify(response),
  ]);
  return response;
}
