import type { ProductCreate } from '../schemas/catalog.js';
import { ean13 } from './ean.js';
import type { Random } from './random.js';

/*
 * The demo brand's catalogue: per category, names are combinations of three word lists (drawn
 * without repeats) and prices fall in a range typical of the category, ending in .90.
 */

interface CategorySpec {
  category: string;
  code: string;
  count: number;
  words: [readonly string[], readonly string[], readonly string[]];
  name: (a: string, b: string, c: string) => string;
  /** Price range in whole euros. */
  price: [number, number];
}

const CATEGORIES: readonly CategorySpec[] = [
  {
    category: 'skincare',
    code: 'SKN',
    count: 60,
    words: [
      ['Hydrating', 'Radiant', 'Soothing', 'Firming', 'Purifying', 'Nourishing', 'Brightening', 'Restoring'],
      [
        'Face Cream',
        'Serum',
        'Cleansing Gel',
        'Toner',
        'Eye Contour',
        'Night Balm',
        'Face Mask',
        'Micellar Water',
      ],
      ['30 ml', '50 ml', '100 ml'],
    ],
    name: (a, b, c) => `${a} ${b} ${c}`,
    price: [14, 69],
  },
  {
    category: 'makeup',
    code: 'MKP',
    count: 50,
    words: [
      ['Velvet', 'Satin', 'Luminous', 'Matte', 'Silk', 'Glow'],
      ['Lipstick', 'Foundation', 'Mascara', 'Blush', 'Eyeliner', 'Highlighter', 'Lip Gloss'],
      ['Rose', 'Nude', 'Coral', 'Berry', 'Ivory', 'Sable', 'Amber'],
    ],
    name: (a, b, c) => `${a} ${b} — ${c}`,
    price: [9, 45],
  },
  {
    category: 'fragrance',
    code: 'FRG',
    count: 30,
    words: [
      ['Ambre', 'Fleur', 'Bois', 'Néroli', 'Vanille', 'Iris', 'Cèdre'],
      ['Eau de Parfum', 'Eau de Toilette', 'Body Mist', 'Solid Perfume'],
      ['15 ml', '50 ml', '100 ml'],
    ],
    name: (a, b, c) => `${a} ${b} ${c}`,
    price: [25, 120],
  },
  {
    category: 'haircare',
    code: 'HAR',
    count: 40,
    words: [
      ['Repairing', 'Volume', 'Curl', 'Smoothing', 'Color Care', 'Scalp'],
      ['Shampoo', 'Conditioner', 'Hair Mask', 'Hair Oil', 'Leave-in Spray'],
      ['200 ml', '400 ml'],
    ],
    name: (a, b, c) => `${a} ${b} ${c}`,
    price: [8, 35],
  },
  {
    category: 'home-fragrance',
    code: 'CDL',
    count: 40,
    words: [
      ['Figue', 'Lavande', 'Santal', 'Thé Blanc', 'Mimosa', 'Cuir', 'Verveine', 'Tubéreuse'],
      ['Scented Candle', 'Reed Diffuser', 'Room Spray', 'Wax Melts'],
      ['Petit', 'Grand'],
    ],
    name: (a, b, c) => `${a} ${b} (${c})`,
    price: [12, 68],
  },
  {
    category: 'textiles',
    code: 'TEX',
    count: 40,
    words: [
      ['Linen', 'Cotton', 'Velvet', 'Wool'],
      ['Cushion Cover', 'Throw', 'Tea Towel', 'Table Runner', 'Bath Towel'],
      ['Sable', 'Terracotta', 'Sage', 'Ivory', 'Charcoal', 'Ocean'],
    ],
    name: (a, b, c) => `${a} ${b} — ${c}`,
    price: [15, 90],
  },
  {
    category: 'tableware',
    code: 'TBW',
    count: 40,
    words: [
      ['Stoneware', 'Porcelain', 'Glass', 'Ceramic'],
      ['Plate', 'Bowl', 'Mug', 'Carafe', 'Vase', 'Tumbler'],
      ['Speckled', 'Glazed', 'Ribbed', 'Matte'],
    ],
    name: (a, b, c) => `${c} ${a} ${b}`,
    price: [6, 55],
  },
];

/** GS1 France prefix (376) and a made-up company number: 7 of the EAN's 12 leading digits. */
const EAN_PREFIX = '3760421';

/** 300 products, the same on every run for the same generator. */
export function demoCatalogue(random: Random): ProductCreate[] {
  const products: ProductCreate[] = [];
  for (const spec of CATEGORIES) {
    const [as, bs, cs] = spec.words;
    const combos = as.flatMap((a) => bs.flatMap((b) => cs.map((c) => [a, b, c] as const)));
    if (combos.length < spec.count) throw new Error(`not enough names for ${spec.category}`);
    for (const [i, [a, b, c]] of random.shuffle(combos).slice(0, spec.count).entries()) {
      const euros = random.int(spec.price[0], spec.price[1]);
      products.push({
        sku: `ML-${spec.code}-${String(i + 1).padStart(3, '0')}`,
        name: spec.name(a, b, c),
        barcode: ean13(`${EAN_PREFIX}${String(products.length + 1).padStart(5, '0')}`),
        category: spec.category,
        priceMinor: euros * 100 - 10,
        currency: 'EUR',
        active: true,
      });
    }
  }
  return products;
}
