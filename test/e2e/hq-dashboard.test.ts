import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newOpId } from '@tillsync/sync-protocol';
import Fastify from 'fastify';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import hqPage from '../../hub/src/hq/page.js';
import { installErrorHandler } from '../../hub/src/http/error-handler.js';
import { createApiToken } from '../../hub/src/services/tokens.js';
import { authFor, connectRaw, push } from '../../hub/test/helpers/sync-client.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { buildUiAndLaunchChromium, root, shots } from './helpers/chromium.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { startTill, type TestTill } from './helpers/tills.js';

/** HQ watching the brand in a real Chromium: a real hub, real tills over real sockets, live updates. */
describe(`the HQ dashboard in Chromium (${testDbKind()})`, () => {
  let browser: Browser;
  let hub: TestHubServer;
  let page: Page;
  let hq: string;
  const tills: TestTill[] = [];

  beforeAll(async () => {
    browser = await buildUiAndLaunchChromium('hub/ui');
  });
  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }, { id: 'warehouse', kind: 'warehouse', priority: 1 }],
      products: [
        { sku: 'LIP-RED', priceMinor: 1500 },
        { sku: 'MASCARA', priceMinor: 2200 },
        { sku: 'HAND-CREAM', priceMinor: 950 },
      ],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 20, reorderPoint: 5 },
        { locationId: 'paris', sku: 'MASCARA', onHand: 2 },
        { locationId: 'paris', sku: 'HAND-CREAM', onHand: 3, reorderPoint: 4 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 2, reorderPoint: 6 },
        { locationId: 'lyon', sku: 'MASCARA', onHand: 9, reorderPoint: 3 },
        { locationId: 'warehouse', sku: 'LIP-RED', onHand: 40, reorderPoint: 10 },
      ],
    });
    for (const [id, name] of [
      ['paris', 'Paris Opéra'],
      ['lyon', 'Lyon Part-Dieu'],
      ['warehouse', 'Central warehouse'],
    ] as const) {
      await hub.db.query('UPDATE locations SET name = $1 WHERE id = $2', [name, id]);
    }
    for (const [sku, name] of [
      ['LIP-RED', 'Velvet Lipstick · Red'],
      ['MASCARA', 'Volume Mascara'],
      ['HAND-CREAM', 'Hand Cream 75 ml'],
    ] as const) {
      await hub.db.query('UPDATE products SET name = $1 WHERE sku = $2', [name, sku]);
    }
    hq = (await createApiToken(hub.db, { name: 'hq', role: 'hq' })).token;
    page = await browser.newPage({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  });
  afterEach(async () => {
    await page?.close();
    for (const t of tills.splice(0)) await t.close();
    await hub?.close();
  });

  async function till(locationId: string, id: string): Promise<TestTill> {
    const t = await startTill(hub, locationId, id);
    tills.push(t);
    return t;
  }

  const byTestId = (id: string) => page.getByTestId(id);
  /** What a person reads (block elements apart, unlike textContent), spaces collapsed. */
  const readable = async (locator: Locator) =>
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point here
    (await locator.innerText()).replace(/\s+/g, ' ').trim();
  const text = (id: string) => readable(byTestId(id));
  const cell = (table: string, key: string, col: string) =>
    page.locator(`[data-testid="${table}-row-${key}"] td[data-col="${col}"]`);
  const cellText = (table: string, key: string, col: string) => readable(cell(table, key, col));
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  /** Set once after sign-in: still there means the page was never reloaded or navigated away. */
  const markPage = () => page.evaluate("window.hqMarker = 'same page'");
  const marker = () => page.evaluate('window.hqMarker');
  const storedToken = () => page.evaluate("sessionStorage.getItem('tillsync.hq.token')");

  /** A device that speaks the raw sync protocol (no till engine): for ops a real till would not send. */
  async function rawDevice(locationId: string, id: string): Promise<string> {
    const res = await fetch(`${hub.url}/v1/devices/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrolmentCode: await hub.enrolmentCode(locationId, id) }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  }

  it('shows tills going offline and back, a conflict and a dead letter live; hq reads them, an admin settles them', async () => {
    const p1 = await till('paris', 'paris-1');
    await till('paris', 'paris-2');
    await till('lyon', 'lyon-1');

    await page.goto(`${hub.url}/hq#token=${hq}`);
    // The token left the address bar (and history) for this tab's session storage.
    await expect.poll(() => page.url()).toBe(`${hub.url}/hq`);
    await expect(storedToken()).resolves.toBe(hq);
    await expect.poll(() => cellText('tills', 'paris-1', 'link')).toBe('● Online');
    await markPage();
    // Rows are kept by key: this element is updated in place, never rebuilt.
    await page.evaluate("document.querySelector('[data-testid=tills-row-paris-2]').hqSame = true");
    await expect.poll(() => text('connection')).toMatch(/^● Live/);
    await expect.poll(() => byTestId('summary').getAttribute('data-status')).toBe('ok');
    expect(await cellText('stores', 'paris', 'tills')).toBe('2 / 2');
    expect(await cellText('stores', 'lyon', 'low-stock')).toBe('1');
    // Statuses are words as well as colours.
    expect(await cellText('stores', 'paris', 'status')).toBe('● OK');

    // The till's agent stops: the row turns offline within seconds, without a reload.
    await p1.agent.stop();
    await expect
      .poll(() => cellText('tills', 'paris-1', 'link'), { timeout: 5_000 })
      .toMatch(/^○ Offline since \d+ s ago$|^○ Offline since just now$/);
    expect(await cellText('tills', 'paris-1', 'status')).toMatch(/^▲ Degraded offline for \d+ s$/);
    await expect.poll(() => cellText('stores', 'paris', 'tills')).toBe('1 / 2');
    await expect.poll(() => byTestId('summary').getAttribute('data-status')).not.toBe('ok');
    expect(await marker()).toBe('same page');

    p1.agent.start();
    await p1.agent.drained();
    await expect.poll(() => cellText('tills', 'paris-1', 'link'), { timeout: 5_000 }).toBe('● Online');
    await expect.poll(() => cellText('stores', 'paris', 'tills')).toBe('2 / 2');
    expect(await page.evaluate("document.querySelector('[data-testid=tills-row-paris-2]').hqSame")).toBe(
      true,
    );

    // An oversell: the till sells 3 mascaras where the hub has 2 → a conflict, live, with its alert.
    p1.till.cashier.sell({ lines: [{ ref: 'MASCARA', qty: 3 }] });
    await p1.agent.drained();
    await expect.poll(() => cellText('stores', 'paris', 'conflicts')).toBe('1');
    await expect
      .poll(() =>
        byTestId('alerts').locator('[data-type="conflict.opened"] .alert-message').allTextContents(),
      )
      .toEqual(['oversell at paris on MASCARA (on hand now -1)']);
    await expect.poll(() => text('kpi-conflicts')).toBe('Open conflicts 1');

    // A sale for a SKU the hub does not know, from a raw protocol client: refused for good, dead-lettered.
    const raw = await connectRaw(hub.url, authFor(await rawDevice('paris', 'paris-9')));
    try {
      const op = {
        type: 'sale',
        opId: newOpId(),
        seq: 1,
        hlc: `${String(Date.now()).padStart(15, '0')}:00000:paris-9`,
        locationId: 'paris',
        receiptId: 'R-9',
        lines: [{ sku: 'NO-SUCH', qty: 1, unitPriceMinor: 100 }],
      };
      expect((await push(raw.socket, [op])).ok).toBe(true);
    } finally {
      raw.socket.close();
    }
    await expect.poll(() => cellText('stores', 'paris', 'dead-letters')).toBe('1');
    expect(await marker()).toBe('same page');
    // The brand's charts reload by themselves when the hub reports new activity.
    await expect.poll(() => text('brand-activity')).toMatch(/Last 1 h: 1 op applied, 1 rejected, worst lag/);
    await expect.poll(() => byTestId('brand-activity-ops').locator('rect').count()).toBe(2);
    await shot('hq-dashboard');

    // Sorting by a header: keyboard-reachable button, aria-sort on the header.
    const tillHeader = byTestId('tills').locator('th[data-col="till"]');
    await tillHeader.locator('button').focus();
    await page.keyboard.press('Enter');
    await expect(tillHeader.getAttribute('aria-sort')).resolves.toBe('ascending');
    await expect(
      byTestId('tills')
        .locator('tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key'))),
    ).resolves.toEqual(['lyon-1', 'paris-1', 'paris-2', 'paris-9']);
    await page.keyboard.press('Enter');
    await expect(tillHeader.getAttribute('aria-sort')).resolves.toBe('descending');

    // Drill down into Paris by clicking its row.
    await cell('stores', 'paris', 'outbox').click();
    await expect.poll(() => page.url()).toBe(`${hub.url}/hq#/store/paris`);
    await expect.poll(() => byTestId('view-store').isVisible()).toBe(true);
    await expect.poll(() => text('store-conflicts')).toBe('Open conflicts 1');
    const conflictRow = byTestId('conflicts').locator('tbody tr[data-id]');
    await expect.poll(() => conflictRow.count()).toBe(1);
    expect(await conflictRow.locator('td').nth(2).textContent()).toBe('MASCARA');
    const deadRow = byTestId('dead-letters').locator('tbody tr[data-id]');
    await expect.poll(() => deadRow.count()).toBe(1);
    expect(await deadRow.textContent()).toMatch(/unknown_sku/);
    expect(await deadRow.textContent()).toMatch(/sale · NO-SUCH × 1/);
    await expect.poll(() => byTestId('store-tills').locator('tbody tr[data-key]').count()).toBe(3);
    await expect
      .poll(() => byTestId('movements').locator('tbody tr[data-testid^="movement-"]').count())
      .toBeGreaterThan(0);
    expect(await byTestId('movements').textContent()).toMatch(/oversell/);
    await expect.poll(() => text('store-activity')).toMatch(/Last 1 h: 1 op applied, 1 rejected/);
    await shot('hq-store-drilldown');

    // hq reads the triage lists but settles nothing: no actions, a line saying who settles them.
    const conflictId = Number(await conflictRow.getAttribute('data-id'));
    const deadId = Number(await deadRow.getAttribute('data-id'));
    await expect
      .poll(() => text(`conflict-${conflictId}-read-only`))
      .toBe('Read-only: settled by an admin or the store manager');
    expect(await text(`dead-letter-${deadId}-read-only`)).toBe(
      'Read-only: settled by an admin or the store manager',
    );
    expect(await byTestId(`resolve-${conflictId}-button`).count()).toBe(0);
    expect(await byTestId(`retry-${deadId}`).count()).toBe(0);
    expect(await byTestId(`dismiss-${deadId}-button`).count()).toBe(0);

    // An admin signs in (a new #token= link, same tab) and settles them.
    await page.evaluate(`location.hash = '#token=${hub.adminToken}'`);
    await expect.poll(() => storedToken()).toBe(hub.adminToken);
    await page.evaluate("location.hash = '#/store/paris'");
    await expect.poll(() => byTestId(`resolve-${conflictId}-button`).count()).toBe(1);

    // Resolve the conflict with a note.
    await byTestId(`resolve-${conflictId}-input`).fill('Counted the shelf: 1 found in the back room');
    await byTestId(`resolve-${conflictId}-button`).click();
    await expect
      .poll(() => text('conflicts-result'))
      .toMatch(/^Conflict \d+ \(oversell on MASCARA\) resolved: Counted the shelf/);
    await expect.poll(() => conflictRow.count()).toBe(0);
    await expect.poll(() => text('store-conflicts')).toBe('Open conflicts 0');
    const { rows: conflicts } = await hub.db.query<{ status: string; resolution: string }>(
      'SELECT status, resolution FROM conflicts WHERE id = $1',
      [conflictId],
    );
    expect(conflicts).toEqual([
      { status: 'resolved', resolution: 'Counted the shelf: 1 found in the back room' },
    ]);

    // Retrying the dead letter fails (the SKU is still unknown) and says why; then it is dismissed.
    await byTestId(`retry-${deadId}`).click();
    await expect.poll(() => text('dead-letters-result')).toMatch(/failed: the op is still rejected/);
    expect(await deadRow.count()).toBe(1);
    await byTestId(`dismiss-${deadId}-input`).fill('test op from a bench till');
    await byTestId(`dismiss-${deadId}-button`).click();
    await expect
      .poll(() => text('dead-letters-result'))
      .toBe(`Dead letter ${deadId} dismissed: test op from a bench till`);
    await expect.poll(() => deadRow.count()).toBe(0);
    await expect.poll(() => text('store-dead-letters')).toBe('Dead letters 0');
    const { rows: letters } = await hub.db.query<{ status: string; resolution: string }>(
      'SELECT status, resolution FROM dead_letters WHERE id = $1',
      [deadId],
    );
    expect(letters).toEqual([{ status: 'dismissed', resolution: 'test op from a bench till' }]);

    // Back to the overview: the counters followed, still on the same page.
    await byTestId('back').click();
    await expect.poll(() => cellText('stores', 'paris', 'conflicts')).toBe('0');
    expect(await marker()).toBe('same page');
  });

  it('lists low stock per location, filters by location, and downloads the CSV with the token', async () => {
    await page.goto(`${hub.url}/hq#token=${hq}`);
    await byTestId('nav-low-stock').click();
    const skus = (location: string) =>
      byTestId(`low-stock-${location}`)
        .locator('tbody tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-sku')));
    await expect.poll(() => skus('paris')).toEqual(['HAND-CREAM']);
    await expect.poll(() => skus('lyon')).toEqual(['LIP-RED']);
    expect(await byTestId('low-stock-warehouse').count()).toBe(0);
    expect(await byTestId('low-stock-lyon').textContent()).toMatch(/Lyon Part-Dieu/);

    // A sale takes Paris lipsticks to the reorder point: the list follows live.
    const p1 = await till('paris', 'paris-1');
    p1.till.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 15 }] });
    await p1.agent.drained();
    await expect.poll(() => skus('paris')).toEqual(['HAND-CREAM', 'LIP-RED']);
    await shot('hq-low-stock');

    const download = async () => {
      const [file] = await Promise.all([page.waitForEvent('download'), byTestId('low-stock-csv').click()]);
      expect(file.suggestedFilename()).toMatch(/^low-stock-\d{4}-\d{2}-\d{2}\.csv$/);
      return readFileSync((await file.path())!, 'utf8')
        .trim()
        .split(/\r?\n/);
    };
    expect(await download()).toEqual([
      'location_id,location_name,sku,product_name,on_hand,reserved,available,reorder_point,shortfall',
      'lyon,Lyon Part-Dieu,LIP-RED,Velvet Lipstick · Red,2,0,2,6,4',
      'paris,Paris Opéra,HAND-CREAM,Hand Cream 75 ml,3,0,3,4,1',
      'paris,Paris Opéra,LIP-RED,Velvet Lipstick · Red,5,0,5,5,0',
    ]);
    await expect.poll(() => text('low-stock-result')).toMatch(/^Downloaded low-stock-/);

    // One location: the view and the file follow the filter.
    await byTestId('low-stock-location').selectOption('lyon');
    await expect.poll(() => page.url()).toBe(`${hub.url}/hq#/low-stock/lyon`);
    await expect.poll(() => byTestId('low-stock-paris').count()).toBe(0);
    await expect.poll(() => skus('lyon')).toEqual(['LIP-RED']);
    expect(await download()).toEqual([
      'location_id,location_name,sku,product_name,on_hand,reserved,available,reorder_point,shortfall',
      'lyon,Lyon Part-Dieu,LIP-RED,Velvet Lipstick · Red,2,0,2,6,4',
    ]);
  });

  it('refuses a wrong token and a store manager token with a clear message, and signs out', async () => {
    await page.goto(`${hub.url}/hq`);
    await expect.poll(() => byTestId('token').isVisible()).toBe(true);
    expect(await byTestId('view-overview').isVisible()).toBe(false);

    await byTestId('token').fill('tsk.nope.nope');
    await byTestId('sign-in').click();
    await expect
      .poll(() => text('signin-error'))
      .toBe(
        'The hub does not accept this token: it is unknown, revoked or mistyped. Check it and sign in again.',
      );
    expect(await storedToken()).toBeNull();

    const manager = (await createApiToken(hub.db, { name: 'm', role: 'store_manager', locationId: 'paris' }))
      .token;
    await byTestId('token').fill(manager);
    await page.keyboard.press('Enter');
    await expect
      .poll(() => text('signin-error'))
      .toMatch(/^This token may not open the HQ dashboard: it needs the hq or admin role/);
    expect(await byTestId('summary').isVisible()).toBe(false);

    // The right token, typed in: in; then signed out, and the token is gone from the tab.
    await byTestId('token').fill(hq);
    await byTestId('sign-in').click();
    await expect.poll(() => byTestId('stores').isVisible()).toBe(true);
    expect(await byTestId('signin-error').isVisible()).toBe(false);
    await byTestId('sign-out').click();
    await expect.poll(() => byTestId('token').isVisible()).toBe(true);
    expect(await byTestId('stores').count()).toBe(0);
    expect(await storedToken()).toBeNull();

    // A revoked token mid-session: back to sign-in with the reason.
    const revocable = await createApiToken(hub.db, { name: 'hq2', role: 'hq' });
    await page.goto(`${hub.url}/hq#token=${revocable.token}`);
    await expect.poll(() => byTestId('stores').isVisible()).toBe(true);
    await hub.db.query('UPDATE api_tokens SET revoked_at = now() WHERE id = $1', [revocable.id]);
    await byTestId('nav-low-stock').click();
    await expect
      .poll(() => text('signin-error'))
      .toMatch(/^Signed out: the hub no longer accepts this token/);
  });

  it('serves the page without a token, under a strict CSP, and nothing else without one', async () => {
    const res = await fetch(`${hub.url}/hq`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toMatch(
      /^default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'/,
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(await res.text()).toMatch(/<script type="module" src="\/hq\/app.js">/);
    const js = await fetch(`${hub.url}/hq/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await fetch(`${hub.url}/hq/styles.css`)).headers.get('content-type')).toBe(
      'text/css; charset=utf-8',
    );
    expect((await fetch(`${hub.url}/hq/app.js.map`)).status).toBe(200);
    // Hidden from the API docs; the data itself needs the token.
    const doc = (await (await fetch(`${hub.url}/docs/json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/hq'))).toEqual([]);
    expect((await fetch(`${hub.url}/v1/sync/health`)).status).toBe(401);

    // Not built: a clear 503 in the hub's error shape, still with the security headers.
    const bare = Fastify();
    installErrorHandler(bare);
    await bare.register(hqPage, { dist: join(root, 'hub/ui/no-such-dist') });
    const missing = await bare.inject({ method: 'GET', url: '/hq' });
    expect(missing.statusCode).toBe(503);
    expect(missing.json()).toEqual({
      code: 'ui_not_built',
      message: 'the HQ dashboard is not built: run `pnpm build` (or `node hub/ui/build.mjs`), then reload',
    });
    expect(missing.headers['x-frame-options']).toBe('DENY');
    await bare.close();
  });
});
