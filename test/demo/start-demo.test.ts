import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

// `pnpm start` runs on embedded PGlite by design: this project runs once, not per database.
describe('the README run command (pnpm start)', () => {
  let dir: string;
  let child: ChildProcess;
  let output = '';

  beforeAll(() => {
    execFileSync(process.execPath, [join(root, 'pos-client/ui/build.mjs')], { stdio: 'ignore' });
    dir = mkdtempSync(join(tmpdir(), 'start-demo-'));
  });
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the demo hub and a cashier till that is online against it, and stops cleanly', async () => {
    child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@tillsync/source', join(root, 'scripts/start-demo.ts')],
      { cwd: root, env: { ...process.env, TILLSYNC_DATA_DIR: dir, PORT: '0', LOG_LEVEL: 'warn' } },
    );
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await expect.poll(() => /#secret=(\S+)/.test(output), { timeout: 60_000, interval: 200 }).toBe(true);
    expect(output).toMatch(/Demo brand "Maison Lumière" created: 4 locations, 300 products/);
    const [, base, secret] = /(http:\/\/127\.0\.0\.1:\d+)\/#secret=(\S+)/.exec(output)!;
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

    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 120_000);
});
