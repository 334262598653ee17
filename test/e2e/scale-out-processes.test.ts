import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate } from '../../hub/src/db/migrate.js';
import { PgliteDatabase } from '../../hub/src/db/pglite.js';
import { ensureBootstrapAdmin } from '../../hub/src/services/tokens.js';
import { ledgerMismatches, seedCatalog } from '../../hub/test/helpers/fixtures.js';
import { createTestDatabase, type TestDatabase, testDbKind } from '../../hub/test/helpers/test-db.js';
import { freePort, HubProcess, postgresStorage } from '../chaos/processes.js';
import { requestEnrolmentCode } from './helpers/test-hub-server.js';
import { type EnrollingHub, expectConverged, startTill, type TestTill } from './helpers/tills.js';

/**
 * Two hub *processes* (the `serve` CLI, as deployed) on one Postgres schema, on different ports;
 * scale-out.test.ts covers the same paths with in-process instances and more cases.
 */
describe(`scale-out: two hub processes (${testDbKind()})`, () => {
  const hubs: HubProcess[] = [];
  const tills: TestTill[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  afterEach(async () => {
    for (const t of tills.splice(0)) await t.close();
    for (const h of hubs.splice(0)) await h.kill();
    for (const c of cleanups.splice(0)) await c();
  });

  const catalog = {
    locations: [{ id: 'paris' }],
    products: [{ sku: 'CANDLE', priceMinor: 3200 }],
    stock: [{ locationId: 'paris', sku: 'CANDLE', onHand: 5 }],
  };

  async function hubProcess(storage: HubProcess['storage']): Promise<HubProcess> {
    const hub = new HubProcess(storage, await freePort());
    hubs.push(hub);
    await hub.start();
    return hub;
  }

  (testDbKind() === 'postgres' ? it : () => undefined)(
    "a sale through hub process A reaches a till on hub process B, and B's orders see it",
    async () => {
      const database: TestDatabase = await createTestDatabase('postgres');
      cleanups.push(() => database.drop());
      await seedCatalog(database.db, catalog);
      const admin = (await ensureBootstrapAdmin(database.db))!;
      const [a, b] = [
        await hubProcess(postgresStorage(database.schema!)),
        await hubProcess(postgresStorage(database.schema!)),
      ];
      const enrolling = (hub: HubProcess): EnrollingHub => ({
        url: hub.url,
        enrolmentCode: (locationId, id) => requestEnrolmentCode(hub.url, admin, locationId, id),
      });
      const start = async (hub: HubProcess, id: string) => {
        const t = await startTill(enrolling(hub), 'paris', id);
        tills.push(t);
        return t;
      };
      const seller = await start(a, 'paris-on-a');
      const watcher = await start(b, 'paris-on-b');

      seller.till.cashier.sell({ lines: [{ ref: 'CANDLE', qty: 2 }] });
      await seller.agent.drained();
      // Hub A committed the sale; hub B's till hears of it through the cluster adapter.
      await expect.poll(() => watcher.till.cashier.stock('CANDLE')?.onHand).toBe(3);
      await expectConverged(database, watcher);

      const order = (key: string, qty: number) =>
        fetch(`${b.url}/v1/orders`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${admin}`,
            'content-type': 'application/json',
            'idempotency-key': key,
          },
          body: JSON.stringify({
            channel: 'web',
            customerRef: key,
            lines: [{ sku: 'CANDLE', qty }],
            fulfilment: { type: 'pickup', pickupLocationId: 'paris' },
          }),
        });
      // 3 left after the sale through A: hub B refuses 4 and reserves 3.
      const refused = await order('too-many', 4);
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { code: string }).code).toBe('insufficient_stock');
      expect((await order('fits', 3)).status).toBe(201);
      // The reservation made through B reaches the till on A.
      await expect.poll(() => seller.till.cashier.stock('CANDLE')?.reserved).toBe(3);
      await expectConverged(database, seller);
      expect(await ledgerMismatches(database.db)).toEqual([]);
    },
  );

  (testDbKind() === 'pglite' ? it : () => undefined)(
    'a second hub process on the same PGlite directory is refused: PGlite is single-instance',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'hub-single-'));
      cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
      const db = await PgliteDatabase.open(dataDir);
      await migrate(db);
      await db.close();
      await hubProcess({ dataDir });
      const second = new HubProcess({ dataDir }, await freePort());
      // It waits out the lock's stale time (a crashed holder's lock would have gone stale), then says so.
      await expect(second.start()).rejects.toThrow(/in use by another Tillsync process/);
      expect(second.output.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^error: the data directory .* is in use by another Tillsync process .*: stop it first$/,
        ),
      ]);
    },
    60_000,
  );
});
