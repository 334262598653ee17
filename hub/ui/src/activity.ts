import { h, mount } from '../../../web/dom.js';
import type { SyncActivity } from '../../src/schemas/health.js';
import { type Api, errorText, query } from './api.js';
import { chart } from './chart.js';
import { count, duration } from './format.js';
import { serial } from './serial.js';

/*
 * Sync lag (avg and max) and ops per minute over the last hours, for the brand or one store. The
 * hub answers per minute; long ranges are merged into at most MAX_BARS buckets so each stays visible.
 */

const RANGES = [1, 6, 24, 48] as const;
const MAX_BARS = 180;
/** Reload when the hub reports new activity, at most this often; and at least this often anyway. */
const MIN_RELOAD_MS = 5_000;
const MAX_AGE_MS = 60_000;

interface Bucket {
  minute: string;
  applied: number;
  rejected: number;
  avgLagMs: number | null;
  maxLagMs: number | null;
}

export class ActivityPanel {
  readonly el: HTMLElement;
  private readonly body = h('div', { class: 'charts' });
  private readonly note = h('p', { class: 'muted chart-note' });
  private hours: number = 1;
  private loadedAt = 0;
  private signature = '';
  private readonly buttons: HTMLButtonElement[];

  constructor(
    private readonly api: Api,
    private readonly locationId: string | null,
    private readonly testId: string,
  ) {
    this.buttons = RANGES.map((hours) =>
      h(
        'button',
        {
          type: 'button',
          class: 'btn chip',
          'aria-pressed': String(hours === this.hours),
          onclick: () => this.setHours(hours),
        },
        `${hours} h`,
      ),
    );
    this.el = h(
      'section',
      { class: 'panel', 'data-testid': testId },
      h(
        'div',
        { class: 'panel-head' },
        h('h2', {}, locationId ? 'Sync activity' : 'Brand sync activity'),
        h('div', { class: 'chips', role: 'group', 'aria-label': 'Time range' }, this.buttons),
      ),
      this.body,
      this.note,
    );
  }

  /** Called on every live update with what changed in the hub's counters. */
  poke(signature: string): void {
    const age = Date.now() - this.loadedAt;
    if ((signature !== this.signature && age > MIN_RELOAD_MS) || age > MAX_AGE_MS) {
      this.signature = signature;
      void this.load();
    }
  }

  readonly load = serial(() => this.fetch());

  private setHours(hours: number): void {
    this.hours = hours;
    for (const [i, b] of this.buttons.entries()) b.setAttribute('aria-pressed', String(RANGES[i] === hours));
    void this.load();
  }

  private async fetch(): Promise<void> {
    this.loadedAt = Date.now();
    try {
      const activity = await this.api.get<SyncActivity>(
        `/v1/sync/activity${query({ hours: this.hours, locationId: this.locationId ?? undefined })}`,
      );
      this.render(activity);
    } catch (e) {
      this.note.textContent = `Could not load activity: ${errorText(e)}`;
    }
  }

  private render(activity: SyncActivity): void {
    const buckets = merge(activity.points);
    const per = Math.ceil(activity.points.length / Math.max(1, buckets.length));
    const times = buckets.map((b) => b.minute);
    mount(
      this.body,
      chart({
        title: 'Sync lag (hub apply time − till op time)',
        testId: `${this.testId}-lag`,
        times,
        series: [
          { label: 'average', cls: 'series-avg', kind: 'line', values: buckets.map((b) => b.avgLagMs) },
          { label: 'max', cls: 'series-max', kind: 'line', values: buckets.map((b) => b.maxLagMs) },
        ],
        format: duration,
        minTop: 1_000,
      }),
      chart({
        title: per > 1 ? `Ops per minute (average over ${per} min)` : 'Ops per minute',
        testId: `${this.testId}-ops`,
        times,
        series: [
          { label: 'applied', cls: 'series-applied', kind: 'bar', values: buckets.map((b) => b.applied) },
          { label: 'rejected', cls: 'series-rejected', kind: 'bar', values: buckets.map((b) => b.rejected) },
        ],
        format: (v) => (v >= 10 || Number.isInteger(v) ? count(Math.round(v)) : v.toFixed(1)),
        minTop: 2,
      }),
    );
    const applied = activity.points.reduce((n, p) => n + p.applied, 0);
    const rejected = activity.points.reduce((n, p) => n + p.rejected, 0);
    const maxLag = Math.max(-1, ...activity.points.map((p) => p.maxLagMs ?? -1));
    this.note.textContent =
      `Last ${this.hours} h: ${plural(applied, 'op')} applied, ${count(rejected)} rejected` +
      (maxLag >= 0 ? `, worst lag ${duration(maxLag)}.` : '.');
  }
}

/** Merge minutes into buckets: ops averaged per minute, lag weighted by ops, max kept. */
function merge(points: SyncActivity['points']): Bucket[] {
  const size = Math.ceil(points.length / MAX_BARS) || 1;
  const out: Bucket[] = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size);
    const applied = group.reduce((n, p) => n + p.applied, 0);
    const lagged = group.filter((p) => p.avgLagMs !== null && p.applied > 0);
    const weight = lagged.reduce((n, p) => n + p.applied, 0);
    const maxes = group.map((p) => p.maxLagMs).filter((v): v is number => v !== null);
    out.push({
      minute: group[0]!.minute,
      applied: applied / group.length,
      rejected: group.reduce((n, p) => n + p.rejected, 0) / group.length,
      avgLagMs: weight ? lagged.reduce((n, p) => n + p.avgLagMs! * p.applied, 0) / weight : null,
      maxLagMs: maxes.length ? Math.max(...maxes) : null,
    });
  }
  return out;
}

function plural(n: number, word: string): string {
  return `${count(n)} ${word}${n === 1 ? '' : 's'}`;
}
