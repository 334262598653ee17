import { upgradeHeaders } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import { io, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { PostgresDatabase } from '../src/db/postgres.js';
import type { ApiToken, ApiTokenSecret } from '../src/schemas/tokens.js';
import { hashSecret, revocationRefusal } from '../src/services/tokens.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { seedCatalog } from './helpers/fixtures.js';
import { runCliCaptured } from './helpers/run-cli.js';
import { testApplicationName, testDatabaseUrl, testDbKind } from './helpers/test-db.js';

describe('revocationRefusal', () => {
  const admin = (id: string, status: 'active' | 'expired' | 'revoked' = 'active') =>
    ({ id, role: 'admin', status }) as const;
  it('keeps the last working admin token, and only that', () => {
    expect(revocationRefusal(admin('a'), ['a'])).toMatch(/last active admin token/);
    expect(revocationRefusal(admin('a'), [])).toMatch(/last active admin token/);
    expect(revocationRefusal(admin('a'), ['a', 'b'])).toBeNull();
    // An expired admin token is no way in: revoking it takes nothing away.
    expect(revocationRefusal(admin('a', 'expired'), ['b'])).toBeNull();
    expect(revocationRefusal({ id: 'h', role: 'hq', status: 'active' }, ['a'])).toBeNull();
  });
});

describe(`API tokens over REST (${testDbKind()})`, () => {
  let hub: TestHub;
  const dashboards: Socket[] = [];

  beforeEach(async () => {
    hub = await buildTestHub();
    await seedCatalog(hub.database.db, { locations: [{ id: 'paris' }], products: [] });
  });
  afterEach(async () => {
    for (const d of dashboards.splice(0)) d.close();
    await hub.close();
  });

  const create = (body: unknown, token?: string) =>
    hub.request({ method: 'POST', url: '/v1/tokens', payload: body as object, ...(token ? { token } : {}) });
  const me = (token: string) => hub.request({ method: 'GET', url: '/v1/me', token });
  const idOf = (token: string) => token.split('.')[1]!;
  const row = async (id: string) =>
    (
      await hub.database.db.query<{ last_used_at: Date | null; secret_hash: string }>(
        'SELECT last_used_at, secret_hash FROM api_tokens WHERE id = $1',
        [id],
      )
    ).rows[0]!;

  it('creates a token whose secret is shown once; lists and gets it without secret or hash', async () => {
    const res = await create({ name: 'Paris back office', role: 'store_manager', locationId: 'paris' });
    expect(res.statusCode).toBe(201);
    const created = res.body as ApiTokenSecret;
    expect(created).toMatchObject({
      name: 'Paris back office',
      role: 'store_manager',
      locationId: 'paris',
      status: 'active',
      lastUsedAt: null,
      expiresAt: null,
      revokedAt: null,
      rotatedAt: null,
      createdBy: idOf(hub.adminToken),
    });
    expect(created.token).toBe(`tsk.${created.id}.${created.token.split('.')[2]}`);
    expect((await me(created.token)).body).toEqual({
      role: 'store_manager',
      locationId: 'paris',
      canTriage: true,
    });

    const secret = created.token.split('.')[2]!;
    const hash = (await row(created.id)).secret_hash;
    expect(hash).toBe(hashSecret(secret));
    const list = await hub.request({ method: 'GET', url: '/v1/tokens' });
    expect(list.statusCode).toBe(200);
    const items = (list.body as { items: ApiToken[] }).items;
    expect(items.map((t) => t.id)).toEqual([created.id, idOf(hub.adminToken)]);
    const one = await hub.request({ method: 'GET', url: `/v1/tokens/${created.id}` });
    expect(one.statusCode).toBe(200);
    const { token: _, ...withoutSecret } = created;
    expect(one.body).toEqual({ ...withoutSecret, lastUsedAt: expect.any(String) });
    for (const text of [list.text, one.text]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(hash);
      expect(text).not.toMatch(/secret|hash/i);
    }
  });

  it('pages the list newest first with a cursor, and filters by status', async () => {
    const made: string[] = [];
    for (const name of ['one', 'two', 'three']) {
      made.push(((await create({ name, role: 'channel' })).body as ApiToken).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await hub.request({
        method: 'GET',
        url: `/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      });
      const body = page.body as { items: ApiToken[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((t) => t.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...made.reverse(), idOf(hub.adminToken)]);

    await hub.request({ method: 'POST', url: `/v1/tokens/${made[0]}/revoke` });
    const revoked = await hub.request({ method: 'GET', url: '/v1/tokens?status=revoked' });
    expect((revoked.body as { items: ApiToken[] }).items.map((t) => t.id)).toEqual([made[0]]);
    const active = await hub.request({ method: 'GET', url: '/v1/tokens?status=active' });
    expect((active.body as { items: ApiToken[] }).items).toHaveLength(3);

    const bad = await hub.request({ method: 'GET', url: '/v1/tokens?cursor=bm9wZQ' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatchObject({ code: 'invalid_request', details: { field: 'cursor' } });
  });

  it('refuses bad input with 400 in the one error shape, and an unknown location or token with 404', async () => {
    const cases: Array<[unknown, string]> = [
      [{ name: 'm', role: 'store_manager' }, 'body.locationId'],
      [{ name: 'h', role: 'hq', locationId: 'paris' }, 'body.locationId'],
      [{ name: 'x', role: 'root' }, 'body.role'],
      [{ role: 'hq' }, 'body.name'],
      [{ name: '  ', role: 'hq' }, 'body.name'],
      [{ name: 'x', role: 'hq', expiresInDays: 0 }, 'body.expiresInDays'],
      [{ name: 'x', role: 'hq', expiresInDays: 1.5 }, 'body.expiresInDays'],
      [{ name: 'x', role: 'hq', expiresInDays: 1, expiresAt: '2099-01-01T00:00:00Z' }, 'body.expiresInDays'],
      [{ name: 'x', role: 'hq', expiresAt: '2020-01-01T00:00:00Z' }, 'body.expiresAt'],
      [{ name: 'x', role: 'hq', expiresAt: 'tomorrow' }, 'body.expiresAt'],
      [{ name: 'x', role: 'hq', secret: 'mine' }, 'body'],
    ];
    for (const [body, field] of cases) {
      const res = await create(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ code: 'invalid_request', message: expect.stringContaining(field) });
    }
    const nowhere = await create({ name: 'm', role: 'store_manager', locationId: 'nowhere' });
    expect(nowhere.statusCode).toBe(404);
    expect(nowhere.body).toMatchObject({ code: 'not_found', details: { location: 'nowhere' } });
    expect((await hub.request({ method: 'GET', url: '/v1/tokens/no.dots' })).statusCode).toBe(400);
    expect((await hub.request({ method: 'GET', url: '/v1/tokens/abc' })).statusCode).toBe(404);
    expect((await hub.request({ method: 'POST', url: '/v1/tokens/abc/revoke' })).statusCode).toBe(404);
    expect((await hub.request({ method: 'POST', url: '/v1/tokens/abc/rotate' })).statusCode).toBe(404);
    expect((await hub.request({ method: 'GET', url: '/v1/tokens?status=gone' })).statusCode).toBe(400);
    const count = await hub.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM api_tokens');
    expect(count.rows[0]!.n).toBe(1);
  });

  it('answers 403 to every role but admin, and 401 without a token', async () => {
    const target = idOf(hub.adminToken);
    const calls = [
      { method: 'POST', url: '/v1/tokens', payload: { name: 'x', role: 'hq' } },
      { method: 'GET', url: '/v1/tokens' },
      { method: 'GET', url: `/v1/tokens/${target}` },
      { method: 'POST', url: `/v1/tokens/${target}/revoke` },
      { method: 'POST', url: `/v1/tokens/${target}/rotate` },
    ] as const;
    for (const token of [
      await hub.token('hq'),
      await hub.token('channel'),
      await hub.token('store_manager', 'paris'),
    ]) {
      for (const call of calls) {
        const res = await hub.request({ ...call, token });
        expect(res.statusCode, `${call.method} ${call.url}`).toBe(403);
        expect(res.body).toMatchObject({ code: 'forbidden' });
      }
    }
    for (const call of calls) expect((await hub.request({ ...call, token: null })).statusCode).toBe(401);
    expect((await me(hub.adminToken)).statusCode).toBe(200);
  });

  it('revokes: the token is refused with 401 at once; idempotent; the last admin token is kept (409)', async () => {
    const hq = (await create({ name: 'hq', role: 'hq' })).body as ApiTokenSecret;
    expect((await me(hq.token)).statusCode).toBe(200);
    const revoked = await hub.request({ method: 'POST', url: `/v1/tokens/${hq.id}/revoke` });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.body).toMatchObject({ id: hq.id, status: 'revoked', revokedAt: expect.any(String) });
    const refused = await me(hq.token);
    expect(refused.statusCode).toBe(401);
    expect(refused.body).toEqual({
      code: 'unauthorized',
      message: 'unknown, revoked, expired or malformed token',
    });
    const again = await hub.request({ method: 'POST', url: `/v1/tokens/${hq.id}/revoke` });
    expect(again.body).toEqual(revoked.body);
    const rotate = await hub.request({ method: 'POST', url: `/v1/tokens/${hq.id}/rotate` });
    expect(rotate.statusCode).toBe(409);
    expect(rotate.body).toMatchObject({ code: 'token_inactive', details: { status: 'revoked' } });

    const own = idOf(hub.adminToken);
    const last = await hub.request({ method: 'POST', url: `/v1/tokens/${own}/revoke` });
    expect(last.statusCode).toBe(409);
    expect(last.body).toMatchObject({
      code: 'last_admin_token',
      message: expect.stringContaining('create another admin token first'),
    });
    expect((await me(hub.adminToken)).statusCode).toBe(200);

    // With a second admin token, the first may go (and then the second is the one kept).
    const second = (await create({ name: 'second admin', role: 'admin' })).body as ApiTokenSecret;
    expect((await hub.request({ method: 'POST', url: `/v1/tokens/${own}/revoke` })).statusCode).toBe(200);
    expect((await me(hub.adminToken)).statusCode).toBe(401);
    const keep = await hub.request({
      method: 'POST',
      url: `/v1/tokens/${second.id}/revoke`,
      token: second.token,
    });
    expect(keep.statusCode).toBe(409);
  });

  it('two admins revoking each other at once leave one admin token working', async () => {
    const a = (await create({ name: 'a', role: 'admin' })).body as ApiTokenSecret;
    await hub.request({ method: 'POST', url: `/v1/tokens/${idOf(hub.adminToken)}/revoke` });
    const b = (await create({ name: 'b', role: 'admin' }, a.token)).body as ApiTokenSecret;
    const [ab, ba] = await Promise.all([
      hub.request({ method: 'POST', url: `/v1/tokens/${b.id}/revoke`, token: a.token }),
      hub.request({ method: 'POST', url: `/v1/tokens/${a.id}/revoke`, token: b.token }),
    ]);
    expect([ab.statusCode, ba.statusCode].sort()).toEqual([200, 409]);
    const working = await Promise.all([me(a.token), me(b.token)]);
    expect(working.map((r) => r.statusCode).sort()).toEqual([200, 401]);
  });

  it('rotates: a new secret, the old one refused at once; name, role and scope stay', async () => {
    const ch = (await create({ name: 'shop', role: 'channel', expiresInDays: 30 })).body as ApiTokenSecret;
    const res = await hub.request({ method: 'POST', url: `/v1/tokens/${ch.id}/rotate` });
    expect(res.statusCode).toBe(200);
    const rotated = res.body as ApiTokenSecret;
    expect(rotated).toMatchObject({
      id: ch.id,
      name: 'shop',
      role: 'channel',
      expiresAt: ch.expiresAt,
      status: 'active',
    });
    expect(rotated.rotatedAt).not.toBeNull();
    expect(rotated.token).not.toBe(ch.token);
    expect((await me(ch.token)).statusCode).toBe(401);
    expect((await me(rotated.token)).body).toMatchObject({ role: 'channel' });
  });

  it('expires: refused with 401 once past expiresAt; the list says expired', async () => {
    const days = (await create({ name: 'month', role: 'hq', expiresInDays: 30 })).body as ApiTokenSecret;
    const inDays = Date.parse(days.expiresAt!) - Date.parse(days.createdAt);
    expect(Math.abs(inDays - 30 * 86_400_000)).toBeLessThan(60_000);
    const at = new Date(Date.now() + 60 * 60_000).toISOString();
    const soon = (await create({ name: 'hour', role: 'hq', expiresAt: at })).body as ApiTokenSecret;
    expect(soon.expiresAt).toBe(at);
    expect((await me(soon.token)).statusCode).toBe(200);
    // Its hour has passed (by the database's clock, which decides).
    await hub.database.db.query(
      "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1",
      [soon.id],
    );
    expect((await me(soon.token)).statusCode).toBe(401);
    expect((await hub.request({ method: 'GET', url: `/v1/tokens/${soon.id}` })).body).toMatchObject({
      status: 'expired',
    });
    const rotate = await hub.request({ method: 'POST', url: `/v1/tokens/${soon.id}/rotate` });
    expect(rotate.body).toMatchObject({ code: 'token_inactive', details: { status: 'expired' } });
    expect((await me(days.token)).statusCode).toBe(200);
  });

  it('records the last use at most once a minute per token, without a write per request', async () => {
    const t = (await create({ name: 'busy', role: 'hq' })).body as ApiTokenSecret;
    expect((await row(t.id)).last_used_at).toBeNull();
    const db = hub.database.db;
    const query = db.query.bind(db);
    let touches = 0;
    db.query = ((sql: string, params?: readonly unknown[]) => {
      if (sql.includes('SET last_used_at')) touches += 1;
      return query(sql, params);
    }) as typeof db.query;
    try {
      await me(t.token);
      const first = (await row(t.id)).last_used_at;
      expect(first).toBeInstanceOf(Date);
      await Promise.all(Array.from({ length: 20 }, () => me(t.token)));
      expect(touches).toBe(1);
      expect((await row(t.id)).last_used_at).toEqual(first);
      // A minute later (the stored time moved back one), the next use writes it again.
      await query("UPDATE api_tokens SET last_used_at = now() - interval '61 seconds' WHERE id = $1", [t.id]);
      await me(t.token);
      expect(touches).toBe(2);
      expect((await row(t.id)).last_used_at!.getTime()).toBeGreaterThan(first!.getTime());
      const listed = await hub.request({ method: 'GET', url: `/v1/tokens/${t.id}` });
      expect((listed.body as ApiToken).lastUsedAt).toBe((await row(t.id)).last_used_at!.toISOString());
    } finally {
      db.query = query;
    }
  });

  /** An HQ dashboard's live feed over a real socket; resolves once connected. */
  async function dashboard(url: string, token: string): Promise<Socket> {
    const s = io(`${url}/hq`, {
      path: '/sync',
      auth: { token },
      extraHeaders: upgradeHeaders(token),
      transports: ['websocket'],
      reconnection: false,
    });
    dashboards.push(s);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('connect_error', reject);
    });
    return s;
  }
  const closed = (s: Socket) => new Promise<string>((resolve) => s.once('disconnect', resolve));

  it('closes a connected HQ dashboard within a second of a revoke or rotate, and at expiry', async () => {
    const url = await hub.listen();
    const revokable = (await create({ name: 'r', role: 'hq' })).body as ApiTokenSecret;
    const rotatable = (await create({ name: 'o', role: 'admin' })).body as ApiTokenSecret;
    const bystander = (await create({ name: 'b', role: 'hq' })).body as ApiTokenSecret;
    const [r, o, b] = await Promise.all(
      [revokable, rotatable, bystander].map((t) => dashboard(url, t.token)),
    );
    const bClosed = watch(closed(b!));

    let gone = closed(r!);
    let t0 = Date.now();
    await hub.request({ method: 'POST', url: `/v1/tokens/${revokable.id}/revoke` });
    expect(await gone).toBe('io server disconnect');
    expect(Date.now() - t0).toBeLessThan(1_000);

    gone = closed(o!);
    t0 = Date.now();
    await hub.request({ method: 'POST', url: `/v1/tokens/${rotatable.id}/rotate` });
    expect(await gone).toBe('io server disconnect');
    expect(Date.now() - t0).toBeLessThan(1_000);

    const expiring = (
      await create({ name: 'e', role: 'hq', expiresAt: new Date(Date.now() + 1_500).toISOString() })
    ).body as ApiTokenSecret;
    const e = await dashboard(url, expiring.token);
    gone = closed(e);
    expect(await gone).toBe('io server disconnect');
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(expiring.expiresAt!));
    expect(Date.now() - Date.parse(expiring.expiresAt!)).toBeLessThan(1_000);
    expect(b!.connected).toBe(true);
    expect(bClosed.settled).toBe(false);
  });

  it('the CLI makes, lists, rotates and revokes tokens through a running hub', async () => {
    const url = await hub.listen();
    const env = { TILLSYNC_URL: url, TILLSYNC_TOKEN: hub.adminToken };
    const created = await runCliCaptured(
      [
        'token',
        'create',
        '--role',
        'store_manager',
        '--location',
        'paris',
        '--name',
        'Paris',
        '--expires-in-days',
        '7',
      ],
      env,
    );
    expect(created.stderr).toBe('');
    expect(created.exitCode).toBe(0);
    const token = created.stdout.split('\n')[1]!;
    expect(created.stdout).toMatch(
      /^New store_manager token "Paris" \(id [0-9a-f]{12}, expires \S+; shown once, store it now\):\n/,
    );
    expect((await me(token)).body).toMatchObject({ role: 'store_manager', locationId: 'paris' });
    const id = idOf(token);

    // Flags instead of the environment.
    const list = await runCliCaptured(['token', 'list', '--url', url, '--token', hub.adminToken], {});
    expect(list.exitCode).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +ROLE +LOCATION +STATUS +CREATED +LAST USED +EXPIRES$/);
    expect(lines[1]).toMatch(new RegExp(`^${id} +Paris +store_manager +paris +active `));
    expect(lines).toHaveLength(3);
    expect(list.stdout).not.toContain(token.split('.')[2]);

    const rotated = await runCliCaptured(['token', 'rotate', id], env);
    expect(rotated.exitCode).toBe(0);
    const fresh = rotated.stdout.split('\n')[1]!;
    expect((await me(token)).statusCode).toBe(401);
    expect((await me(fresh)).statusCode).toBe(200);

    const revoked = await runCliCaptured(['token', 'revoke', id], env);
    expect(revoked.exitCode).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^Revoked token ${id} "Paris" \\(store_manager\\) at `));
    expect((await me(fresh)).statusCode).toBe(401);

    // The hub's refusals, one line each, exit 1.
    const last = await runCliCaptured(['token', 'revoke', idOf(hub.adminToken)], env);
    expect(last.exitCode).toBe(1);
    expect(last.stderr).toMatch(/^error: 409 last_admin_token: token \S+ is the last active admin token/);
    const bad = await runCliCaptured(['token', 'create', '--role', 'store_manager'], env);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toBe(
      'error: 400 invalid_request: body.locationId: a store_manager token needs a locationId, and only a store_manager token takes one\n',
    );
    const hq = await hub.token('hq');
    const forbidden = await runCliCaptured(['token', 'list'], { ...env, TILLSYNC_TOKEN: hq });
    expect(forbidden.exitCode).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: 403 forbidden: role hq may not do this/);

    // Usage errors: exit 2.
    const noId = await runCliCaptured(['token', 'revoke'], env);
    expect(noId.exitCode).toBe(2);
    expect(noId.stderr).toMatch(/^error: missing required argument 'id'/);
    const noUrl = await runCliCaptured(['token', 'list', '--token', hub.adminToken], {});
    expect(noUrl.exitCode).toBe(2);
    expect(noUrl.stderr).toMatch(/^error: token list needs the hub's address: --url <url> or TILLSYNC_URL/);
    const days = await runCliCaptured(['token', 'create', '--role', 'hq', '--expires-in-days', 'soon'], env);
    expect(days.exitCode).toBe(2);
    const unreachable = await runCliCaptured(['token', 'list'], {
      ...env,
      TILLSYNC_URL: 'http://127.0.0.1:1',
    });
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr).toMatch(
      /^error: unreachable: cannot reach the hub at http:\/\/127\.0\.0\.1:1/,
    );
  });
});

/** Whether a promise has settled yet, readable synchronously. */
function watch<T>(p: Promise<T>): { settled: boolean } {
  const state = { settled: false };
  void p.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/*
 * Two hub instances on one Postgres schema, as in a deployment behind a load balancer: a token
 * revoked through one is refused by the other at once, and a dashboard connected to the other is
 * closed within a second (the cluster adapter carries the disconnect over LISTEN/NOTIFY).
 */
(testDbKind() === 'postgres' ? describe : () => undefined)(
  'API token revocation across hub instances',
  () => {
    let hub: TestHub;
    let peer: FastifyInstance | null = null;
    let peerDb: PostgresDatabase | null = null;
    let dash: Socket | null = null;

    beforeEach(async () => {
      hub = await buildTestHub();
    });
    afterEach(async () => {
      dash?.close();
      await peer?.close();
      await peerDb?.close();
      await hub.close();
    });

    it('revoked through one instance: refused by the other at once, its dashboard closed within 1 s', async () => {
      const schema = hub.database.schema!;
      peerDb = await PostgresDatabase.connect({
        connectionString: testDatabaseUrl(),
        schema,
        max: 10,
        applicationName: testApplicationName(schema),
      });
      peer = await buildApp({
        config: { logLevel: 'silent', bodyLimit: 1_048_576, rateLimitPerMinute: 100_000 },
        db: peerDb,
        jobs: false,
      });
      const peerUrl = await peer.listen({ host: '127.0.0.1', port: 0 });
      await hub.listen();

      const created = await hub.request({
        method: 'POST',
        url: '/v1/tokens',
        payload: { name: 'hq', role: 'hq' },
      });
      const hq = created.body as ApiTokenSecret;
      const onPeer = (token: string) =>
        fetch(`${peerUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
      expect(await onPeer(hq.token)).toBe(200);

      dash = io(`${peerUrl}/hq`, {
        path: '/sync',
        auth: { token: hq.token },
        extraHeaders: upgradeHeaders(hq.token),
        transports: ['websocket'],
        reconnection: false,
      });
      await new Promise<void>((resolve, reject) => {
        dash!.once('connect', resolve);
        dash!.once('connect_error', reject);
      });
      // Both instances know of each other (the adapter's heartbeats) before the revoke is sent.
      await expect.poll(() => hub.app.io.of('/hq').adapter.serverCount(), { timeout: 15_000 }).toBe(2);

      const gone = new Promise<string>((resolve) => dash!.once('disconnect', resolve));
      const t0 = Date.now();
      const revoked = await hub.request({ method: 'POST', url: `/v1/tokens/${hq.id}/revoke` });
      expect(revoked.statusCode).toBe(200);
      expect(await onPeer(hq.token)).toBe(401);
      expect(await gone).toBe('io server disconnect');
      expect(Date.now() - t0).toBeLessThan(1_000);
    });
  },
);
