import { h, mount } from '../../../web/dom.js';
import type { StockLookup } from '../../src/app/cashier-api.js';
import type { Product } from '../../src/engine/store.js';
import type { Ctx, Screen } from './context.js';
import { money } from './format.js';
import { scanField } from './scan-field.js';

/** Stock lookup: this store from the till's own view, other locations from the hub (or stale). */
export function stockScreen(ctx: Ctx): Screen {
  const body = h('div', { class: 'stock-body', 'data-testid': 'stock-result' });
  let current: Product | null = null;
  const scan = scanField(ctx, {
    testId: 'stock-scan',
    label: 'Look up stock',
    placeholder: 'Scan or search a product to see its stock…',
    onPick: (p) => lookup(p),
  });
  const el = h(
    'section',
    { class: 'screen', id: 'screen-stock' },
    h('h2', {}, 'Stock lookup'),
    scan.el,
    body,
  );

  async function lookup(p: Product) {
    current = p;
    mount(body, h('div', { class: 'muted pad' }, `Looking up ${p.name}…`));
    render(await ctx.api.stock(p.sku));
  }

  function figure(label: string, value: number, testId?: string, tone = '') {
    return h(
      'div',
      { class: `figure ${tone}` },
      h('div', { class: 'figure-value', 'data-testid': testId }, String(value)),
      h('div', { class: 'figure-label' }, label),
    );
  }

  function render(s: StockLookup) {
    const available = s.here.onHand - s.here.reserved;
    const others = s.elsewhere?.filter((o) => o.locationId !== s.here.locationId) ?? null;
    mount(
      body,
      h(
        'div',
        { class: 'product-head' },
        h(
          'div',
          {},
          h('h3', {}, s.product.name),
          h('div', { class: 'item-sku' }, s.product.sku, s.product.barcode ? ` · ${s.product.barcode}` : ''),
        ),
        h('div', { class: 'price-tag' }, money(s.product.priceMinor, s.product.currency)),
      ),
      h(
        'div',
        { class: 'card' },
        h('div', { class: 'card-title' }, `This store · ${s.here.locationId}`),
        h(
          'div',
          { class: 'figures' },
          figure('Available', available, 'here-available', available <= 0 ? 'bad' : 'good'),
          figure('On hand', s.here.onHand, 'here-on-hand'),
          figure('Reserved online', s.here.reserved, 'here-reserved'),
          figure('Incoming', s.here.incoming),
          figure('Damaged', s.here.damaged),
        ),
      ),
      h(
        'div',
        { class: 'card' },
        h(
          'div',
          { class: 'card-title' },
          'Other locations',
          s.stale
            ? h('span', { class: 'badge warn', 'data-testid': 'stale' }, 'Stale · offline, last known')
            : null,
        ),
        others === null
          ? h(
              'div',
              { class: 'muted pad' },
              'The hub is out of reach: other locations are unknown right now.',
            )
          : others.length === 0
            ? h('div', { class: 'muted pad' }, 'No other location stocks this product.')
            : h(
                'table',
                { class: 'cart', 'data-testid': 'elsewhere' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    h('th', {}, 'Location'),
                    h('th', { class: 'num' }, 'Available'),
                    h('th', { class: 'num' }, 'On hand'),
                    h('th', { class: 'num' }, 'Reserved'),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  others.map((o) =>
                    h(
                      'tr',
                      { class: s.stale ? 'stale-row' : '' },
                      h('td', {}, o.locationId),
                      h('td', { class: 'num strong' }, String(o.available)),
                      h('td', { class: 'num' }, String(o.onHand)),
                      h('td', { class: 'num' }, String(o.reserved)),
                    ),
                  ),
                ),
              ),
      ),
    );
  }

  mount(
    body,
    h(
      'div',
      { class: 'empty' },
      h('div', { class: 'empty-title' }, 'Which product?'),
      h('div', {}, 'Scan it or type its name.'),
    ),
  );
  return {
    id: 'stock',
    el,
    show: () => {
      scan.focus();
      if (current) void lookup(current);
    },
  };
}
