import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';

/** The one error shape every endpoint answers with (see http/error-handler.ts). */
export const ErrorBody = z
  .object({
    code: z.string().describe('One of the codes listed for the status (ERROR_CODES in errors.ts)'),
    message: z.string().describe('For people: says what to fix'),
    details: z.unknown().optional().describe('Machine-readable specifics, per code'),
  })
  .meta({ id: 'Error' });

/** What any route can answer, whatever it does: bad input, no or a wrong token, the hub's own limits. */
const SHARED: readonly ErrorCode[] = [
  'invalid_request',
  'invalid_text',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'internal',
  'database_unavailable',
  'shutting_down',
];

/**
 * The error responses of a route: the codes it can answer besides the shared ones (400
 * invalid_request, 401, 403, 429, 500, 503 database_unavailable and shutting_down come automatically), each status
 * with the error shape whose `code` is documented as the enum of that status's codes. At run time
 * `code` stays a plain string, so a code missing here can never turn an answer into a 500.
 */
export function errors(...codes: ErrorCode[]) {
  return errorSchemas(...SHARED, ...codes);
}

/** For routes with no bearer token (`security: []`): no 401/403 unless listed. */
export function publicErrors(...codes: ErrorCode[]) {
  return errorSchemas(...SHARED.filter((c) => c !== 'unauthorized' && c !== 'forbidden'), ...codes);
}

/** Exactly these codes, by status (no shared ones). */
export function errorSchemas(...codes: ErrorCode[]): Record<number, z.ZodType> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      ErrorBody.extend({ code: z.string().meta({ enum: list }) }).describe(
        list.map((c) => `\`${c}\`: ${ERROR_CODES[c].description}.`).join(' '),
      ),
    ]),
  );
}

/**
 * A JSON response whose ETag header is the row's version (documented as a response header, see
 * openapi/complete.ts).
 */
export const withEtag = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
  headers: { etag: { type: 'string' } },
});

/** The errors any route that reads one resource can answer (shared ones and 404 not_found). */
export const errorResponses = errors('not_found');

/** `?limit=&cursor=`: keyset pagination, stable under inserts (no OFFSET). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

const pages = new WeakMap<z.ZodType, z.ZodType>();

/** A page of `item`s; named `<Item>Page` in OpenAPI when the item has an id. */
export const page = <T extends z.ZodType>(item: T) => {
  const known = pages.get(item) as ReturnType<typeof pageOf<T>> | undefined;
  if (known) return known;
  const schema = pageOf(item);
  const id = z.globalRegistry.get(item)?.id;
  const named = id ? schema.meta({ id: `${id}Page` }) : schema;
  pages.set(item, named);
  return named;
};

const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    nextCursor: z
      .string()
      .nullable()
      .describe('Pass as `cursor` to get the next page; null on the last page'),
  });

/** Query booleans arrive as strings. */
export const QueryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** ISO-8601 timestamps in query strings. */
export const QueryTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
