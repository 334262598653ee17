import { h, mount } from '../../../web/dom.js';
import type { PaymentMethod } from '../../src/app/cashier-api.js';
import type { Receipt } from '../../src/engine/store.js';
import { asCashierError, type Ctx, type Screen } from './context.js';
import { dateTime, money } from './format.js';

interface Pick {
  sku: string;
  qty: HTMLInputElement;
  condition: HTMLSelectElement;
  unitPriceMinor: number;
}

/** Returns against an earlier receipt: pick lines and quantities, sellable or damaged, refund. */
export function returnsScreen(ctx: Ctx): Screen {
  const input = h('input', {
    type: 'text',
    class: 'scan-input',
    placeholder: 'Scan or type the receipt number…',
    autocomplete: 'off',
    'aria-label': 'Receipt number',
    'data-testid': 'return-receipt',
  });
  const body = h('div', { class: 'return-body' });
  const refundTotal = h('div', { class: 'grand-total', 'data-testid': 'refund-total' });
  const cashBtn = h(
    'button',
    { class: 'pay pay-cash', 'data-testid': 'refund-cash', onclick: () => void refund('cash') },
    h('span', {}, 'Refund cash'),
    h('kbd', {}, 'F2'),
  );
  const cardBtn = h(
    'button',
    { class: 'pay pay-card', 'data-testid': 'refund-card', onclick: () => void refund('card') },
    h('span', {}, 'Refund card'),
    h('kbd', {}, 'F3'),
  );
  const el = h(
    'section',
    { class: 'screen sale', id: 'screen-returns' },
    h('div', { class: 'sale-main' }, h('h2', {}, 'Return against a receipt'), input, body),
    h(
      'aside',
      { class: 'sale-side' },
      h('div', { class: 'total-label' }, 'To refund'),
      refundTotal,
      h('div', { class: 'pay-buttons' }, cashBtn, cardBtn),
    ),
  );
  let original: Receipt | null = null;
  let picks: Pick[] = [];
  let busy = false;

  const updateTotal = () => {
    const minor = picks.reduce((s, p) => s + qtyOf(p) * p.unitPriceMinor, 0);
    refundTotal.textContent = money(minor, ctx.currency(original?.lines[0]?.sku));
    cashBtn.disabled = cardBtn.disabled = busy || minor === 0;
  };
  const qtyOf = (p: Pick) => {
    const n = Number.parseInt(p.qty.value, 10);
    return Number.isFinite(n) && n > 0 ? n : 0;
  };

  function reset(message?: string) {
    original = null;
    picks = [];
    mount(
      body,
      h(
        'div',
        { class: 'empty' },
        h('div', { class: 'empty-title' }, message ?? 'Find the original sale'),
        h('div', {}, 'The receipt number is printed under the shop name, e.g. R-…'),
      ),
    );
    updateTotal();
  }

  async function find() {
    const id = input.value.trim();
    if (!id) return;
    try {
      const r = await ctx.api.receipt(id);
      if (r?.kind !== 'sale') {
        reset(`No sale ${id} on this till`);
        return;
      }
      ctx.learn(
        await Promise.all(r.lines.map(async (l) => (await ctx.api.product(l.sku)) ?? null)).then((ps) =>
          ps.filter((p) => p !== null),
        ),
      );
      show(r);
    } catch (e) {
      ctx.flash(asCashierError(e).message, 'error');
    }
  }

  function show(r: Receipt) {
    original = r;
    const cur = ctx.currency(r.lines[0]?.sku);
    picks = r.lines.map((l) => {
      const qty = h('input', {
        type: 'number',
        min: '0',
        max: String(l.qty),
        step: '1',
        value: '0',
        class: 'qty-input',
        'aria-label': `Quantity of ${l.name} to return`,
        'data-testid': `return-qty-${l.sku}`,
      });
      const condition = h(
        'select',
        { class: 'condition', 'data-testid': `return-condition-${l.sku}`, 'aria-label': 'Condition' },
        h('option', { value: 'sellable' }, 'Sellable — back on the shelf'),
        h('option', { value: 'damaged' }, 'Damaged'),
      );
      qty.addEventListener('input', updateTotal);
      return { sku: l.sku, qty, condition, unitPriceMinor: l.unitPriceMinor };
    });
    mount(
      body,
      h(
        'div',
        { class: 'return-head' },
        h('strong', { 'data-testid': 'return-original' }, r.receiptId),
        h('span', { class: 'muted' }, ` · ${dateTime(r.createdAt)} · ${money(r.totalMinor, cur)}`),
      ),
      h(
        'table',
        { class: 'cart' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Item'),
            h('th', { class: 'num' }, 'Sold'),
            h('th', { class: 'num' }, 'Price'),
            h('th', { class: 'qty-col' }, 'Return'),
            h('th', {}, 'Condition'),
          ),
        ),
        h(
          'tbody',
          {},
          r.lines.map((l, i) =>
            h(
              'tr',
              {},
              h('td', {}, h('div', { class: 'item-name' }, l.name), h('div', { class: 'item-sku' }, l.sku)),
              h('td', { class: 'num' }, String(l.qty)),
              h('td', { class: 'num' }, money(l.unitPriceMinor, cur)),
              h('td', { class: 'qty-col' }, picks[i]!.qty),
              h('td', {}, picks[i]!.condition),
            ),
          ),
        ),
      ),
    );
    updateTotal();
    picks[0]?.qty.focus();
    picks[0]?.qty.select();
  }

  async function refund(method: PaymentMethod) {
    const lines = picks
      .filter((p) => qtyOf(p) > 0)
      .map((p) => ({
        ref: p.sku,
        qty: qtyOf(p),
        condition: p.condition.value === 'damaged' ? ('damaged' as const) : ('sellable' as const),
      }));
    if (!original || lines.length === 0 || busy) return;
    busy = true;
    updateTotal();
    try {
      const receipt = await ctx.api.returnItems({
        originalReceiptId: original.receiptId,
        lines,
        refund: method,
      });
      input.value = '';
      reset();
      ctx.showReceipt(receipt);
    } catch (e) {
      ctx.flash(asCashierError(e).message, 'error');
    } finally {
      busy = false;
      updateTotal();
    }
  }

  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void find();
    }
  });
  reset();
  return {
    id: 'returns',
    el,
    show: () => {
      if (!original) input.focus();
    },
    key(e) {
      if (e.key === 'F2' || e.key === 'F3') {
        void refund(e.key === 'F2' ? 'cash' : 'card');
        return true;
      }
      return false;
    },
  };
}
