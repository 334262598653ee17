import { h, mount } from '../../../web/dom.js';
import type { Receipt } from '../../src/engine/store.js';
import type { Ctx, Screen } from './context.js';
import { dateTime, money } from './format.js';

/** The receipt of the sale or return just made, laid out to print on an 80 mm roll. */
export function receiptScreen(ctx: Ctx): Screen & { set(receipt: Receipt): void } {
  const paper = h('article', { class: 'receipt-paper', tabindex: '-1', 'data-testid': 'receipt' });
  const done = h(
    'button',
    { class: 'primary big', 'data-testid': 'new-sale', onclick: () => ctx.go('sale') },
    'New sale ',
    h('kbd', {}, 'Enter'),
  );
  const el = h(
    'section',
    { class: 'screen receipt-screen', id: 'screen-receipt' },
    h('div', { class: 'receipt-stage' }, paper),
    h(
      'div',
      { class: 'receipt-actions no-print' },
      h(
        'button',
        { class: 'secondary big', onclick: () => window.print() },
        'Print ',
        h('kbd', {}, 'Ctrl P'),
      ),
      done,
    ),
  );

  function set(r: Receipt) {
    const state = ctx.state();
    const cur = ctx.currency(r.lines[0]?.sku);
    const isReturn = r.kind === 'return';
    mount(
      paper,
      h(
        'header',
        {},
        h('div', { class: 'shop' }, 'Tillsync'),
        h('div', {}, `Store ${state?.locationId ?? ''}`),
      ),
      h('div', { class: 'receipt-kind' }, isReturn ? 'REFUND' : 'SALE'),
      h(
        'dl',
        { class: 'receipt-meta' },
        h('dt', {}, 'Receipt'),
        h('dd', { 'data-testid': 'receipt-id' }, r.receiptId),
        isReturn && r.originalReceiptId ? [h('dt', {}, 'Against'), h('dd', {}, r.originalReceiptId)] : null,
        h('dt', {}, 'Date'),
        h('dd', {}, dateTime(r.createdAt)),
        h('dt', {}, 'Till'),
        h('dd', {}, state?.deviceId ?? ''),
      ),
      h(
        'table',
        { class: 'receipt-lines' },
        h(
          'tbody',
          {},
          r.lines.map((l) =>
            h(
              'tr',
              {},
              h(
                'td',
                {},
                h('div', {}, l.name),
                h(
                  'div',
                  { class: 'muted' },
                  `${l.qty} × ${money(l.unitPriceMinor, cur)}`,
                  l.condition === 'damaged' ? ' · damaged' : '',
                ),
              ),
              h('td', { class: 'num' }, money((isReturn ? -1 : 1) * l.qty * l.unitPriceMinor, cur)),
            ),
          ),
        ),
      ),
      h(
        'div',
        { class: 'receipt-total' },
        h('span', {}, isReturn ? 'Refunded' : 'Total'),
        h('span', { 'data-testid': 'receipt-total' }, money(r.totalMinor, cur)),
      ),
      r.payments.map((p) =>
        h(
          'div',
          { class: 'receipt-pay' },
          h('span', {}, isReturn ? `Refund · ${p.method}` : `Paid · ${p.method}`),
          h('span', {}, money(p.amountMinor, cur)),
        ),
      ),
      h('footer', {}, isReturn ? 'Refund processed' : 'Thank you for shopping with us'),
    );
  }

  return {
    id: 'receipt',
    el,
    set,
    // Focus the paper, not the button: the Enter that confirmed the payment must not also start a new sale.
    show: () => paper.focus(),
    key(e) {
      if (e.key === 'Enter') {
        ctx.go('sale');
        return true;
      }
      return false;
    },
  };
}
