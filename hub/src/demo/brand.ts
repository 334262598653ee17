import type { LocationCreate } from '../schemas/catalog.js';
import type { Random } from './random.js';

/** The demo brand: a beauty and home label with three city stores fed by one warehouse. */
export const DEMO_BRAND = 'Maison Lumière';

export interface DemoLocation extends Required<LocationCreate> {
  /** Share of the catalogue this location carries, and its usual reorder point. */
  assortment: number;
  reorderPoint: number;
  /** Usual on-hand range of a well-stocked SKU. */
  stocked: [number, number];
}

export const DEMO_LOCATIONS: readonly DemoLocation[] = [
  {
    id: 'warehouse-central',
    name: 'Maison Lumière — Entrepôt central (Orléans)',
    kind: 'warehouse',
    timezone: 'Europe/Paris',
    priority: 10,
    safetyStock: 0,
    active: true,
    assortment: 1,
    reorderPoint: 120,
    stocked: [150, 1000],
  },
  {
    id: 'store-paris-1',
    name: 'Maison Lumière Paris — Le Marais',
    kind: 'store',
    timezone: 'Europe/Paris',
    priority: 20,
    safetyStock: 2,
    active: true,
    assortment: 0.9,
    reorderPoint: 8,
    stocked: [10, 48],
  },
  {
    id: 'store-lyon-1',
    name: 'Maison Lumière Lyon — Presqu’île',
    kind: 'store',
    timezone: 'Europe/Paris',
    priority: 30,
    safetyStock: 2,
    active: true,
    assortment: 0.8,
    reorderPoint: 6,
    stocked: [8, 36],
  },
  {
    id: 'store-bordeaux-1',
    name: 'Maison Lumière Bordeaux — Chartrons',
    kind: 'store',
    timezone: 'Europe/Paris',
    priority: 40,
    safetyStock: 1,
    active: true,
    assortment: 0.75,
    reorderPoint: 5,
    stocked: [7, 30],
  },
];

export interface DemoStockLine {
  locationId: string;
  sku: string;
  onHand: number;
  reorderPoint: number;
}

/**
 * Opening stock: each location carries its share of the catalogue; most SKUs sit comfortably above
 * the reorder point, about one in ten is running low and a few are sold out.
 */
export function demoStock(random: Random, skus: readonly string[]): DemoStockLine[] {
  const lines: DemoStockLine[] = [];
  for (const location of DEMO_LOCATIONS) {
    for (const sku of skus) {
      if (random.next() >= location.assortment) continue;
      const roll = random.next();
      const onHand =
        roll < 0.04
          ? 0
          : roll < 0.12
            ? random.int(1, location.reorderPoint - 1)
            : random.int(location.stocked[0], location.stocked[1]);
      lines.push({ locationId: location.id, sku, onHand, reorderPoint: location.reorderPoint });
    }
  }
  return lines;
}
