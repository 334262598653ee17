import { h, mount } from '../../../web/dom.js';
import type { HqUpdate } from '../../src/schemas/health.js';
import type { LowStockItem } from '../../src/schemas/inventory.js';
import { errorText, query } from './api.js';
import type { Ctx, View } from './context.js';
import { count } from './format.js';
import { serial } from './serial.js';

/*
 * Stock rows at or below their reorder point, one table per location, filterable by location; the
 * CSV download is fetched with the token (a plain link could not carry it) and saved from a Blob.
 */

const PAGE = 500;
/** Beyond this many rows the page points at the CSV, which has them all. */
const MAX_ROWS = 5_000;

export function lowStockView(ctx: Ctx): View {
  const select = h('select', { 'aria-label': 'Location', 'data-testid': 'low-stock-location' });
  const download = h(
    'button',
    {
      type: 'button',
      class: 'btn primary',
      'data-testid': 'low-stock-csv',
      onclick: () => void downloadCsv(),
    },
    'Download CSV',
  );
  const result = h('p', { class: 'result', role: 'status', 'data-testid': 'low-stock-result' });
  const tables = h('div', { class: 'low-stock-tables', 'data-testid': 'low-stock-tables' });
  let locations = '';
  let lowStockSkus = -1;

  const el = h(
    'div',
    { class: 'view', 'data-testid': 'view-low-stock', hidden: true },
    h(
      'section',
      { class: 'panel' },
      h(
        'div',
        { class: 'panel-head' },
        h('h1', {}, 'Low stock'),
        h('div', { class: 'toolbar' }, h('label', {}, 'Location ', select), download),
      ),
      h(
        'p',
        { class: 'muted' },
        'SKUs whose available stock (on hand − reserved) is at or below their reorder point.',
      ),
      result,
      tables,
    ),
  );
  select.addEventListener('change', () => {
    const id = select.value;
    ctx.go(id ? `#/low-stock/${encodeURIComponent(id)}` : '#/low-stock');
  });

  const locationId = () => select.value || undefined;

  const load = serial(async () => {
    const items: LowStockItem[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await ctx.api.get<{ items: LowStockItem[]; nextCursor: string | null }>(
          `/v1/inventory/low-stock${query({ locationId: locationId(), limit: PAGE, cursor })}`,
        );
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor && items.length < MAX_ROWS);
    } catch (e) {
      result.className = 'result error';
      result.textContent = `Could not load low stock: ${errorText(e)}`;
      return;
    }
    renderTables(items, cursor !== undefined);
  });

  function renderTables(items: LowStockItem[], truncated: boolean) {
    const byLocation = new Map<string, LowStockItem[]>();
    for (const item of items)
      byLocation.set(item.locationId, [...(byLocation.get(item.locationId) ?? []), item]);
    mount(
      tables,
      items.length === 0
        ? h('p', { class: 'muted', 'data-testid': 'low-stock-none' }, 'Nothing is below its reorder point.')
        : null,
      truncated
        ? h('p', { class: 'muted' }, `Showing the first ${count(items.length)} rows: the CSV has them all.`)
        : null,
      [...byLocation].map(([id, rows]) =>
        h(
          'section',
          { class: 'low-stock-location', 'data-testid': `low-stock-${id}` },
          h(
            'h2',
            {},
            rows[0]!.locationName,
            ' ',
            h('span', { class: 'muted' }, `${id} · ${rows.length} SKU${rows.length === 1 ? '' : 's'}`),
          ),
          h(
            'div',
            { class: 'scroll' },
            h(
              'table',
              { class: 'grid' },
              h('caption', { class: 'visually-hidden' }, `Low stock at ${rows[0]!.locationName}`),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ['SKU', 'Product', 'On hand', 'Reserved', 'Available', 'Reorder point', 'Shortfall'].map(
                    (t, i) => h('th', { scope: 'col', class: i >= 2 ? 'num' : null }, t),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                rows.map((r) =>
                  h(
                    'tr',
                    { 'data-sku': r.sku },
                    h('td', {}, r.sku),
                    h('td', {}, r.productName),
                    h('td', { class: 'num' }, count(r.onHand)),
                    h('td', { class: 'num' }, count(r.reserved)),
                    h('td', { class: `num${r.available <= 0 ? ' tone-bad' : ''}` }, count(r.available)),
                    h('td', { class: 'num' }, count(r.reorderPoint)),
                    h('td', { class: 'num' }, count(r.shortfall)),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function downloadCsv() {
    download.disabled = true;
    result.className = 'result pending';
    result.textContent = 'Preparing the CSV…';
    try {
      const file = await ctx.api.file(
        `/v1/inventory/low-stock${query({ format: 'csv', locationId: locationId() })}`,
      );
      const url = URL.createObjectURL(file.blob);
      const a = h('a', { href: url, download: file.filename ?? 'low-stock.csv', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      // The download has started from the URL by now; let it go a little later all the same.
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      result.className = 'result ok';
      result.textContent = `Downloaded ${file.filename ?? 'low-stock.csv'}.`;
    } catch (e) {
      result.className = 'result error';
      result.textContent = `Download failed: ${errorText(e)}`;
    } finally {
      download.disabled = false;
    }
  }

  /** The location choices follow the hub's list of locations. */
  function renderOptions(u: HqUpdate) {
    const names = u.health.locations.map((l) => `${l.locationId}\u0000${l.name}`).join('\u0001');
    if (names === locations) return;
    locations = names;
    const current = select.value;
    mount(
      select,
      h('option', { value: '' }, 'All locations'),
      u.health.locations.map((l) => h('option', { value: l.locationId }, `${l.name} (${l.locationId})`)),
    );
    select.value = current;
  }

  return {
    el,
    show(param) {
      const latest = ctx.latest();
      if (latest) renderOptions(latest);
      select.value = param ?? '';
      el.hidden = false;
      result.textContent = '';
      void load();
    },
    hide() {
      el.hidden = true;
    },
    update(u) {
      renderOptions(u);
      // Reload when the brand's count of low SKUs moves (a sale, a receipt), while on screen.
      if (!el.hidden && u.health.summary.lowStockSkus !== lowStockSkus) void load();
      lowStockSkus = u.health.summary.lowStockSkus;
    },
  };
}
