import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { runTillCli } from '../../pos-client/src/cli/main.js';
import { TestHubServer } from './helpers/test-hub-server.js';

describe(`the till command line against a real hub (${testDbKind()})`, () => {
  let hub: TestHubServer;
  let dir: string;
  let out: string[];
  let err: string[];
  const io = () => ({ out: (l: string) => out.push(l), err: (l: string) => err.push(l) });
  const till = (...args: string[]) => runTillCli(['--data', dir, ...args], io(), {});

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({
      locations: [{ id: 'paris' }],
      products: [{ sku: 'LIP-RED', priceMinor: 1500 }],
      stock: [{ locationId: 'paris', sku: 'LIP-RED', onHand: 10 }],
    });
    dir = mkdtempSync(join(tmpdir(), 'till-cli-'));
    out = [];
    err = [];
  });
  afterEach(async () => {
    await hub.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('enrols, rings sales offline, syncs them, and reports status', async () => {
    expect(
      await till('enrol', '--hub', hub.url, '--code', await hub.enrolmentCode('paris', 'cli-till')),
    ).toBe(0);
    expect(out.pop()).toBe('enrolled as cli-till at paris; catalogue: 1 products');

    expect(await till('sell', 'LIP-RED:2', '--pay', 'card')).toBe(0);
    expect(out).toContain('  total 30.00 (card)');
    expect(await till('status')).toBe(0);
    expect(out.join('\n')).toMatch(/waiting to sync: 1 op\(s\)/);

    expect(await till('sync')).toBe(0);
    expect(out.pop()).toBe('in sync: 0 op(s) waiting');
    expect(await hub.onHand('paris', 'LIP-RED')).toBe(8);

    out = [];
    expect(await till('stock', 'LIP-RED')).toBe(0);
    expect(out.join('\n')).toMatch(/on hand 8 {2}reserved 0 {2}available 8/);
  });

  it('explains mistakes and refuses a bad enrolment code', async () => {
    expect(await till('enrol', '--hub', hub.url, '--code', 'AAAAA-BBBBB')).toBe(1);
    expect(err.pop()).toBe('unknown, expired or already used enrolment code');
    expect(await till('sell', 'LIP-RED')).toBe(2);
    expect(err.pop()).toMatch(/not enrolled/);
  });

  it('runs a shell that syncs in the background while the cashier types', async () => {
    await till('enrol', '--hub', hub.url, '--code', await hub.enrolmentCode('paris', 'shell-till'));
    const input = new PassThrough();
    const done = runTillCli(['--data', dir, 'run'], { ...io(), input }, {});
    input.write('sell LIP-RED:3\n');
    input.write('sell NOPE\n');
    await expect.poll(() => hub.onHand('paris', 'LIP-RED'), { timeout: 10_000 }).toBe(7);
    input.end();
    expect(await done).toBe(0);
    expect(err).toContain('no product with SKU or barcode "NOPE" in this till\'s catalogue');
  });
});
