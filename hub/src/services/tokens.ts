import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { BadRequestError, ConflictError, NotFoundError, PG, pgErrorCode } from '../errors.js';
import { decodeCursor, isTimeKey, pageOf, timeKeySql } from '../http/pagination.js';
import type { ApiToken, ApiTokenListQuery, ApiTokenSecret, ApiTokenStatus } from '../schemas/tokens.js';

/*
 * Bearer tokens are "<kind>.<id>.<secret>": the id finds the row, the secret is checked against a
 * SHA-256 kept in the database with a constant-time comparison. Secrets are 32 random bytes, so a
 * fast hash is enough (no password stretching needed); the plain token is shown once, never stored.
 *
 * Every request is checked against the database (no principal cache), so a revoked, expired or
 * rotated token is refused by every hub instance from the moment its row changes; sockets that
 * were accepted before are closed by whoever changes it (hq/feed.ts).
 */

export type ApiRole = 'admin' | 'hq' | 'store_manager' | 'channel';
export type Role = ApiRole | 'device';

export type Principal =
  | { kind: 'token'; id: string; role: ApiRole; locationId: string | null; expiresAt: Date | null }
  | { kind: 'device'; id: string; role: 'device'; locationId: string };

/** last_used_at is written at most this often per token: a read-mostly table stays read-mostly. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

/** A token that works now: not revoked, not past its expiry (the database's clock decides). */
const ACTIVE = '(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))';

const API_PREFIX = 'tsk';
const DEVICE_PREFIX = 'tsd';

export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

export function formatApiToken(id: string, secret: string): string {
  return `${API_PREFIX}.${id}.${secret}`;
}

export function formatDeviceToken(deviceId: string, secret: string): string {
  return `${DEVICE_PREFIX}.${deviceId}.${secret}`;
}

function parseToken(token: string): { kind: 'tsk' | 'tsd'; id: string; secret: string } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [kind, id, secret] = parts as [string, string, string];
  if (
    (kind !== API_PREFIX && kind !== DEVICE_PREFIX) ||
    !id ||
    !secret ||
    id.length > 64 ||
    secret.length > 100
  )
    return null;
  return { kind, id, secret };
}

export async function createApiToken(
  db: Queryable,
  input: {
    name: string;
    role: ApiRole;
    locationId?: string | null;
    expiresAt?: Date | null;
    /** The admin token making it (REST); none from the CLI or at first start. */
    createdBy?: string | null;
  },
): Promise<ApiTokenSecret> {
  const id = randomBytes(6).toString('hex');
  const secret = newSecret();
  try {
    const { rows } = await db.query<TokenRecord>(
      `INSERT INTO api_tokens (id, name, role, location_id, secret_hash, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${TOKEN_COLUMNS}`,
      [
        id,
        input.name,
        input.role,
        input.locationId ?? null,
        hashSecret(secret),
        input.expiresAt ?? null,
        input.createdBy ?? null,
      ],
    );
    return { ...toApiToken(rows[0]!), token: formatApiToken(id, secret) };
  } catch (err) {
    if (pgErrorCode(err) === PG.foreignKeyViolation && input.locationId)
      throw new NotFoundError('location', input.locationId);
    throw err;
  }
}

/** The principal a bearer token stands for, or null for anything unknown, revoked, expired or malformed. */
export async function authenticate(db: Queryable, token: string): Promise<Principal | null> {
  const parsed = parseToken(token);
  if (!parsed) return null;
  if (parsed.kind === API_PREFIX) {
    const { rows } = await db.query<{
      role: ApiRole;
      location_id: string | null;
      secret_hash: string;
      expires_at: Date | null;
      use_stale: boolean;
    }>(
      `SELECT role, location_id, secret_hash, expires_at,
              (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2)) AS use_stale
       FROM api_tokens WHERE id = $1 AND ${ACTIVE}`,
      [parsed.id, LAST_USED_RESOLUTION_SECONDS],
    );
    const row = rows[0];
    if (!row || !secretMatches(parsed.secret, row.secret_hash)) return null;
    if (row.use_stale) await touch(db, parsed.id);
    return {
      kind: 'token',
      id: parsed.id,
      role: row.role,
      locationId: row.location_id,
      expiresAt: row.expires_at,
    };
  }
  const { rows } = await db.query<{ location_id: string; token_hash: string | null }>(
    'SELECT location_id, token_hash FROM devices WHERE id = $1 AND revoked_at IS NULL',
    [parsed.id],
  );
  const row = rows[0];
  if (!row?.token_hash || !secretMatches(parsed.secret, row.token_hash)) return null;
  return { kind: 'device', id: parsed.id, role: 'device', locationId: row.location_id };
}

/** Create the first admin token if none exists; returns it (to print once) or null. */
export async function ensureBootstrapAdmin(db: Queryable): Promise<string | null> {
  if (await hasActiveAdmin(db)) return null;
  return (await createApiToken(db, { name: 'bootstrap admin', role: 'admin' })).token;
}

/**
 * Make sure the admin token given out of band (its id and secret hash, never its secret) exists.
 * Returns false when that id is taken by another secret or was revoked: the operator picks a new id.
 */
export async function provisionAdminToken(db: Queryable, id: string, secretHash: string): Promise<boolean> {
  await db.query(
    `INSERT INTO api_tokens (id, name, role, location_id, secret_hash)
     VALUES ($1, 'provisioned admin', 'admin', NULL, $2) ON CONFLICT (id) DO NOTHING`,
    [id, secretHash],
  );
  const { rows } = await db.query<{ ok: boolean }>(
    `SELECT role = 'admin' AND revoked_at IS NULL AND secret_hash = $2 AS ok FROM api_tokens WHERE id = $1`,
    [id, secretHash],
  );
  return rows[0]?.ok === true;
}

/** Whether any admin token is active (a production hub needs one made out of band). */
export async function hasActiveAdmin(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM api_tokens WHERE role = 'admin' AND ${ACTIVE}`,
  );
  return (rows[0]?.n ?? 0) > 0;
}

/*
 * last_used_at: one write per token per LAST_USED_RESOLUTION_SECONDS at most. The read that
 * authenticates says whether the stored time is that old; requests arriving together share one
 * write (per instance), and the WHERE makes a second instance's write in the same minute a no-op.
 */
const touching = new Map<string, Promise<void>>();

function touch(db: Queryable, id: string): Promise<void> {
  let pending = touching.get(id);
  if (!pending) {
    pending = db
      .query(
        `UPDATE api_tokens SET last_used_at = now()
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
        [id, LAST_USED_RESOLUTION_SECONDS],
      )
      .then(() => undefined)
      .finally(() => touching.delete(id));
    touching.set(id, pending);
  }
  return pending;
}

interface TokenRecord {
  id: string;
  name: string;
  role: ApiRole;
  location_id: string | null;
  status: ApiTokenStatus;
  created_at: Date;
  created_key: string;
  last_used_at: Date | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  rotated_at: Date | null;
  created_by: string | null;
}
const TOKEN_COLUMNS = `id, name, role, location_id,
  CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN expires_at <= now() THEN 'expired' ELSE 'active' END AS status,
  created_at, ${timeKeySql('created_at')} AS created_key, last_used_at, expires_at, revoked_at, rotated_at,
  created_by`;

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** A token's row as the API shows it: never its secret nor the secret's hash. */
function toApiToken(r: TokenRecord): ApiToken {
  return {
    id: r.id,
    name: r.name,
    role: r.role,
    locationId: r.location_id,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: iso(r.last_used_at),
    expiresAt: iso(r.expires_at),
    revokedAt: iso(r.revoked_at),
    rotatedAt: iso(r.rotated_at),
    createdBy: r.created_by,
  };
}

export async function getApiToken(db: Queryable, id: string): Promise<ApiToken> {
  const { rows } = await db.query<TokenRecord>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = $1`, [id]);
  if (!rows[0]) throw new NotFoundError('token', id);
  return toApiToken(rows[0]);
}

/** Newest first; `status` filters by what the token is now. */
export async function listApiTokens(
  db: Queryable,
  q: ApiTokenListQuery,
): Promise<{ items: ApiToken[]; nextCursor: string | null }> {
  let after: [string, string] | null = null;
  if (q.cursor !== undefined) {
    const [key, id] = decodeCursor(q.cursor, 2);
    if (!isTimeKey(key) || typeof id !== 'string') {
      throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
        field: 'cursor',
      });
    }
    after = [key, id];
  }
  const { rows } = await db.query<TokenRecord>(
    `SELECT * FROM (SELECT ${TOKEN_COLUMNS} FROM api_tokens) t
     WHERE ($1::text IS NULL OR status = $1)
       AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::text))
     ORDER BY created_at DESC, id DESC LIMIT $4`,
    [q.status ?? null, after?.[0] ?? null, after?.[1] ?? null, q.limit + 1],
  );
  return pageOf(rows, q.limit, (r) => [r.created_key, r.id], toApiToken);
}

/**
 * Why revoking this token must be refused, or null. The last working admin token is kept: without
 * it nobody could manage the hub over REST (the way back is then `hub token create` offline).
 */
export function revocationRefusal(
  target: { id: string; role: ApiRole; status: ApiTokenStatus },
  activeAdminIds: readonly string[],
): string | null {
  if (target.role !== 'admin' || target.status !== 'active') return null;
  if (activeAdminIds.some((id) => id !== target.id)) return null;
  return `token ${target.id} is the last active admin token: create another admin token first, so the hub stays manageable`;
}

/**
 * Revoke a token (idempotent: an already revoked one is answered as it is). The admin rows are
 * locked first, so two admins revoking each other's tokens at once cannot leave none.
 */
export async function revokeApiToken(db: Database, id: string): Promise<ApiToken> {
  return db.transaction(async (tx) => {
    const admins = await tx.query<{ id: string }>(
      `SELECT id FROM api_tokens WHERE role = 'admin' AND ${ACTIVE} ORDER BY id FOR UPDATE`,
    );
    const { rows } = await tx.query<TokenRecord>(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('token', id);
    if (row.status === 'revoked') return toApiToken(row);
    const refusal = revocationRefusal(
      row,
      admins.rows.map((r) => r.id),
    );
    if (refusal) throw new ConflictError('last_admin_token', refusal, { token: id });
    const updated = await tx.query<TokenRecord>(
      `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 RETURNING ${TOKEN_COLUMNS}`,
      [id],
    );
    return toApiToken(updated.rows[0]!);
  });
}

/**
 * A new secret for a working token, at once: the old secret is refused from this commit on (no
 * grace period; for a changeover without a gap, create a second token, switch, revoke the first).
 * Name, role, scope and expiry stay.
 */
export async function rotateApiToken(db: Queryable, id: string): Promise<ApiTokenSecret> {
  const secret = newSecret();
  const { rows } = await db.query<TokenRecord>(
    `UPDATE api_tokens SET secret_hash = $2, rotated_at = now() WHERE id = $1 AND ${ACTIVE}
     RETURNING ${TOKEN_COLUMNS}`,
    [id, hashSecret(secret)],
  );
  if (rows[0]) return { ...toApiToken(rows[0]), token: formatApiToken(id, secret) };
  const current = await getApiToken(db, id);
  throw new ConflictError(
    'token_inactive',
    `token ${id} is ${current.status}: only a working token is rotated`,
    {
      token: id,
      status: current.status,
    },
  );
}
