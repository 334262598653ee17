/**
 * The ingest benchmark's NAIVE baseline (bench-only, never shipped): the same sync socket and
 * messages as the hub, applied the way a typical tutorial would: every op zod-parsed, then its own
 * transaction: lock the stock row (SELECT … FOR UPDATE), UPDATE it, INSERT the movement and the
 * applied op, COMMIT. No batching, no broadcast, no ack rows: it does less than the hub, not more.
 *
 *   node --import tsx --conditions=@tillsync/source test/bench/ingest/naive-server.ts
 *   env: PORT, DATABASE_URL (Postgres, search_path in its options) or TILLSYNC_DATA_DIR (PGlite)
 */
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { type OpResult, PROTOCOL_VERSION, TillOp } from '@tillsync/sync-protocol';
import type { Database } from '../../../hub/src/db/database.js';
import { PgliteDatabase } from '../../../hub/src/db/pglite.js';
import { PostgresDatabase } from '../../../hub/src/db/postgres.js';
import { authenticate } from '../../../hub/src/services/tokens.js';

// socket.io is the hub's dependency, not the test package's: load the hub's copy.
const { Server } = createRequire(new URL('../../../hub/package.json', import.meta.url))(
  'socket.io',
) as typeof import('../../../hub/node_modules/socket.io/dist/index.js');

const db: Database = process.env.DATABASE_URL
  ? await PostgresDatabase.connect({ connectionString: process.env.DATABASE_URL })
  : await PgliteDatabase.open(process.env.TILLSYNC_DATA_DIR!);

async function applyOne(deviceId: string, op: TillOp): Promise<void> {
  const line = op.lines[0]!;
  const qty = 'qty' in line ? line.qty : 0;
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ on_hand: number; version: number }>(
      'SELECT on_hand, version FROM stock WHERE location_id = $1 AND sku = $2 FOR UPDATE',
      [op.locationId, line.sku],
    );
    const row = rows[0]!;
    await tx.query(
      'UPDATE stock SET on_hand = on_hand - $3, version = version + 1, updated_at = now() WHERE location_id = $1 AND sku = $2',
      [op.locationId, line.sku, qty],
    );
    await tx.query(
      `INSERT INTO movements (location_id, sku, op_id, op_type, reason, outcome, d_on_hand, d_reserved, d_incoming,
         d_damaged, absorbed_on_hand, on_hand_after, version_after, oversell, hlc, device_id, actor)
       VALUES ($1, $2, $3, $4, $4, 'applied', $5, 0, 0, 0, 0, $6, $7, false, $8, $9, $10)`,
      [
        op.locationId,
        line.sku,
        op.opId,
        op.type,
        -qty,
        row.on_hand - qty,
        row.version + 1,
        op.hlc,
        deviceId,
        `device:${deviceId}`,
      ],
    );
    await tx.query(
      `INSERT INTO applied_ops (device_id, seq, op_id, location_id, status, sent_op_id)
       VALUES ($1, $2, $3, $4, 'applied', $3)`,
      [deviceId, op.seq, op.opId, op.locationId],
    );
  });
}

const http = createServer();
const io = new Server(http, { path: '/sync', serveClient: false, maxHttpBufferSize: 8 * 1024 * 1024 });
io.use(async (socket, next) => {
  const principal = await authenticate(db, String(socket.handshake.auth.token)).catch(() => null);
  if (principal?.kind !== 'device') return next(new Error('unauthorized'));
  socket.data = { deviceId: principal.id, locationId: principal.locationId };
  next();
});
io.on('connection', (socket) => {
  const { deviceId, locationId } = socket.data as { deviceId: string; locationId: string };
  socket.on('push', async (payload: { ops: unknown[] }, reply: (r: unknown) => void) => {
    try {
      const results: OpResult[] = [];
      let last = 0;
      for (const raw of payload.ops) {
        const op = TillOp.parse(raw);
        await applyOne(deviceId, op);
        results.push({ seq: op.seq, opId: op.opId, status: 'applied' });
        last = op.seq;
      }
      reply({ ok: true, value: { lastAckedSeq: last, results, stock: [] } });
    } catch (err) {
      reply({ ok: false, error: { code: 'internal', message: String(err) } });
    }
  });
  socket.emit('hello', { protocolVersion: PROTOCOL_VERSION, deviceId, locationId, lastAckedSeq: 0 });
});
http.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('naive listening'));
process.on('SIGTERM', () => {
  void io.close();
  void db.close().finally(() => process.exit(0));
});
