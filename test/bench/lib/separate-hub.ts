import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Database } from '../../../hub/src/db/database.js';
import { migrate } from '../../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../../hub/src/db/pglite.js';
import { ensureBootstrapAdmin } from '../../../hub/src/services/tokens.js';
import { createTestDatabase } from '../../../hub/test/helpers/test-db.js';
import { freePort, HubProcess, postgresStorage } from '../../chaos/processes.js';
import type { BenchDb } from './databases.js';

/*
 * A hub CLI `serve` in a process of its own over a seeded database: the load generator (sockets,
 * autocannon) then does not share the hub's event loop, and the hub's memory is its own.
 * BENCH_PROFILE=<dir> runs the hub under `node --cpu-prof`; the profile is written when it stops.
 */

export interface SeparateHub<T> {
  url: string;
  adminToken: string;
  /** What `seed` returned. */
  seeded: T;
  /** Stop the hub, run `check` on its database (PGlite: reopened once the hub let go of it), clean up. */
  close<R>(check?: (db: Database) => Promise<R>): Promise<R | undefined>;
}

export async function startSeparateHub<T>(
  kind: BenchDb,
  seed: (db: Database) => Promise<T>,
): Promise<SeparateHub<T>> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-hub-'));
  let db: Database;
  let storage: ConstructorParameters<typeof HubProcess>[0];
  let drop: () => Promise<void>;
  const dataDir = join(scratch, 'hub');
  if (kind === 'pglite') {
    db = await PgliteDatabase.open(dataDir);
    await migrate(db);
    storage = { dataDir };
    drop = async () => undefined;
  } else {
    const test = await createTestDatabase('postgres');
    db = test.db;
    storage = postgresStorage(test.schema!);
    drop = () => test.drop();
  }
  const adminToken = (await ensureBootstrapAdmin(db))!;
  const seeded = await seed(db);
  // PGlite's directory belongs to one process at a time.
  if (kind === 'pglite') await db.close();

  const hub = new HubProcess(storage, await freePort());
  const profileDir = process.env.BENCH_PROFILE;
  const nodeOptions = process.env.NODE_OPTIONS;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    process.env.NODE_OPTIONS = `${nodeOptions ?? ''} --cpu-prof --cpu-prof-dir=${resolve(profileDir)}`;
  }
  try {
    await hub.start();
  } finally {
    if (profileDir) {
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
      try {
        if (!check) return undefined;
        if (kind === 'pglite') db = await PgliteDatabase.open(dataDir);
        return await check(db);
      } finally {
        if (kind === 'pglite') await db.close();
        await drop();
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}

/** The hub's own resident set and V8 heap, as its /metrics reports them (admin token). */
export async function hubMemory(url: string, adminToken: string): Promise<{ rss: number; heapUsed: number }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
  const text = await res.text();
  const metric = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    if (!m) throw new Error(`${name} missing from /metrics`);
    return Number(m[1]);
  };
  return { rss: metric('process_resident_memory_bytes'), heapUsed: metric('nodejs_heap_size_used_bytes') };
}
