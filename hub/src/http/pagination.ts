import { BadRequestError } from '../errors.js';

/*
 * Keyset pagination. A cursor is the sort key of the last item served, base64url-encoded JSON, so
 * the next page is "WHERE (sort_col, id) > ($1, $2)": stable under concurrent inserts, and fast at
 * any depth. Clients treat cursors as opaque.
 */

export type CursorValue = string | number | boolean | null;

export function encodeCursor(values: readonly CursorValue[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** Decode a cursor of `arity` values; anything else is a 400 naming the `cursor` field. */
export function decodeCursor(cursor: string, arity: number): CursorValue[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const ok =
    Array.isArray(parsed) &&
    parsed.length === arity &&
    parsed.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
  if (!ok)
    throw new BadRequestError('querystring.cursor: not a cursor returned by this endpoint', {
      field: 'cursor',
    });
  return parsed as CursorValue[];
}

/**
 * Given `limit + 1` rows fetched, return the page and the cursor of its last item (null when
 * there is no further page).
 */
export function pageOf<R, T>(
  rows: readonly R[],
  limit: number,
  key: (row: R) => CursorValue[],
  map: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return {
    items: items.map(map),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null,
  };
}

/**
 * A timestamptz column as a cursor value with its full microsecond precision (a JS Date keeps
 * milliseconds only, so a Date-based cursor would skip or repeat rows sharing a millisecond).
 */
export function timeKeySql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/** Whether a cursor value is a real instant as timeKeySql writes it. */
export function isTimeKey(value: unknown): value is string {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(value)) return false;
  const date = new Date(value);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 23) === value.slice(0, 23);
}
