import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { configFromEnv, type HubConfig } from '../config.js';
import { isConnectionLost } from '../db/connection-errors.js';
import type { Database } from '../db/database.js';
import { seedDemo } from '../demo/seed.js';
import { startHub } from '../server.js';
import { describeDatabase, openCliDatabase } from './database.js';
import { type CliIo, type CliOutcome, say } from './io.js';

/** `serve`: start the hub and tell the operator where to look. */
export async function serve(io: CliIo): Promise<CliOutcome> {
  return start(io, false);
}

/** `demo`: seed the demo brand into an empty database, then serve it. */
export async function demo(io: CliIo): Promise<CliOutcome> {
  return start(io, true);
}

/*
 * A hub booting while its database restarts, fails over or has its backends killed (migrations,
 * the admin check, the cluster's LISTEN client) retries, as a running hub does, instead of exiting:
 * every startup step is safe to repeat (migrations and the demo seed are transactional).
 */
const STARTUP_ATTEMPTS = 10;
const STARTUP_RETRY_MS = 3_000;

async function openAndStart(config: HubConfig, withDemo: boolean, io: CliIo) {
  for (let attempt = 1; ; attempt++) {
    let db: Database | undefined;
    try {
      db = await openCliDatabase(config);
      const seed = withDemo ? await seedDemo(db) : null;
      return { db, seed, hub: await startHub(config, db) };
    } catch (err) {
      await db?.close().catch(() => undefined);
      if (!isConnectionLost(err) || attempt >= STARTUP_ATTEMPTS) throw err;
      io.stderr.write(
        `The database is out of reach while starting (${(err as Error).message}); retrying in ${STARTUP_RETRY_MS / 1000} s\n`,
      );
      await setTimeout(STARTUP_RETRY_MS);
    }
  }
}

async function start(io: CliIo, withDemo: boolean): Promise<CliOutcome> {
  const fromEnv = configFromEnv(io.env);
  const config = withDemo ? { ...fromEnv, logFile: fromEnv.logFile ?? demoLogFile(fromEnv) } : fromEnv;
  const { db, seed, hub } = await openAndStart(config, withDemo, io);
  try {
    const url = hub.url;
    say(io);
    say(io, `Tillsync hub listening on ${url}`);
    say(io, `  API        ${url}/v1`);
    say(io, `  API docs   ${url}/docs`);
    say(io, `  Health     ${url}/healthz (alive)  ${url}/readyz (ready for traffic)`);
    say(io, `  Database   ${describeDatabase(config)}`);
    say(io, `  Logs       ${describeLog(config)}`);
    say(
      io,
      `  Instances  ${config.databaseUrl ? 'several hubs may share this database (see README: Running several hubs)' : 'SINGLE INSTANCE: PGlite serves one hub; run several on Postgres'}`,
    );
    if (hub.bootstrapTokenFile) {
      // Never on the terminal or in the logs: only its owner can read the file.
      say(io);
      say(
        io,
        `Bootstrap admin token written to ${hub.bootstrapTokenFile} (mode 0600, readable by you only).`,
      );
      say(io, '  Move it to your secret store and delete the file. Lost it? Stop the hub and run');
      say(io, '  `pnpm hub token create --role admin`.');
    }
    if (seed?.seeded) {
      say(io);
      say(io, `Demo brand "${seed.brand}" created: ${seed.locations} locations, ${seed.products} products,`);
      say(io, `${seed.stockRows} stock rows. Demo tokens (shown once):`);
      say(io, `  hq (read everything)           ${seed.tokens.hq}`);
      say(io, `  store_manager (store-paris-1)  ${seed.tokens.storeManager}`);
      say(io, `  channel (web shop)             ${seed.tokens.channel}`);
      say(io);
      say(io, 'Try:');
      say(io, `  curl -H "Authorization: Bearer ${seed.tokens.storeManager}" \\`);
      say(io, `    "${url}/v1/locations/store-paris-1/inventory?limit=5"`);
      say(io, `  curl -H "Authorization: Bearer ${seed.tokens.hq}" "${url}/v1/inventory/ML-SKN-001"`);
      say(io, `  curl -H "Authorization: Bearer ${seed.tokens.hq}" "${url}/v1/products?limit=5"`);
    } else if (seed) {
      say(io);
      say(io, 'Demo data already present (not seeded again). Its tokens were printed on the first start;');
      say(io, 'stop the hub and run `pnpm hub token create --role hq` for a new one.');
    }
    say(io);
    say(io, 'Press Ctrl+C to stop.');
    const demoTokens = seed?.seeded ? { demoTokens: seed.tokens } : {};
    return {
      exitCode: 0,
      running: {
        url,
        db,
        ...demoTokens,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        close: () => hub.close(),
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The demo keeps the JSON log out of the terminal, beside its data: the banner stays readable. */
export function demoLogFile(config: Pick<HubConfig, 'dataDir'>): string {
  return join(config.dataDir === ':memory:' ? 'data' : config.dataDir, 'logs', 'hub.log');
}

function describeLog(config: HubConfig): string {
  if (config.logLevel === 'silent') return 'none (LOG_LEVEL=silent)';
  const level = `level ${config.logLevel}, LOG_LEVEL to change`;
  return config.logFile && config.logFile !== '-'
    ? `${config.logFile} (JSON lines, ${level}; TILLSYNC_LOG_FILE=- for stdout)`
    : `stdout (JSON lines, ${level})`;
}
