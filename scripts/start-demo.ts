/**
 * `pnpm start`: the hub on embedded PGlite with the demo brand, a cashier till for store-paris-1 in
 * browser mode, and simulated tills in every store that sell, lose their network and come back, so a
 * newcomer sees the whole thing working (and the HQ dashboard at /hq has a living brand to show)
 * from one command. Tills are enrolled on the first start (their data lives next to the hub's, in
 * <data dir>/demo-till and <data dir>/demo-tills/<device id>) and reused on the next.
 *
 * The terminal shows one banner (the hub's addresses and tokens, then the tills'), printed last, when
 * everything is up; the JSON logs go to files (the hub's <data dir>/logs/hub.log, each till's
 * till.log), so the tokens shown once do not scroll away. TILLSYNC_LOG_FILE=- puts the hub's on stdout.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startTillApp, TILL_LOG_FILE } from '@tillsync/pos-client';
import { runCli } from '../hub/src/cli/main.js';
import { demoLogFile } from '../hub/src/cli/serve.js';
import { stopOnSignals } from '../hub/src/cli/shutdown.js';
import { configFromEnv } from '../hub/src/config.js';
import { createApiToken } from '../hub/src/services/tokens.js';
import { openEnrolledTill } from './demo/enrolled-till.js';
import { type SimConfig, simConfigFromEnv } from './demo/sim-config.js';
import { simulatedTillDir, startSimulatedTills } from './demo/simulated-tills.js';

const DEMO_STORE = 'store-paris-1';
// The hub's banner is held back and printed with the tills' once all of it is up (errors go out now).
let hubBanner = '';
const held = new Writable({
  write(chunk: Buffer, _encoding, done) {
    hubBanner += chunk.toString();
    done();
  },
});
const io = { stdout: held, stderr: process.stderr, env: process.env };
// Whatever fails later, the hub's banner (its tokens are shown once) still reaches the terminal.
process.once('exit', () => process.stdout.write(hubBanner));

const sim = simConfigOrExit();
const hub = await runCli(['demo'], io);
if (!hub.running) process.exit(hub.exitCode);
const { url, db } = hub.running;

const config = configFromEnv();
const dataDir = config.dataDir === ':memory:' ? 'data' : config.dataDir;
const cashierDir = join(dataDir, 'demo-till');
// Enrolled (or pointed at this hub) here; the till app then opens it on its own.
(await openEnrolledTill(db, url, cashierDir, { locationId: DEMO_STORE, name: 'Paris demo till' })).close();
const till = await startTillApp({ dataDir: cashierDir });
const simulated = await startSimulatedTills({
  db,
  hubUrl: url,
  dataDir,
  config: sim,
});
// The seeded hq token is only known on the start that seeded; later starts mint one for the dashboard.
const hqToken =
  hub.running.demoTokens?.hq ?? (await createApiToken(db, { name: 'demo hq dashboard', role: 'hq' })).token;

const hubLog = config.logFile ?? demoLogFile(config);
const hubLines = hubBanner.trimEnd().replace(/\n+Press Ctrl\+C to stop\.$/, '');
hubBanner = '';
process.stdout.write(
  [
    hubLines,
    '',
    `Cashier till (${DEMO_STORE}), browser mode: open`,
    `  ${till.url}`,
    '  Scan or type a SKU (e.g. ML-SKN-001) and press Enter; F2 cash, F3 card; F6–F10 switch screens.',
    '  When the hub is unreachable the till keeps selling and shows what waits to sync (README: "What',
    '  happens offline"). The next `pnpm start` reuses the same data and tills.',
    '',
    'HQ dashboard: open (the hq token in the fragment signs you in; the page keeps it for the tab only)',
    `  ${url}/hq#token=${hqToken}`,
    ...(simulated.length > 0
      ? [
          `  ${simulated.length} simulated tills (${sim.tillsPerStore} per store, seed ${sim.seed}) sell every few seconds, now`,
          '  and then lose their network for a while (and keep selling) and come back.',
          '  TILLSYNC_DEMO_TILLS=0 turns them off; TILLSYNC_DEMO_SPEED=10 runs them ten times faster.',
        ]
      : ['  No simulated tills (TILLSYNC_DEMO_TILLS=0).']),
    '',
    "Logs (JSON lines; LOG_LEVEL sets the hub's level):",
    `  hub             ${hubLog === '-' ? 'stdout (TILLSYNC_LOG_FILE=-)' : hubLog}`,
    `  cashier till    ${join(cashierDir, TILL_LOG_FILE)}`,
    ...(simulated.length > 0
      ? [`  simulated tills ${join(simulatedTillDir(dataDir, '<device id>'), TILL_LOG_FILE)}`]
      : []),
    '',
    'Press Ctrl+C to stop everything.',
    '',
  ].join('\n'),
);

// Ctrl-C as for `hub serve` (hub/src/cli/shutdown.ts): a bounded graceful stop, exit 0; a second
// Ctrl-C, or the shutdown timeout, forces the exit. Tills stop first, then the hub.
const running = hub.running;
stopOnSignals(
  {
    ...running,
    async close() {
      await Promise.allSettled(simulated.map((t) => t.stop()));
      await till.close();
      await running.close();
    },
  },
  { stdout: process.stdout, stderr: process.stderr },
);

function simConfigOrExit(): SimConfig {
  try {
    return simConfigFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
