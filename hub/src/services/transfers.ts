import { randomBytes } from 'node:crypto';
import { newOpId } from '@tillsync/sync-protocol';
import type { Queryable } from '../db/database.js';
import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, PG, pgErrorCode } from '../errors.js';
import { decodeCursor, isTimeKey, pageOf, timeKeySql } from '../http/pagination.js';
import type { StockWriter } from '../ledger/writer.js';
import type { Transfer, TransferCreate, TransferListQuery, TransferStatus } from '../schemas/transfers.js';
import { assertCanWriteStock } from './access.js';
import type { Principal, Role } from './tokens.js';

/*
 * Transfers between locations. Shipping writes the transfer and applies a transfer_out op (source
 * on_hand down, destination incoming up) in one transaction; receiving applies transfer_in ops
 * (destination incoming down, on_hand up) and counts what arrived, line by line:
 *
 *   in_transit ──receive some──▶ partially_received ──receive the rest──▶ received
 *        └───────────────────────receive all────────────────────────────────▲
 *
 * recordTransferOut / recordTransferIn only keep the transfer tables; the caller applies the op in
 * the same transaction, so the sync layer can record a till's transfer op the same way.
 */

export const TRANSFER_READERS: readonly Role[] = ['admin', 'hq', 'store_manager'];
export const TRANSFER_WRITERS: readonly Role[] = ['admin', 'store_manager'];

export interface TransferLineInput {
  sku: string;
  qty: number;
}

export interface NewTransfer {
  id: string;
  fromLocationId: string;
  toLocationId: string;
  reference: string | null;
  lines: readonly TransferLineInput[];
}

interface TransferRecord {
  id: string;
  from_location_id: string;
  to_location_id: string;
  status: TransferStatus;
  reference: string | null;
  created_at: Date;
  received_at: Date | null;
  created_key: string;
}

interface LineRecord {
  transfer_id: string;
  sku: string;
  qty: number;
  received_qty: number;
}

const TRANSFER_COLUMNS = `id, from_location_id, to_location_id, status, reference, created_at, received_at,
  ${timeKeySql('created_at')} AS created_key`;

/** One line per SKU, quantities summed, in first-seen order. */
export function mergeLines(lines: readonly TransferLineInput[]): TransferLineInput[] {
  const bySku = new Map<string, number>();
  for (const l of lines) bySku.set(l.sku, (bySku.get(l.sku) ?? 0) + l.qty);
  return [...bySku].map(([sku, qty]) => ({ sku, qty }));
}

export function newTransferId(): string {
  return `tr_${randomBytes(9).toString('base64url')}`;
}

/** Who made a change, as the ledger records it. */
export function actorOf(principal: Principal): string {
  return `${principal.kind}:${principal.id}`;
}

function toTransfer(t: TransferRecord, lines: readonly LineRecord[]): Transfer {
  return {
    id: t.id,
    fromLocationId: t.from_location_id,
    toLocationId: t.to_location_id,
    status: t.status,
    reference: t.reference,
    createdAt: t.created_at.toISOString(),
    receivedAt: t.received_at?.toISOString() ?? null,
    lines: lines.map((l) => ({ sku: l.sku, qty: l.qty, receivedQty: l.received_qty })),
  };
}

async function linesOf(db: Queryable, transferIds: readonly string[]): Promise<Map<string, LineRecord[]>> {
  const byTransfer = new Map<string, LineRecord[]>(transferIds.map((id) => [id, []]));
  if (transferIds.length === 0) return byTransfer;
  const { rows } = await db.query<LineRecord>(
    `SELECT transfer_id, sku, qty, received_qty FROM transfer_lines
     WHERE transfer_id = ANY($1::text[]) ORDER BY transfer_id, sku`,
    [transferIds],
  );
  for (const r of rows) byTransfer.get(r.transfer_id)?.push(r);
  return byTransfer;
}

/** The transfer, or null; `lock` holds it until commit. */
export async function findTransfer(db: Queryable, id: string, lock: boolean): Promise<Transfer | null> {
  const { rows } = await db.query<TransferRecord>(
    `SELECT ${TRANSFER_COLUMNS} FROM transfers WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
    [id],
  );
  const record = rows[0];
  return record ? toTransfer(record, (await linesOf(db, [id])).get(id) ?? []) : null;
}

async function loadTransfer(db: Queryable, id: string, lock: boolean): Promise<Transfer> {
  const transfer = await findTransfer(db, id, lock);
  if (!transfer) throw new NotFoundError('transfer', id);
  return transfer;
}

/** 404 for the first location or SKU of a transfer the hub does not know. */
async function assertKnown(tx: Queryable, t: NewTransfer): Promise<void> {
  const locations = [t.fromLocationId, t.toLocationId];
  const skus = t.lines.map((l) => l.sku);
  const { rows } = await tx.query<{ kind: 'location' | 'sku'; id: string }>(
    `SELECT 'location' AS kind, id FROM locations WHERE id = ANY($1::text[])
     UNION ALL SELECT 'sku', sku FROM products WHERE sku = ANY($2::text[])`,
    [locations, skus],
  );
  const known = new Set(rows.map((r) => `${r.kind}\u0000${r.id}`));
  const location = locations.find((id) => !known.has(`location\u0000${id}`));
  if (location !== undefined) throw new NotFoundError('location', location);
  const sku = skus.find((s) => !known.has(`sku\u0000${s}`));
  if (sku !== undefined) throw new NotFoundError('product', sku);
}

/**
 * Record a shipped transfer, in transit. Its stock moves by the transfer_out op the caller applies
 * in the same transaction.
 */
export async function recordTransferOut(tx: Queryable, t: NewTransfer): Promise<Transfer> {
  await assertKnown(tx, t);
  try {
    await tx.query(
      `INSERT INTO transfers (id, from_location_id, to_location_id, status, reference)
       VALUES ($1, $2, $3, 'in_transit', $4)`,
      [t.id, t.fromLocationId, t.toLocationId, t.reference],
    );
  } catch (err) {
    if (pgErrorCode(err) === PG.uniqueViolation) {
      throw new ConflictError('already_exists', `transfer ${JSON.stringify(t.id)} already exists`, {
        field: 'id',
        value: t.id,
      });
    }
    throw err;
  }
  // A till's op may name a SKU on two lines; the transfer keeps one line per SKU.
  const lines = mergeLines(t.lines);
  await tx.query(
    `INSERT INTO transfer_lines (transfer_id, sku, qty)
     SELECT $1, * FROM unnest($2::text[], $3::int[])`,
    [t.id, lines.map((l) => l.sku), lines.map((l) => l.qty)],
  );
  return loadTransfer(tx, t.id, false);
}

/**
 * Count units arrived at the destination of a transfer (all outstanding units when `lines` is
 * omitted) and move its status on. Throws before writing anything when the transfer is already
 * received or a line would receive more than is outstanding. Returns the transfer as it was before
 * (locked until commit) and the lines received; the caller applies the transfer_in op.
 */
export async function recordTransferIn(
  tx: Queryable,
  transferId: string,
  lines: readonly TransferLineInput[] | undefined,
): Promise<{ transfer: Transfer; received: TransferLineInput[] }> {
  const transfer = await loadTransfer(tx, transferId, true);
  if (transfer.status === 'received') {
    const message = `transfer ${JSON.stringify(transferId)} is already fully received`;
    throw new ConflictError('already_received', message, { transfer: transferId });
  }
  const outstanding = new Map(transfer.lines.map((l) => [l.sku, l.qty - l.receivedQty]));
  const received = lines
    ? [...lines]
    : transfer.lines.flatMap((l) =>
        l.qty > l.receivedQty ? [{ sku: l.sku, qty: l.qty - l.receivedQty }] : [],
      );
  const over = received
    .map((l) => ({ sku: l.sku, requested: l.qty, outstanding: outstanding.get(l.sku) ?? 0 }))
    .filter((l) => l.requested > l.outstanding);
  if (over.length > 0) {
    // A SKU the transfer does not carry has 0 outstanding.
    const message = `receiving more than is outstanding on transfer ${JSON.stringify(transferId)}`;
    throw new ConflictError('over_receipt', message, { transfer: transferId, lines: over });
  }
  await tx.query(
    `UPDATE transfer_lines l SET received_qty = l.received_qty + u.qty
     FROM unnest($2::text[], $3::int[]) AS u(sku, qty)
     WHERE l.transfer_id = $1 AND l.sku = u.sku`,
    [transferId, received.map((l) => l.sku), received.map((l) => l.qty)],
  );
  await tx.query(
    `UPDATE transfers t SET
       status = CASE WHEN s.done THEN 'received' ELSE 'partially_received' END,
       received_at = CASE WHEN s.done THEN now() END
     FROM (SELECT bool_and(received_qty = qty) AS done FROM transfer_lines WHERE transfer_id = $1) s
     WHERE t.id = $1`,
    [transferId],
  );
  return { transfer, received };
}

/** POST /v1/transfers: the source ships; stock leaves it and shows as incoming at the destination. */
export async function shipTransfer(
  stock: StockWriter,
  principal: Principal,
  input: TransferCreate,
): Promise<Transfer> {
  assertCanWriteStock(principal, input.fromLocationId);
  const id = input.id ?? newTransferId();
  return stock.write(async (tx, apply) => {
    const transfer = await recordTransferOut(tx, {
      id,
      fromLocationId: input.fromLocationId,
      toLocationId: input.toLocationId,
      reference: input.reference ?? null,
      lines: input.lines,
    });
    await apply([
      {
        op: {
          type: 'transfer_out',
          opId: newOpId(),
          hlc: stock.clock.tick(),
          locationId: input.fromLocationId,
          transferId: id,
          toLocationId: input.toLocationId,
          lines: input.lines,
        },
        actor: actorOf(principal),
        reference: id,
      },
    ]);
    return transfer;
  });
}

/** POST /v1/transfers/{id}/receive: the destination counts what arrived. */
export async function receiveTransfer(
  stock: StockWriter,
  principal: Principal,
  transferId: string,
  lines: readonly TransferLineInput[] | undefined,
): Promise<Transfer> {
  return stock.write(async (tx, apply) => {
    const { rows } = await tx.query<{ to_location_id: string }>(
      'SELECT to_location_id FROM transfers WHERE id = $1',
      [transferId],
    );
    const destination = rows[0]?.to_location_id;
    if (destination === undefined) throw new NotFoundError('transfer', transferId);
    assertCanWriteStock(principal, destination);
    const { transfer, received } = await recordTransferIn(tx, transferId, lines);
    await apply([
      {
        op: {
          type: 'transfer_in',
          opId: newOpId(),
          hlc: stock.clock.tick(),
          locationId: transfer.toLocationId,
          transferId,
          fromLocationId: transfer.fromLocationId,
          lines: received,
        },
        actor: actorOf(principal),
        reference: transferId,
      },
    ]);
    return loadTransfer(tx, transferId, false);
  });
}

function assertCanReadTransfer(
  principal: Principal,
  t: Pick<Transfer, 'fromLocationId' | 'toLocationId'>,
): void {
  if (principal.role !== 'store_manager') return;
  if (principal.locationId === t.fromLocationId || principal.locationId === t.toLocationId) return;
  throw new ForbiddenError(
    `this token manages location ${principal.locationId}, which this transfer does not touch`,
  );
}

export async function getTransfer(db: Queryable, principal: Principal, id: string): Promise<Transfer> {
  const transfer = await loadTransfer(db, id, false);
  assertCanReadTransfer(principal, transfer);
  return transfer;
}

/** Transfers by (created_at, id); a store manager sees those to or from its location only. */
export async function listTransfers(
  db: Queryable,
  principal: Principal,
  query: TransferListQuery,
): Promise<{ items: Transfer[]; nextCursor: string | null }> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  const where = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    conditions.push(sql(`$${params.length}`));
  };
  if (query.status !== undefined) where((p) => `status = ${p}`, query.status);
  if (query.fromLocationId !== undefined) where((p) => `from_location_id = ${p}`, query.fromLocationId);
  if (query.toLocationId !== undefined) where((p) => `to_location_id = ${p}`, query.toLocationId);
  if (principal.role === 'store_manager')
    where((p) => `(from_location_id = ${p} OR to_location_id = ${p})`, principal.locationId);
  const descending = query.order === 'desc';
  if (query.cursor !== undefined) {
    const [order, createdKey, id] = decodeCursor(query.cursor, 3);
    if (order !== query.order || !isTimeKey(createdKey) || typeof id !== 'string') {
      throw new BadRequestError(
        `querystring.cursor: not a cursor returned by this endpoint for order ${query.order}`,
        {
          field: 'cursor',
        },
      );
    }
    params.push(createdKey, id);
    conditions.push(
      `(created_at, id) ${descending ? '<' : '>'} ($${params.length - 1}::timestamptz, $${params.length}::text)`,
    );
  }
  params.push(query.limit + 1);
  const direction = descending ? 'DESC' : 'ASC';
  const { rows } = await db.query<TransferRecord>(
    `SELECT ${TRANSFER_COLUMNS} FROM transfers
     ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
     ORDER BY created_at ${direction}, id ${direction} LIMIT $${params.length}`,
    params,
  );
  const lines = await linesOf(
    db,
    rows.slice(0, query.limit).map((r) => r.id),
  );
  return pageOf(
    rows,
    query.limit,
    (r) => [query.order, r.created_key, r.id],
    (r) => toTransfer(r, lines.get(r.id) ?? []),
  );
}
