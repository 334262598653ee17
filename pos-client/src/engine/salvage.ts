import { existsSync, readFileSync } from 'node:fs';
import { TillOp } from '@tillsync/sync-protocol';
import { tillDbFiles } from './db.js';
import { type LeafRecord, type PageScan, type SqlValue, scanPages } from './sqlite-pages.js';

/*
 * Salvage of a damaged till database: the unsynced ops read straight from its pages (see
 * sqlite-pages.ts), because SQLite itself cannot open a file whose header is damaged and stops at
 * the first damaged page of a b-tree. A record counts as an outbox row only if it has the outbox's
 * shape (rowid seq; op_id, type, op as text; created_at) and its op parses with the protocol's
 * TillOp schema with the same op id, type and seq: nothing half-read is ever sent.
 */

export interface SalvagedOutbox {
  /** The outbox ops found, in seq order, each once. */
  ops: TillOp[];
  deviceId: string | null;
  locationId: string | null;
  lastAckedSeq: number | null;
  nextSeq: number | null;
  /** Seqs that should be in the outbox (after lastAckedSeq, before nextSeq) and were not found. */
  missingSeqs: number[];
  scan: Omit<PageScan, 'records'>;
}

export function salvageOutbox(dataDir: string): SalvagedOutbox {
  const [dbFile, walFile] = tillDbFiles(dataDir) as [string, string];
  const wal = existsSync(walFile) ? readFileSync(walFile) : undefined;
  return salvageFromScan(scanPages(readFileSync(dbFile), wal));
}

/** The till's rows among the scanned records: outbox, rejected ops, and the meta keys it needs. */
export function salvageFromScan(scan: PageScan): SalvagedOutbox {
  const { records, ...rest } = scan;
  const meta = new Map<string, string[]>();
  const rejected = new Set<number>();
  const outbox = new Map<number, TillOp>();
  for (const r of records) {
    const op = outboxOp(r);
    if (op) {
      outbox.set(op.seq, op);
      continue;
    }
    const [key, value] = r.values;
    if (r.values.length === 2 && typeof key === 'string' && typeof value === 'string')
      meta.set(key, [...(meta.get(key) ?? []), value]);
    else if (isRejectedRow(r.values)) rejected.add(r.rowid);
  }
  // Freed pages can keep older copies of a meta row: seqs only grow, ids never change.
  const highest = (key: string) => {
    const ns = (meta.get(key) ?? []).map(Number).filter(Number.isSafeInteger);
    return ns.length > 0 ? Math.max(...ns) : null;
  };
  const only = (key: string) => {
    const vs = new Set(meta.get(key));
    return vs.size === 1 ? [...vs][0]! : null;
  };
  const lastAckedSeq = highest('lastAckedSeq');
  const nextSeq = highest('nextSeq');
  // Rows of a freed page the freelist did not name (header lost) may be long acknowledged.
  const ops = [...outbox.values()]
    .filter((op) => lastAckedSeq === null || op.seq > lastAckedSeq)
    .sort((a, b) => a.seq - b.seq);
  const missingSeqs: number[] = [];
  if (nextSeq !== null)
    for (let seq = (lastAckedSeq ?? 0) + 1; seq < nextSeq; seq++)
      if (!outbox.has(seq) && !rejected.has(seq)) missingSeqs.push(seq);
  return {
    ops,
    deviceId: only('deviceId'),
    locationId: only('locationId'),
    lastAckedSeq,
    nextSeq,
    missingSeqs,
    scan: rest,
  };
}

function outboxOp({ rowid, values }: LeafRecord): TillOp | null {
  const [seq, opId, type, json, createdAt] = values;
  if (values.length !== 5 || seq !== null || typeof createdAt !== 'number') return null;
  if (typeof opId !== 'string' || typeof type !== 'string' || typeof json !== 'string') return null;
  let parsed: ReturnType<typeof TillOp.safeParse>;
  try {
    parsed = TillOp.safeParse(JSON.parse(json));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const op = parsed.data;
  return op.opId === opId && op.type === type && op.seq === rowid ? op : null;
}

/** rejected_ops: seq (rowid), op_id, type, op, code, reason, rejected_at. */
function isRejectedRow(values: SqlValue[]): boolean {
  return (
    values.length === 7 &&
    values[0] === null &&
    values.slice(1, 6).every((v) => typeof v === 'string') &&
    typeof values[6] === 'number'
  );
}
