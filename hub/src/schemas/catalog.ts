import { CatalogProduct, LocationId, Sku } from '@tillsync/sync-protocol';
import { z } from 'zod';
import { PageQuery, QueryBool } from './common.js';

/*
 * Catalogue shapes for REST and the CSV import alike: one definition of what a valid product or
 * location is.
 */

export const Currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR');
const Barcode = z.string().regex(/^[0-9]{8,14}$/, '8 to 14 digits (EAN-8, UPC-A, EAN-13, GTIN-14)');
const Name = z.string().trim().min(1).max(200);
const Category = z.string().trim().min(1).max(100);
const PriceMinor = z.number().int().nonnegative().max(1_000_000_000_00);

export const Product = CatalogProduct.extend({ createdAt: z.string(), updatedAt: z.string() }).meta({
  id: 'Product',
});
export type Product = z.infer<typeof Product>;

/**
 * SKUs the REST API cannot address: `GET /v1/inventory/low-stock` is the brand-wide low-stock list,
 * so a product named `low-stock` could never have its own `GET /v1/inventory/{sku}`.
 */
export const RESERVED_SKUS: ReadonlySet<string> = new Set(['low-stock']);

const NewSku = Sku.refine((sku) => !RESERVED_SKUS.has(sku), {
  message: `reserved: ${[...RESERVED_SKUS].join(', ')} names an API route`,
});

export const ProductCreate = z
  .strictObject({
    sku: NewSku,
    name: Name,
    barcode: Barcode.nullable().optional(),
    category: Category.nullable().optional(),
    priceMinor: PriceMinor,
    currency: Currency.default('EUR'),
    active: z.boolean().default(true),
  })
  .meta({ id: 'ProductCreate' });
export type ProductCreate = z.infer<typeof ProductCreate>;

export const ProductPatch = z
  .strictObject({
    name: Name,
    barcode: Barcode.nullable(),
    category: Category.nullable(),
    priceMinor: PriceMinor,
    currency: Currency,
    active: z.boolean(),
  })
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'change at least one field')
  .meta({ id: 'ProductPatch' });
export type ProductPatch = z.infer<typeof ProductPatch>;

export const LocationKind = z.enum(['store', 'warehouse']);

export const Location = z
  .object({
    id: LocationId,
    name: z.string(),
    kind: LocationKind,
    timezone: z.string(),
    priority: z.number().int(),
    safetyStock: z.number().int(),
    active: z.boolean(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Location' });
export type Location = z.infer<typeof Location>;

const Timezone = z
  .string()
  .max(64)
  .refine((tz) => Intl.supportedValuesOf('timeZone').includes(tz) || tz === 'UTC', 'an IANA time zone');

const locationFields = {
  name: Name,
  kind: LocationKind,
  timezone: Timezone,
  /** Order routing: lower is tried first. */
  priority: z.number().int().min(0).max(10_000),
  /** Units never promised to online orders from this location. */
  safetyStock: z.number().int().min(0).max(1_000_000),
  active: z.boolean(),
};

export const LocationCreate = z
  .strictObject({
    id: LocationId,
    ...locationFields,
    timezone: locationFields.timezone.default('UTC'),
    priority: locationFields.priority.default(100),
    safetyStock: locationFields.safetyStock.default(0),
    active: locationFields.active.default(true),
  })
  .meta({ id: 'LocationCreate' });
export type LocationCreate = z.infer<typeof LocationCreate>;

// No defaults here: an absent field is left as it is.
export const LocationPatch = z
  .strictObject(locationFields)
  .partial()
  .refine((p) => Object.keys(p).length > 0, 'change at least one field')
  .meta({ id: 'LocationPatch' });
export type LocationPatch = z.infer<typeof LocationPatch>;

/** Free-text search: a substring, matched case-insensitively; `%` and `_` are literal characters. */
const SearchText = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^\P{Cc}*$/u, 'printable text, no control characters');

const LocationSort = z
  .enum(['id', '-id', 'name', '-name', 'priority', '-priority', 'createdAt', '-createdAt'])
  .default('id')
  .describe('Sort field; a leading "-" sorts descending');

export const LocationListQuery = z.strictObject({
  ...PageQuery.shape,
  kind: LocationKind.optional(),
  active: QueryBool.optional(),
  q: SearchText.optional().describe('Part of the name or id'),
  sort: LocationSort,
});
export type LocationListQuery = z.infer<typeof LocationListQuery>;

const ProductSort = z
  .enum(['sku', '-sku', 'name', '-name', 'priceMinor', '-priceMinor', 'createdAt', '-createdAt'])
  .default('sku')
  .describe('Sort field; a leading "-" sorts descending; ties are ordered by sku');

export const ProductListQuery = z.strictObject({
  ...PageQuery.shape,
  q: SearchText.optional().describe('Part of the name, sku or barcode'),
  category: Category.optional(),
  active: QueryBool.optional(),
  barcode: Barcode.optional().describe('Exact barcode (a scan)'),
  sort: ProductSort,
});
export type ProductListQuery = z.infer<typeof ProductListQuery>;
