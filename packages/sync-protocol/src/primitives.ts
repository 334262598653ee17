import { z } from 'zod';
import { LIMITS } from './limits.js';

/** Stock keeping unit: what a barcode or the catalogue names. */
export const Sku = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');
export type Sku = z.infer<typeof Sku>;

/** A store or warehouse id, chosen by the brand (e.g. "store-paris-1"). */
export const LocationId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, "_" or "-", starting with a letter or digit');
export type LocationId = z.infer<typeof LocationId>;

/** A device (till) id; also the node id inside that till's HLC timestamps. */
export const DeviceId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" or "-"');
export type DeviceId = z.infer<typeof DeviceId>;

/** Globally unique operation id: a UUIDv7, so ids sort roughly by creation time. */
export const OpId = z.uuidv7();
export type OpId = z.infer<typeof OpId>;

/** A strictly positive unit count on one line. */
export const Quantity = z.number().int().positive().max(LIMITS.maxLineQuantity);

/** A unit count that may be zero (a count of an empty shelf). */
export const Count = z.number().int().nonnegative().max(LIMITS.maxLineQuantity);

/** Money in minor units (cents) to keep arithmetic exact. */
export const Money = z.number().int().nonnegative().max(1_000_000_000_00);

/** A device's operation sequence number: 1, 2, 3, … without gaps. */
export const Seq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** A row version: 0 for a row that has never changed, +1 on every ledger entry. */
export const Version = z.number().int().nonnegative();
