import { h, mount, reconcile } from '../../../web/dom.js';
import type { HealthStatus } from '../../src/schemas/health.js';
import { relTime } from './format.js';
import { linkBadge, statusBadge } from './status.js';

/*
 * A sortable table kept up to date by row key: an update touches only the cells whose content
 * changed and moves rows only when the order changed, so a few hundred tills refreshed every couple
 * of seconds cost a few string comparisons, not a rebuilt DOM (and focus, selection and hover stay).
 */

/** What a cell shows; compared as JSON to decide whether to touch the DOM. */
export interface CellSpec {
  text?: string;
  /** A relative time ("2 min ago"), kept fresh by refreshTimes. */
  at?: string | null;
  prefix?: string;
  status?: HealthStatus;
  online?: boolean;
  /** A second, smaller line (reasons, ids). */
  sub?: string;
  href?: string;
  title?: string;
  tone?: 'warn' | 'bad';
}
export type Cell = string | CellSpec;

export interface Column<R> {
  id: string;
  label: string;
  /** A longer explanation, shown on hover of the header. */
  title?: string;
  numeric?: boolean;
  sortValue(row: R): string | number | null;
  cell(row: R): Cell;
}

export type SortDir = 'ascending' | 'descending';

export interface KeyedTableOptions<R> {
  caption: string;
  columns: Column<R>[];
  key(row: R): string;
  sort: { column: string; dir: SortDir };
  empty: string;
  testId: string;
  /** Clicking anywhere in a row (not on its own links or buttons). */
  onRowClick?(row: R): void;
}

interface RowState<R> {
  tr: HTMLTableRowElement;
  signatures: string[];
  data: R;
}

export class KeyedTable<R> {
  readonly el: HTMLTableElement;
  private readonly body = h('tbody');
  private readonly headers = new Map<string, HTMLTableCellElement>();
  private readonly rows = new Map<string, RowState<R>>();
  private order: string[] = [];
  private sort: { column: string; dir: SortDir };
  private readonly emptyRow: HTMLTableRowElement;

  constructor(private readonly options: KeyedTableOptions<R>) {
    this.sort = options.sort;
    const headRow = h('tr');
    for (const col of options.columns) {
      const th = h(
        'th',
        { scope: 'col', class: col.numeric ? 'num' : null, 'data-col': col.id, title: col.title },
        h(
          'button',
          { type: 'button', class: 'sort', onclick: () => this.sortBy(col.id) },
          col.label,
          h('span', { class: 'arrow', 'aria-hidden': 'true' }),
        ),
      );
      this.headers.set(col.id, th);
      headRow.append(th);
    }
    this.emptyRow = h('tr', { class: 'empty' }, h('td', { colspan: options.columns.length }, options.empty));
    this.el = h(
      'table',
      { class: 'grid', 'data-testid': options.testId },
      h('caption', { class: 'visually-hidden' }, options.caption),
      h('thead', {}, headRow),
      this.body,
    );
    if (options.onRowClick) this.body.addEventListener('click', (e) => this.rowClicked(e));
    this.showSort();
  }

  update(rows: readonly R[]): void {
    const seen = new Set<string>();
    for (const row of rows) {
      const key = this.options.key(row);
      seen.add(key);
      const existing = this.rows.get(key);
      if (existing) {
        existing.data = row;
        this.renderCells(existing);
      } else {
        const state: RowState<R> = {
          tr: h('tr', {
            'data-key': key,
            'data-testid': `${this.options.testId}-row-${key}`,
            class: this.options.onRowClick ? 'clickable' : null,
          }),
          signatures: [],
          data: row,
        };
        for (const col of this.options.columns) {
          state.tr.append(h('td', { class: col.numeric ? 'num' : null, 'data-col': col.id }));
        }
        this.renderCells(state);
        this.rows.set(key, state);
      }
    }
    for (const key of this.rows.keys()) if (!seen.has(key)) this.rows.delete(key);
    this.place();
  }

  private renderCells(state: RowState<R>): void {
    this.options.columns.forEach((col, i) => {
      const cell = col.cell(state.data);
      const signature = JSON.stringify(cell);
      if (state.signatures[i] === signature) return;
      state.signatures[i] = signature;
      renderCell(state.tr.cells[i]!, cell);
    });
  }

  /** Put rows in sorted order, moving DOM nodes only when the order changed. */
  private place(): void {
    const col = this.options.columns.find((c) => c.id === this.sort.column) ?? this.options.columns[0]!;
    const sign = this.sort.dir === 'ascending' ? 1 : -1;
    const keyed = [...this.rows.entries()].map(([key, s]) => ({ key, value: col.sortValue(s.data) }));
    keyed.sort((a, b) => {
      // Blanks last whichever the direction; ties by key so the order is stable.
      if (a.value === null || b.value === null) {
        return a.value === b.value ? a.key.localeCompare(b.key) : a.value === null ? 1 : -1;
      }
      const c =
        typeof a.value === 'number' && typeof b.value === 'number'
          ? a.value - b.value
          : String(a.value).localeCompare(String(b.value));
      return c !== 0 ? c * sign : a.key.localeCompare(b.key);
    });
    const order = keyed.map((k) => k.key);
    const sameOrder = order.length === this.order.length && order.every((k, i) => k === this.order[i]);
    if (sameOrder && this.body.childElementCount === Math.max(order.length, 1)) return;
    this.order = order;
    reconcile(this.body, order.length ? order.map((k) => this.rows.get(k)!.tr) : [this.emptyRow]);
  }

  private sortBy(column: string): void {
    this.sort =
      this.sort.column === column
        ? { column, dir: this.sort.dir === 'ascending' ? 'descending' : 'ascending' }
        : {
            column,
            dir: this.options.columns.find((c) => c.id === column)?.numeric ? 'descending' : 'ascending',
          };
    this.showSort();
    this.order = [];
    this.place();
  }

  private showSort(): void {
    for (const [id, th] of this.headers) {
      if (id === this.sort.column) th.setAttribute('aria-sort', this.sort.dir);
      else th.removeAttribute('aria-sort');
    }
  }

  private rowClicked(e: MouseEvent): void {
    const target = e.target as Element;
    if (target.closest('a, button, input, select, textarea')) return;
    const key = target.closest('tr')?.dataset.key;
    const state = key === undefined ? undefined : this.rows.get(key);
    if (state) this.options.onRowClick?.(state.data);
  }
}

function renderCell(td: HTMLTableCellElement, cell: Cell): void {
  const spec: CellSpec = typeof cell === 'string' ? { text: cell } : cell;
  const badged = spec.status !== undefined || spec.online !== undefined;
  mount(
    td,
    spec.status && statusBadge(spec.status),
    spec.online !== undefined && linkBadge(spec.online),
    spec.href
      ? h('a', { href: spec.href }, spec.text ?? '')
      : spec.text !== undefined && (badged ? ` ${spec.text}` : spec.text),
    spec.at !== undefined && [badged || spec.text ? ' ' : '', relTime(spec.at, spec.prefix)],
    spec.sub && h('div', { class: 'sub' }, spec.sub),
  );
  if (spec.title) td.title = spec.title;
  else td.removeAttribute('title');
  td.classList.remove('tone-warn', 'tone-bad');
  if (spec.tone) td.classList.add(`tone-${spec.tone}`);
}
