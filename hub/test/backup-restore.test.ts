import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { lockDataDir } from '../src/cli/data-dir-lock.js';
import { hubSchema } from '../src/cli/postgres-backup.js';
import { configFromEnv } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { migrate } from '../src/db/migrate.js';
import { PgliteDatabase } from '../src/db/pglite.js';
import { PostgresDatabase, quoteIdent } from '../src/db/postgres.js';
import { createApiToken, ensureBootstrapAdmin } from '../src/services/tokens.js';
import type { TestHub } from './helpers/build-hub.js';
import { ledgerMismatches, seedCatalog } from './helpers/fixtures.js';
import { type CliRun, runCliCaptured } from './helpers/run-cli.js';
import { authFor, connectRaw, enrolDevice, push } from './helpers/sync-client.js';
import { testDatabaseUrl, testDbKind } from './helpers/test-db.js';
import { tillOps } from './helpers/till-ops.js';

/** Where one hub database lives: a PGlite data directory, or a Postgres schema named in DATABASE_URL. */
interface Target {
  env: NodeJS.ProcessEnv;
  open(): Promise<Database>;
}

const pg = testDbKind() === 'postgres';

describe(`hub backup and restore on ${testDbKind()}`, () => {
  let dir: string;
  const schemas: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-backup-'));
  });
  afterAll(async () => {
    if (pg) {
      const admin = await PostgresDatabase.connect({ connectionString: testDatabaseUrl(), max: 1 });
      for (const s of schemas) await admin.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(s)} CASCADE`);
      await admin.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  function target(name: string): Target {
    if (!pg) {
      const dataDir = join(dir, name);
      return {
        env: { TILLSYNC_DATA_DIR: dataDir, LOG_LEVEL: 'silent' },
        open: () => PgliteDatabase.open(dataDir),
      };
    }
    const schema = `bk_${name}_${Date.now().toString(36)}`;
    schemas.push(schema);
    const url = new URL(testDatabaseUrl());
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      env: { DATABASE_URL: url.toString(), LOG_LEVEL: 'silent' },
      open: () => PostgresDatabase.connect({ connectionString: testDatabaseUrl(), schema, max: 5 }),
    };
  }

  function cli(t: Target, ...argv: string[]): Promise<CliRun> {
    return runCliCaptured(argv, t.env);
  }

  /** The real hub app on a target's database, as buildTestHub builds it on a throwaway one. */
  async function hubOn(t: Target): Promise<TestHub> {
    const db = await t.open();
    await migrate(db);
    const app = await buildApp({
      config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
      db,
      jobs: false,
    });
    await app.ready();
    const adminToken =
      (await ensureBootstrapAdmin(db)) ??
      (await createApiToken(db, { name: 'test admin', role: 'admin', locationId: null })).token;
    return {
      app,
      listen: () => app.listen({ host: '127.0.0.1', port: 0 }),
      database: { db, schema: null, drop: () => db.close() },
      adminToken,
      token: async (role, locationId) =>
        (await createApiToken(db, { name: `test ${role}`, role, locationId: locationId ?? null })).token,
      async request({ token, ...opts }) {
        const headers = { ...(opts.headers ?? {}) } as Record<string, string>;
        const bearer = token === undefined ? adminToken : token;
        if (bearer) headers.authorization = `Bearer ${bearer}`;
        const res = await app.inject({ ...opts, headers });
        const body: unknown =
          res.body && res.headers['content-type']?.toString().includes('json') ? res.json() : res.body;
        return Object.assign(res, { body, text: res.body });
      },
      async close() {
        await app.close();
        await db.close();
      },
    };
  }

  /** What a restore must bring back exactly. */
  async function snapshot(db: Database) {
    const q = async (sql: string) => (await db.query(sql)).rows;
    return {
      stock: await q(
        'SELECT location_id, sku, on_hand, reserved, version FROM stock ORDER BY location_id, sku',
      ),
      movements: (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM movements')).rows,
      orders: await q('SELECT id, status FROM orders ORDER BY id'),
      appliedOps: await q('SELECT count(*)::int AS n FROM applied_ops'),
      tokens: await q('SELECT count(*)::int AS n FROM api_tokens'),
    };
  }

  async function snapshotOf(t: Target) {
    const db = await t.open();
    try {
      return await snapshot(db);
    } finally {
      await db.close();
    }
  }

  async function wipe(t: Target): Promise<void> {
    if (!pg) return rm(t.env.TILLSYNC_DATA_DIR ?? '', { recursive: true, force: true });
    const db = await t.open();
    await db.exec(`DROP SCHEMA IF EXISTS ${quoteIdent(hubSchema(t.env.DATABASE_URL ?? ''))} CASCADE`);
    await db.close();
  }

  let orderKeys = 0;
  async function sellAndOrder(
    hub: TestHub,
    sales: Array<{ sku: string; qty: number }>,
    till: ReturnType<typeof tillOps>,
    url: string,
    deviceToken: string,
  ) {
    const { socket } = await connectRaw(url, authFor(deviceToken));
    try {
      const ack = await push(
        socket,
        sales.map((s) => till.sale(s.sku, s.qty)),
      );
      expect(ack.ok).toBe(true);
    } finally {
      socket.close();
    }
    const order = await hub.request({
      method: 'POST',
      url: '/v1/orders',
      headers: { 'idempotency-key': `bk-${++orderKeys}` },
      payload: {
        channel: 'web',
        customerRef: 'c-1',
        lines: [{ sku: 'SERUM', qty: 1 }],
        fulfilment: {
          type: 'shipping',
          address: { name: 'A', line1: '1 Rue', city: 'Paris', postalCode: '75001', country: 'FR' },
        },
      },
    });
    expect(order.statusCode).toBe(201);
  }

  // PGlite's initdb on a real directory takes seconds, and this test opens several.
  it('restores exactly the backup point, refuses a non-empty target without --force, keeps tokens working', {
    timeout: 120_000,
  }, async () => {
    const source = target('source');
    const file = join(dir, pg ? 'hub.dump' : 'hub.tar.gz');

    let hub = await hubOn(source);
    await seedCatalog(hub.database.db, {
      locations: [{ id: 'paris' }, { id: 'depot', kind: 'warehouse', priority: 1 }],
      products: [{ sku: 'LIP' }, { sku: 'SERUM' }],
      stock: [
        { locationId: 'paris', sku: 'LIP', onHand: 20 },
        { locationId: 'depot', sku: 'SERUM', onHand: 10 },
      ],
    });
    const hq = await hub.token('hq');
    const url = await hub.listen();
    const device = await enrolDevice(hub, 'paris', 'till-1');
    const till = tillOps(device.id, 'paris');
    await sellAndOrder(
      hub,
      [
        { sku: 'LIP', qty: 2 },
        { sku: 'LIP', qty: 3 },
      ],
      till,
      url,
      device.token,
    );
    const atBackup = await snapshot(hub.database.db);
    expect(atBackup.stock).toContainEqual(expect.objectContaining({ sku: 'LIP', on_hand: 15 }));
    await hub.close();

    const backedUp = await cli(source, 'backup', file);
    expect(backedUp.stderr).toBe('');
    expect(backedUp.exitCode).toBe(0);

    // Life goes on after the backup: more sales, another order.
    hub = await hubOn(source);
    await sellAndOrder(hub, [{ sku: 'LIP', qty: 4 }], till, await hub.listen(), device.token);
    expect(await snapshot(hub.database.db)).not.toEqual(atBackup);
    await hub.close();

    const refused = await cli(source, 'restore', file);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/replaces it entirely\. Re-run with --force/);

    const forced = await cli(source, 'restore', file, '--force');
    expect(forced.stderr).toBe('');
    expect(forced.exitCode).toBe(0);
    expect(forced.stdout).toContain('Migrations: up to date');
    expect(forced.stdout).toMatch(new RegExp(`movements\\s+${atBackup.movements[0]?.n}\n`));
    expect(forced.stdout).toContain('Ledger: every stock row replays from its movements');

    expect(await snapshotOf(source)).toEqual(atBackup);

    // Wiped (a lost disk, a dropped schema): the same backup goes into the empty target without --force.
    await wipe(source);
    const restored = await cli(source, 'restore', file);
    expect(restored.stderr).toBe('');
    expect(restored.exitCode).toBe(0);
    expect(await snapshotOf(source)).toEqual(atBackup);

    hub = await hubOn(source);
    try {
      expect(await ledgerMismatches(hub.database.db)).toEqual([]);
      const products = await hub.request({ method: 'GET', url: '/v1/products', token: hq });
      expect(products.statusCode).toBe(200);
      // The till's seq history came back with the ledger: the hub expects seq 3 next, not 4.
      const { socket, hello } = await connectRaw(await hub.listen(), authFor(device.token));
      expect(hello.lastAckedSeq).toBe(2);
      socket.close();
    } finally {
      await hub.close();
    }
  });

  // PGlite only: a Postgres hub holds no data-directory lock.
  (pg ? () => undefined : it)('refuses to back up a PGlite data directory a running hub holds', async () => {
    const t = target('busy');
    await mkdir(join(dir, 'busy'));
    const lock = await lockDataDir(configFromEnv(t.env));
    try {
      const run = await cli(t, 'backup', join(dir, 'busy.tar.gz'));
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toMatch(/is in use by another Tillsync process/);
    } finally {
      await lock.release();
    }
  });

  it('needs a file name', async () => {
    const run = await cli(target('usage'), 'restore');
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("error: missing required argument 'file'");
  });
});
