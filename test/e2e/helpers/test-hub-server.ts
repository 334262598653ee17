import { newOpId } from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import { type BuildOptions, buildApp } from '../../../hub/src/app.js';
import { PostgresDatabase } from '../../../hub/src/db/postgres.js';
import type { HealthThresholds } from '../../../hub/src/schemas/health.js';
import { DEFAULT_THRESHOLDS } from '../../../hub/src/services/health/evaluate.js';
import { ensureBootstrapAdmin } from '../../../hub/src/services/tokens.js';
import { TEST_WEBHOOK_ALLOW_HOSTS } from '../../../hub/test/helpers/build-hub.js';
import { seedCatalog } from '../../../hub/test/helpers/fixtures.js';
import {
  createTestDatabase,
  type TestDatabase,
  testApplicationName,
  testDatabaseUrl,
} from '../../../hub/test/helpers/test-db.js';

export interface TestHubOptions {
  /** Health thresholds to judge by (tests shorten them from minutes to moments). */
  health?: Partial<HealthThresholds>;
  /** Capture the hub's log (info level, pino JSON lines) here instead of keeping it silent. */
  logStream?: BuildOptions['logStream'];
}

/**
 * A real hub listening on loopback over a fresh test database, which can be stopped (tills see it
 * go away: connections cut, port closed) and started again on the same port and data.
 */
export class TestHubServer {
  app: FastifyInstance | null = null;
  port = 0;

  private constructor(
    readonly database: TestDatabase,
    readonly adminToken: string,
    private readonly options: TestHubOptions,
  ) {}

  static async start(options: TestHubOptions = {}): Promise<TestHubServer> {
    const database = await createTestDatabase();
    const token = (await ensureBootstrapAdmin(database.db))!;
    const hub = new TestHubServer(database, token, options);
    await hub.resume();
    return hub;
  }

  /**
   * Another hub instance on this one's Postgres schema, with its own pool, as in a deployment of
   * several hubs; closing it leaves the schema to this one. PGlite is single-instance: no peers.
   */
  async peer(): Promise<TestHubServer> {
    const schema = this.database.schema;
    if (!schema) throw new Error('a hub on PGlite is single-instance: it has no peers');
    const db = await PostgresDatabase.connect({
      connectionString: testDatabaseUrl(),
      schema,
      max: 10,
      applicationName: testApplicationName(schema),
    });
    const peer = new TestHubServer({ db, schema, drop: () => db.close() }, this.adminToken, this.options);
    await peer.resume();
    return peer;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get db() {
    return this.database.db;
  }

  /** Take the hub down: every till connection drops and the port refuses connections. */
  async stop(): Promise<void> {
    const app = this.app;
    this.app = null;
    if (!app) return;
    app.io.disconnectSockets(true);
    await app.close();
  }

  /** Bring it back on the same port and data. */
  async resume(): Promise<void> {
    const app = await buildApp({
      config: {
        logLevel: this.options.logStream ? 'info' : 'silent',
        bodyLimit: 1_048_576,
        rateLimitPerMinute: 100_000,
        webhookAllowHosts: TEST_WEBHOOK_ALLOW_HOSTS,
        ...(this.options.health ? { health: { ...DEFAULT_THRESHOLDS, ...this.options.health } } : {}),
      },
      db: this.database.db,
      ...(this.options.logStream ? { logStream: this.options.logStream } : {}),
    });
    await app.listen({ host: '127.0.0.1', port: this.port });
    this.port = (app.server.address() as { port: number }).port;
    this.app = app;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.database.drop();
  }

  seed(input: Parameters<typeof seedCatalog>[1]): Promise<void> {
    return seedCatalog(this.database.db, input);
  }

  /** A one-time enrolment code for a new till at `locationId`. */
  enrolmentCode(locationId: string, id?: string): Promise<string> {
    return requestEnrolmentCode(this.url, this.adminToken, locationId, id);
  }

  /** Hold units at a location for an order straight through the ledger (a bare reservation). */
  async reserve(locationId: string, orderId: string, sku: string, qty: number): Promise<void> {
    const app = this.app;
    if (!app) throw new Error('the hub is stopped');
    await app.stock.write((_tx, apply) =>
      apply([
        {
          op: {
            type: 'reserve',
            opId: newOpId(),
            hlc: app.stock.clock.tick(),
            locationId,
            orderId,
            lines: [{ sku, qty }],
          },
          actor: 'system',
        },
      ]),
    );
  }

  async onHand(locationId: string, sku: string): Promise<number | undefined> {
    const { rows } = await this.db.query<{ on_hand: number }>(
      'SELECT on_hand FROM stock WHERE location_id = $1 AND sku = $2',
      [locationId, sku],
    );
    return rows[0]?.on_hand;
  }
}

/** Ask the hub at `hubUrl` (as admin `token`) for a one-time enrolment code for a till at `locationId`. */
export async function requestEnrolmentCode(
  hubUrl: string,
  token: string,
  locationId: string,
  id?: string,
): Promise<string> {
  const res = await fetch(`${hubUrl}/v1/devices`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ locationId, name: `Till ${id ?? ''}`.trim(), ...(id ? { id } : {}) }),
  });
  if (res.status !== 201) throw new Error(`enrolment code refused: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { enrolmentCode: string }).enrolmentCode;
}
