import { LocationId, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery } from './common.js';

/** What the hub settled on its own but a person should look at (see the writers of `conflicts`). */
export const ConflictKind = z.enum([
  'oversell',
  'pickup_mismatch',
  'broken_reservation',
  'transfer_mismatch',
  'clock_skew',
]);

export const Conflict = z
  .object({
    id: z.number().int(),
    locationId: LocationId,
    kind: z.string().describe(ConflictKind.options.join(', ')),
    sku: z.string().nullable(),
    opId: z.string().nullable().describe('The op that caused it, in the movement ledger'),
    details: z.record(z.string(), z.unknown()),
    status: z.enum(['open', 'resolved']),
    createdAt: z.string(),
    resolvedAt: z.string().nullable(),
    resolvedBy: z.string().nullable().describe('Who resolved it ("token:<id>")'),
    resolution: z.string().nullable().describe('The note given when resolving'),
  })
  .meta({ id: 'Conflict' });
export type Conflict = z.infer<typeof Conflict>;

export const ConflictListQuery = PageQuery.extend({
  locationId: LocationId.optional(),
  status: z.enum(['open', 'resolved']).optional(),
  kind: ConflictKind.optional(),
  sku: Sku.optional(),
}).strict();
export type ConflictListQuery = z.infer<typeof ConflictListQuery>;

export const ConflictParams = z.strictObject({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export const ConflictResolve = z
  .strictObject({ note: z.string().trim().min(1).max(500) })
  .meta({ id: 'ConflictResolve' });
