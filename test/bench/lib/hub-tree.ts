import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Database } from '../../../hub/src/db/database.js';
import { migrate } from '../../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../../hub/src/db/pglite.js';
import { createDevice, enrol } from '../../../hub/src/services/devices.js';
import { createApiToken, ensureBootstrapAdmin } from '../../../hub/src/services/tokens.js';
import { ledgerMismatches, seedCatalog } from '../../../hub/test/helpers/fixtures.js';
import { createTestDatabase } from '../../../hub/test/helpers/test-db.js';

/*
 * Before/after in one run. BENCH_BASELINE=<another checkout> (installed: `pnpm install`) makes every
 * hub benchmark measure two hubs: "before" runs that tree's hub sources, "after" this tree's, over
 * databases each tree migrates and seeds with its own code (a newer schema never meets older
 * code). The tills, load generators and baselines (naive server, ceiling) stay this tree's.
 * ROUNDS=n repeats the pair n times, alternating (before, after, before, after…), so drift in the
 * machine's load hits both alike.
 */

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What a benchmark needs of a tree's hub code to migrate, seed and check a database. */
export interface HubKit {
  migrate: typeof migrate;
  openPglite: (dataDir: string) => Promise<Database>;
  createTestDatabase: typeof createTestDatabase;
  ensureBootstrapAdmin: typeof ensureBootstrapAdmin;
  createApiToken: typeof createApiToken;
  createDevice: typeof createDevice;
  enrol: typeof enrol;
  seedCatalog: typeof seedCatalog;
  ledgerMismatches: typeof ledgerMismatches;
}

export type TreeLabel = 'before' | 'after';

export interface HubTree {
  label: TreeLabel;
  /** The checkout the hub process runs from. */
  root: string;
  kit: HubKit;
}

const thisKit: HubKit = {
  migrate,
  openPglite: (dir) => PgliteDatabase.open(dir),
  createTestDatabase,
  ensureBootstrapAdmin,
  createApiToken,
  createDevice,
  enrol,
  seedCatalog,
  ledgerMismatches,
};

/**
 * The baseline's kit, from its sources at the paths they have on main (tsx compiles them; its
 * own node_modules resolve their imports).
 */
async function baselineKit(root: string): Promise<HubKit> {
  const load = (path: string) => import(pathToFileURL(join(root, path)).href);
  const [m, pglite, testDb, tokens, devices, fixtures] = await Promise.all([
    load('hub/src/db/migrate.ts') as Promise<typeof import('../../../hub/src/db/migrate.js')>,
    load('hub/src/db/pglite.ts') as Promise<typeof import('../../../hub/src/db/pglite.js')>,
    load('hub/test/helpers/test-db.ts') as Promise<typeof import('../../../hub/test/helpers/test-db.js')>,
    load('hub/src/services/tokens.ts') as Promise<typeof import('../../../hub/src/services/tokens.js')>,
    load('hub/src/services/devices.ts') as Promise<typeof import('../../../hub/src/services/devices.js')>,
    load('hub/test/helpers/fixtures.ts') as Promise<typeof import('../../../hub/test/helpers/fixtures.js')>,
  ]);
  return {
    migrate: m.migrate,
    openPglite: (dir) => pglite.PgliteDatabase.open(dir),
    createTestDatabase: testDb.createTestDatabase,
    ensureBootstrapAdmin: tokens.ensureBootstrapAdmin,
    createApiToken: tokens.createApiToken,
    createDevice: devices.createDevice,
    enrol: devices.enrol,
    seedCatalog: fixtures.seedCatalog,
    ledgerMismatches: fixtures.ledgerMismatches,
  };
}

export const THIS_TREE: HubTree = { label: 'after', root: ROOT, kit: thisKit };

let trees: Promise<HubTree[]> | undefined;

/** This tree alone, or the baseline and this tree when BENCH_BASELINE is set. */
export function hubTrees(): Promise<HubTree[]> {
  trees ??= (async () => {
    const baseline = process.env.BENCH_BASELINE;
    if (!baseline) return [THIS_TREE];
    const root = resolve(baseline);
    if (!existsSync(join(root, 'hub/src/cli/main.ts')) || !existsSync(join(root, 'node_modules'))) {
      throw new Error(
        `BENCH_BASELINE=${baseline}: not an installed checkout (hub/src/cli/main.ts, node_modules)`,
      );
    }
    if (root === resolve(ROOT)) throw new Error('BENCH_BASELINE is this checkout: point it at another tree');
    return [{ label: 'before', root, kit: await baselineKit(root) }, THIS_TREE];
  })();
  return trees;
}

export const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 1));

/** One measurement of the run: which tree, which round (1-based). */
export interface Turn {
  tree: HubTree;
  round: number;
}

/** The order to measure in: before, after, before, after… (ROUNDS pairs). */
export async function turns(): Promise<Turn[]> {
  const all = await hubTrees();
  return Array.from({ length: ROUNDS }, (_, i) => all.map((tree) => ({ tree, round: i + 1 }))).flat();
}

/** How a table row names its code: "before", "after" ("after #2" with rounds), or "this tree" without a baseline. */
export function turnLabel(turn: Turn): string {
  const name = process.env.BENCH_BASELINE ? turn.tree.label : 'this tree';
  return ROUNDS > 1 ? `${name} #${turn.round}` : name;
}
