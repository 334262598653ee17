import { z } from 'zod';

/** The one error shape every endpoint answers with (see http/error-handler.ts). */
export const ErrorBody = z
  .object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  })
  .meta({ id: 'Error' });

/** Error responses to declare on routes, so OpenAPI documents them. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
} as const;

/** `?limit=&cursor=`: keyset pagination, stable under inserts (no OFFSET). */
export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(500).optional(),
});

export const page = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    /** Pass as `cursor` to get the next page; null on the last page. */
    nextCursor: z.string().nullable(),
  });

/** Query booleans arrive as strings. */
export const QueryBool = z.enum(['true', 'false']).transform((v) => v === 'true');

/** ISO-8601 timestamps in query strings. */
export const QueryTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
