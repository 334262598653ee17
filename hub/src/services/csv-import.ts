import { basename } from 'node:path';
import { Count, type HubOp, LocationId, newOpId, Sku } from '@tillsync/sync-protocol';
import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { Queryable } from '../db/database.js';
import type { LedgerOp } from '../ledger/apply.js';
import type { StockWriter } from '../ledger/writer.js';
import { ProductCreate } from '../schemas/catalog.js';

/*
 * CSV import of the catalogue and of stock levels, in two steps:
 *
 *   plan*Import(text)   parse and validate every row with the REST API's schemas (pure, no database)
 *   apply*Import(...)   check what only the database knows (unknown location or SKU, a barcode taken
 *                       by another product), then write every accepted row in ONE transaction
 *
 * A file with any rejected row writes nothing unless `skipInvalid` is set; then the valid rows go
 * in and the rejects are still reported. Line numbers are the file's own (header = line 1).
 */

export interface RejectedRow {
  line: number;
  /** The CSV column at fault, or null when the whole line is (wrong number of fields). */
  column: string | null;
  reason: string;
}

export interface ImportPlan<T> {
  /** File name as given (used in the ledger reference). */
  file: string;
  /** Data rows in the file (header excluded). */
  total: number;
  valid: Array<{ line: number; value: T }>;
  rejected: RejectedRow[];
}

export interface ImportSummary {
  file: string;
  total: number;
  /** False when rejected rows stopped the import (nothing was written). */
  applied: boolean;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: RejectedRow[];
}

export interface ApplyOptions {
  /** Import the valid rows even when others are rejected. */
  skipInvalid?: boolean;
  onProgress?: (done: number, total: number) => void;
}

const PRODUCT_BATCH = 1000;
const STOCK_BATCH = 500;

// ---------------------------------------------------------------------------------------------
// Products: sku,name,barcode,category,price,currency

const PRODUCT_COLUMNS = { required: ['sku', 'name', 'price'], optional: ['barcode', 'category', 'currency'] };
/** ProductCreate field → CSV column, for naming the column in a rejection. */
const PRODUCT_FIELD_COLUMN: Record<string, string> = { priceMinor: 'price' };

export function planProductImport(text: string, file: string): ImportPlan<ProductCreate> {
  const table = readCsv(text, PRODUCT_COLUMNS);
  const valid: ImportPlan<ProductCreate>['valid'] = [];
  const rejected = [...table.rejected];
  for (const { line, cells } of table.records) {
    const pre = missingValues(line, cells, PRODUCT_COLUMNS.required);
    const price = parseMoney(cells.price ?? '');
    if (price === null && cells.price)
      pre.push({ line, column: 'price', reason: 'a decimal amount such as 12.50' });
    const input = {
      sku: cells.sku,
      name: cells.name,
      barcode: cells.barcode || null,
      category: cells.category || null,
      priceMinor: price ?? 0,
      currency: cells.currency || undefined,
    };
    const checked = checkRow(
      line,
      ProductCreate,
      input,
      pre,
      (field) => PRODUCT_FIELD_COLUMN[field] ?? field,
    );
    if (Array.isArray(checked)) rejected.push(...checked);
    else valid.push({ line, value: checked });
  }
  const duplicates = [
    ...duplicateLines(table.records, (c) => c.sku, 'sku'),
    ...duplicateLines(table.records, (c) => c.barcode, 'barcode'),
  ];
  return finishPlan(file, table.dataRows, valid, [...rejected, ...duplicates]);
}

export async function applyProductImport(
  db: { transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> },
  plan: ImportPlan<ProductCreate>,
  options: ApplyOptions = {},
): Promise<ImportSummary> {
  return db.transaction(async (tx) => {
    const rejected = [...plan.rejected];
    const barcodes = plan.valid.flatMap((r) => (r.value.barcode ? [r.value.barcode] : []));
    const { rows: owners } = await tx.query<{ sku: string; barcode: string }>(
      'SELECT sku, barcode FROM products WHERE barcode = ANY($1::text[])',
      [barcodes],
    );
    const ownerOf = new Map(owners.map((o) => [o.barcode, o.sku]));
    const accepted: ProductCreate[] = [];
    for (const { line, value } of plan.valid) {
      const owner = value.barcode ? ownerOf.get(value.barcode) : undefined;
      if (owner !== undefined && owner !== value.sku)
        rejected.push({ line, column: 'barcode', reason: `barcode already belongs to product ${owner}` });
      else accepted.push(value);
    }
    const summary = emptySummary(plan, sortRejects(rejected));
    if (rejected.length > 0 && !options.skipInvalid) return summary;

    for (let i = 0; i < accepted.length; i += PRODUCT_BATCH) {
      const batch = accepted.slice(i, i + PRODUCT_BATCH);
      const counts = await upsertProducts(tx, batch);
      summary.inserted += counts.inserted;
      summary.updated += counts.updated;
      options.onProgress?.(Math.min(i + PRODUCT_BATCH, accepted.length), accepted.length);
    }
    summary.unchanged = accepted.length - summary.inserted - summary.updated;
    summary.applied = true;
    return summary;
  });
}

/**
 * Insert products, or update name/barcode/category/price/currency of those whose SKU exists.
 * A row identical to what is stored is left alone (neither counted nor touched).
 */
export async function upsertProducts(
  tx: Queryable,
  products: readonly ProductCreate[],
): Promise<{ inserted: number; updated: number }> {
  if (products.length === 0) return { inserted: 0, updated: 0 };
  const { rows } = await tx.query<{ inserted: boolean }>(
    `INSERT INTO products (sku, name, barcode, category, price_minor, currency, active)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bool[])
     ON CONFLICT (sku) DO UPDATE SET
       name = EXCLUDED.name, barcode = EXCLUDED.barcode, category = EXCLUDED.category,
       price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency, updated_at = now()
     WHERE (products.name, products.barcode, products.category, products.price_minor, products.currency)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.barcode, EXCLUDED.category, EXCLUDED.price_minor, EXCLUDED.currency)
     RETURNING (xmax = 0) AS inserted`,
    [
      products.map((p) => p.sku),
      products.map((p) => p.name),
      products.map((p) => p.barcode ?? null),
      products.map((p) => p.category ?? null),
      products.map((p) => p.priceMinor),
      products.map((p) => p.currency),
      products.map((p) => p.active),
    ],
  );
  const inserted = rows.filter((r) => r.inserted).length;
  return { inserted, updated: rows.length - inserted };
}

// ---------------------------------------------------------------------------------------------
// Stock: location,sku,on_hand,reorder_point

const STOCK_COLUMNS = { required: ['location', 'sku', 'on_hand'], optional: ['reorder_point'] };

/** One stock line, keyed by its CSV column names; the fields are the sync protocol's own types. */
const StockLine = z.strictObject({
  location: LocationId,
  sku: Sku,
  on_hand: Count,
  reorder_point: Count.optional(),
});
export type StockLine = z.infer<typeof StockLine>;

export function planStockImport(text: string, file: string): ImportPlan<StockLine> {
  const table = readCsv(text, STOCK_COLUMNS);
  const valid: ImportPlan<StockLine>['valid'] = [];
  const rejected = [...table.rejected];
  for (const { line, cells } of table.records) {
    const pre = missingValues(line, cells, STOCK_COLUMNS.required);
    const onHand = parseWhole(cells.on_hand ?? '');
    if (onHand === null && cells.on_hand) pre.push({ line, column: 'on_hand', reason: 'a whole number' });
    const reorderPoint = cells.reorder_point ? parseWhole(cells.reorder_point) : undefined;
    if (reorderPoint === null) pre.push({ line, column: 'reorder_point', reason: 'a whole number' });
    const input = {
      location: cells.location,
      sku: cells.sku,
      on_hand: onHand ?? 0,
      reorder_point: reorderPoint ?? undefined,
    };
    const checked = checkRow(line, StockLine, input, pre);
    if (Array.isArray(checked)) rejected.push(...checked);
    else valid.push({ line, value: checked });
  }
  const duplicates = duplicateLines(
    table.records,
    (c) => (c.location && c.sku ? `${c.location} / ${c.sku}` : undefined),
    'sku',
    'location and sku',
  );
  return finishPlan(file, table.dataRows, valid, [...rejected, ...duplicates]);
}

/**
 * Set on_hand (and reorder_point when given) of each row through `set_stock` ops, so the ledger
 * records the import (actor "system", reference "import:<file name>"). Rows already at the
 * imported values get no op and count as unchanged.
 */
export async function applyStockImport(
  writer: Pick<StockWriter, 'write' | 'clock'>,
  plan: ImportPlan<StockLine>,
  options: ApplyOptions = {},
): Promise<ImportSummary> {
  const reference = `import:${basename(plan.file)}`;
  return writer.write(async (tx, apply) => {
    const rejected = [...plan.rejected];
    const lines = plan.valid.map((r) => r.value);
    const known = await knownKeys(tx, lines);
    const accepted: StockLine[] = [];
    for (const { line, value } of plan.valid) {
      if (!known.locations.has(value.location))
        rejected.push({ line, column: 'location', reason: `unknown location ${value.location}` });
      else if (!known.skus.has(value.sku))
        rejected.push({
          line,
          column: 'sku',
          reason: `unknown sku ${value.sku} (import it with the products first)`,
        });
      else accepted.push(value);
    }
    const summary = emptySummary(plan, sortRejects(rejected));
    if (rejected.length > 0 && !options.skipInvalid) return summary;

    const current = await lockCurrentRows(tx, accepted);
    const ops: LedgerOp[] = [];
    for (const line of accepted) {
      const row = current.get(`${line.location}\u0000${line.sku}`);
      const setOnHand = row?.on_hand !== line.on_hand;
      const setReorder = line.reorder_point !== undefined && row?.reorder_point !== line.reorder_point;
      if (!row) summary.inserted += 1;
      else if (setOnHand || setReorder) summary.updated += 1;
      else {
        summary.unchanged += 1;
        continue;
      }
      const op: HubOp = {
        type: 'set_stock',
        opId: newOpId(),
        hlc: writer.clock.tick(),
        locationId: line.location,
        sku: line.sku,
        ...(setOnHand ? { onHand: line.on_hand } : {}),
        ...(setReorder ? { reorderPoint: line.reorder_point } : {}),
      };
      ops.push({ op, actor: 'system', reference });
    }
    // Batches keep each ledger round (and the reducer's scan of pending movements) small.
    for (let i = 0; i < ops.length; i += STOCK_BATCH) {
      await apply(ops.slice(i, i + STOCK_BATCH));
      options.onProgress?.(Math.min(i + STOCK_BATCH, ops.length), ops.length);
    }
    summary.applied = true;
    return summary;
  });
}

async function knownKeys(
  tx: Queryable,
  lines: readonly StockLine[],
): Promise<{ locations: Set<string>; skus: Set<string> }> {
  const locations = await tx.query<{ id: string }>('SELECT id FROM locations WHERE id = ANY($1::text[])', [
    [...new Set(lines.map((l) => l.location))],
  ]);
  const skus = await tx.query<{ sku: string }>('SELECT sku FROM products WHERE sku = ANY($1::text[])', [
    [...new Set(lines.map((l) => l.sku))],
  ]);
  return { locations: new Set(locations.rows.map((r) => r.id)), skus: new Set(skus.rows.map((r) => r.sku)) };
}

async function lockCurrentRows(
  tx: Queryable,
  lines: readonly StockLine[],
): Promise<Map<string, { on_hand: number; reorder_point: number }>> {
  const { rows } = await tx.query<{
    location_id: string;
    sku: string;
    on_hand: number;
    reorder_point: number;
  }>(
    `SELECT location_id, sku, on_hand, reorder_point FROM stock
     WHERE (location_id, sku) IN (SELECT * FROM unnest($1::text[], $2::text[]))
     ORDER BY location_id, sku FOR UPDATE`,
    [lines.map((l) => l.location), lines.map((l) => l.sku)],
  );
  return new Map(rows.map((r) => [`${r.location_id}\u0000${r.sku}`, r]));
}

// ---------------------------------------------------------------------------------------------
// Reading the CSV

interface CsvRecord {
  line: number;
  cells: Partial<Record<string, string>>;
}

interface CsvTable {
  records: CsvRecord[];
  /** Data lines in the file, readable or not. */
  dataRows: number;
  rejected: RejectedRow[];
}

interface ParsedRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

/** Parse `text` into records keyed by header name; a bad header rejects the whole file at line 1. */
function readCsv(text: string, columns: { required: string[]; optional: string[] }): CsvTable {
  let parsed: ParsedRecord[];
  try {
    // Line endings are normalized so that the parser's line count is the file's.
    parsed = parse(text.replace(/\r\n?/g, '\n'), {
      bom: true,
      info: true,
      raw: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }) as unknown as ParsedRecord[];
  } catch (err) {
    const line =
      typeof (err as { lines?: unknown }).lines === 'number' ? (err as { lines: number }).lines : 1;
    const reason = `unreadable CSV: ${(err as Error).message}`;
    return { records: [], dataRows: 0, rejected: [{ line, column: null, reason }] };
  }
  const [head, ...body] = parsed;
  if (!head)
    return {
      records: [],
      dataRows: 0,
      rejected: [{ line: 1, column: null, reason: 'empty file: no header' }],
    };

  const header = head.record;
  const headerLine = startLine(head);
  const known = new Set([...columns.required, ...columns.optional]);
  const problems: RejectedRow[] = [];
  for (const [i, name] of header.entries()) {
    if (!known.has(name))
      problems.push({
        line: headerLine,
        column: name,
        reason: `unknown column (expected ${[...known].join(', ')})`,
      });
    else if (header.indexOf(name) !== i)
      problems.push({ line: headerLine, column: name, reason: 'column given twice' });
  }
  for (const name of columns.required)
    if (!header.includes(name)) problems.push({ line: headerLine, column: name, reason: 'missing column' });
  if (problems.length > 0) return { records: [], dataRows: body.length, rejected: problems };

  const records: CsvRecord[] = [];
  const rejected: RejectedRow[] = [];
  for (const r of body) {
    const line = startLine(r);
    if (r.record.length !== header.length) {
      rejected.push({
        line,
        column: null,
        reason: `expected ${header.length} fields, found ${r.record.length}`,
      });
      continue;
    }
    const cells: Partial<Record<string, string>> = {};
    for (const [i, name] of header.entries()) cells[name] = r.record[i];
    records.push({ line, cells });
  }
  return { records, dataRows: body.length, rejected };
}

/** The line a record starts on: the parser reports where it ends, and its raw text spans the rest. */
function startLine(r: ParsedRecord): number {
  const own = r.raw.replace(/^\n+/, '').replace(/\n$/, '');
  return r.info.lines - (own.match(/\n/g)?.length ?? 0);
}

function missingValues(line: number, cells: CsvRecord['cells'], required: string[]): RejectedRow[] {
  return required
    .filter((column) => !cells[column])
    .map((column) => ({ line, column, reason: 'missing value' }));
}

/**
 * Validate one row with its schema. `pre` holds problems found while reading the cells (missing or
 * unparsable); the schema's own complaints about those same columns would only repeat them.
 */
function checkRow<T>(
  line: number,
  schema: z.ZodType<T>,
  input: unknown,
  pre: RejectedRow[],
  columnOf: (field: string) => string = (field) => field,
): T | RejectedRow[] {
  const result = schema.safeParse(input);
  if (result.success && pre.length === 0) return result.data;
  const issues = [...pre];
  for (const issue of result.error?.issues ?? []) {
    const column = columnOf(String(issue.path[0] ?? ''));
    if (!pre.some((p) => p.column === column)) issues.push({ line, column, reason: issue.message });
  }
  return issues;
}

/** Every line whose key also appears on another line, named with the other line numbers. */
function duplicateLines(
  records: readonly CsvRecord[],
  keyOf: (cells: CsvRecord['cells']) => string | undefined,
  column: string,
  what = column,
): RejectedRow[] {
  const linesByKey = new Map<string, number[]>();
  for (const r of records) {
    const key = keyOf(r.cells);
    if (!key) continue;
    const lines = linesByKey.get(key) ?? [];
    lines.push(r.line);
    linesByKey.set(key, lines);
  }
  const out: RejectedRow[] = [];
  for (const [key, lines] of linesByKey) {
    if (lines.length < 2) continue;
    for (const line of lines) {
      const others = lines.filter((l) => l !== line).join(', ');
      out.push({ line, column, reason: `duplicate ${what} ${key} (also on line ${others})` });
    }
  }
  return out;
}

function finishPlan<T>(
  file: string,
  total: number,
  valid: ImportPlan<T>['valid'],
  rejected: RejectedRow[],
): ImportPlan<T> {
  const bad = new Set(rejected.map((r) => r.line));
  return { file, total, valid: valid.filter((r) => !bad.has(r.line)), rejected: sortRejects(rejected) };
}

function emptySummary(plan: ImportPlan<unknown>, rejected: RejectedRow[]): ImportSummary {
  return {
    file: plan.file,
    total: plan.total,
    applied: false,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    rejected,
  };
}

function sortRejects(rows: RejectedRow[]): RejectedRow[] {
  return rows.sort((a, b) => a.line - b.line || (a.column ?? '').localeCompare(b.column ?? ''));
}

/** "12.50" → 1250; at most two decimals; a minus sign is kept for the schema to refuse. */
function parseMoney(text: string): number | null {
  const m = /^(-?)(\d+)(?:[.,](\d{1,2}))?$/.exec(text);
  if (!m) return null;
  const minor = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] ? -minor : minor;
}

function parseWhole(text: string): number | null {
  return /^-?\d+$/.test(text) ? Number(text) : null;
}
