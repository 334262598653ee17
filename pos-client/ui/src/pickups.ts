import { h, mount } from '../../../web/dom.js';
import type { HeldOrder } from '../../src/engine/store.js';
import { asCashierError, type Ctx, type Screen } from './context.js';
import { dateTime } from './format.js';

/** Online orders waiting at this store for the customer to collect. */
export function pickupsScreen(ctx: Ctx): Screen {
  const list = h('div', { class: 'pickup-list', 'data-testid': 'pickups' });
  const el = h(
    'section',
    { class: 'screen', id: 'screen-pickups' },
    h('h2', {}, 'Orders to hand over'),
    list,
  );
  let lastCount = -1;

  async function refresh() {
    const orders = await ctx.api.pickupOrders();
    const names = new Map<string, string>();
    for (const o of orders)
      for (const l of o.lines) {
        if (names.has(l.sku)) continue;
        const p = await ctx.api.product(l.sku);
        names.set(l.sku, p?.name ?? l.sku);
      }
    render(orders, names);
  }

  function render(orders: HeldOrder[], names: Map<string, string>) {
    if (orders.length === 0) {
      mount(
        list,
        h(
          'div',
          { class: 'empty' },
          h('div', { class: 'empty-title' }, 'No orders waiting'),
          h('div', {}, 'Orders for pickup at this store show up here.'),
        ),
      );
      return;
    }
    mount(
      list,
      orders.map((o) =>
        h(
          'div',
          { class: 'card pickup', 'data-testid': `pickup-${o.orderId}` },
          h(
            'div',
            { class: 'pickup-main' },
            h('div', { class: 'order-id' }, 'Order ', h('strong', {}, o.orderId)),
            h(
              'ul',
              { class: 'pickup-lines' },
              o.lines.map((l) =>
                h(
                  'li',
                  {},
                  h('strong', {}, `${l.qty} ×`),
                  ` ${names.get(l.sku)} `,
                  h('span', { class: 'item-sku' }, l.sku),
                ),
              ),
            ),
            o.expiresAt ? h('div', { class: 'muted' }, `Held until ${dateTime(o.expiresAt)}`) : null,
          ),
          h(
            'button',
            {
              class: 'primary big',
              onclick: (e: Event) => void handOver(o, e.currentTarget as HTMLButtonElement),
            },
            'Hand over',
          ),
        ),
      ),
    );
  }

  async function handOver(o: HeldOrder, button: HTMLButtonElement) {
    button.disabled = true;
    try {
      await ctx.api.pickup(o.orderId);
      ctx.flash(`Order ${o.orderId} handed over`, 'ok');
      await refresh();
    } catch (e) {
      button.disabled = false;
      ctx.flash(asCashierError(e).message, 'error');
    }
  }

  return {
    id: 'pickups',
    el,
    show: () => void refresh(),
    onState(state) {
      if (state.pickupOrders !== lastCount && el.classList.contains('active')) void refresh();
      lastCount = state.pickupOrders;
    },
  };
}
