import type { Queryable } from '../db/database.js';
import { BadRequestError, ConflictError, NotFoundError, PG, pgErrorCode } from '../errors.js';
import { type CursorValue, decodeCursor, pageOf } from '../http/pagination.js';
import type {
  Location,
  LocationCreate,
  LocationListQuery,
  LocationPatch,
  Product,
  ProductCreate,
  ProductListQuery,
  ProductPatch,
} from '../schemas/catalog.js';
import type { Role } from './tokens.js';

/*
 * Locations and products: the SQL behind /v1/locations and /v1/products, and the mapping from rows
 * to the REST shapes. Lists use keyset pagination on (sort column, primary key), so a page boundary
 * never skips or repeats a row, even when rows are inserted between page fetches.
 */

/** Tills need the catalogue, and a store manager may see every location's name (that is not stock). */
export const CATALOG_READERS: readonly Role[] = ['admin', 'hq', 'store_manager', 'channel', 'device'];
export const CATALOG_WRITERS: readonly Role[] = ['admin'];

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// ---------------------------------------------------------------------------------------------
// Keyset pagination over a whitelisted sort column

type KeyKind = 'text' | 'int' | 'time';

interface SortColumn<R> {
  column: string;
  kind: KeyKind;
  /** The cursor value of a row: exact, so it compares equal to the row in SQL. */
  key: (row: R) => CursorValue;
}

const CAST: Record<KeyKind, string> = { text: 'text', int: 'bigint', time: 'timestamptz' };

// Timestamps go through cursors with full microsecond precision (a JS Date only keeps milliseconds).
const TIME_KEY = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_key`;
const TIME_KEY_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

function validKey(kind: KeyKind, value: CursorValue): boolean {
  if (kind === 'int') return typeof value === 'number' && Number.isSafeInteger(value);
  if (typeof value !== 'string' || value.includes('\u0000')) return false;
  return kind === 'text' || (TIME_KEY_PATTERN.test(value) && !Number.isNaN(Date.parse(value)));
}

/**
 * ORDER BY and the "after the cursor" condition for `sort` ("name" or "-name"), adding the cursor's
 * values to `params`. The cursor carries the sort it was issued for, so it cannot be replayed
 * against another order.
 */
function keyset<R>(
  sort: string,
  columns: Record<string, SortColumn<R>>,
  tiebreak: SortColumn<R>,
  cursor: string | undefined,
  params: unknown[],
): { after: string | null; orderBy: string; cursorOf: (row: R) => CursorValue[] } {
  const descending = sort.startsWith('-');
  const by = columns[descending ? sort.slice(1) : sort];
  if (!by)
    throw new BadRequestError(`querystring.sort: unknown sort ${JSON.stringify(sort)}`, { field: 'sort' });
  const keys = by.column === tiebreak.column ? [by] : [by, tiebreak];
  const direction = descending ? 'DESC' : 'ASC';
  const orderBy = keys.map((k) => `${k.column} ${direction}`).join(', ');
  const cursorOf = (row: R) => [sort, ...keys.map((k) => k.key(row))];
  if (cursor === undefined) return { after: null, orderBy, cursorOf };

  const [issuedFor, ...values] = decodeCursor(cursor, keys.length + 1);
  if (issuedFor !== sort || !keys.every((k, i) => validKey(k.kind, values[i] ?? null))) {
    throw new BadRequestError(`querystring.cursor: not a cursor returned by this endpoint for sort ${sort}`, {
      field: 'cursor',
    });
  }
  const placeholders = keys.map((k, i) => {
    params.push(values[i]);
    return `$${params.length}::${CAST[k.kind]}`;
  });
  const columnList = keys.map((k) => k.column).join(', ');
  return {
    after: `(${columnList}) ${descending ? '<' : '>'} (${placeholders.join(', ')})`,
    orderBy,
    cursorOf,
  };
}

/** `q` as an ILIKE pattern matching it anywhere, with its own `%`, `_` and `\` taken literally. */
function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`;
}

function whereClause(conditions: readonly string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** `SET a = $1, b = $2` for the fields present in a validated patch; columns come from `columns`. */
function setClause<P extends object>(patch: P, columns: Record<keyof P, string>, params: unknown[]): string {
  const sets = (Object.keys(columns) as (keyof P)[])
    .filter((field) => patch[field] !== undefined)
    .map((field) => {
      params.push(patch[field]);
      return `${columns[field]} = $${params.length}`;
    });
  // updated_at is served with millisecond precision: move it by at least that, so every PATCH shows.
  sets.push(`updated_at = GREATEST(now(), updated_at + interval '1 millisecond')`);
  return `SET ${sets.join(', ')}`;
}

function inUseMessage(what: string, id: string, uses: readonly string[], patchPath: string): string {
  return (
    `${what} ${JSON.stringify(id)} is referenced by ${uses.join(', ')} and cannot be deleted; ` +
    `deactivate it instead: PATCH ${patchPath} {"active": false}`
  );
}

// ---------------------------------------------------------------------------------------------
// Locations

interface LocationRecord {
  id: string;
  name: string;
  kind: 'store' | 'warehouse';
  timezone: string;
  priority: number;
  safety_stock: number;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

const LOCATION_COLUMNS = `id, name, kind, timezone, priority, safety_stock, active, created_at, updated_at, ${TIME_KEY}`;

const LOCATION_SORTS: Record<string, SortColumn<LocationRecord>> = {
  id: { column: 'id', kind: 'text', key: (r) => r.id },
  name: { column: 'name', kind: 'text', key: (r) => r.name },
  priority: { column: 'priority', kind: 'int', key: (r) => r.priority },
  createdAt: { column: 'created_at', kind: 'time', key: (r) => r.created_key },
};

const LOCATION_PATCH_COLUMNS: Record<keyof LocationPatch, string> = {
  name: 'name',
  kind: 'kind',
  timezone: 'timezone',
  priority: 'priority',
  safetyStock: 'safety_stock',
  active: 'active',
};

export function toLocation(r: LocationRecord): Location {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    timezone: r.timezone,
    priority: r.priority,
    safetyStock: r.safety_stock,
    active: r.active,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

export async function listLocations(db: Queryable, query: LocationListQuery): Promise<Page<Location>> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (query.kind !== undefined) {
    params.push(query.kind);
    conditions.push(`kind = $${params.length}`);
  }
  if (query.active !== undefined) {
    params.push(query.active);
    conditions.push(`active = $${params.length}`);
  }
  if (query.q !== undefined) {
    params.push(containsPattern(query.q));
    conditions.push(`(name ILIKE $${params.length} ESCAPE '\\' OR id ILIKE $${params.length} ESCAPE '\\')`);
  }
  const { after, orderBy, cursorOf } = keyset(
    query.sort,
    LOCATION_SORTS,
    LOCATION_SORTS.id!,
    query.cursor,
    params,
  );
  if (after) conditions.push(after);
  params.push(query.limit + 1);
  const { rows } = await db.query<LocationRecord>(
    `SELECT ${LOCATION_COLUMNS} FROM locations ${whereClause(conditions)} ORDER BY ${orderBy} LIMIT $${params.length}`,
    params,
  );
  return pageOf(rows, query.limit, cursorOf, toLocation);
}

export async function getLocation(db: Queryable, id: string): Promise<Location> {
  const { rows } = await db.query<LocationRecord>(`SELECT ${LOCATION_COLUMNS} FROM locations WHERE id = $1`, [
    id,
  ]);
  const row = rows[0];
  if (!row) throw new NotFoundError('location', id);
  return toLocation(row);
}

export async function createLocation(db: Queryable, input: LocationCreate): Promise<Location> {
  try {
    const { rows } = await db.query<LocationRecord>(
      `INSERT INTO locations (id, name, kind, timezone, priority, safety_stock, active)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${LOCATION_COLUMNS}`,
      [input.id, input.name, input.kind, input.timezone, input.priority, input.safetyStock, input.active],
    );
    return toLocation(rows[0]!);
  } catch (err) {
    if (pgErrorCode(err) === PG.uniqueViolation) {
      throw new ConflictError('already_exists', `location ${JSON.stringify(input.id)} already exists`, {
        field: 'id',
        value: input.id,
      });
    }
    throw err;
  }
}

export async function updateLocation(db: Queryable, id: string, patch: LocationPatch): Promise<Location> {
  const params: unknown[] = [];
  const set = setClause(patch, LOCATION_PATCH_COLUMNS, params);
  params.push(id);
  const { rows } = await db.query<LocationRecord>(
    `UPDATE locations ${set} WHERE id = $${params.length} RETURNING ${LOCATION_COLUMNS}`,
    params,
  );
  const row = rows[0];
  if (!row) throw new NotFoundError('location', id);
  return toLocation(row);
}

/** Delete a location nothing refers to yet (a typo, a store that never opened). */
export async function deleteLocation(db: Queryable, id: string): Promise<void> {
  const { rows } = await db.query<{ stock: boolean; movements: boolean; devices: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM stock WHERE location_id = $1) AS stock,
            EXISTS (SELECT 1 FROM movements WHERE location_id = $1) AS movements,
            EXISTS (SELECT 1 FROM devices WHERE location_id = $1) AS devices`,
    [id],
  );
  const usage = rows[0]!;
  const uses = (['stock', 'movements', 'devices'] as const).filter((use) => usage[use]);
  const patchPath = `/v1/locations/${id}`;
  if (uses.length > 0) {
    throw new ConflictError('in_use', inUseMessage('location', id, uses, patchPath), { location: id, uses });
  }
  try {
    const { rowCount } = await db.query('DELETE FROM locations WHERE id = $1', [id]);
    if (rowCount === 0) throw new NotFoundError('location', id);
  } catch (err) {
    // Something else refers to it (tokens, transfers, orders, or stock that arrived meanwhile).
    if (pgErrorCode(err) === PG.foreignKeyViolation) {
      throw new ConflictError('in_use', inUseMessage('location', id, ['other records'], patchPath), {
        location: id,
      });
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Products

interface ProductRecord {
  sku: string;
  name: string;
  barcode: string | null;
  category: string | null;
  price_minor: number;
  currency: string;
  active: boolean;
  created_at: Date;
  updated_at: Date;
  created_key: string;
}

const PRODUCT_COLUMNS = `sku, name, barcode, category, price_minor, currency, active, created_at, updated_at, ${TIME_KEY}`;

const PRODUCT_SORTS: Record<string, SortColumn<ProductRecord>> = {
  sku: { column: 'sku', kind: 'text', key: (r) => r.sku },
  name: { column: 'name', kind: 'text', key: (r) => r.name },
  priceMinor: { column: 'price_minor', kind: 'int', key: (r) => r.price_minor },
  createdAt: { column: 'created_at', kind: 'time', key: (r) => r.created_key },
};

const PRODUCT_PATCH_COLUMNS: Record<keyof ProductPatch, string> = {
  name: 'name',
  barcode: 'barcode',
  category: 'category',
  priceMinor: 'price_minor',
  currency: 'currency',
  active: 'active',
};

export function toProduct(r: ProductRecord): Product {
  return {
    sku: r.sku,
    name: r.name,
    barcode: r.barcode,
    category: r.category,
    priceMinor: r.price_minor,
    currency: r.currency,
    active: r.active,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** A unique violation on products names the field that clashed. */
function productClash(err: unknown, values: { sku: string; barcode?: string | null }): unknown {
  if (pgErrorCode(err) !== PG.uniqueViolation) return err;
  const constraint =
    typeof err === 'object' && err !== null && 'constraint' in err ? String(err.constraint) : '';
  const field = constraint.includes('barcode') ? 'barcode' : 'sku';
  const value = field === 'barcode' ? values.barcode : values.sku;
  return new ConflictError(
    'already_exists',
    `a product with ${field} ${JSON.stringify(value)} already exists`,
    {
      field,
      value,
    },
  );
}

export async function listProducts(db: Queryable, query: ProductListQuery): Promise<Page<Product>> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  if (query.q !== undefined) {
    params.push(containsPattern(query.q));
    const p = `$${params.length}`;
    conditions.push(
      `(name ILIKE ${p} ESCAPE '\\' OR sku ILIKE ${p} ESCAPE '\\' OR barcode ILIKE ${p} ESCAPE '\\')`,
    );
  }
  if (query.category !== undefined) {
    params.push(query.category);
    conditions.push(`category = $${params.length}`);
  }
  if (query.active !== undefined) {
    params.push(query.active);
    conditions.push(`active = $${params.length}`);
  }
  if (query.barcode !== undefined) {
    params.push(query.barcode);
    conditions.push(`barcode = $${params.length}`);
  }
  const { after, orderBy, cursorOf } = keyset(
    query.sort,
    PRODUCT_SORTS,
    PRODUCT_SORTS.sku!,
    query.cursor,
    params,
  );
  if (after) conditions.push(after);
  params.push(query.limit + 1);
  const { rows } = await db.query<ProductRecord>(
    `SELECT ${PRODUCT_COLUMNS} FROM products ${whereClause(conditions)} ORDER BY ${orderBy} LIMIT $${params.length}`,
    params,
  );
  return pageOf(rows, query.limit, cursorOf, toProduct);
}

export async function getProduct(db: Queryable, sku: string): Promise<Product> {
  const { rows } = await db.query<ProductRecord>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE sku = $1`, [
    sku,
  ]);
  const row = rows[0];
  if (!row) throw new NotFoundError('product', sku);
  return toProduct(row);
}

export async function createProduct(db: Queryable, input: ProductCreate): Promise<Product> {
  try {
    const { rows } = await db.query<ProductRecord>(
      `INSERT INTO products (sku, name, barcode, category, price_minor, currency, active)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${PRODUCT_COLUMNS}`,
      [
        input.sku,
        input.name,
        input.barcode ?? null,
        input.category ?? null,
        input.priceMinor,
        input.currency,
        input.active,
      ],
    );
    return toProduct(rows[0]!);
  } catch (err) {
    throw productClash(err, input);
  }
}

export async function updateProduct(db: Queryable, sku: string, patch: ProductPatch): Promise<Product> {
  const params: unknown[] = [];
  const set = setClause(patch, PRODUCT_PATCH_COLUMNS, params);
  params.push(sku);
  let row: ProductRecord | undefined;
  try {
    const { rows } = await db.query<ProductRecord>(
      `UPDATE products ${set} WHERE sku = $${params.length} RETURNING ${PRODUCT_COLUMNS}`,
      params,
    );
    row = rows[0];
  } catch (err) {
    throw productClash(err, { sku, barcode: patch.barcode });
  }
  if (!row) throw new NotFoundError('product', sku);
  return toProduct(row);
}

/** Delete a product no location has ever stocked (a catalogue mistake). */
export async function deleteProduct(db: Queryable, sku: string): Promise<void> {
  const patchPath = `/v1/products/${sku}`;
  const { rows } = await db.query<{ stock: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM stock WHERE sku = $1) AS stock',
    [sku],
  );
  if (rows[0]?.stock) {
    throw new ConflictError('in_use', inUseMessage('product', sku, ['stock'], patchPath), {
      product: sku,
      uses: ['stock'],
    });
  }
  try {
    const { rowCount } = await db.query('DELETE FROM products WHERE sku = $1', [sku]);
    if (rowCount === 0) throw new NotFoundError('product', sku);
  } catch (err) {
    // Transfer lines, order lines, or stock that arrived meanwhile.
    if (pgErrorCode(err) === PG.foreignKeyViolation) {
      throw new ConflictError('in_use', inUseMessage('product', sku, ['other records'], patchPath), {
        product: sku,
      });
    }
    throw err;
  }
}
