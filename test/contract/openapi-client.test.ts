import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenapiDocument } from '../../hub/src/openapi/document.js';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';

/**
 * What the test calls of fixture/channel.ts. The fixture is imported from the work folder at run
 * time, the very file type-checked there: its generated types exist only in that folder.
 */
interface Channel {
  connect(baseUrl: string, token: string): unknown;
  subscribe(hub: unknown, url: string): Promise<{ id: string; secret: string }>;
  placeOrder(
    hub: unknown,
    key: string,
    sku: string,
    qty: number,
  ): Promise<
    | { ok: true; order: { id: string; status: string; lines: unknown[] } }
    | { ok: false; status: number; code: string; retry: boolean }
  >;
  followOrder(
    hub: unknown,
    orderId: string,
  ): Promise<{ order: { id: string; allocations: unknown[] }; listed: boolean; requestId: string | null }>;
  verifyDelivery(
    secret: string,
    headers: IncomingHttpHeaders,
    rawBody: string,
  ): { data: { id: string; lines: unknown[] } } | null;
}

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

/** tsc --noEmit on a folder: its exit and what it printed. */
async function typecheck(dir: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(process.execPath, [TSC, '--noEmit', '-p', dir], { cwd: dir });
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: String((err as { stdout?: string }).stdout ?? err) };
  }
}

async function writeProject(dir: string, files: string[]): Promise<void> {
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(ROOT, 'tsconfig.base.json'),
      compilerOptions: { noEmit: true, composite: false, declaration: false, declarationMap: false },
      files,
    }),
  );
}

describe(`a channel integration on the generated client (${testDbKind()})`, () => {
  let work: string;
  let client: string;

  beforeAll(async () => {
    // Under the repository (build/ is ignored) so the fixture resolves openapi-fetch as a user would.
    await mkdir(join(ROOT, 'build'), { recursive: true });
    work = await mkdtemp(join(ROOT, 'build', 'contract-'));
    const document = await buildOpenapiDocument();
    client = astToString(await openapiTS(document as unknown as OpenAPI3));
    await writeFile(join(work, 'openapi.d.ts'), client);
    await copyFile(join(import.meta.dirname, 'fixture/channel.ts'), join(work, 'channel.ts'));
    console.log(
      `generated client: ${Buffer.byteLength(client)} bytes, ${client.split('\n').length} lines (openapi.d.ts)`,
    );
  }, 120_000);
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('type-checks against the generated types, and a misuse of the API does not', async () => {
    await writeProject(work, ['channel.ts', 'openapi.d.ts']);
    const good = await typecheck(work);
    expect(good.output).toBe('');
    expect(good.ok).toBe(true);

    // The same checker refuses what the document does not allow: an unknown path, a missing
    // Idempotency-Key, and a code the operation never answers.
    await writeFile(
      join(work, 'misuse.ts'),
      `import { connect } from './channel.js';
const hub = connect('http://127.0.0.1:1', 't');
await hub.GET('/v1/order/{orderId}', { params: { path: { orderId: 'x' } } });
await hub.POST('/v1/orders', { body: { channel: 'web', customerRef: 'c', lines: [{ sku: 'A', qty: 1 }], fulfilment: { type: 'pickup', pickupLocationId: 's' } } });
const { error } = await hub.GET('/v1/orders/{orderId}', { params: { path: { orderId: 'x' } } });
if (error?.code === 'insufficient_stock') console.log('never');
`,
    );
    await writeProject(work, ['channel.ts', 'openapi.d.ts', 'misuse.ts']);
    const bad = await typecheck(work);
    expect(bad.ok).toBe(false);
    const misuses = bad.output.split('\n').filter((l) => l.startsWith('misuse.ts('));
    expect(misuses.map((l) => l.match(/^misuse\.ts\((\d+),/)?.[1])).toEqual(['3', '4', '6']);
    expect(bad.output).not.toMatch(/^channel\.ts/m);
  }, 120_000);

  describe('runs against a real hub', () => {
    let hub: TestHub;
    let baseUrl: string;
    let channelModule: Channel;
    const received: { headers: IncomingHttpHeaders; text: string }[] = [];
    const receiver = createServer(async (req, res) => {
      let text = '';
      for await (const chunk of req) text += chunk;
      received.push({ headers: req.headers, text });
      res.writeHead(204).end();
    });

    beforeAll(async () => {
      hub = await buildTestHub();
      await seedCatalog(hub.database.db, {
        locations: [{ id: 'wh-1', kind: 'warehouse' }],
        products: [{ sku: 'SKU-1' }],
        stock: [{ locationId: 'wh-1', sku: 'SKU-1', onHand: 5 }],
      });
      baseUrl = await hub.listen();
      channelModule = (await import(pathToFileURL(join(work, 'channel.ts')).href)) as Channel;
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    });
    afterAll(async () => {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
      await hub?.close();
    });

    it('creates an order, follows it, and verifies its signed webhook delivery', async () => {
      const { connect, followOrder, placeOrder, subscribe, verifyDelivery } = channelModule;
      const admin = connect(baseUrl, hub.adminToken);
      const { port } = receiver.address() as AddressInfo;
      const { secret } = await subscribe(admin, `http://127.0.0.1:${port}/hooks`);
      const channel = connect(baseUrl, await hub.token('channel'));

      const placed = await placeOrder(channel, 'order-1', 'SKU-1', 2);
      if (!placed.ok) throw new Error(`refused: ${placed.code}`);
      expect(placed.order).toMatchObject({ status: 'pending', lines: [{ sku: 'SKU-1', qty: 2 }] });
      // A documented refusal arrives as its code, not as an exception.
      expect(await placeOrder(channel, 'order-2', 'SKU-1', 50)).toMatchObject({
        ok: false,
        status: 409,
        code: 'insufficient_stock',
        retry: false,
      });

      const followed = await followOrder(channel, placed.order.id);
      expect(followed.order.id).toBe(placed.order.id);
      expect(followed.order.allocations).toEqual([
        { locationId: 'wh-1', sku: 'SKU-1', qty: 2, status: 'held' },
      ]);
      expect(followed.listed).toBe(true);
      expect(followed.requestId).toMatch(/.+/);

      await hub.app.jobs.runNow('webhook-delivery');
      const delivery = received.find((d) => d.text.includes('"order.created"'));
      if (!delivery) throw new Error(`no order.created delivery among ${received.length}`);
      const event = verifyDelivery(secret, delivery.headers, delivery.text);
      // The full order as of the event, not just its id.
      expect(event?.data.id).toBe(placed.order.id);
      expect(event?.data.lines).toHaveLength(1);
      // The check can fail: another secret, or one changed byte, is refused.
      expect(verifyDelivery(`${secret}x`, delivery.headers, delivery.text)).toBeNull();
      expect(
        verifyDelivery(secret, delivery.headers, delivery.text.replace('"qty":2', '"qty":3')),
      ).toBeNull();
    });
  });
});
