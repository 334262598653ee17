import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const STORES = ['store-paris-1', 'store-lyon-1', 'store-bordeaux-1'];
const SIM_TILL = /^store-[a-z]+-1-sim-[12]$/;
const LAST_LINE = 'Press Ctrl+C to stop everything.\n';

/** The JSON lines of a log file. */
const jsonLines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { level: number; msg: string });

/** Lines logged at error level or worse by the simulated tills (an action their own till refused). */
const simulatedTillErrors = (dataDir: string) =>
  readdirSync(join(dataDir, 'demo-tills')).flatMap((id) =>
    jsonLines(join(dataDir, 'demo-tills', id, 'till.log'))
      .filter((l) => l.level >= 50)
      .map((l) => `${id}: ${l.msg}`),
  );

interface Device {
  id: string;
  locationId: string;
  enrolled: boolean;
  connected: boolean;
  lastSeenAt: string | null;
}

/** One `pnpm start` process (the script itself, as `pnpm start` runs it after building the UI). */
class Demo {
  output = '';
  readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;

  constructor(env: NodeJS.ProcessEnv) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@tillsync/source', join(root, 'scripts/start-demo.ts')],
      { cwd: root, env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', TILLSYNC_LOG_FILE: '', ...env } },
    );
    const collect = (d: Buffer) => {
      this.output += d.toString();
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  /** Waits for the banner's last line, then reads the hub address, the HQ dashboard URL and its token. */
  async ready(): Promise<{ hub: string; hqToken: string }> {
    await expect
      .poll(() => this.output.includes(LAST_LINE) || this.child.exitCode !== null, {
        timeout: 60_000,
        interval: 200,
      })
      .toBe(true);
    const [, hub] = /Tillsync hub listening on (http:\/\/\S+)/.exec(this.output) ?? [];
    const [, dashboardHub, hqToken] = /(http:\/\/\S+)\/hq#token=(\S+)/.exec(this.output) ?? [];
    expect(hub, this.output).toBeDefined();
    expect(dashboardHub).toBe(hub);
    return { hub: hub!, hqToken: hqToken! };
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exited;
  }

  wait(): Promise<number | null> {
    return this.exited;
  }
}

async function getJson<T>(url: string, token: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status, url).toBe(200);
  return (await res.json()) as T;
}

/** Seen by the hub (connected or heartbeat) since `t`: a sign of life of this start's tills. */
const seenSince = (t: number) => (d: Device) => d.lastSeenAt !== null && Date.parse(d.lastSeenAt) >= t;

const devices = async (hub: string, token: string) =>
  (await getJson<{ items: Device[] }>(`${hub}/v1/devices?limit=100`, token)).items;

/** Sales the simulated tills of a store brought into the hub's ledger since `from` (500 at most). */
async function simulatedSales(hub: string, token: string, locationId: string, from = 0): Promise<number> {
  const query = new URLSearchParams({
    locationId,
    reason: 'sale',
    from: new Date(from).toISOString(),
    limit: '500',
  });
  const { items } = await getJson<{ items: Array<{ deviceId: string | null }> }>(
    `${hub}/v1/movements?${query}`,
    token,
  );
  return items.filter((m) => SIM_TILL.test(m.deviceId ?? '')).length;
}

// `pnpm start` runs on embedded PGlite by design: this project runs once, not per database.
describe('the README run command (pnpm start)', () => {
  let dir: string;
  const demos: Demo[] = [];
  // Ten times faster: tills act every 0.2–0.6 s, stay online 4–9 s and offline 2–4.5 s.
  const start = (env: NodeJS.ProcessEnv = {}) => {
    const demo = new Demo({
      TILLSYNC_DATA_DIR: dir,
      TILLSYNC_DEMO_SPEED: '10',
      TILLSYNC_DEMO_SEED: '7',
      ...env,
    });
    demos.push(demo);
    return demo;
  };
  let firstHqToken = '';

  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'pos-client/ui/build.mjs')], { stdio: 'ignore' });
    dir = mkdtempSync(join(tmpdir(), 'start-demo-'));
  });
  afterAll(() => {
    for (const demo of demos) demo.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('first start: hub, a cashier till and simulated tills that sell, drop offline and come back', async () => {
    const demo = start({ LOG_LEVEL: 'info' });
    const { hub, hqToken } = await demo.ready();
    firstHqToken = hqToken;
    // The dashboard line carries the seeded demo hq token, not another one.
    expect(/hq \(read everything\)\s+(\S+)/.exec(demo.output)?.[1]).toBe(hqToken);
    expect(demo.output).toMatch(/Demo brand "Maison Lumière" created: 4 locations, 300 products/);
    expect(demo.output).toContain('6 simulated tills (2 per store, seed 7)');

    // The cashier till: browser mode, online against the hub.
    const [, base, secret] = /(http:\/\/127\.0\.0\.1:\d+)\/#secret=(\S+)/.exec(demo.output)!;
    const state = async () =>
      (await (await fetch(`${base}/api/state`, { headers: { 'x-till-secret': secret! } })).json()) as {
        online: boolean;
        locationId: string;
      };
    await expect.poll(async () => (await state()).online, { timeout: 20_000 }).toBe(true);
    expect((await state()).locationId).toBe('store-paris-1');
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>');

    // Two simulated tills per store (none at the warehouse), enrolled with the printed hq token's hub.
    const sims = (await devices(hub, hqToken)).filter((d) => SIM_TILL.test(d.id));
    expect(sims.map((d) => d.id).sort()).toEqual(STORES.flatMap((s) => [`${s}-sim-1`, `${s}-sim-2`]).sort());
    expect(sims.every((d) => d.enrolled && d.id.startsWith(d.locationId))).toBe(true);

    // Every store's ledger fills with its simulated tills' sales, and keeps filling.
    for (const store of STORES)
      await expect.poll(() => simulatedSales(hub, hqToken, store), { timeout: 20_000 }).toBeGreaterThan(0);
    const lyon = await simulatedSales(hub, hqToken, 'store-lyon-1');
    await expect
      .poll(() => simulatedSales(hub, hqToken, 'store-lyon-1'), { timeout: 20_000 })
      .toBeGreaterThan(lyon);

    // Some till is seen connected, then not (its network dropped), then connected again.
    const seen = new Map<string, boolean[]>();
    const cameBack = async () => {
      for (const d of await devices(hub, hqToken)) {
        if (!SIM_TILL.test(d.id)) continue;
        const states = seen.get(d.id) ?? [];
        if (states.at(-1) !== d.connected) states.push(d.connected);
        seen.set(d.id, states);
      }
      return [...seen.values()].some((s) => s.join().includes('true,false,true'));
    };
    await expect.poll(cameBack, { timeout: 30_000, interval: 100 }).toBe(true);

    // The banner is still the last thing on the terminal, after all that traffic, and says where
    // the logs went: the hub's JSON lines (requests, sync batches) are in the file, not on screen.
    expect(demo.output.endsWith(LAST_LINE), demo.output.slice(-500)).toBe(true);
    expect(demo.output).not.toMatch(/^\{/m);
    const hubLog = join(dir, 'logs', 'hub.log');
    expect(demo.output).toContain(`hub             ${hubLog}`);
    const logged = jsonLines(hubLog);
    expect(logged.some((l) => l.level === 30 && l.msg === 'push batch applied')).toBe(true);
    expect(logged.some((l) => l.msg === 'incoming request')).toBe(true);
    // The simulated tills log to their own till.log, like any till.
    expect(jsonLines(join(dir, 'demo-tills', 'store-lyon-1-sim-1', 'till.log')).length).toBeGreaterThan(0);

    expect(await demo.stop()).toBe(0);
    // Nothing a simulated till tried was refused by its own till.
    expect(simulatedTillErrors(dir)).toEqual([]);
  }, 120_000);

  it('second start reuses the data and the tills, with a fresh hq token for the dashboard', async () => {
    const startedAt = Date.now();
    const demo = start();
    const { hub, hqToken } = await demo.ready();
    expect(demo.output).toContain('Demo data already present');
    // The seeded tokens were shown once: the dashboard line carries a new one, and it works.
    expect(hqToken).not.toBe(firstHqToken);
    // No new device: the cashier till and the six simulated ones were reused...
    expect(await devices(hub, hqToken)).toHaveLength(7);
    // ...and, though the hub listens on another port than on the first start, each one reached it.
    await expect
      .poll(async () => (await devices(hub, hqToken)).every(seenSince(startedAt)), { timeout: 20_000 })
      .toBe(true);
    await expect
      .poll(() => simulatedSales(hub, hqToken, 'store-lyon-1', startedAt), { timeout: 20_000 })
      .toBeGreaterThan(0);
    expect(await demo.stop()).toBe(0);
    expect(simulatedTillErrors(dir)).toEqual([]);
  }, 90_000);

  it('TILLSYNC_DEMO_TILLS=0 starts no simulated till; a bad knob is a usage error', async () => {
    const bad = start({ TILLSYNC_DEMO_SPEED: 'fast' });
    expect(await bad.wait()).toBe(2);
    expect(bad.output).toContain('TILLSYNC_DEMO_SPEED must be a number > 0 (got "fast")');

    const startedAt = Date.now();
    // TILLSYNC_LOG_FILE=- puts the hub's JSON log back on stdout.
    const demo = start({ TILLSYNC_DEMO_TILLS: '0', TILLSYNC_LOG_FILE: '-', LOG_LEVEL: 'info' });
    const { hub, hqToken } = await demo.ready();
    expect(demo.output).toContain('No simulated tills (TILLSYNC_DEMO_TILLS=0)');
    expect(demo.output).toMatch(/^\{"level":30,.*"msg":"Server listening at/m);
    expect(demo.output).toContain('hub             stdout (TILLSYNC_LOG_FILE=-)');
    // The cashier till reaching the hub is the signal: simulated tills would have started with it.
    await expect
      .poll(async () => (await devices(hub, hqToken)).filter(seenSince(startedAt)).map((d) => d.locationId))
      .toEqual(['store-paris-1']);
    // None connects to this hub. (`connected` alone can still be the previous start's: a hub that
    // stops while its tills disconnect may close its database before it records their goodbye.)
    expect(
      (await devices(hub, hqToken)).filter(
        (d) => SIM_TILL.test(d.id) && d.connected && seenSince(startedAt)(d),
      ),
    ).toEqual([]);
    expect(await demo.stop()).toBe(0);
  }, 90_000);
});
