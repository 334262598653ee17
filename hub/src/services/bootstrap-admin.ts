import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { HubConfig } from '../config.js';
import type { Queryable } from '../db/database.js';
import { ensureBootstrapAdmin, hasActiveAdmin, provisionAdminToken } from './tokens.js';

/*
 * The first admin token, at hub start:
 *   TILLSYNC_ADMIN_TOKEN_HASH set   → that token (made out of band: the server never sees its secret)
 *                                     is made sure to exist; nothing is minted
 *   an active admin token exists    → nothing to do
 *   production (NODE_ENV)           → refuse to start: no default credential in production
 *   else (development, test)        → mint one and write it to a 0600 file; only the path is printed
 */

export const TOKEN_FILE_NAME = 'bootstrap-admin-token';
const HASH_FORMAT = /^([A-Za-z0-9_-]{1,64}):([0-9a-f]{64})$/;

export class StartupError extends Error {}

export type BootstrapPlan =
  | { kind: 'provision'; id: string; secretHash: string }
  | { kind: 'none' }
  | { kind: 'refuse'; message: string }
  | { kind: 'mint' };

/** What to do about the admin token; pure, so every branch is tested without a database. */
export function planBootstrap(
  config: Pick<HubConfig, 'env' | 'adminTokenHash'>,
  adminExists: boolean,
): BootstrapPlan {
  if (config.adminTokenHash !== undefined) {
    const m = HASH_FORMAT.exec(config.adminTokenHash.trim());
    if (!m) {
      return {
        kind: 'refuse',
        message:
          'TILLSYNC_ADMIN_TOKEN_HASH must be <id>:<sha256 hex of the secret> (README, Production setup)',
      };
    }
    return { kind: 'provision', id: m[1]!, secretHash: m[2]! };
  }
  if (adminExists) return { kind: 'none' };
  if (config.env === 'production') {
    return {
      kind: 'refuse',
      message:
        'production mode (NODE_ENV=production) needs an admin token made out of band: set TILLSYNC_ADMIN_TOKEN_HASH (README, Production setup)',
    };
  }
  return { kind: 'mint' };
}

/**
 * Apply the plan. Returns the file a minted token was written to, or null when none was minted;
 * throws StartupError when the hub must not start.
 */
export async function bootstrapAdmin(
  db: Queryable,
  config: Pick<HubConfig, 'env' | 'adminTokenHash' | 'bootstrapTokenFile' | 'dataDir'>,
): Promise<string | null> {
  const plan = planBootstrap(config, await hasActiveAdmin(db));
  switch (plan.kind) {
    case 'refuse':
      throw new StartupError(plan.message);
    case 'provision':
      if (!(await provisionAdminToken(db, plan.id, plan.secretHash))) {
        throw new StartupError(
          `TILLSYNC_ADMIN_TOKEN_HASH names token ${plan.id}, which exists with another secret or was revoked: choose a new id`,
        );
      }
      return null;
    case 'none':
      return null;
    case 'mint': {
      const token = await ensureBootstrapAdmin(db);
      if (!token) return null;
      // A configured path's directory is the operator's to set; the data directory is made private.
      const configured = config.bootstrapTokenFile !== undefined;
      return writeTokenFile(await tokenFilePath(config), token, !configured);
    }
  }
}

async function tokenFilePath(config: Pick<HubConfig, 'bootstrapTokenFile' | 'dataDir'>): Promise<string> {
  if (config.bootstrapTokenFile) return config.bootstrapTokenFile;
  // An in-memory hub has no data directory: a private one of its own.
  if (config.dataDir === ':memory:') return join(await mkdtemp(join(tmpdir(), 'tillsync-')), TOKEN_FILE_NAME);
  return join(config.dataDir, TOKEN_FILE_NAME);
}

/** Owner-only file (in an owner-only directory), replaced atomically: never readable half-written. */
async function writeTokenFile(path: string, token: string, privateDir: boolean): Promise<string> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (privateDir) await chmod(dir, 0o700);
  const partial = `${path}.${process.pid}.partial`;
  await rm(partial, { force: true });
  await writeFile(partial, `${token}\n`, { mode: 0o600, flag: 'wx' });
  await rename(partial, path);
  return path;
}
