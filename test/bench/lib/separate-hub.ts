import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Database } from '../../../hub/src/db/database.js';
import { freePort, HubProcess, postgresStorage } from '../../chaos/processes.js';
import type { BenchDb } from './databases.js';
import { type HubKit, type HubTree, THIS_TREE } from './hub-tree.js';

/*
 * A hub CLI `serve` in a process of its own over a seeded database: the load generator (sockets,
 * autocannon) then does not share the hub's event loop, and the hub's memory is its own.
 * BENCH_PROFILE=<dir> runs the hub under the V8 CPU profiler (lib/cpu-profile.mjs); the profile
 * is written to <dir>/hub-<pid>.cpuprofile when it stops. `tree` picks the checkout the hub runs
 * from (lib/hub-tree.ts: the baseline of a before/after run); that tree's code migrates and seeds
 * its database.
 */

const PROFILER = fileURLToPath(new URL('./cpu-profile.mjs', import.meta.url));

export interface SeparateHub<T> {
  url: string;
  adminToken: string;
  /** What `seed` returned. */
  seeded: T;
  /** Stop the hub, run `check` on its database (PGlite: reopened once the hub let go of it), clean up. */
  close<R>(check?: (db: Database) => Promise<R>): Promise<R | undefined>;
}

export interface SeparateHubOptions {
  /** Which checkout's hub (default: this one). */
  tree?: HubTree;
  /** More of the hub process's environment. */
  env?: NodeJS.ProcessEnv;
}

export async function startSeparateHub<T>(
  kind: BenchDb,
  seed: (db: Database, kit: HubKit) => Promise<T>,
  options: SeparateHubOptions = {},
): Promise<SeparateHub<T>> {
  const { kit, root } = options.tree ?? THIS_TREE;
  const scratch = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  let db: Database;
  let storage: ConstructorParameters<typeof HubProcess>[0];
  let drop: () => Promise<void>;
  const dataDir = join(scratch, 'hub');
  if (kind === 'pglite') {
    db = await kit.openPglite(dataDir);
    await kit.migrate(db);
    storage = { dataDir };
    drop = async () => undefined;
  } else {
    const test = await kit.createTestDatabase('postgres');
    db = test.db;
    storage = postgresStorage(test.schema!);
    drop = () => test.drop();
  }
  const adminToken = (await kit.ensureBootstrapAdmin(db))!;
  const seeded = await seed(db, kit);
  // PGlite's directory belongs to one process at a time.
  if (kind === 'pglite') await db.close();

  const hub = new HubProcess(storage, await freePort(), options.env, root);
  const profileDir = process.env.BENCH_PROFILE;
  const nodeOptions = process.env.NODE_OPTIONS;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    process.env.BENCH_PROFILE_DIR = resolve(profileDir);
    // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preload starts the profiler instead.
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --import=${PROFILER}`;
  }
  try {
    await hub.start();
  } finally {
    if (profileDir) {
      delete process.env.BENCH_PROFILE_DIR;
      if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
      else process.env.NODE_OPTIONS = nodeOptions;
    }
  }
  return {
    url: hub.url,
    adminToken,
    seeded,
    async close(check) {
      await hub.stop();
      let reopened = false;
      try {
        if (!check) return undefined;
        if (kind === 'pglite') {
          db = await kit.openPglite(dataDir);
          reopened = true;
        }
        return await check(db);
      } finally {
        if (reopened) await db.close();
        await drop();
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}

/** Process metrics of the hub, as its /metrics reports them (admin token). */
async function hubMetrics(url: string, adminToken: string, names: readonly string[]): Promise<number[]> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  return names.map((name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`${name} missing from /metrics`);
    return Number(m[1]);
  });
}

/** The hub's own resident set and V8 heap. */
export async function hubMemory(url: string, adminToken: string): Promise<{ rss: number; heapUsed: number }> {
  const [rss, heapUsed] = await hubMetrics(url, adminToken, [
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
  ]);
  return { rss: rss!, heapUsed: heapUsed! };
}

/**
 * CPU seconds (user + system) the hub process has used: per request, the cost of a request that
 * the other jobs on a shared machine disturb far less than its latency.
 */
export async function hubCpuSeconds(url: string, adminToken: string): Promise<number> {
  return (await hubMetrics(url, adminToken, ['process_cpu_seconds_total']))[0]!;
}
