import { h } from '../../../web/dom.js';

/*
 * Times as people read them: "2 min ago", with the absolute time in a title attribute. Relative
 * times are <time data-at> elements that refreshTimes() re-labels as the clock moves on, so tables
 * need not be re-rendered just because a minute passed.
 */

const numbers = new Intl.NumberFormat('en-GB');

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : numbers.format(n);
}

export function ago(at: string | number, now = Date.now()): string {
  const s = Math.floor((now - (typeof at === 'number' ? at : Date.parse(at))) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

export function absolute(at: string | number): string {
  return new Date(at).toLocaleString('en-GB', { hour12: false });
}

export function clock(at: string | number): string {
  return new Date(at).toLocaleTimeString('en-GB', { hour12: false, hour: '2-digit', minute: '2-digit' });
}

/** An age or lag: "45 s", "3 min 20 s", "2 h 5 min". */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** A clock offset: signed, so "ahead" and "behind" read differently. */
export function offset(ms: number | null): string {
  if (ms === null) return '—';
  const sign = ms > 0 ? '+' : ms < 0 ? '−' : '±';
  return `${sign}${duration(Math.abs(ms))}`;
}

export function relTime(at: string | null, prefix = ''): HTMLElement | string {
  if (!at) return '—';
  return h(
    'time',
    { datetime: at, title: absolute(at), 'data-at': at, 'data-prefix': prefix },
    prefix + ago(at),
  );
}

export function refreshTimes(root: ParentNode, now = Date.now()): void {
  for (const el of root.querySelectorAll<HTMLElement>('time[data-at]')) {
    const text = (el.dataset.prefix ?? '') + ago(el.dataset.at!, now);
    if (el.textContent !== text) el.textContent = text;
  }
}
