import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiToken } from '../../hub/src/services/tokens.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { buildUiAndLaunchChromium, shots } from './helpers/chromium.js';
import { TestHubServer } from './helpers/test-hub-server.js';

/** The HQ dashboard's API tokens page in a real Chromium, against a real listening hub. */
describe(`the HQ API tokens page in Chromium (${testDbKind()})`, () => {
  let browser: Browser;
  let hub: TestHubServer;
  let page: Page;
  const others: Page[] = [];

  beforeAll(async () => {
    browser = await buildUiAndLaunchChromium('hub/ui');
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }, { id: 'lyon' }],
      products: [{ sku: 'LIP-RED', priceMinor: 1500 }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 20 }],
    });
    await hub.db.query("UPDATE locations SET name = 'Paris Opéra' WHERE id = 'paris'");
    await hub.db.query("UPDATE locations SET name = 'Lyon Part-Dieu' WHERE id = 'lyon'");
    page = await browser.newPage({
      viewport: { width: 1440, height: 900 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
  });
  afterEach(async () => {
    for (const p of others.splice(0)) await p.close();
    await page?.close();
    await hub?.close();
  });

  const byTestId = (id: string, p: Page = page) => p.getByTestId(id);
  const text = async (id: string, p: Page = page) =>
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point here
    (await byTestId(id, p).innerText()).replace(/\s+/g, ' ').trim();
  const roleOf = async (token: string) => {
    const res = await fetch(`${hub.url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    return res.status === 200 ? ((await res.json()) as { role: string }).role : res.status;
  };
  const idOf = (token: string) => token.split('.')[1]!;
  const rowStatus = (id: string) => byTestId(`tokens-row-${id}`).getAttribute('data-status');

  /** Create a token with the form; returns the secret the page shows once. */
  async function createWithForm(
    name: string,
    role: string,
    opts: { location?: string; expiry?: string } = {},
  ) {
    await byTestId('token-name').fill(name);
    await byTestId('token-role').selectOption(role);
    if (opts.location) await byTestId('token-location').selectOption(opts.location);
    if (opts.expiry) await byTestId('token-expiry').selectOption(opts.expiry);
    await byTestId('token-create').click();
    await expect.poll(() => text('tokens-result')).toBe(`Created ${role} token “${name}”.`);
    return byTestId('token-secret-value').inputValue();
  }

  it('an admin lists, creates (secret shown once, copied), rotates and revokes tokens', async () => {
    await page.goto(`${hub.url}/hq#token=${hub.adminToken}`);
    await expect.poll(() => byTestId('nav-tokens').isVisible()).toBe(true);
    await byTestId('nav-tokens').click();
    await expect.poll(() => page.url()).toBe(`${hub.url}/hq#/tokens`);
    const own = idOf(hub.adminToken);
    await expect.poll(() => rowStatus(own)).toBe('active');
    expect(await text('token-own')).toBe('Signed in with it in this tab');

    // A channel token that expires in 30 days: its secret works, copied with one click.
    const channel = await createWithForm('Shopify', 'channel', { expiry: '30' });
    expect(channel).toMatch(/^tsk\.[0-9a-f]{12}\.[A-Za-z0-9_-]{43}$/);
    expect(await roleOf(channel)).toBe('channel');
    await byTestId('token-secret-copy').click();
    await expect.poll(() => text('token-secret-copied')).toBe('Copied.');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(channel);
    const channelId = idOf(channel);
    await expect.poll(() => rowStatus(channelId)).toBe('active');
    const expires = await page
      .locator(`[data-testid="tokens-row-${channelId}"] td[data-col="expires"] time`)
      .getAttribute('datetime');
    expect(Math.abs(Date.parse(expires!) - Date.now() - 30 * 86_400_000)).toBeLessThan(120_000);
    // The secret is nowhere but in the box: not in the table.
    expect(await byTestId('tokens').textContent()).not.toContain(channel.split('.')[2]);

    // A store manager's token names its location (offered once that role is chosen).
    expect(await byTestId('token-location').isDisabled()).toBe(true);
    const manager = await createWithForm('Lyon back office', 'store_manager', { location: 'lyon' });
    const me = await fetch(`${hub.url}/v1/me`, { headers: { authorization: `Bearer ${manager}` } });
    expect(await me.json()).toMatchObject({ role: 'store_manager', locationId: 'lyon' });
    await expect
      .poll(() =>
        page.locator(`[data-testid="tokens-row-${idOf(manager)}"] td[data-col="role"]`).textContent(),
      )
      .toBe('store_manager · lyon');
    await page.screenshot({ path: join(shots, 'hq-tokens.png'), fullPage: true });
    await byTestId('token-secret-done').click();
    expect(await byTestId('token-secret').isVisible()).toBe(false);

    // Rotate: a new secret in the box, the old one refused.
    await byTestId(`token-rotate-${channelId}`).click();
    await expect.poll(() => text('tokens-result')).toBe('Rotated “Shopify”: its old secret no longer works.');
    const rotated = await byTestId('token-secret-value').inputValue();
    expect(rotated).not.toBe(channel);
    expect(await roleOf(rotated)).toBe('channel');
    expect(await roleOf(channel)).toBe(401);

    // Revoke asks to be clicked twice.
    const revoke = byTestId(`token-revoke-${channelId}`);
    await revoke.click();
    expect(await revoke.textContent()).toBe('Confirm revoke');
    expect(await roleOf(rotated)).toBe('channel');
    await revoke.click();
    await expect.poll(() => rowStatus(channelId)).toBe('revoked');
    expect(await text('tokens-result')).toBe('Revoked “Shopify”.');
    expect(await roleOf(rotated)).toBe(401);
    expect(await byTestId(`token-revoke-${channelId}`).count()).toBe(0);

    // The hub's refusal, said on the page: a name is required.
    await byTestId('token-role').selectOption('hq');
    await byTestId('token-name').fill('   ');
    await byTestId('token-create').click();
    await expect.poll(() => text('tokens-result')).toMatch(/^Could not create the token: body\.name: /);
  });

  it('an HQ tab whose token an admin revokes is signed out, with the reason', async () => {
    const hq = (await createApiToken(hub.db, { name: 'HQ screen', role: 'hq' })).token;
    const screen = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    others.push(screen);
    await screen.goto(`${hub.url}/hq#token=${hq}`);
    await expect.poll(() => text('connection', screen)).toMatch(/^● Live/);
    // Not an admin: no tokens page in the menu, and the page itself says why it is empty.
    expect(await byTestId('nav-tokens', screen).isVisible()).toBe(false);
    await screen.evaluate("location.hash = '#/tokens'");
    await expect
      .poll(() => text('tokens-admin-only', screen))
      .toBe('Only an admin token manages API tokens: sign in with one to see them here.');
    expect(await byTestId('token-form', screen).isVisible()).toBe(false);

    await page.goto(`${hub.url}/hq#token=${hub.adminToken}`);
    await byTestId('nav-tokens').click();
    await expect.poll(() => rowStatus(idOf(hq))).toBe('active');
    await byTestId(`token-revoke-${idOf(hq)}`).click();
    await byTestId(`token-revoke-${idOf(hq)}`).click();
    await expect.poll(() => rowStatus(idOf(hq))).toBe('revoked');
    // No click on the HQ screen: the hub closes its live feed, the page finds out why.
    await expect
      .poll(() => text('signin-error', screen), { timeout: 5_000 })
      .toMatch(/^Signed out: the hub no longer accepts this token/);
  });
});
