import { h, mount } from '../../../web/dom.js';
import type { SyncHealth } from '../../src/schemas/health.js';
import { count, duration, relTime } from './format.js';
import { statusBadge } from './status.js';

const MAX_REASONS = 6;

/** The brand banner: one status (colour, shape and words), why, and the numbers behind it. */
export function renderSummary(el: HTMLElement, health: SyncHealth): void {
  const s = health.summary;
  el.className = `summary summary-${s.status}`;
  el.dataset.status = s.status;
  const shown = s.reasons.slice(0, MAX_REASONS);
  const more = s.reasons.length - shown.length;
  const kpi = (id: string, label: string, value: string, detail?: string) =>
    h(
      'div',
      { class: 'kpi', 'data-testid': `kpi-${id}` },
      h('dt', {}, label),
      h(
        'dd',
        {},
        h('span', { class: 'value' }, value),
        detail ? h('span', { class: 'detail' }, detail) : null,
      ),
    );
  const { locations: l, devices: d } = s;
  mount(
    el,
    h(
      'div',
      { class: 'summary-head' },
      h('h1', {}, 'Brand sync health'),
      h('span', { class: 'summary-status', 'data-testid': 'summary-status' }, statusBadge(s.status)),
      h('span', { class: 'updated' }, 'as of ', relTime(health.generatedAt)),
    ),
    s.reasons.length
      ? h(
          'ul',
          { class: 'reasons', 'data-testid': 'summary-reasons' },
          shown.map((r) => h('li', {}, r)),
          more > 0 ? h('li', { class: 'more' }, `and ${more} more`) : null,
        )
      : h(
          'p',
          { class: 'reasons none', 'data-testid': 'summary-reasons' },
          'All stores and tills are syncing normally.',
        ),
    h(
      'dl',
      { class: 'kpis' },
      kpi('stores', 'Stores', count(l.total), `${l.ok} ok · ${l.degraded} degraded · ${l.critical} critical`),
      kpi(
        'tills-online',
        'Tills online',
        `${count(d.online)} / ${count(d.total)}`,
        `${d.degraded} degraded · ${d.critical} critical`,
      ),
      kpi(
        'outbox',
        'Ops waiting',
        count(s.outboxDepth),
        s.oldestUnsyncedAgeMs ? `oldest ${duration(s.oldestUnsyncedAgeMs)}` : undefined,
      ),
      kpi(
        'last-hour',
        'Applied (1 h)',
        count(s.lastHour.applied),
        `${s.lastHour.duplicates} dup · ${s.lastHour.rejected} rejected · max lag ${duration(s.lastHour.maxLagMs)}`,
      ),
      kpi('conflicts', 'Open conflicts', count(s.openConflicts)),
      kpi('dead-letters', 'Dead letters', count(s.openDeadLetters)),
      kpi('low-stock', 'Low-stock SKUs', count(s.lowStockSkus)),
    ),
  );
}
