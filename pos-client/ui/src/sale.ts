import { h, mount } from '../../../web/dom.js';
import type { PaymentMethod } from '../../src/app/cashier-api.js';
import type { Product, Receipt } from '../../src/engine/store.js';
import { asCashierError, type Ctx, type Screen } from './context.js';
import { money } from './format.js';
import { scanField } from './scan-field.js';

interface Line {
  product: Product;
  qty: number;
}

/** The sale screen: scan into the cart, adjust quantities, take payment (F2 cash, F3 card). */
export function saleScreen(ctx: Ctx): Screen {
  const cart: Line[] = [];
  let busy = false;

  const scan = scanField(ctx, {
    testId: 'scan',
    label: 'Scan or search a product',
    placeholder: 'Scan a barcode, or type a SKU or name…',
    onPick: (p) => add(p),
    onEmptyKey: (e) => {
      const last = cart.at(-1);
      if (!last || (e.key !== '+' && e.key !== '-')) return false;
      setQty(last, last.qty + (e.key === '+' ? 1 : -1));
      return true;
    },
  });
  const lastAdded = h('div', { class: 'last-added', 'data-testid': 'last-added' });
  const rows = h('tbody');
  const emptyCart = h(
    'div',
    { class: 'empty' },
    h('div', { class: 'empty-title' }, 'Ready for the next customer'),
    h('div', {}, 'Scan an item, or type a name and pick it with ↑ ↓ and Enter.'),
  );
  const table = h(
    'table',
    { class: 'cart', 'data-testid': 'cart' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Item'),
        h('th', { class: 'num' }, 'Price'),
        h('th', { class: 'qty-col' }, 'Qty'),
        h('th', { class: 'num' }, 'Amount'),
        h('th', {}),
      ),
    ),
    rows,
  );
  const itemCount = h('span', { 'data-testid': 'item-count' });
  const total = h('div', { class: 'grand-total', 'data-testid': 'total' });
  const cashBtn = h(
    'button',
    { class: 'pay pay-cash', 'data-testid': 'pay-cash', onclick: () => void pay('cash') },
    h('span', {}, 'Cash'),
    h('kbd', {}, 'F2'),
  );
  const cardBtn = h(
    'button',
    { class: 'pay pay-card', 'data-testid': 'pay-card', onclick: () => void pay('card') },
    h('span', {}, 'Card'),
    h('kbd', {}, 'F3'),
  );
  const clearBtn = h('button', { class: 'ghost', onclick: () => clear() }, 'Void sale');

  const el = h(
    'section',
    { class: 'screen sale', id: 'screen-sale' },
    h('div', { class: 'sale-main' }, scan.el, lastAdded, h('div', { class: 'cart-wrap' }, table, emptyCart)),
    h(
      'aside',
      { class: 'sale-side' },
      h('div', { class: 'summary' }, h('div', { class: 'summary-row' }, h('span', {}, 'Items'), itemCount)),
      h('div', { class: 'total-label' }, 'Total'),
      total,
      h('div', { class: 'pay-buttons' }, cashBtn, cardBtn),
      clearBtn,
    ),
  );

  function currency(): string {
    return cart[0]?.product.currency ?? ctx.currency();
  }

  function render() {
    mount(
      rows,
      cart.map((line) => {
        const qty = h('input', {
          type: 'number',
          min: '0',
          step: '1',
          class: 'qty-input',
          value: line.qty,
          'aria-label': `Quantity of ${line.product.name}`,
          'data-testid': `qty-${line.product.sku}`,
        });
        const commit = () => {
          const n = Number.parseInt(qty.value, 10);
          setQty(line, Number.isFinite(n) ? n : line.qty);
          scan.focus();
        };
        qty.addEventListener('change', commit);
        qty.addEventListener('keydown', (e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            commit();
          }
        });
        return h(
          'tr',
          { 'data-testid': `line-${line.product.sku}` },
          h(
            'td',
            {},
            h('div', { class: 'item-name' }, line.product.name),
            h('div', { class: 'item-sku' }, line.product.sku),
          ),
          h('td', { class: 'num' }, money(line.product.priceMinor, line.product.currency)),
          h(
            'td',
            { class: 'qty-col' },
            h(
              'div',
              { class: 'stepper' },
              h(
                'button',
                { class: 'step', 'aria-label': 'One less', onclick: () => setQty(line, line.qty - 1) },
                '−',
              ),
              qty,
              h(
                'button',
                { class: 'step', 'aria-label': 'One more', onclick: () => setQty(line, line.qty + 1) },
                '+',
              ),
            ),
          ),
          h('td', { class: 'num amount' }, money(line.qty * line.product.priceMinor, line.product.currency)),
          h(
            'td',
            { class: 'remove-col' },
            h(
              'button',
              {
                class: 'remove',
                'aria-label': `Remove ${line.product.name}`,
                'data-testid': `remove-${line.product.sku}`,
                onclick: () => remove(line),
              },
              '×',
            ),
          ),
        );
      }),
    );
    const units = cart.reduce((n, l) => n + l.qty, 0);
    const totalMinor = cart.reduce((n, l) => n + l.qty * l.product.priceMinor, 0);
    table.hidden = cart.length === 0;
    emptyCart.hidden = cart.length > 0;
    itemCount.textContent = String(units);
    total.textContent = money(totalMinor, currency());
    cashBtn.disabled = cardBtn.disabled = clearBtn.disabled = cart.length === 0 || busy;
  }

  function add(product: Product) {
    const line = cart.find((l) => l.product.sku === product.sku);
    if (line) line.qty += 1;
    else cart.push({ product, qty: 1 });
    mount(
      lastAdded,
      h('span', { class: 'tick' }, '✓'),
      ` ${product.name} `,
      h('span', { class: 'muted' }, money(product.priceMinor, product.currency)),
    );
    render();
  }

  function setQty(line: Line, qty: number) {
    if (qty <= 0) remove(line);
    else {
      line.qty = qty;
      render();
    }
    scan.focus();
  }

  function remove(line: Line) {
    cart.splice(cart.indexOf(line), 1);
    render();
    scan.focus();
  }

  function clear() {
    cart.length = 0;
    lastAdded.replaceChildren();
    render();
    scan.focus();
  }

  async function pay(payment: PaymentMethod) {
    if (busy) return;
    busy = true;
    await scan.settled();
    if (cart.length === 0) {
      busy = false;
      return;
    }
    render();
    const lines = cart.map((l) => ({ ref: l.product.sku, qty: l.qty }));
    try {
      let receipt: Receipt;
      try {
        receipt = await ctx.api.sell({ lines, payment });
      } catch (e) {
        const err = asCashierError(e);
        if (err.code !== 'reserved_stock') throw e;
        const reason = await ctx.confirmOverride(err);
        if (reason === null) return;
        receipt = await ctx.api.sell({ lines, payment, reservedOverride: reason });
      }
      cart.length = 0;
      lastAdded.replaceChildren();
      ctx.showReceipt(receipt);
    } catch (e) {
      ctx.flash(asCashierError(e).message, 'error');
    } finally {
      busy = false;
      render();
    }
  }

  render();
  return {
    id: 'sale',
    el,
    show: () => scan.focus(),
    key(e) {
      if (e.key === 'F2' || e.key === 'F3') {
        void pay(e.key === 'F2' ? 'cash' : 'card');
        return true;
      }
      return false;
    },
  };
}
