import { h, mount } from '../../../web/dom.js';
import type { DeviceHealth, HqUpdate, LocationHealth } from '../../src/schemas/health.js';
import type { Movement } from '../../src/schemas/movements.js';
import { ActivityPanel } from './activity.js';
import { AlertFeed } from './alerts.js';
import { type Api, errorText, query } from './api.js';
import { tillColumns } from './columns.js';
import { activitySignature, type Ctx, type View } from './context.js';
import { count, duration, relTime } from './format.js';
import { KeyedTable } from './keyed-table.js';
import { serial } from './serial.js';
import { statusBadge } from './status.js';
import { conflictsSection, deadLettersSection, type TriageSection } from './triage.js';

/* One store, drilled into: its health, tills, charts, open conflicts, dead letters, ledger, alerts. */

const MOVEMENTS = 25;

interface StoreParts {
  locationId: string;
  head: HTMLElement;
  tills: KeyedTable<DeviceHealth>;
  activity: ActivityPanel;
  conflicts: TriageSection;
  deadLetters: TriageSection;
  movements: { el: HTMLElement; reload(): Promise<void> };
  alerts: AlertFeed;
  signature: string;
}

export function storeView(ctx: Ctx): View {
  const el = h('div', { class: 'view', 'data-testid': 'view-store', hidden: true });
  let parts: StoreParts | null = null;

  function build(locationId: string): StoreParts {
    const p: StoreParts = {
      locationId,
      head: h('section', { class: 'panel store-head', 'data-testid': 'store-head' }),
      tills: new KeyedTable({
        caption: `Tills of ${locationId}`,
        testId: 'store-tills',
        columns: tillColumns(() => ctx.latest()?.health.thresholds ?? null, { withStore: false }),
        key: (d) => d.deviceId,
        sort: { column: 'till', dir: 'ascending' },
        empty: 'No tills enrolled at this location.',
      }),
      activity: new ActivityPanel(ctx.api, locationId, 'store-activity'),
      conflicts: conflictsSection(ctx.api, locationId, ctx.canTriage),
      deadLetters: deadLettersSection(ctx.api, locationId, ctx.canTriage),
      movements: movementsSection(ctx.api, locationId),
      alerts: new AlertFeed('Alerts for this store', 'store-alerts', locationId),
      signature: '',
    };
    mount(
      el,
      h('p', { class: 'crumbs' }, h('a', { href: '#/', 'data-testid': 'back' }, '← All stores')),
      p.head,
      h('section', { class: 'panel' }, h('h2', {}, 'Tills'), h('div', { class: 'scroll' }, p.tills.el)),
      h('div', { class: 'split' }, p.activity.el, p.alerts.el),
      p.conflicts.el,
      p.deadLetters.el,
      p.movements.el,
    );
    return p;
  }

  function render(u: HqUpdate, p: StoreParts) {
    const loc = u.health.locations.find((l) => l.locationId === p.locationId);
    renderHead(p.head, p.locationId, loc);
    p.tills.update(u.health.devices.filter((d) => d.locationId === p.locationId));
    p.alerts.update(u.alerts);
    if (!loc) return;
    // Lists are REST reads: reload them when this store's counters say something changed.
    const signature = `${loc.openConflicts.total}:${loc.openDeadLetters}:${activitySignature(loc.lastHour)}`;
    p.activity.poke(activitySignature(loc.lastHour));
    if (signature !== p.signature) {
      p.signature = signature;
      void p.conflicts.reload();
      void p.deadLetters.reload();
      void p.movements.reload();
    }
  }

  return {
    el,
    show(locationId) {
      if (!locationId) return;
      if (parts?.locationId !== locationId) parts = build(locationId);
      el.hidden = false;
      // A new store's empty signature makes this load everything; a store shown again reloads
      // what changed while it was hidden.
      const latest = ctx.latest();
      if (latest) render(latest, parts);
    },
    hide() {
      el.hidden = true;
    },
    update(u) {
      if (parts && !el.hidden) render(u, parts);
    },
  };
}

function renderHead(head: HTMLElement, locationId: string, loc: LocationHealth | undefined): void {
  if (!loc) {
    mount(
      head,
      h('h1', {}, locationId),
      h('p', { class: 'result error' }, `No location ${locationId} at this hub.`),
    );
    return;
  }
  const fact = (label: string, value: string, testId: string) =>
    h(
      'div',
      { class: 'kpi', 'data-testid': `store-${testId}` },
      h('dt', {}, label),
      h('dd', {}, h('span', { class: 'value' }, value)),
    );
  mount(
    head,
    h(
      'div',
      { class: 'summary-head' },
      h('h1', {}, loc.name, ' ', h('span', { class: 'muted' }, `${loc.locationId} · ${loc.kind}`)),
      h('span', { 'data-testid': 'store-status' }, statusBadge(loc.status)),
    ),
    loc.reasons.length
      ? h(
          'ul',
          { class: 'reasons' },
          loc.reasons.map((r) => h('li', {}, r)),
        )
      : h('p', { class: 'reasons none' }, 'Syncing normally.'),
    h(
      'dl',
      { class: 'kpis' },
      fact('Tills online', `${loc.devices.online} / ${loc.devices.total}`, 'tills-online'),
      fact('Ops waiting', count(loc.outboxDepth), 'outbox'),
      fact('Oldest unsynced', duration(loc.oldestUnsyncedAgeMs), 'oldest'),
      fact('Applied (1 h)', count(loc.lastHour.applied), 'applied'),
      fact('Open conflicts', count(loc.openConflicts.total), 'conflicts'),
      fact('Dead letters', count(loc.openDeadLetters), 'dead-letters'),
      fact('Low-stock SKUs', count(loc.lowStockSkus), 'low-stock'),
    ),
  );
}

function movementsSection(api: Api, locationId: string): { el: HTMLElement; reload(): Promise<void> } {
  const body = h('tbody');
  const note = h('p', { class: 'muted' });
  const signed = (n: number) => (n > 0 ? `+${n}` : n < 0 ? `−${-n}` : '0');
  const load = async () => {
    try {
      const page = await api.get<{ items: Movement[] }>(
        `/v1/movements${query({ locationId, order: 'desc', limit: MOVEMENTS })}`,
      );
      mount(
        body,
        page.items.length
          ? page.items.map((m) =>
              h(
                'tr',
                { 'data-testid': `movement-${m.id}` },
                h('td', {}, relTime(m.hubTime)),
                h('td', {}, m.sku),
                h('td', {}, m.reason.replaceAll('_', ' ')),
                h('td', { class: 'num' }, signed(m.deltas.onHand)),
                h('td', { class: 'num' }, String(m.onHandAfter)),
                h(
                  'td',
                  {},
                  m.outcome,
                  m.oversell ? h('span', { class: 'flag tone-warn' }, ' oversell') : null,
                ),
                h('td', {}, m.deviceId ?? m.actor),
              ),
            )
          : h('tr', { class: 'empty' }, h('td', { colspan: 7 }, 'No movements yet.')),
      );
      note.textContent = `The latest ${MOVEMENTS} ledger entries at ${locationId}.`;
    } catch (e) {
      note.textContent = `Could not load movements: ${errorText(e)}`;
    }
  };
  return {
    el: h(
      'section',
      { class: 'panel', 'data-testid': 'movements' },
      h('h2', {}, 'Recent movements'),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'grid' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['When', 'SKU', 'Reason', 'Δ on hand', 'On hand after', 'Outcome', 'By'].map((t) =>
                h('th', { scope: 'col' }, t),
              ),
            ),
          ),
          body,
        ),
      ),
      note,
    ),
    reload: serial(load),
  };
}
