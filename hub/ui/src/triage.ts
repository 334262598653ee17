import { h, reconcile } from '../../../web/dom.js';
import type { Conflict } from '../../src/schemas/conflicts.js';
import type { DeadLetter } from '../../src/schemas/devices.js';
import { type Api, errorText, query } from './api.js';
import { relTime } from './format.js';
import { serial } from './serial.js';

/*
 * A store's open conflicts (resolve with a note) and dead-letter ops (retry, or dismiss with a
 * reason). Rows are kept by id across reloads, so a note being typed survives a live refresh; the
 * outcome of each action is announced in the section's status line. An hq token reads only: its
 * rows show who settles them instead of the actions.
 */

const PAGE = 100;

export interface TriageSection {
  el: HTMLElement;
  reload(): Promise<void>;
}

interface Item {
  id: number;
}

interface ListOptions<T extends Item> {
  title: string;
  testId: string;
  headers: string[];
  empty: string;
  load(): Promise<{ items: T[]; nextCursor: string | null }>;
  /** Whether this token may act on the rows; rows are built once it is known. */
  canTriage: Promise<boolean>;
  row(item: T, act: Act | null): HTMLTableRowElement;
}

type Act = (label: string, action: () => Promise<string>) => Promise<void>;

const READ_ONLY = 'Read-only: settled by an admin or the store manager';

function readOnlyCell(testId: string): HTMLElement {
  return h('td', { class: 'muted', 'data-testid': testId }, READ_ONLY);
}

function triageList<T extends Item>(o: ListOptions<T>): TriageSection {
  const body = h('tbody');
  const rows = new Map<number, HTMLTableRowElement>();
  const result = h('p', { class: 'result', role: 'status', 'data-testid': `${o.testId}-result` });
  const more = h('p', { class: 'muted', hidden: true });
  const empty = h('tr', { class: 'empty' }, h('td', { colspan: o.headers.length }, o.empty));
  const counter = h('span', { class: 'count-pill' });

  /** Run an action for a row; its outcome (or refusal) goes to the status line, then the list reloads. */
  const act = async (label: string, action: () => Promise<string>) => {
    result.className = 'result pending';
    result.textContent = `${label}…`;
    try {
      result.textContent = await action();
      result.className = 'result ok';
    } catch (e) {
      result.textContent = `${label} failed: ${errorText(e)}`;
      result.className = 'result error';
    }
    await reload();
  };

  async function load() {
    const [page, writable] = await Promise.all([o.load(), o.canTriage]);
    const keep = new Set(page.items.map((i) => i.id));
    for (const id of rows.keys()) if (!keep.has(id)) rows.delete(id);
    for (const item of page.items)
      if (!rows.has(item.id)) rows.set(item.id, o.row(item, writable ? act : null));
    reconcile(body, page.items.length ? page.items.map((i) => rows.get(i.id)!) : [empty]);
    counter.textContent = String(page.items.length) + (page.nextCursor ? '+' : '');
    more.hidden = page.nextCursor === null;
    more.textContent = `Showing the first ${PAGE}.`;
  }
  const reload = serial(() =>
    load().catch((e: unknown) => {
      more.hidden = false;
      more.textContent = `Could not load: ${errorText(e)}`;
    }),
  );

  const el = h(
    'section',
    { class: 'panel', 'data-testid': o.testId },
    h('h2', {}, o.title, ' ', counter),
    result,
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
            o.headers.map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        body,
      ),
    ),
    more,
  );
  return { el, reload };
}

/** A one-field form (note or reason) with its button; Enter submits. */
function noteForm(
  label: string,
  button: string,
  testId: string,
  submit: (text: string) => Promise<void>,
): HTMLFormElement {
  const input = h('input', {
    type: 'text',
    required: true,
    maxlength: 500,
    'aria-label': label,
    placeholder: label,
    'data-testid': `${testId}-input`,
  });
  const btn = h('button', { type: 'submit', class: 'btn', 'data-testid': `${testId}-button` }, button);
  return h(
    'form',
    {
      class: 'inline-form',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const text = input.value.trim();
        if (!text) return input.focus();
        btn.disabled = true;
        void submit(text).finally(() => {
          btn.disabled = false;
        });
      },
    },
    input,
    btn,
  );
}

function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([k, v]) => k !== 'hlc' && (typeof v !== 'object' || v === null))
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(' · ');
}

export function conflictsSection(api: Api, locationId: string, canTriage: Promise<boolean>): TriageSection {
  return triageList<Conflict>({
    canTriage,
    title: 'Open conflicts',
    testId: 'conflicts',
    headers: ['Opened', 'Kind', 'SKU', 'Details', 'Resolve'],
    empty: 'No open conflicts.',
    load: () => api.get(`/v1/conflicts${query({ locationId, status: 'open', limit: PAGE })}`),
    row: (c, act) =>
      h(
        'tr',
        { 'data-testid': `conflict-${c.id}`, 'data-id': c.id },
        h('td', {}, relTime(c.createdAt)),
        h('td', {}, c.kind.replace('_', ' ')),
        h('td', {}, c.sku ?? '—'),
        h(
          'td',
          { class: 'details' },
          detailsText(c.details),
          c.opId ? h('div', { class: 'sub' }, `op ${c.opId}`) : null,
        ),
        act
          ? h(
              'td',
              {},
              noteForm(`Note for conflict ${c.id}`, 'Resolve', `resolve-${c.id}`, (note) =>
                act(`Resolving conflict ${c.id}`, async () => {
                  const done = await api.post<Conflict>(`/v1/conflicts/${c.id}/resolve`, { note });
                  return `Conflict ${done.id} (${done.kind} on ${done.sku ?? '—'}) resolved: ${done.resolution ?? note}`;
                }),
              ),
            )
          : readOnlyCell(`conflict-${c.id}-read-only`),
      ),
  });
}

/** "sale · NO-SUCH × 1": what the rejected op was, from its stored body (any shape). */
function opSummary(op: unknown): string {
  if (!op || typeof op !== 'object') return '—';
  const { type, lines } = op as { type?: unknown; lines?: unknown };
  const items = Array.isArray(lines)
    ? lines.map((l: unknown) => {
        const { sku, qty } = (l ?? {}) as { sku?: unknown; qty?: unknown };
        return `${String(sku)} × ${String(qty)}`;
      })
    : [];
  return [typeof type === 'string' ? type : 'op', ...items].join(' · ');
}

export function deadLettersSection(api: Api, locationId: string, canTriage: Promise<boolean>): TriageSection {
  return triageList<DeadLetter>({
    canTriage,
    title: 'Dead-letter ops',
    testId: 'dead-letters',
    headers: ['Received', 'Till', 'Op', 'Refused because', 'Actions'],
    empty: 'No rejected ops awaiting review.',
    load: () => api.get(`/v1/sync/dead-letters${query({ locationId, status: 'open', limit: PAGE })}`),
    row: (d, act) =>
      h(
        'tr',
        { 'data-testid': `dead-letter-${d.id}`, 'data-id': d.id },
        h('td', {}, relTime(d.createdAt)),
        h('td', {}, d.deviceId, h('div', { class: 'sub' }, `seq ${d.seq}`)),
        h('td', {}, opSummary(d.op)),
        h('td', {}, h('strong', {}, d.code), h('div', { class: 'sub' }, d.reason)),
        act
          ? h(
              'td',
              { class: 'actions' },
              h(
                'button',
                {
                  type: 'button',
                  class: 'btn',
                  'data-testid': `retry-${d.id}`,
                  title: 'Check the op again now; applied if what refused it was fixed',
                  onclick: () =>
                    act(`Retrying dead letter ${d.id}`, async () => {
                      await api.post<DeadLetter>(`/v1/sync/dead-letters/${d.id}/retry`);
                      return `Dead letter ${d.id} retried: the op passed and was applied.`;
                    }),
                },
                'Retry',
              ),
              noteForm(`Reason to dismiss ${d.id}`, 'Dismiss', `dismiss-${d.id}`, (reason) =>
                act(`Dismissing dead letter ${d.id}`, async () => {
                  const done = await api.post<DeadLetter>(`/v1/sync/dead-letters/${d.id}/dismiss`, {
                    reason,
                  });
                  return `Dead letter ${done.id} dismissed: ${done.resolution ?? reason}`;
                }),
              ),
            )
          : readOnlyCell(`dead-letter-${d.id}-read-only`),
      ),
  });
}
