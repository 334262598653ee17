import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrolTill } from '@tillsync/pos-client';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ledgerMismatches } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { startTillApp, type TillApp } from '../../pos-client/src/app/till-app.js';
import { buildUiAndLaunchChromium, shots } from './helpers/chromium.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { expectConverged, FAST } from './helpers/tills.js';

const LIPSTICK_BARCODE = '3600000000017';
const MASCARA_BARCODE = '3600000000024';

/** A cashier at the Paris till, in a real Chromium, over a real till app and a real hub. */
describe(`the cashier screen in Chromium (${testDbKind()})`, () => {
  let browser: Browser;
  let hub: TestHubServer;
  let dataDir: string;
  let app: TillApp;
  let page: Page;

  beforeAll(async () => {
    browser = await buildUiAndLaunchChromium('pos-client/ui');
  });
  afterAll(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }, { id: 'warehouse', kind: 'warehouse', priority: 1 }],
      products: [
        { sku: 'LIP-RED', priceMinor: 1500, barcode: LIPSTICK_BARCODE },
        { sku: 'MASCARA', priceMinor: 2200, barcode: MASCARA_BARCODE },
        { sku: 'HAND-CREAM', priceMinor: 950 },
        { sku: 'HAND-SOAP', priceMinor: 450 },
      ],
      stock: [
        { locationId: 'paris', sku: 'LIP-RED', onHand: 10 },
        { locationId: 'paris', sku: 'MASCARA', onHand: 5 },
        { locationId: 'paris', sku: 'HAND-CREAM', onHand: 12 },
        { locationId: 'paris', sku: 'HAND-SOAP', onHand: 20 },
        { locationId: 'lyon', sku: 'LIP-RED', onHand: 8 },
        { locationId: 'warehouse', sku: 'LIP-RED', onHand: 40 },
        { locationId: 'warehouse', sku: 'MASCARA', onHand: 10 },
      ],
    });
    for (const [sku, name] of [
      ['LIP-RED', 'Velvet Lipstick · Red'],
      ['MASCARA', 'Volume Mascara'],
      ['HAND-CREAM', 'Hand Cream 75 ml'],
      ['HAND-SOAP', 'Hand Soap 250 ml'],
    ] as const) {
      await hub.db.query('UPDATE products SET name = $1 WHERE sku = $2', [name, sku]);
    }
    // Enrol the Paris till, then run it as the cashier app does: till, sync agent and loopback UI server.
    dataDir = mkdtempSync(join(tmpdir(), 'till-ui-'));
    const enrolled = await enrolTill({
      dataDir,
      hubUrl: hub.url,
      enrolmentCode: await hub.enrolmentCode('paris', 'paris-1'),
    });
    enrolled.close();
    app = await startTillApp({ dataDir, syncOptions: FAST });
    await app.agent.drained();
    page = await browser.newPage({ viewport: { width: 1366, height: 820 } });
    await page.goto(app.url);
    await expect.poll(() => text('connection')).toBe('Online');
  });
  afterEach(async () => {
    await page?.close();
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
    await hub?.close();
  });

  const byTestId = (id: string) => page.getByTestId(id);
  const text = async (id: string) => (await byTestId(id).textContent())?.trim();
  const shot = (name: string) => page.screenshot({ path: join(shots, `${name}.png`) });

  /** What a scanner does: digits, then Enter. */
  async function scan(code: string) {
    await page.keyboard.type(code);
    await page.keyboard.press('Enter');
  }

  async function salesAtHub(): Promise<Array<{ sku: string; sales: number; units: number }>> {
    const { rows } = await hub.db.query<{ sku: string; sales: number; units: number }>(
      `SELECT sku, count(*)::int AS sales, (-sum(d_on_hand))::int AS units FROM movements
       WHERE location_id = 'paris' AND reason = 'sale' GROUP BY sku ORDER BY sku`,
    );
    return rows;
  }

  it('rings sales by scanning, keeps selling with the hub down, and every sale lands at the hub once', async () => {
    // The stock lookup first: 10 lipsticks here, and what Lyon and the warehouse hold.
    await page.keyboard.press('F8');
    await scan(LIPSTICK_BARCODE);
    await expect.poll(() => text('here-on-hand')).toBe('10');
    await expect
      .poll(() => byTestId('elsewhere').locator('tbody td').allTextContents())
      .toEqual(['lyon', '8', '8', '0', 'warehouse', '40', '40', '0']);

    await page.keyboard.press('F6');
    // The scan field has the focus: the scanner can go straight away.
    await expect.poll(() => page.evaluate('document.activeElement.dataset.testid')).toBe('scan');
    await scan(LIPSTICK_BARCODE);
    await scan(LIPSTICK_BARCODE);
    await scan('MASCARA');
    // Not an exact SKU: the matches are listed, picked with the arrow keys.
    await page.keyboard.type('hand');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('option').count()).toBe(2);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(() => text('total')).toBe('€56.50');
    await expect(byTestId('qty-LIP-RED').inputValue()).resolves.toBe('2');
    await expect(byTestId('line-HAND-SOAP').count()).resolves.toBe(1);
    await expect(text('item-count')).resolves.toBe('4');
    // The customer changes their mind about the soap; then takes a third lipstick (typed quantity).
    await byTestId('remove-HAND-SOAP').click();
    await byTestId('qty-LIP-RED').fill('3');
    await byTestId('qty-LIP-RED').press('Enter');
    await expect.poll(() => text('total')).toBe('€67.00');
    await shot('sale');

    await page.keyboard.press('F2');
    await expect.poll(() => text('receipt-total')).toBe('€67.00');
    await expect(byTestId('receipt').textContent()).resolves.toMatch(/Paid · cash/);
    await shot('receipt');
    await page.keyboard.press('Enter');

    await page.keyboard.press('F8');
    await expect.poll(() => text('here-on-hand')).toBe('7');
    await shot('stock-lookup');

    // The hub goes away: the cashier keeps selling; the screen says offline and counts what waits.
    await hub.stop();
    await expect.poll(() => text('connection')).toBe('Offline');
    await page.keyboard.press('F6');
    await scan(LIPSTICK_BARCODE);
    await page.keyboard.press('F3');
    await expect.poll(() => text('receipt-total')).toBe('€15.00');
    await page.keyboard.press('Enter');
    await expect.poll(() => text('outbox')).toBe('1');
    await scan(MASCARA_BARCODE);
    await page.keyboard.press('F2');
    await expect.poll(() => text('receipt-total')).toBe('€22.00');
    await page.keyboard.press('Enter');
    await expect.poll(() => text('outbox')).toBe('2');
    await expect(byTestId('oldest').textContent()).resolves.toMatch(/^oldest \d+ s$/);
    // A third customer is being served when the screenshot is taken.
    await scan(MASCARA_BARCODE);
    await expect.poll(() => text('total')).toBe('€22.00');
    await page.keyboard.press('F8');
    await scan(LIPSTICK_BARCODE);
    await expect.poll(() => text('here-on-hand')).toBe('6');
    await expect.poll(() => byTestId('stale').isVisible()).toBe(true);
    await page.keyboard.press('F6');
    await shot('offline');

    // Back online: the queue drains, and the hub has each sale exactly once.
    await hub.resume();
    await expect.poll(() => text('outbox'), { timeout: 10_000 }).toBe('0');
    await expect.poll(() => text('connection')).toBe('Online');
    await expect.poll(() => text('last-sync')).not.toBe('never');
    await expectConverged(hub, app);
    expect(await salesAtHub()).toEqual([
      { sku: 'LIP-RED', sales: 2, units: 4 },
      { sku: 'MASCARA', sales: 2, units: 2 },
    ]);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(6);
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });

  it('takes back part of an earlier sale, damaged, and refunds it at the price paid', async () => {
    await scan(LIPSTICK_BARCODE);
    await scan(LIPSTICK_BARCODE);
    await scan(LIPSTICK_BARCODE);
    await page.keyboard.press('F3');
    await expect.poll(() => text('receipt-total')).toBe('€45.00');
    const receiptId = (await byTestId('receipt-id').textContent())!;
    expect(receiptId).not.toBe('');
    await page.keyboard.press('Enter');

    await page.keyboard.press('F7');
    await page.keyboard.type(receiptId);
    await page.keyboard.press('Enter');
    await expect.poll(() => text('return-original')).toBe(receiptId);
    await page.keyboard.type('1');
    await byTestId('return-condition-LIP-RED').selectOption('damaged');
    await expect.poll(() => text('refund-total')).toBe('€15.00');
    await shot('returns');
    await page.keyboard.press('F2');
    await expect.poll(() => text('receipt-total')).toBe('€15.00');
    await expect(byTestId('receipt').textContent()).resolves.toMatch(/REFUND[\s\S]*damaged/);

    await expectConverged(hub, app);
    // 3 sold, 1 came back damaged: off the shelf, into the damaged bin.
    const { rows } = await hub.db.query<{ on_hand: number; damaged: number }>(
      "SELECT on_hand, damaged FROM stock WHERE location_id = 'paris' AND sku = 'LIP-RED'",
    );
    expect(rows).toEqual([{ on_hand: 7, damaged: 1 }]);
  });

  it('asks for a reasoned override before selling units reserved for an online order', async () => {
    // An online order holds 4 of the 5 mascaras.
    await hub.reserve('paris', 'web-1', 'MASCARA', 4);
    await expect.poll(() => app.till.cashier.stock('MASCARA')?.reserved).toBe(4);
    await scan(MASCARA_BARCODE);
    await scan(MASCARA_BARCODE);
    await expect.poll(() => text('total')).toBe('€44.00');
    await page.keyboard.press('F2');
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await expect(dialog.textContent()).resolves.toMatch(/MASCARA · selling 2, free 1, reserved 4/);
    // Backing out sells nothing.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.isVisible()).toBe(false);
    expect(app.till.cashier.stock('MASCARA')?.onHand).toBe(5);

    await page.keyboard.press('F2');
    await expect.poll(() => dialog.isVisible()).toBe(true);
    await page.keyboard.type('customer at the counter');
    await shot('override');
    await page.keyboard.press('Enter');
    await expect.poll(() => text('receipt-total')).toBe('€44.00');
    await expectConverged(hub, app);
    expect(await hub.onHand('paris', 'MASCARA')).toBe(3);
  });

  it('lists an operation the hub refused, with its reason', async () => {
    // The till knows a product the hub's catalogue does not (e.g. deleted at head office).
    app.till.db
      .prepare(
        `INSERT INTO products (sku, name, barcode, category, price_minor, currency, active)
         VALUES ('GHOST-SERUM', 'Night Serum (delisted)', '3600000000099', NULL, 3100, 'EUR', 1)`,
      )
      .run();
    await scan('3600000000099');
    await page.keyboard.press('F2');
    await expect.poll(() => text('receipt-total')).toBe('€31.00');
    await page.keyboard.press('Enter');
    await expect.poll(() => byTestId('rejected').textContent(), { timeout: 10_000 }).toMatch(/unknown_sku/);
    await expect(byTestId('rejected').textContent()).resolves.toMatch(/sale .*GHOST-SERUM/);
    await expect.poll(() => text('outbox')).toBe('0');
    await shot('rejected');
  });

  it('hands over a pickup order and posts a cycle count', async () => {
    const res = await fetch(`${hub.url}/v1/orders`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.adminToken}`,
        'content-type': 'application/json',
        'idempotency-key': 'k-pickup',
      },
      body: JSON.stringify({
        channel: 'web',
        customerRef: 'c-1',
        lines: [{ sku: 'HAND-CREAM', qty: 2 }],
        fulfilment: { type: 'pickup', pickupLocationId: 'paris' },
      }),
    });
    expect(res.status).toBe(201);
    const order = (await res.json()) as { id: string };

    await page.keyboard.press('F9');
    const card = byTestId(`pickup-${order.id}`);
    await expect.poll(() => card.isVisible(), { timeout: 10_000 }).toBe(true);
    await expect(card.textContent()).resolves.toMatch(/2 ×\s+Hand Cream 75 ml/);
    await shot('pickups');
    await card.getByRole('button', { name: 'Hand over' }).click();
    await expect.poll(() => card.count()).toBe(0);
    expect(app.till.cashier.stock('HAND-CREAM')).toMatchObject({ onHand: 10, reserved: 0 });

    // Counting the lipstick shelf: four scans, then the cashier finds two more and types 6.
    await page.keyboard.press('F10');
    for (let i = 0; i < 4; i++) await scan(LIPSTICK_BARCODE);
    await expect.poll(() => byTestId('counted-LIP-RED').inputValue()).toBe('4');
    await scan('MASCARA');
    await byTestId('counted-MASCARA').fill('5');
    await byTestId('counted-MASCARA').press('Enter');
    await shot('count');
    await byTestId('counted-LIP-RED').fill('6');
    await byTestId('counted-LIP-RED').press('Enter');
    await byTestId('post-count').click();
    await expect.poll(() => app.till.cashier.stock('LIP-RED')?.onHand).toBe(6);
    await expectConverged(hub, app);
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(6);
    expect(await hub.onHand('paris', 'HAND-CREAM')).toBe(10);
    const status = await fetch(`${hub.url}/v1/orders/${order.id}`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(await status.json()).toMatchObject({ status: 'delivered' });
    expect(await ledgerMismatches(hub.db)).toEqual([]);
  });
});
