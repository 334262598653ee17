import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Queryable } from '../db/database.js';

/*
 * Bearer tokens are "<kind>.<id>.<secret>": the id finds the row, the secret is checked against a
 * SHA-256 kept in the database with a constant-time comparison. Secrets are 32 random bytes, so a
 * fast hash is enough (no password stretching needed); the plain token is shown once, never stored.
 */

export type ApiRole = 'admin' | 'hq' | 'store_manager' | 'channel';
export type Role = ApiRole | 'device';

export type Principal =
  | { kind: 'token'; id: string; role: ApiRole; locationId: string | null }
  | { kind: 'device'; id: string; role: 'device'; locationId: string };

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
  input: { name: string; role: ApiRole; locationId?: string | null },
): Promise<{ id: string; token: string }> {
  const id = randomBytes(6).toString('hex');
  const secret = newSecret();
  await db.query(
    'INSERT INTO api_tokens (id, name, role, location_id, secret_hash) VALUES ($1, $2, $3, $4, $5)',
    [id, input.name, input.role, input.locationId ?? null, hashSecret(secret)],
  );
  return { id, token: formatApiToken(id, secret) };
}

/** The principal a bearer token stands for, or null for anything unknown, revoked or malformed. */
export async function authenticate(db: Queryable, token: string): Promise<Principal | null> {
  const parsed = parseToken(token);
  if (!parsed) return null;
  if (parsed.kind === API_PREFIX) {
    const { rows } = await db.query<{ role: ApiRole; location_id: string | null; secret_hash: string }>(
      'SELECT role, location_id, secret_hash FROM api_tokens WHERE id = $1 AND revoked_at IS NULL',
      [parsed.id],
    );
    const row = rows[0];
    if (!row || !secretMatches(parsed.secret, row.secret_hash)) return null;
    return { kind: 'token', id: parsed.id, role: row.role, locationId: row.location_id };
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
    "SELECT count(*)::int AS n FROM api_tokens WHERE role = 'admin' AND revoked_at IS NULL",
  );
  return (rows[0]?.n ?? 0) > 0;
}
