import { h, mount } from '../../../web/dom.js';
import type { Product } from '../../src/engine/store.js';
import { asCashierError, type Ctx, type Screen } from './context.js';
import { scanField } from './scan-field.js';

interface Counted {
  product: Product;
  counted: number;
}

/**
 * A cycle count: scan each unit on the shelf (every scan adds one) or type the number, then post.
 * It is a blind count on purpose: the expected quantity is not shown, so it cannot bias the count.
 */
export function countScreen(ctx: Ctx): Screen {
  const lines: Counted[] = [];
  const scan = scanField(ctx, {
    testId: 'count-scan',
    label: 'Scan a counted item',
    placeholder: 'Scan each unit on the shelf, or type a SKU or name…',
    onPick: (p) => {
      const line = lines.find((l) => l.product.sku === p.sku);
      if (line) line.counted += 1;
      else lines.push({ product: p, counted: 1 });
      render();
    },
  });
  const rows = h('tbody');
  const table = h(
    'table',
    { class: 'cart', 'data-testid': 'count-lines' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Item'), h('th', { class: 'qty-col' }, 'Counted'), h('th', {}))),
    rows,
  );
  const empty = h(
    'div',
    { class: 'empty' },
    h('div', { class: 'empty-title' }, 'Start counting'),
    h('div', {}, 'Each scan adds one unit; type a number to correct it.'),
  );
  const post = h(
    'button',
    { class: 'primary big', 'data-testid': 'post-count', onclick: () => void submit() },
    'Post count',
  );
  const el = h(
    'section',
    { class: 'screen', id: 'screen-count' },
    h('h2', {}, 'Cycle count'),
    scan.el,
    h('div', { class: 'cart-wrap' }, table, empty),
    h('div', { class: 'actions' }, post),
  );

  function render() {
    mount(
      rows,
      lines.map((l) => {
        const input = h('input', {
          type: 'number',
          min: '0',
          step: '1',
          class: 'qty-input',
          value: l.counted,
          'aria-label': `Counted ${l.product.name}`,
          'data-testid': `counted-${l.product.sku}`,
        });
        input.addEventListener('change', () => {
          const n = Number.parseInt(input.value, 10);
          if (Number.isFinite(n) && n >= 0) l.counted = n;
          render();
          scan.focus();
        });
        return h(
          'tr',
          {},
          h(
            'td',
            {},
            h('div', { class: 'item-name' }, l.product.name),
            h('div', { class: 'item-sku' }, l.product.sku),
          ),
          h('td', { class: 'qty-col' }, input),
          h(
            'td',
            { class: 'remove-col' },
            h(
              'button',
              {
                class: 'remove',
                'aria-label': `Remove ${l.product.name}`,
                onclick: () => {
                  lines.splice(lines.indexOf(l), 1);
                  render();
                },
              },
              '×',
            ),
          ),
        );
      }),
    );
    table.hidden = lines.length === 0;
    empty.hidden = lines.length > 0;
    post.disabled = lines.length === 0;
  }

  async function submit() {
    if (lines.length === 0) return;
    post.disabled = true;
    try {
      await ctx.api.count(lines.map((l) => ({ ref: l.product.sku, counted: l.counted })));
      ctx.flash(`Count posted for ${lines.length} product${lines.length === 1 ? '' : 's'}`, 'ok');
      lines.length = 0;
      render();
    } catch (e) {
      ctx.flash(asCashierError(e).message, 'error');
      render();
    }
    scan.focus();
  }

  render();
  return { id: 'count', el, show: () => scan.focus() };
}
