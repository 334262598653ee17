import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Queryable } from '../db/database.js';

/*
 * The idempotency_keys table: one row per (scope, key), written only here (the retention job
 * purges old rows, services/retention.ts). The HTTP side (http/idempotency.ts) decides when to
 * look, claim and answer; this module holds the SQL and the pure decision about a stored row.
 */

export interface IdempotentRequest {
  /** Whose key it is: the API token, or the device, that sent it. */
  scope: string;
  key: string;
  /** What the key promises to repeat: method, path (with its query) and body. */
  method: string;
  path: string;
  body: unknown;
}

/** A keyed request whose handler claims the key and stores the answer itself (`claimKeysCte`). */
export interface KeyedRequest {
  request: IdempotentRequest;
  hash: string;
  /** What its answer is sealed under (`sealingKey`). */
  sealKey: Buffer;
  /** How long a key replays its answer. */
  ttlMs: number;
}

/** A first answer as it was sent: what a replay sends again. */
export interface StoredResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface KeyRow {
  request_hash: string;
  request_method: string | null;
  request_path: string | null;
  status_code: number | null;
  response_headers: Record<string, string>;
  response_body: string | null;
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

/** The fingerprint a key is checked against (the same as before migration 017, so old keys still match). */
export function requestHash(r: Pick<IdempotentRequest, 'method' | 'path' | 'body'>): string {
  return createHash('sha256')
    .update(`${r.method} ${r.path}\n${canonical(r.body)}`)
    .digest('hex');
}

/*
 * A stored answer may hold a secret shown once (a new API token, a webhook's signing secret, an
 * enrolment code). It is kept sealed, AES-256-GCM under a key derived from the caller's own bearer
 * token (which the database never holds), so whoever reads the table cannot read the answers, and
 * only the caller presenting the same token can have one replayed.
 */
const SEALED = 'sealed:v1:';

/** The key an answer is sealed with: the caller's credential, bound to this scope and key. */
export function sealingKey(credential: string, scope: string, key: string): Buffer {
  return createHmac('sha256', credential).update(`tillsync idempotency answer\n${scope}\n${key}`).digest();
}

function seal(body: string, sealKey: Buffer): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
  const data = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]);
  return SEALED + Buffer.concat([iv, cipher.getAuthTag(), data]).toString('base64');
}

/** The stored body in the clear; null when it was sealed under another credential (the token rotated). */
function unseal(stored: string, sealKey: Buffer): string | null {
  if (!stored.startsWith(SEALED)) return stored; // written before answers were sealed (migration 017)
  const raw = Buffer.from(stored.slice(SEALED.length), 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', sealKey, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

export type Verdict =
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'reused'; usedFor: { method: string; path: string } | null }
  | { kind: 'sealed' };

/**
 * What a committed row means for a request with this hash: its answer again, another request's
 * key, or an answer this caller cannot open (sealed under the token's secret before a rotation).
 */
export function verdictOf(row: KeyRow, hash: string, sealKey: Buffer): Verdict {
  if (row.request_hash !== hash) {
    const usedFor =
      row.request_method && row.request_path ? { method: row.request_method, path: row.request_path } : null;
    return { kind: 'reused', usedFor };
  }
  if (row.status_code === null || row.response_body === null) {
    throw new Error('a committed idempotency key has no stored answer');
  }
  const body = unseal(row.response_body, sealKey);
  if (body === null) return { kind: 'sealed' };
  return { kind: 'replay', response: { statusCode: row.status_code, headers: row.response_headers, body } };
}

const ROW = 'request_hash, request_method, request_path, status_code, response_headers, response_body';
const within = (param: string) => `created_at > now() - ${param}::float8 * interval '1 millisecond'`;

/** The committed row of this key if it is younger than `ttlMs` (an older one is forgotten, purged or not). */
export async function findKey(
  db: Queryable,
  scope: string,
  key: string,
  ttlMs: number,
): Promise<KeyRow | undefined> {
  const { rows } = await db.query<KeyRow>(
    `SELECT ${ROW} FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND ${within('$3')}`,
    [scope, key, ttlMs],
  );
  return rows[0];
}

/**
 * Claim the key in `tx`, the transaction of the write it guards: null when claimed (an expired
 * row is taken over), else the row another transaction committed. While another transaction
 * holds an uncommitted claim of it, this waits on the unique index, at most `waitMs` (then
 * Postgres raises lock_not_available, 55P03), and then sees its outcome.
 */
export async function claimKey(
  tx: Queryable,
  request: IdempotentRequest,
  hash: string,
  ttlMs: number,
  waitMs: number,
): Promise<KeyRow | null> {
  await tx.query("SELECT set_config('lock_timeout', $1, true)", [`${Math.max(1, Math.round(waitMs))}ms`]);
  const claimed = await tx.query(
    `INSERT INTO idempotency_keys AS k (token_id, key, request_hash, request_method, request_path)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (token_id, key) DO UPDATE SET
       request_hash = EXCLUDED.request_hash, request_method = EXCLUDED.request_method,
       request_path = EXCLUDED.request_path, status_code = NULL, response_headers = '{}',
       response_body = NULL, created_at = now()
     WHERE NOT k.${within('$6')}
     RETURNING 1`,
    [request.scope, request.key, hash, request.method, request.path, ttlMs],
  );
  // Only the claim may give up waiting: the write's own lock waits keep the usual (no) limit.
  await tx.query('SET LOCAL lock_timeout TO DEFAULT');
  if (claimed.rows.length > 0) return null;
  const row = await findKey(tx, request.scope, request.key, ttlMs);
  if (!row) throw new Error(`idempotency key ${request.key} vanished after a conflicting claim`);
  return row;
}

/** Store the answer of the request that claimed the key, before its transaction commits. */
export async function answerKey(
  tx: Queryable,
  scope: string,
  key: string,
  response: StoredResponse,
  sealKey: Buffer,
): Promise<void> {
  await tx.query(
    `UPDATE idempotency_keys SET status_code = $3, response_headers = $4, response_body = $5
     WHERE token_id = $1 AND key = $2`,
    [scope, key, response.statusCode, JSON.stringify(response.headers), seal(response.body, sealKey)],
  );
}

/*
 * The same claim and answer for a caller that settles many keyed requests in one transaction
 * (POST /v1/orders, services/orders/create.ts), each a CTE over a jsonb array the caller names.
 * The claim has no lock_timeout of its own: a key claimed by another instance's uncommitted
 * transaction is waited for until that one ends (a group's transaction is short). It returns
 * every key's row: claimed now (`claimed`: no answer yet), or the committed one, read after any
 * wait (the upsert locks and returns the latest version, which a SELECT in the same statement,
 * on the statement's snapshot, would not see).
 */

/** One request's claim, as a row of `claimKeysCte`'s array. */
export function claimRow(request: IdempotentRequest, hash: string): Record<string, unknown> {
  return {
    token_id: request.scope,
    key: request.key,
    request_hash: hash,
    request_method: request.method,
    request_path: request.path,
  };
}

export type ClaimedRow = KeyRow & { token_id: string; key: string; claimed: boolean };

/**
 * Claim every key of the array `source` (in key order), a key younger than `ttlMs` (an SQL
 * expression) kept as it is; RETURNING a `ClaimedRow` per key.
 */
export function claimKeysCte(name: string, source: string, ttlMs: string): string {
  const fresh = `k.created_at > now() - (${ttlMs})::float8 * interval '1 millisecond'`;
  const set = (col: string, value: string) => `${col} = CASE WHEN ${fresh} THEN k.${col} ELSE ${value} END`;
  return `${name} AS (
       INSERT INTO idempotency_keys AS k (token_id, key, request_hash, request_method, request_path)
       SELECT * FROM jsonb_to_recordset(${source})
         AS c(token_id text, key text, request_hash text, request_method text, request_path text)
       ORDER BY 1, 2
       ON CONFLICT (token_id, key) DO UPDATE SET
         ${set('request_hash', 'EXCLUDED.request_hash')}, ${set('request_method', 'EXCLUDED.request_method')},
         ${set('request_path', 'EXCLUDED.request_path')}, ${set('status_code', 'NULL')},
         ${set('response_headers', "'{}'")}, ${set('response_body', 'NULL')}, ${set('created_at', 'now()')}
       RETURNING token_id, key, status_code IS NULL AS claimed, ${ROW})`;
}

/** One claimed key's answer (sealed), as a row of `answerKeysCte`'s array. */
export function answerRow(
  scope: string,
  key: string,
  response: StoredResponse,
  sealKey: Buffer,
): Record<string, unknown> {
  return {
    token_id: scope,
    key,
    status_code: response.statusCode,
    response_headers: response.headers,
    response_body: seal(response.body, sealKey),
  };
}

/** Store the answers of the array `source` with their claimed keys (as `answerKey` does). */
export function answerKeysCte(name: string, source: string): string {
  return `${name} AS (
       UPDATE idempotency_keys k SET status_code = a.status_code, response_headers = a.response_headers,
         response_body = a.response_body
       FROM jsonb_to_recordset(${source})
         AS a(token_id text, key text, status_code int, response_headers jsonb, response_body text)
       WHERE k.token_id = a.token_id AND k.key = a.key)`;
}

/**
 * Give back the claimed keys of the array `source` (rows of {token_id, key}): their requests were
 * refused, and a refused request is not remembered (a retry runs anew). An expired row taken over
 * by the claim goes too: the retention job would have purged it.
 */
export function releaseKeysCte(name: string, source: string): string {
  return `${name} AS (
       DELETE FROM idempotency_keys k USING jsonb_to_recordset(${source}) AS r(token_id text, key text)
       WHERE k.token_id = r.token_id AND k.key = r.key)`;
}
