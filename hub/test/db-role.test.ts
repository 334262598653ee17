import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPEND_ONLY_TABLES, grantStatements } from '../src/db/grants.js';
import { TOKEN_FILE_NAME } from '../src/services/bootstrap-admin.js';
import { type CliRun, runCliCaptured } from './helpers/run-cli.js';
import { authFor, connectRaw, push } from './helpers/sync-client.js';
import { testDatabaseUrl, testDbKind } from './helpers/test-db.js';
import { tillOps } from './helpers/till-ops.js';

describe('grantStatements', () => {
  it('grants DML on every table, then takes UPDATE, DELETE and TRUNCATE back on the ledger', () => {
    const sql = grantStatements('s', 'app');
    expect(APPEND_ONLY_TABLES).toContain('movements');
    expect(sql).toContain('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "s" TO "app"');
    expect(sql).toContain('REVOKE UPDATE, DELETE, TRUNCATE ON "s"."movements" FROM "app"');
    expect(sql.findIndex((q) => q.startsWith('REVOKE UPDATE'))).toBeGreaterThan(
      sql.findIndex((q) => q.startsWith('GRANT SELECT, INSERT')),
    );
    expect(sql.join('\n')).not.toMatch(/TRUNCATE ON ALL|GRANT ALL|OWNER/);
    expect(() => grantStatements('s', 'App; DROP')).toThrow(/unsafe identifier/);
  });
});

// Each database defines only its own cases (none reported skipped on the other).
(testDbKind() === 'pglite' ? describe : () => undefined)('db grant on PGlite', () => {
  it('says role separation is Postgres-only', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillsync-grant-'));
    try {
      const run = await runCliCaptured(['db', 'grant', '--role', 'tillsync_app'], {
        TILLSYNC_DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'silent',
      });
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toBe(
        'error: database roles are Postgres-only: PGlite is one embedded database with one role\n',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/*
 * The hub serving as a restricted role: its own schema and role on the shared test server (unique
 * names, both dropped after), migrated and granted by the owner through the CLI.
 */
(testDbKind() === 'postgres' ? describe : () => undefined)(
  'the hub serving as a restricted database role',
  () => {
    const suffix = randomBytes(4).toString('hex');
    const role = `ts_app_${suffix}`;
    const schema = `t_role_${suffix}`;
    let ownerUrl: string;
    let appUrl: string;
    let dir: string;
    let owner: pg.Client;
    let served: CliRun | null = null;

    const inSchema = (user?: string) => {
      const url = new URL(testDatabaseUrl());
      if (user) url.username = user;
      url.searchParams.set('options', `-c search_path=${schema}`);
      return url.toString();
    };

    beforeAll(async () => {
      ownerUrl = inSchema();
      appUrl = inSchema(role);
      dir = await mkdtemp(join(tmpdir(), 'tillsync-role-'));
      owner = new pg.Client({ connectionString: ownerUrl });
      await owner.connect();
      await owner.query(`CREATE SCHEMA ${schema}`);
      await owner.query(`CREATE ROLE ${role} LOGIN`);
    });
    afterAll(async () => {
      await served?.running?.close();
      await owner.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      // Its grants and default privileges (in this database only), then the role.
      await owner.query(`DROP OWNED BY ${role}`);
      await owner.query(`DROP ROLE IF EXISTS ${role}`);
      await owner.end();
      await rm(dir, { recursive: true, force: true });
    });

    const env = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
      TILLSYNC_DATA_DIR: join(dir, 'data'),
      PORT: '0',
      LOG_LEVEL: 'silent',
      ...extra,
    });

    async function asApp<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
      const client = new pg.Client({ connectionString: appUrl });
      await client.connect();
      try {
        return await fn(client);
      } finally {
        await client.end();
      }
    }
    const refusal = (sql: string) =>
      asApp((c) => c.query(sql)).then(
        () => 'allowed',
        (err: { code?: string }) => err.code,
      );

    it('refuses to start on a schema it may not migrate, saying who must', async () => {
      const run = await runCliCaptured(['serve'], env({ DATABASE_URL: appUrl }));
      expect(run.exitCode).toBe(1);
      expect(run.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(
          /^error: \d+ migration\(s\) not applied \(first 001_init\.sql\) and this database role may not apply them .*run `tillsync-hub migrate` as the schema owner, or set TILLSYNC_MIGRATION_DATABASE_URL$/,
        ),
      ]);
    });

    it('is migrated and granted by the owner (idempotently), and refuses roles that could do more', async () => {
      const migrated = await runCliCaptured(['migrate'], env({ DATABASE_URL: ownerUrl }));
      expect(migrated.stderr).toBe('');
      expect(migrated.stdout).toMatch(/^Schema up to date: \d+ migrations applied\.$/m);
      for (let i = 0; i < 2; i++) {
        const granted = await runCliCaptured(
          ['db', 'grant', '--role', role],
          env({ DATABASE_URL: ownerUrl }),
        );
        expect(granted.stderr).toBe('');
        expect(granted.exitCode).toBe(0);
        expect(granted.stdout).toContain(`Role ${role} may now serve the hub in schema ${schema}`);
      }
      const asOwner = await runCliCaptured(
        ['db', 'grant', '--role', 'postgres'],
        env({ DATABASE_URL: ownerUrl }),
      );
      expect(asOwner.exitCode).toBe(1);
      expect(asOwner.stderr).toMatch(/^error: role postgres is a superuser/);
      const missing = await runCliCaptured(
        ['db', 'grant', '--role', `no_${role}`],
        env({ DATABASE_URL: ownerUrl }),
      );
      expect(missing.stderr).toMatch(/^error: role no_ts_app_\w+ does not exist: CREATE ROLE/);
    });

    it('serves as the role: REST writes and a till push work', { timeout: 60_000 }, async () => {
      served = await runCliCaptured(
        ['serve'],
        env({ DATABASE_URL: appUrl, TILLSYNC_MIGRATION_DATABASE_URL: ownerUrl }),
      );
      expect(served.stderr).toBe('');
      expect(served.exitCode).toBe(0);
      const url = served.running!.url;
      const admin = (await readFile(join(dir, 'data', TOKEN_FILE_NAME), 'utf8')).trim();
      const call = async (
        method: string,
        path: string,
        body?: unknown,
        headers: Record<string, string> = {},
      ) => {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${admin}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...headers,
          },
          body: body === undefined ? null : JSON.stringify(body),
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      };
      expect((await call('POST', '/v1/locations', { id: 'store-a', name: 'A', kind: 'store' })).status).toBe(
        201,
      );
      expect(
        (await call('POST', '/v1/products', { sku: 'SKU-1', name: 'One', priceMinor: 100 })).status,
      ).toBe(201);
      const receipt = await call('POST', '/v1/locations/store-a/receipts', {
        lines: [{ sku: 'SKU-1', qty: 10 }],
      });
      expect(receipt.status, JSON.stringify(receipt.body)).toBe(201);
      const order = await call(
        'POST',
        '/v1/orders',
        {
          channel: 'web',
          customerRef: 'c-1',
          lines: [{ sku: 'SKU-1', qty: 2 }],
          fulfilment: { type: 'pickup', pickupLocationId: 'store-a' },
        },
        { 'idempotency-key': 'role-order-1' },
      );
      expect(order.status, JSON.stringify(order.body)).toBe(201);

      const device = await call('POST', '/v1/devices', { locationId: 'store-a', name: 'Till' });
      expect(device.status).toBe(201);
      const enrolled = await fetch(`${url}/v1/devices/enrol`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrolmentCode: device.body.enrolmentCode }),
      });
      const { token, deviceId } = (await enrolled.json()) as { token: string; deviceId: string };
      const till = await connectRaw(url, authFor(token));
      try {
        const ack = await push(till.socket, [tillOps(deviceId, 'store-a').sale('SKU-1', 1)]);
        expect(ack.ok && ack.value.results.map((r) => r.status)).toEqual(['applied']);
      } finally {
        till.socket.close();
      }
      const stock = await call('GET', '/v1/locations/store-a/inventory/SKU-1');
      expect(stock.body).toMatchObject({ onHand: 9, reserved: 2 });
      const ledger = await call('GET', '/v1/movements?locationId=store-a');
      expect((ledger.body.items as unknown[]).length).toBeGreaterThanOrEqual(3);
    });

    it('cannot truncate, disable the trigger of, update or delete the ledger', async () => {
      expect(await asApp(async (c) => (await c.query('SELECT current_user AS u')).rows[0].u)).toBe(role);
      expect(await refusal('TRUNCATE movements')).toBe('42501');
      expect(await refusal('ALTER TABLE movements DISABLE TRIGGER ALL')).toBe('42501');
      expect(await refusal('UPDATE movements SET d_on_hand = 1000')).toBe('42501');
      expect(await refusal('DELETE FROM movements')).toBe('42501');
      expect(await refusal('TRUNCATE stock')).toBe('42501');
      expect(await refusal('DROP TABLE stock')).toBe('42501');
      expect(await refusal('CREATE TABLE sneaky (a int)')).toBe('42501');
      // What the hub writes, it may: the Socket.IO adapter's attachments table (and its sequence) too.
      expect(
        await refusal(
          "WITH a AS (INSERT INTO socket_io_attachments (payload) VALUES ('x') RETURNING id) DELETE FROM socket_io_attachments WHERE id IN (SELECT id FROM a)",
        ),
      ).toBe('allowed');
      const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM movements');
      expect(rows[0]!.n).toBeGreaterThanOrEqual(3);
    });

    it('gets the same rights on a table the owner adds later', async () => {
      await owner.query('CREATE TABLE later_table (id int)');
      expect(await refusal('INSERT INTO later_table VALUES (1)')).toBe('allowed');
      expect(await refusal('TRUNCATE later_table')).toBe('42501');
    });
  },
);
