import { LocationId, type MovementReason, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery, QueryTime } from './common.js';

/** The movement ledger as people read it: one entry per effect of an op on a stock row. */

const REASONS = [
  'sale',
  'return',
  'return_damaged',
  'receive',
  'adjust_damage',
  'adjust_shrink',
  'adjust_found',
  'adjust_dispose',
  'count',
  'transfer_out',
  'transfer_incoming',
  'transfer_in',
  'pickup',
  'reserve',
  'release',
  'ship',
  'restock',
  'restock_damaged',
  'set_on_hand',
  'set_reorder_point',
] as const satisfies readonly MovementReason[];

type Missing = Exclude<MovementReason, (typeof REASONS)[number]>;
// A compile error here means the reducer gained a reason this list lacks.
true satisfies [Missing] extends [never] ? true : Missing;

export const MovementReasonFilter = z.enum(REASONS);

export const MovementListQuery = z
  .strictObject({
    ...PageQuery.shape,
    locationId: LocationId.optional(),
    sku: Sku.optional(),
    opId: z.uuid().optional(),
    reason: MovementReasonFilter.optional(),
    from: QueryTime.optional().describe('Hub time, inclusive (ISO 8601 with offset)'),
    to: QueryTime.optional().describe('Hub time, exclusive (ISO 8601 with offset)'),
    order: z.enum(['asc', 'desc']).default('asc').describe('By hub time, then location, then id'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    message: 'must be later than from',
    path: ['to'],
  });
export type MovementListQuery = z.infer<typeof MovementListQuery>;

export const Movement = z
  .object({
    id: z.number().int(),
    locationId: z.string(),
    sku: z.string(),
    opId: z.string(),
    opType: z.string(),
    reason: z.string(),
    outcome: z.enum(['applied', 'absorbed', 'superseded']),
    deltas: z.object({
      onHand: z.number().int(),
      reserved: z.number().int(),
      incoming: z.number().int(),
      damaged: z.number().int(),
    }),
    absorbedOnHand: z.number().int().describe('on_hand change a later count already covered'),
    counted: z.number().int().nullable(),
    onHandAfter: z.number().int(),
    versionAfter: z.number().int(),
    oversell: z.boolean(),
    hlc: z.string(),
    hubTime: z.string(),
    deviceId: z.string().nullable(),
    actor: z.string(),
    reference: z.string().nullable(),
  })
  .meta({ id: 'Movement' });
export type Movement = z.infer<typeof Movement>;
