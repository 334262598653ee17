import { h } from '../../../web/dom.js';
import type { DeviceHealth, HqUpdate } from '../../src/schemas/health.js';
import { ActivityPanel } from './activity.js';
import { AlertFeed } from './alerts.js';
import { storeColumns, tillColumns } from './columns.js';
import { activitySignature, type Ctx, type View } from './context.js';
import { KeyedTable } from './keyed-table.js';

/** Every store and every till, live; the brand's activity charts and the alerts feed. */
export function overview(ctx: Ctx): View {
  const stores = new KeyedTable({
    caption: 'Stores',
    testId: 'stores',
    columns: storeColumns(),
    key: (l) => l.locationId,
    sort: { column: 'status', dir: 'descending' },
    empty: 'No locations yet.',
    onRowClick: (l) => ctx.go(`#/store/${encodeURIComponent(l.locationId)}`),
  });
  const tills = new KeyedTable({
    caption: 'Tills',
    testId: 'tills',
    columns: tillColumns(() => ctx.latest()?.health.thresholds ?? null, { withStore: true }),
    key: (d) => d.deviceId,
    sort: { column: 'status', dir: 'descending' },
    empty: 'No tills match.',
  });
  const filter = h('input', {
    type: 'search',
    class: 'filter',
    placeholder: 'Filter tills: name, id, store, status',
    'aria-label': 'Filter tills',
    'data-testid': 'till-filter',
    oninput: () => renderTills(),
  });
  const activity = new ActivityPanel(ctx.api, null, 'brand-activity');
  const alerts = new AlertFeed('Alerts', 'alerts');
  let visible = false;

  const matches = (d: DeviceHealth, words: string[]) => {
    const hay =
      `${d.name} ${d.deviceId} ${d.locationId} ${d.status} ${d.online ? 'online' : 'offline'}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  };
  function renderTills() {
    const devices = ctx.latest()?.health.devices ?? [];
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    tills.update(words.length ? devices.filter((d) => matches(d, words)) : devices);
  }

  const el = h(
    'div',
    { class: 'view', 'data-testid': 'view-overview', hidden: true },
    h('section', { class: 'panel' }, h('h2', {}, 'Stores'), h('div', { class: 'scroll' }, stores.el)),
    h('div', { class: 'split' }, activity.el, alerts.el),
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Tills'), filter),
      h('div', { class: 'scroll' }, tills.el),
    ),
  );

  return {
    el,
    show() {
      visible = true;
      el.hidden = false;
      void activity.load();
    },
    hide() {
      visible = false;
      el.hidden = true;
    },
    update(u: HqUpdate) {
      stores.update(u.health.locations);
      renderTills();
      alerts.update(u.alerts);
      if (visible) activity.poke(activitySignature(u.health.summary.lastHour));
    },
  };
}
