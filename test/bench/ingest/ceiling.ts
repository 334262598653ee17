/**
 * The raw ceiling of the database for the ingest benchmark: the same number of stock row changes
 * with nothing else — no movement, no applied op, no protocol — as minimal UPDATEs, in the same
 * batches as the tills push. Postgres: `pgbench` (C clients, the hub's pool size); PGlite: the
 * same statement in a loop on its one connection. A batch locks its rows in key order (as the hub
 * does), so concurrent batches of one store cannot deadlock.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Database } from '../../../hub/src/db/database.js';

const run = promisify(execFile);

export interface CeilingShape {
  stores: number;
  skus: number;
  batch: number;
  seconds: number;
}

export const storeId = (i: number) => `store-${i + 1}`;
export const skuId = (i: number) => `SKU-${String(i).padStart(4, '0')}`;

/** One statement changing `batch` consecutive SKUs of one store, rows locked in key order. */
function batchUpdate(loc: string, start: string, batch: number): string {
  return `WITH l AS (
      SELECT location_id, sku FROM stock
      WHERE location_id = 'store-' || (${loc})
        AND sku IN (SELECT 'SKU-' || lpad(g::text, 4, '0') FROM generate_series(${start}, ${start} + ${batch - 1}) g)
      ORDER BY sku FOR UPDATE)
    UPDATE stock s SET on_hand = s.on_hand - 1, version = s.version + 1
    FROM l WHERE s.location_id = l.location_id AND s.sku = l.sku`;
}

/** Rows changed per second by `pgbench -c clients` running one batch UPDATE per transaction. */
export async function pgbenchCeiling(
  url: string,
  schema: string,
  clients: number,
  shape: CeilingShape,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ceiling-'));
  try {
    const script = join(dir, 'update.sql');
    writeFileSync(
      script,
      `\\set loc random(1, ${shape.stores})\n\\set start random(0, ${shape.skus - shape.batch})\n` +
        `${batchUpdate(':loc', ':start', shape.batch).replace(/\s+/g, ' ')};\n`,
    );
    const { stdout } = await run(
      'pgbench',
      ['-n', '-c', String(clients), '-j', '2', '-T', String(shape.seconds), '-f', script, url],
      { env: { ...process.env, PGOPTIONS: `-c search_path=${schema}` } },
    );
    const tps = /tps = ([\d.]+)/.exec(stdout);
    if (!tps) throw new Error(`pgbench printed no tps:\n${stdout}`);
    return Number(tps[1]) * shape.batch;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows changed per second by the same batch UPDATE in a loop on one connection (PGlite). */
export async function loopCeiling(db: Database, shape: CeilingShape): Promise<number> {
  const sql = batchUpdate('$1::int', '$2::int', shape.batch);
  const t0 = performance.now();
  const end = t0 + shape.seconds * 1000;
  let batches = 0;
  while (performance.now() < end) {
    const loc = 1 + Math.floor(Math.random() * shape.stores);
    const start = Math.floor(Math.random() * (shape.skus - shape.batch + 1));
    await db.query(sql, [loc, start]);
    batches++;
  }
  return (batches * shape.batch) / ((performance.now() - t0) / 1000);
}
