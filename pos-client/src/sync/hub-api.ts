import { CatalogProduct } from '@tillsync/sync-protocol';
import { z } from 'zod';
import type { Product } from '../engine/store.js';

/*
 * The hub's REST endpoints a till uses: enrolment (before it has a token) and the catalogue.
 * Responses are validated like every other message from the hub.
 */

const EnrolmentReply = z.object({
  deviceId: z.string(),
  locationId: z.string(),
  name: z.string(),
  token: z.string(),
  lastAckedSeq: z.number().int().nonnegative(),
});

const ProductPage = z.object({ items: z.array(CatalogProduct), nextCursor: z.string().nullable() });

export class HubRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(url: string, schema: z.ZodType<T>, init: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const message =
      typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : res.statusText;
    throw new HubRequestError(res.status, message);
  }
  return schema.parse(body);
}

export function enrolWithHub(hubUrl: string, enrolmentCode: string) {
  return call(`${hubUrl}/v1/devices/enrol`, EnrolmentReply, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrolmentCode }),
  });
}

/** The whole catalogue, page by page. */
export async function fetchCatalog(hubUrl: string, token: string): Promise<Product[]> {
  const products: Product[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: z.infer<typeof ProductPage> = await call(
      `${hubUrl}/v1/products?limit=500${query}`,
      ProductPage,
      {
        headers: { authorization: `Bearer ${token}` },
      },
    );
    products.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return products;
}
