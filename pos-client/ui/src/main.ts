import { byId, h, mount } from '../../../web/dom.js';
import type { TillState } from '../../src/app/cashier-api.js';
import type { Receipt } from '../../src/engine/store.js';
import { connect } from './connect.js';
import type { Ctx, Screen, ScreenId } from './context.js';
import { countScreen } from './count.js';
import { confirmOverride } from './override-dialog.js';
import { pickupsScreen } from './pickups.js';
import { receiptScreen } from './receipt.js';
import { returnsScreen } from './returns.js';
import { saleScreen } from './sale.js';
import { renderStatus } from './status.js';
import { stockScreen } from './stock.js';

const FLASH_MS = 4_000;
const DEFAULT_CURRENCY = 'EUR';
const NAV: Array<{ id: ScreenId; label: string; key: string }> = [
  { id: 'sale', label: 'Sale', key: 'F6' },
  { id: 'returns', label: 'Returns', key: 'F7' },
  { id: 'stock', label: 'Stock', key: 'F8' },
  { id: 'pickups', label: 'Pickups', key: 'F9' },
  { id: 'count', label: 'Count', key: 'F10' },
];

const { api, watch } = connect();
const statusBar = byId('status');
const rejectedEl = byId('rejected');
const flashEl = byId('flash');
const dialog = byId<HTMLDialogElement>('dialog');
const currencies = new Map<string, string>();
let state: TillState | null = null;
let stateAt = Date.now();
let flashTimer: number | undefined;

const ctx: Ctx = {
  api,
  state: () => state,
  go,
  flash(message, kind = 'error') {
    flashEl.textContent = message;
    flashEl.className = `flash ${kind}`;
    flashEl.hidden = false;
    window.clearTimeout(flashTimer);
    flashTimer = window.setTimeout(() => {
      flashEl.hidden = true;
    }, FLASH_MS);
  },
  showReceipt(r: Receipt) {
    receipt.set(r);
    go('receipt');
  },
  confirmOverride: (error) => confirmOverride(dialog, error),
  currency: (sku) => (sku && currencies.get(sku)) || currencies.values().next().value || DEFAULT_CURRENCY,
  learn(products) {
    for (const p of products) currencies.set(p.sku, p.currency);
  },
};

const receipt = receiptScreen(ctx);
const screens: Screen[] = [
  saleScreen(ctx),
  returnsScreen(ctx),
  stockScreen(ctx),
  pickupsScreen(ctx),
  countScreen(ctx),
  receipt,
];
let current: Screen = screens[0]!;
mount(
  byId('screens'),
  screens.map((s) => s.el),
);

const navButtons = NAV.map((n) =>
  h(
    'button',
    { class: 'nav-btn', 'data-screen': n.id, 'data-testid': `nav-${n.id}`, onclick: () => go(n.id) },
    h('span', { class: 'nav-label' }, n.label),
    h('span', { class: 'badge count', 'data-badge': n.id, hidden: true }),
    h('kbd', {}, n.key),
  ),
);
mount(byId('nav'), navButtons);

function go(id: ScreenId) {
  const next = screens.find((s) => s.id === id);
  if (!next) return;
  current = next;
  for (const s of screens) s.el.classList.toggle('active', s === next);
  for (const b of navButtons)
    b.classList.toggle('active', b.dataset.screen === (id === 'receipt' ? 'sale' : id));
  next.show();
}

function onState(s: TillState) {
  state = s;
  stateAt = Date.now();
  byId('till-id').textContent = [s.locationId, s.deviceId].filter(Boolean).join(' · ');
  const badge = document.querySelector<HTMLElement>('[data-badge="pickups"]');
  if (badge) {
    badge.hidden = s.pickupOrders === 0;
    badge.textContent = String(s.pickupOrders);
  }
  renderStatus(statusBar, rejectedEl, s, stateAt);
  for (const screen of screens) screen.onState?.(s);
}

document.addEventListener('keydown', (e) => {
  // Keys typed into the dialog are its own, even once it has closed (microtasks run between listeners).
  if (dialog.open || (e.target instanceof Node && dialog.contains(e.target))) return;
  const nav = NAV.find((n) => n.key === e.key);
  if (nav) {
    e.preventDefault();
    go(nav.id);
  } else if (current.key?.(e)) {
    e.preventDefault();
  }
});

// Ages and "ago" tick on between state updates.
window.setInterval(() => {
  if (state) renderStatus(statusBar, rejectedEl, state, stateAt);
}, 1_000);

watch(onState);
go('sale');
