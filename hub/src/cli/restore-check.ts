import type { Database } from '../db/database.js';
import { migrate } from '../db/migrate.js';
import { type CliIo, say } from './io.js';

/**
 * After a restore: bring the schema up to date (a backup from an older hub gets the newer
 * migrations), check every stock row still equals the sum of its ledger movements, and print the
 * row counts so the operator can compare them with what they expect. Returns false on a mismatch.
 */
export async function checkRestored(db: Database, io: CliIo): Promise<boolean> {
  const applied = await migrate(db);
  say(
    io,
    applied.length ? `Migrations applied after restore: ${applied.join(', ')}` : 'Migrations: up to date',
  );
  const { rows: tables } = await db.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables
     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
  );
  say(io, 'Rows:');
  for (const { name } of tables) {
    const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${name}"`);
    say(io, `  ${name.padEnd(22)} ${rows[0]?.n ?? 0}`);
  }
  const mismatches = await ledgerMismatchCount(db);
  if (mismatches > 0) {
    io.stderr.write(`error: ${mismatches} stock rows do not equal the sum of their ledger movements\n`);
    return false;
  }
  say(io, 'Ledger: every stock row replays from its movements');
  return true;
}

/** Stock rows whose quantities or version differ from their movements (the ledger's invariant). */
async function ledgerMismatchCount(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`
    SELECT count(*)::int AS n
    FROM stock s
    LEFT JOIN (
      SELECT location_id, sku, SUM(d_on_hand) AS on_hand, SUM(d_reserved) AS reserved,
             SUM(d_incoming) AS incoming, SUM(d_damaged) AS damaged,
             COUNT(*) AS n, MAX(version_after) AS max_version
      FROM movements GROUP BY location_id, sku
    ) m USING (location_id, sku)
    WHERE s.on_hand <> COALESCE(m.on_hand, 0) OR s.reserved <> COALESCE(m.reserved, 0)
       OR s.incoming <> COALESCE(m.incoming, 0) OR s.damaged <> COALESCE(m.damaged, 0)
       OR s.version <> COALESCE(m.n, 0) OR s.version <> COALESCE(m.max_version, 0)`);
  return rows[0]?.n ?? 0;
}
