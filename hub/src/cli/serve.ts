import { configFromEnv } from '../config.js';
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

async function start(io: CliIo, withDemo: boolean): Promise<CliOutcome> {
  const config = configFromEnv(io.env);
  const db = await openCliDatabase(config);
  try {
    const seed = withDemo ? await seedDemo(db) : null;
    const hub = await startHub(config, db);
    const url = hub.url;
    say(io);
    say(io, `Tillsync hub listening on ${url}`);
    say(io, `  API        ${url}/v1`);
    say(io, `  API docs   ${url}/docs`);
    say(io, `  Health     ${url}/healthz (alive)  ${url}/readyz (ready for traffic)`);
    say(io, `  Database   ${describeDatabase(config)}`);
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
