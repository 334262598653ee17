/**
 * Driver micro-benchmark: one transaction of N independent single-row UPDATEs, through the hub's
 * Database interface, on pg (db/postgres.ts) and on postgres.js (lib/postgres-js.ts):
 *   sequential — each statement awaited before the next is sent (how the hub's write path runs);
 *   pipelined  — all N sent at once (Promise.all in the transaction): pg queues them on the
 *                connection and sends each when the previous answered, postgres.js writes them
 *                all and reads the answers as they come (one round trip for the batch).
 * With CONCURRENCY callers at once (1: latency-bound, the round trips show; more: CPU-bound).
 * Client CPU is this process's user + system time per transaction: the driver's cost, as the
 * hub would pay it.
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pnpm bench:driver
 *   SECONDS=3 STATEMENTS=1,5,20 CONCURRENCY=1,10 pnpm bench:driver
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Database } from '../../hub/src/db/database.js';
import { PostgresDatabase, quoteIdent } from '../../hub/src/db/postgres.js';
import { testDatabaseUrl } from '../../hub/test/helpers/test-db.js';
import { PostgresJsDatabase } from './lib/postgres-js.js';
import { type Cell, printTable } from './lib/table.js';

const SECONDS = Number(process.env.SECONDS ?? 2);
const STATEMENTS = (process.env.STATEMENTS ?? '1,5,20').split(',').map(Number);
const CONCURRENCY = (process.env.CONCURRENCY ?? '1,10').split(',').map(Number);
const ROWS = 1_000;

const drivers: Array<{ name: string; connect: (schema: string) => Promise<Database> }> = [
  {
    name: 'pg',
    connect: (schema) => PostgresDatabase.connect({ connectionString: testDatabaseUrl(), schema }),
  },
  {
    name: 'postgres.js',
    connect: (schema) => PostgresJsDatabase.connect({ connectionString: testDatabaseUrl(), schema }),
  },
];

type Mode = 'sequential' | 'pipelined';

async function oneTransaction(db: Database, n: number, mode: Mode, start: number): Promise<void> {
  await db.transaction(async (tx) => {
    const ids = Array.from({ length: n }, (_, i) => ((start + i * 37) % ROWS) + 1);
    const update = (id: number) => tx.query('UPDATE driver_rows SET n = n + 1 WHERE id = $1', [id]);
    if (mode === 'sequential') for (const id of ids) await update(id);
    else await Promise.all(ids.map(update));
  });
}

async function measure(db: Database, n: number, mode: Mode, concurrency: number) {
  let done = 0;
  let next = 0;
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  const until = started + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        // Callers touch disjoint rows (no lock waits): the driver's cost, not Postgres's queueing.
        await oneTransaction(db, n, mode, next++ * n);
        latencies.push(performance.now() - t);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return {
    txPerSecond: done / elapsed,
    p50: latencies[Math.floor(latencies.length / 2)] ?? 0,
    cpuUsPerTx: (used.user + used.system) / done,
  };
}

const schema = `driver_${randomBytes(4).toString('hex')}`;
const rows: Cell[][] = [];
try {
  for (const driver of drivers) {
    const db = await driver.connect(schema);
    try {
      await db.exec(
        `CREATE TABLE IF NOT EXISTS driver_rows (id int PRIMARY KEY, n bigint NOT NULL DEFAULT 0);
         INSERT INTO driver_rows (id) SELECT g FROM generate_series(1, ${ROWS}) g ON CONFLICT DO NOTHING`,
      );
      // Warm up: connections open, statements prepared on each.
      await measure(db, Math.max(...STATEMENTS), 'pipelined', Math.max(...CONCURRENCY));
      for (const concurrency of CONCURRENCY) {
        for (const n of STATEMENTS) {
          for (const mode of ['sequential', 'pipelined'] as const) {
            const r = await measure(db, n, mode, concurrency);
            rows.push([
              driver.name,
              concurrency,
              n,
              mode,
              Math.round(r.txPerSecond),
              r.p50,
              Math.round(r.cpuUsPerTx),
            ]);
          }
        }
      }
    } finally {
      await db.close();
    }
  }
} finally {
  const admin = new pg.Client({ connectionString: testDatabaseUrl() });
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await admin.end();
}

printTable(
  `Driver: one transaction of N single-row UPDATEs, sequential vs pipelined (${SECONDS} s each)`,
  ['driver', 'callers', 'N', 'mode', 'tx/s', 'p50 ms', 'client CPU µs/tx'],
  rows,
);
