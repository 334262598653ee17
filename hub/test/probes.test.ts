import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { READY_DB_TIMEOUT_MS } from '../src/routes/probes.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { testDbKind } from './helpers/test-db.js';

describe(`/healthz and /readyz (${testDbKind()})`, () => {
  let hub: TestHub;
  beforeEach(async () => {
    hub = await buildTestHub();
  });
  afterEach(() => hub.close());

  const probe = (url: string) => hub.request({ method: 'GET', url, token: null });

  it('both answer 200 without a token on a migrated, reachable database', async () => {
    expect((await probe('/healthz')).body).toEqual({ ok: true });
    const ready = await probe('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.body).toEqual({
      ok: true,
      checks: { database: { ok: true }, migrations: { ok: true }, shutdown: { ok: true } },
    });
  });

  it('a pending migration: 503 naming it, with Retry-After; still alive', async () => {
    const { rows } = await hub.database.db.query<{ name: string }>(
      'DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations) RETURNING name',
    );
    const last = rows[0]!.name;
    const ready = await probe('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('5');
    expect(ready.body).toMatchObject({
      ok: false,
      failed: ['migrations'],
      checks: {
        database: { ok: true },
        migrations: { ok: false, message: expect.stringContaining(`1 pending (first ${last})`) },
      },
    });
    expect((await probe('/healthz')).statusCode).toBe(200);
  });

  it('a database that does not answer in time: 503 within the timeout, not a hang', async () => {
    let release: () => void = () => undefined;
    let locked: () => void = () => undefined;
    const held = new Promise<void>((r) => {
      release = r;
    });
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    // The schema_migrations table locked (Postgres), the one connection taken (PGlite).
    const holder = hub.database.db.transaction(async (tx) => {
      await tx.query('LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE');
      locked();
      await held;
    });
    try {
      await isLocked;
      const started = performance.now();
      const ready = await probe('/readyz');
      expect(performance.now() - started).toBeLessThan(READY_DB_TIMEOUT_MS * 2 + 1_000);
      expect(ready.statusCode).toBe(503);
      expect(ready.body).toMatchObject({
        ok: false,
        failed: ['database', 'migrations'],
        checks: { database: { ok: false, message: `no answer within ${READY_DB_TIMEOUT_MS} ms` } },
      });
    } finally {
      release();
      await holder;
    }
    expect((await probe('/readyz')).statusCode).toBe(200);
  });

  it('shutting down: /readyz 503 (shutdown), /healthz 200, the API 503 shutting_down in the error shape', async () => {
    hub.app.lifecycle.begin();
    const ready = await probe('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.body).toMatchObject({ ok: false, failed: ['shutdown'] });
    expect((await probe('/healthz')).statusCode).toBe(200);
    const api = await hub.request({ method: 'GET', url: '/v1/locations' });
    expect(api.statusCode).toBe(503);
    expect(api.headers['retry-after']).toBe('5');
    expect(api.headers.connection).toBe('close');
    expect(api.body).toEqual({ code: 'shutting_down', message: 'the hub is shutting down; retry later' });
  });

  it('are documented: operationId, the operations tag, and both statuses of /readyz', async () => {
    const doc = (await probe('/docs/json')).body as {
      paths: Record<
        string,
        { get: { operationId: string; tags: string[]; responses: Record<string, unknown> } }
      >;
    };
    expect(doc.paths['/healthz']?.get).toMatchObject({ operationId: 'getHealth', tags: ['operations'] });
    expect(doc.paths['/readyz']?.get).toMatchObject({ operationId: 'getReadiness', tags: ['operations'] });
    // 200 and 503 with the verdict, and the statuses any route can answer (bad input, rate limit).
    expect(Object.keys(doc.paths['/readyz']!.get.responses)).toEqual(expect.arrayContaining(['200', '503']));
  });
});
