import { h, reconcile } from '../../../web/dom.js';
import type { Alert, AlertType } from '../../src/schemas/health.js';
import { relTime } from './format.js';

/* The alerts feed: newest first, new ones slide in live (the rest of the list stays as it is). */

const TYPE: Record<AlertType, { label: string; tone: 'ok' | 'warn' | 'bad' }> = {
  'till.offline': { label: 'Till offline', tone: 'bad' },
  'till.online': { label: 'Till back online', tone: 'ok' },
  'till.lagging': { label: 'Till lagging', tone: 'warn' },
  'conflict.opened': { label: 'Conflict', tone: 'warn' },
  'stock.low': { label: 'Low stock', tone: 'warn' },
  'sync.incident': { label: 'Hub behind a till', tone: 'bad' },
  'webhook.disabled': { label: 'Webhook disabled', tone: 'bad' },
};

export class AlertFeed {
  readonly el: HTMLElement;
  private readonly list = h('ol', { class: 'alerts', 'aria-live': 'polite', 'aria-relevant': 'additions' });
  private readonly empty = h('p', { class: 'muted' }, 'No alerts yet.');
  private readonly items = new Map<number, HTMLLIElement>();
  private first = true;

  constructor(
    title: string,
    testId: string,
    private readonly locationId: string | null = null,
  ) {
    this.el = h(
      'section',
      { class: 'panel', 'data-testid': testId },
      h('h2', {}, title),
      this.empty,
      this.list,
    );
  }

  update(alerts: readonly Alert[]): void {
    const shown = alerts.filter((a) => this.locationId === null || a.locationId === this.locationId);
    const keep = new Set(shown.map((a) => a.id));
    for (const id of this.items.keys()) if (!keep.has(id)) this.items.delete(id);
    const nodes = shown.map((alert) => {
      let li = this.items.get(alert.id);
      if (!li) {
        li = this.render(alert);
        // The first list is history; later arrivals are news.
        if (!this.first) li.classList.add('fresh');
        this.items.set(alert.id, li);
      }
      return li;
    });
    reconcile(this.list, nodes);
    this.empty.hidden = shown.length > 0;
    this.first = false;
  }

  private render(a: Alert): HTMLLIElement {
    const type = TYPE[a.type];
    return h(
      'li',
      { class: `alert tone-${type.tone}`, 'data-alert-id': a.id, 'data-type': a.type },
      h('span', { class: `alert-type tone-${type.tone}` }, type.label),
      h('span', { class: 'alert-message' }, a.message),
      h(
        'span',
        { class: 'alert-meta' },
        a.locationId && this.locationId === null
          ? h('a', { href: `#/store/${encodeURIComponent(a.locationId)}` }, a.locationId)
          : null,
        relTime(a.createdAt),
      ),
    );
  }
}
