import { z } from 'zod';
import { Sku } from './primitives.js';

/** A product as the hub serves it to tills and channels (the REST resource adds timestamps). */
export const CatalogProduct = z.object({
  sku: Sku,
  name: z.string(),
  barcode: z.string().nullable(),
  category: z.string().nullable(),
  /** Price in minor units (cents) of `currency`. */
  priceMinor: z.number().int(),
  currency: z.string(),
  active: z.boolean(),
});
export type CatalogProduct = z.infer<typeof CatalogProduct>;
