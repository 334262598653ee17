import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database } from '../src/db/database.js';
import { emitEvent } from '../src/services/events.js';
import { type Resolver, refusedRange, targetPolicy } from '../src/services/webhooks/targets.js';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { testDbKind } from './helpers/test-db.js';

/*
 * Webhook SSRF (issue 8, finding 5): a target that is not a public unicast address is refused at
 * registration and at delivery, unless allow-listed; the socket connects to the address checked;
 * the receiver's answer body is never stored. No test sends anything beyond loopback: refused
 * forms are refused before any connection, and the "public" addresses below are only ever
 * returned by a test resolver that the delivery never gets to connect with.
 */

interface Receiver {
  port: number;
  received: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** A loopback receiver that answers `status` with a body an internal service might hold. */
async function startReceiver(status = 200): Promise<Receiver> {
  const received: IncomingHttpHeaders[] = [];
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    received.push(req.headers);
    res.writeHead(status, { 'content-type': 'text/plain' }).end('SECRET=internal-db-password');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const BAD_TARGETS: Array<[string, string]> = [
  ['http://127.0.0.1:5432/', 'loopback'],
  ['http://localhost:5432/', 'loopback'],
  ['http://169.254.169.254/latest/meta-data/', 'linkLocal'],
  ['http://10.1.2.3/', 'private'],
  ['http://172.16.0.1/', 'private'],
  ['http://192.168.1.1/', 'private'],
  ['http://100.64.0.1/', 'carrierGradeNat'],
  ['http://224.0.0.1/', 'multicast'],
  ['http://0.0.0.0/', 'unspecified'],
  ['http://[::1]/', 'loopback'],
  ['http://[::]/', 'unspecified'],
  ['http://[fe80::1]/', 'linkLocal'],
  ['http://[fd00::1]/', 'uniqueLocal'],
  ['http://[ff02::1]/', 'multicast'],
  ['http://[::ffff:127.0.0.1]/', 'loopback'],
  ['http://[::ffff:a9fe:a9fe]/', 'linkLocal'],
  ['http://2130706433/', 'loopback'],
  ['http://0x7f.1/', 'loopback'],
  ['http://017700000001/', 'loopback'],
  ['http://127.1/', 'loopback'],
  ['https://[64:ff9b::a00:1]/', 'rfc6052'],
  ['https://[2002:a00:1::]/', '6to4'],
];

describe('webhook target ranges', () => {
  const none = targetPolicy([]);
  it('refuses every non-public form, IPv4-mapped and odd spellings included', () => {
    for (const [url, range] of BAD_TARGETS) {
      const host = new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
      if (host === 'localhost') continue;
      expect(refusedRange(host, none), url).toBe(range);
    }
    expect(refusedRange('8.8.8.8', none)).toBeNull();
    expect(refusedRange('2606:4700:4700::1111', none)).toBeNull();
  });

  it('allows what the allow-list names: addresses, CIDR ranges (IPv4-mapped judged as IPv4)', () => {
    const policy = targetPolicy(['127.0.0.1', '10.20.0.0/16', '[fd00::/8]', 'hooks.internal']);
    expect(refusedRange('127.0.0.1', policy)).toBeNull();
    expect(refusedRange('::ffff:127.0.0.1', policy)).toBeNull();
    expect(refusedRange('127.0.0.2', policy)).toBe('loopback');
    expect(refusedRange('10.20.3.4', policy)).toBeNull();
    expect(refusedRange('10.21.0.1', policy)).toBe('private');
    expect(refusedRange('fd12::1', policy)).toBeNull();
    expect(policy.hosts.has('hooks.internal')).toBe(true);
    expect(() => targetPolicy(['10.0.0.0/99'])).toThrow();
  });
});

describe(`webhook targets on ${testDbKind()}`, () => {
  let hub: TestHub;
  let db: Database;
  let receiver: Receiver | undefined;
  const others: FastifyInstance[] = [];

  // The hub under test has no allow-list; a test needing one adds an instance that has.
  beforeEach(async () => {
    hub = await buildTestHub({ webhookAllowHosts: [] });
    db = hub.database.db;
  });
  afterEach(async () => {
    for (const app of others.splice(0)) await app.close();
    await receiver?.close();
    receiver = undefined;
    await hub.close();
  });

  /** Another hub instance on the same database with this allow-list (and resolver). */
  async function instance(allowHosts: string[], resolve?: Resolver): Promise<FastifyInstance> {
    const app = await buildApp({
      config: {
        logLevel: 'silent',
        bodyLimit: 1_048_576,
        rateLimitPerMinute: 100_000,
        webhookAllowHosts: allowHosts,
      },
      db,
      jobs: false,
      webhooks: resolve ? { resolve } : {},
    });
    await app.ready();
    others.push(app);
    return app;
  }

  const register = (url: string, app = hub.app) =>
    app.inject({
      method: 'POST',
      url: '/v1/webhooks',
      headers: { authorization: `Bearer ${hub.adminToken}` },
      payload: { url, events: ['order.*'] },
    });

  /** A webhook row as the API wrote it when its name still resolved to a public address. */
  const registeredEarlier = async (id: string, url: string) => {
    await db.query(`INSERT INTO webhooks (id, url, events) VALUES ($1, $2, '{order.*}')`, [id, url]);
    await db.query(`INSERT INTO webhook_secrets (webhook_id, secret) VALUES ($1, 'whsec_c2VjcmV0')`, [id]);
  };

  it('refuses to register a loopback, private, link-local, CGNAT, multicast or ULA target (400 webhook_target_refused)', async () => {
    for (const [url, range] of BAD_TARGETS) {
      const res = await register(url);
      expect(res.statusCode, `${url}: ${res.body}`).toBe(400);
      const body = res.json<{ code: string; message: string; details: unknown }>();
      expect(body, url).toMatchObject({ code: 'webhook_target_refused', details: { field: 'url', range } });
      expect(body.message).toMatch(/^body\.url: /);
    }
    const unresolved = await register('https://no-such-host.invalid/hook');
    expect(unresolved.statusCode).toBe(400);
    expect(unresolved.json()).toMatchObject({ code: 'webhook_target_unresolved' });
    const { rows } = await db.query('SELECT count(*)::int AS n FROM webhooks');
    expect(rows).toEqual([{ n: 0 }]);
  });

  it('delivers to an allow-listed loopback receiver, storing only the status code', async () => {
    const allowing = await instance(['127.0.0.1']);
    receiver = await startReceiver(500);
    const res = await register(`http://127.0.0.1:${receiver.port}/hook`, allowing);
    expect(res.statusCode, res.body).toBe(201);
    const { id } = res.json<{ id: string }>();
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'o-1' }));
    expect(await allowing.jobs.runNow('webhook-delivery')).toBe(1);
    expect(receiver.received).toHaveLength(1);

    const log = await hub.request({ method: 'GET', url: `/v1/webhooks/${id}/deliveries` });
    expect(log.body).toMatchObject({ items: [{ statusCode: 500, error: 'HTTP 500', outcome: 'retrying' }] });
    expect(log.text).not.toContain('SECRET');
    const { rows } = await db.query<{ stored: string }>(
      `SELECT (SELECT string_agg(coalesce(error, ''), '') FROM webhook_attempts)
              || (SELECT string_agg(coalesce(last_error, ''), '') FROM webhook_deliveries) AS stored`,
    );
    expect(rows[0]!.stored).toBe('HTTP 500HTTP 500');
  });

  it('refuses at delivery a host that now resolves to loopback, connecting nowhere', async () => {
    receiver = await startReceiver();
    await registeredEarlier('0190a0b0-0000-7000-8000-000000000001', `http://localhost:${receiver.port}/hook`);
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'o-2' }));
    expect(await hub.app.jobs.runNow('webhook-delivery')).toBe(1);
    expect(receiver.received).toHaveLength(0);
    const { rows } = await db.query('SELECT status_code, error FROM webhook_attempts');
    expect(rows).toEqual([
      {
        status_code: null,
        error: expect.stringMatching(
          /^webhook_target_refused: localhost resolves to 127\.0\.0\.1, a loopback/,
        ),
      },
    ]);
  });

  it('connects to the address it checked, keeping the name in Host (no second resolution to rebind)', async () => {
    receiver = await startReceiver();
    // A resolver that rebinds after its first answer: 127.0.0.1 (allow-listed), then 127.0.0.2
    // (loopback, not allow-listed; nothing listens there). A client that checked one answer and
    // connected with another would be refused or land elsewhere.
    const answers: string[] = [];
    const resolve: Resolver = async (hostname) => {
      const address = answers.length === 0 ? '127.0.0.1' : '127.0.0.2';
      answers.push(`${hostname}=${address}`);
      return [{ address, family: 4 }];
    };
    const app = await instance(['127.0.0.1/32'], resolve);
    await registeredEarlier(
      '0190a0b0-0000-7000-8000-000000000002',
      `http://hooks.example.test:${receiver.port}/hook`,
    );
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'o-3' }));
    expect(await app.jobs.runNow('webhook-delivery')).toBe(1);
    expect(answers).toEqual(['hooks.example.test=127.0.0.1']);
    expect(receiver.received.map((h) => h.host)).toEqual([`hooks.example.test:${receiver.port}`]);
    const { rows } = await db.query('SELECT status_code, error FROM webhook_attempts');
    expect(rows).toEqual([{ status_code: 200, error: null }]);

    // The next delivery resolves anew, gets the rebound answer, and is refused before connecting.
    await db.transaction((tx) => emitEvent(tx, 'order.created', { orderId: 'o-4' }));
    expect(await app.jobs.runNow('webhook-delivery')).toBe(1);
    expect(receiver.received).toHaveLength(1);
    const last = await db.query<{ error: string }>(
      'SELECT error FROM webhook_attempts ORDER BY id DESC LIMIT 1',
    );
    expect(last.rows[0]!.error).toMatch(
      /^webhook_target_refused: hooks\.example\.test resolves to 127\.0\.0\.2/,
    );
  });
});
