import type { Queryable } from '../../db/database.js';
import { ConflictError } from '../../errors.js';

/*
 * Where an order's units come from. Callers lock the candidate stock rows first (lockCandidates:
 * SELECT … FOR UPDATE in (location_id, sku) order, the ledger's lock order) and only then compute
 * availability, so two orders racing for the last units serialize on the rows and the second sees
 * what the first reserved (invariant 5).
 *
 * Routing rule:
 *   - pickup orders: the pickup store only (its safety stock does not apply: the customer is there);
 *   - shipping orders: active locations only, each offering usable = on_hand - reserved - safety_stock;
 *       1. one location if any can serve the whole order: warehouses before stores, then by location
 *          priority ascending, then by most units usable for the order's SKUs, then by id;
 *       2. else split line by line, taking from locations in the same order (most usable of that
 *          SKU breaking priority ties) until the line is served;
 *   - if any line cannot be served in full, nothing is reserved: 409 insufficient_stock.
 */

export interface QtyLine {
  sku: string;
  qty: number;
}

export interface Placement {
  locationId: string;
  sku: string;
  qty: number;
}

export interface Candidate {
  locationId: string;
  kind: 'store' | 'warehouse';
  priority: number;
  sku: string;
  /** Units that may be promised from this row now (may be negative: nothing to take). */
  usable: number;
}

export interface Shortage {
  sku: string;
  requested: number;
  available: number;
}

export interface CandidateScope {
  /** Only these locations (a pickup store); all active locations when omitted. */
  onlyLocationId?: string;
  /** Never this location (re-allocating away from it). */
  exceptLocationId?: string;
  /** Keep each location's safety stock back (shipping orders). */
  keepSafetyStock: boolean;
}

/** Lock the stock rows of these SKUs at every candidate location and read what they can give. */
export async function lockCandidates(
  tx: Queryable,
  skus: readonly string[],
  scope: CandidateScope,
): Promise<Candidate[]> {
  const { rows } = await tx.query<{
    location_id: string;
    sku: string;
    kind: 'store' | 'warehouse';
    priority: number;
    usable: number;
  }>(
    `SELECT s.location_id, s.sku, l.kind, l.priority,
       s.on_hand - s.reserved - CASE WHEN $4 THEN l.safety_stock ELSE 0 END AS usable
     FROM stock s JOIN locations l ON l.id = s.location_id
     WHERE s.sku = ANY($1::text[]) AND l.active
       AND ($2::text IS NULL OR s.location_id = $2) AND ($3::text IS NULL OR s.location_id <> $3)
     ORDER BY s.location_id, s.sku
     FOR UPDATE OF s`,
    [[...new Set(skus)], scope.onlyLocationId ?? null, scope.exceptLocationId ?? null, scope.keepSafetyStock],
  );
  return rows.map((r) => ({
    locationId: r.location_id,
    sku: r.sku,
    kind: r.kind,
    priority: r.priority,
    usable: r.usable,
  }));
}

interface Site {
  locationId: string;
  kind: 'store' | 'warehouse';
  priority: number;
  usable: Map<string, number>;
}

function sitesOf(candidates: readonly Candidate[]): Site[] {
  const sites = new Map<string, Site>();
  for (const c of candidates) {
    const site = sites.get(c.locationId) ?? {
      locationId: c.locationId,
      kind: c.kind,
      priority: c.priority,
      usable: new Map<string, number>(),
    };
    site.usable.set(c.sku, Math.max(0, c.usable));
    sites.set(c.locationId, site);
  }
  return [...sites.values()];
}

/** Warehouses first, then priority ascending, then most `units`, then id. */
function byRoutingOrder(units: (s: Site) => number) {
  const rank = (s: Site) => (s.kind === 'warehouse' ? 0 : 1);
  return (a: Site, b: Site) =>
    rank(a) - rank(b) ||
    a.priority - b.priority ||
    units(b) - units(a) ||
    (a.locationId < b.locationId ? -1 : a.locationId > b.locationId ? 1 : 0);
}

const usableOf = (s: Site, sku: string) => s.usable.get(sku) ?? 0;

/** Take up to `line.qty` units of one SKU from the sites in routing order; may fall short. */
function splitLine(line: QtyLine, sites: readonly Site[]): { placements: Placement[]; placed: number } {
  const placements: Placement[] = [];
  let remaining = line.qty;
  for (const site of [...sites].sort(byRoutingOrder((s) => usableOf(s, line.sku)))) {
    if (remaining === 0) break;
    const take = Math.min(remaining, usableOf(site, line.sku));
    if (take === 0) continue;
    placements.push({ locationId: site.locationId, sku: line.sku, qty: take });
    site.usable.set(line.sku, usableOf(site, line.sku) - take);
    remaining -= take;
  }
  return { placements, placed: line.qty - remaining };
}

/** Place a whole order by the routing rule; any shortage means nothing is placed. */
export function route(
  lines: readonly QtyLine[],
  candidates: readonly Candidate[],
): { placements: Placement[]; shortages: Shortage[] } {
  const sites = sitesOf(candidates);
  const totalFor = (s: Site) => lines.reduce((sum, l) => sum + usableOf(s, l.sku), 0);
  const whole = [...sites]
    .sort(byRoutingOrder(totalFor))
    .find((s) => lines.every((l) => usableOf(s, l.sku) >= l.qty));
  if (whole) {
    return {
      placements: lines.map((l) => ({ locationId: whole.locationId, sku: l.sku, qty: l.qty })),
      shortages: [],
    };
  }
  const available = new Map(
    lines.map((l) => [l.sku, sites.reduce((sum, s) => sum + usableOf(s, l.sku), 0)] as const),
  );
  const placements: Placement[] = [];
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const split = splitLine(line, sites);
    placements.push(...split.placements);
    if (split.placed < line.qty) {
      shortages.push({ sku: line.sku, requested: line.qty, available: available.get(line.sku) ?? 0 });
    }
  }
  return shortages.length > 0 ? { placements: [], shortages } : { placements, shortages };
}

/** As many units of one line as the candidates can take (re-allocation accepts a partial move). */
export function routeLine(line: QtyLine, candidates: readonly Candidate[]): Placement[] {
  return splitLine(line, sitesOf(candidates)).placements;
}

export function insufficientStock(shortages: readonly Shortage[]): ConflictError {
  const skus = shortages.map((s) => s.sku).join(', ');
  return new ConflictError('insufficient_stock', `not enough stock available for ${skus}`, {
    lines: shortages,
  });
}
