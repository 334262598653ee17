import { h, svg } from '../../../web/dom.js';
import { clock } from './format.js';

/*
 * Small hand-written SVG charts (lines and bars over time): a few dozen lines instead of a charting
 * dependency. Colours come from the stylesheet (classes), so the page's CSP needs no inline styles.
 */

export interface ChartSeries {
  label: string;
  /** Stylesheet class: series-avg, series-max, series-applied, series-rejected. */
  cls: string;
  kind: 'line' | 'bar';
  values: ReadonlyArray<number | null>;
}

export interface ChartSpec {
  title: string;
  testId: string;
  /** One per value, ISO minute. */
  times: readonly string[];
  series: ChartSeries[];
  format(value: number): string;
  /** The y axis reaches at least this (so an idle chart reads "0 to 1 s", not "0 to 1 ms"). */
  minTop: number;
}

const W = 640;
const H = 150;
const M = { left: 60, right: 10, top: 10, bottom: 24 };
let ids = 0;

export function chart(spec: ChartSpec): HTMLElement {
  const n = spec.times.length;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const values = spec.series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const top = niceCeil(Math.max(spec.minTop, ...values));
  const x = (i: number) => M.left + ((i + 0.5) * plotW) / Math.max(1, n);
  const y = (v: number) => M.top + plotH - (v / top) * plotH;
  const titleId = `chart-${++ids}`;

  const grid = [0, 0.5, 1].map((f) =>
    svg(
      'g',
      { class: 'gridline' },
      svg('line', { x1: M.left, x2: W - M.right, y1: y(top * f), y2: y(top * f) }),
      svg('text', { x: M.left - 6, y: y(top * f) + 4, 'text-anchor': 'end' }, spec.format(top * f)),
    ),
  );
  const ticks = n
    ? [0, Math.floor((n - 1) / 2), n - 1].map((i, k) =>
        svg(
          'text',
          { class: 'tick', x: x(i), y: H - 6, 'text-anchor': ['start', 'middle', 'end'][k]! },
          clock(spec.times[i]!),
        ),
      )
    : [];
  const barSeries = spec.series.filter((s) => s.kind === 'bar');
  const slot = plotW / Math.max(1, n);
  const barW = Math.max(0.5, (slot * 0.8) / Math.max(1, barSeries.length));
  const marks = spec.series.map((s) => {
    if (s.kind === 'line') {
      return svg(
        'g',
        { class: `line ${s.cls}` },
        svg('path', { d: linePath(s.values, x, y) }),
        // A minute with ops between idle ones has no segment to draw: a dot instead.
        s.values.map((v, i) =>
          v !== null && (s.values[i - 1] ?? null) === null && (s.values[i + 1] ?? null) === null
            ? svg('circle', { cx: x(i), cy: y(v), r: 2.5 })
            : null,
        ),
      );
    }
    const offsetInSlot = barSeries.indexOf(s) * barW - (barW * barSeries.length) / 2;
    return svg(
      'g',
      { class: `bars ${s.cls}` },
      s.values.map((v, i) =>
        v
          ? svg('rect', { x: x(i) + offsetInSlot, y: y(v), width: barW, height: Math.max(0.5, y(0) - y(v)) })
          : null,
      ),
    );
  });

  return h(
    'figure',
    { class: 'chart', 'data-testid': spec.testId },
    svg(
      'svg',
      { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': titleId },
      svg('title', { id: titleId }, spec.title),
      grid,
      marks,
      ticks,
    ),
    h(
      'figcaption',
      {},
      h('span', { class: 'chart-title' }, spec.title),
      spec.series.map((s) =>
        h(
          'span',
          { class: `legend ${s.cls}` },
          h('span', { class: 'swatch', 'aria-hidden': 'true' }),
          s.label,
        ),
      ),
    ),
  );
}

/** A polyline with gaps where there is no value (minutes without ops have no lag). */
function linePath(
  values: ReadonlyArray<number | null>,
  x: (i: number) => number,
  y: (v: number) => number,
): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  return d;
}

/** 1, 2 or 5 times a power of ten, at least `v`. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 2, 5, 10]) if (v <= f * p) return f * p;
  return 10 * p;
}
