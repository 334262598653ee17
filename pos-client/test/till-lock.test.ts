import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Till, TillLockedError } from '../src/index.js';
import { product, provision, removeDir, tempDir } from './helpers/till-fixture.js';

/*
 * One till process per data directory: SQLite's exclusive lock, held by the connection for its
 * whole life. better-sqlite3 applies it per connection, so a second Till in this process is
 * refused as a second process would be; a real child process checks the operator's message.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const tillModule = pathToFileURL(fileURLToPath(new URL('../src/index.ts', import.meta.url))).href;
/** Node running the till's TypeScript sources, as `pnpm till` would run the build. */
const nodeArgs = ['--import', 'tsx', '--conditions=@tillsync/source', '--input-type=module', '-e'];

function enrolled(dataDir: string): Till {
  return provision(Till.open({ dataDir }), {
    catalog: [product('LIP-RED', 'Red lipstick', 1500)],
    at: 1_700_000_000_000,
  });
}

describe('one till per data directory', () => {
  let dir: string;
  let holder: Till | null;

  beforeEach(() => {
    dir = tempDir('till-lock-');
    holder = enrolled(dir);
  });
  afterEach(() => {
    holder?.close();
    removeDir(dir);
  });

  it('refuses a second till on the directory and leaves the first one selling', () => {
    holder!.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    expect(() => Till.open({ dataDir: dir })).toThrow(TillLockedError);
    expect(() => Till.open({ dataDir: dir })).toThrow(
      `another till process is using ${dir}: one till per data directory`,
    );

    holder!.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    expect(holder!.cashier.status()).toMatchObject({ outboxDepth: 2, nextSeq: 3 });
  });

  it('opens the directory again once the first till is closed', () => {
    holder!.cashier.sell({ lines: [{ ref: 'LIP-RED', qty: 1 }] });
    holder!.close();
    holder = Till.open({ dataDir: dir });
    expect(holder.cashier.status()).toMatchObject({ outboxDepth: 1, nextSeq: 2 });
  });

  it('refuses another process with a clear message', () => {
    const script = `
      const { Till } = await import(${JSON.stringify(tillModule)});
      try {
        Till.open({ dataDir: ${JSON.stringify(dir)} }).close();
      } catch (err) {
        console.error(err.name + ': ' + err.message);
        process.exit(3);
      }`;
    const child = spawnSync(process.execPath, [...nodeArgs, script], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr.trim()).toBe(
      `TillLockedError: another till process is using ${dir}: one till per data directory`,
    );
    expect(child.status).toBe(3);
  }, 20_000);

  it('leaves no stale lock behind when the till process is killed', async () => {
    holder!.close();
    holder = null;
    const script = `
      const { Till } = await import(${JSON.stringify(tillModule)});
      Till.open({ dataDir: ${JSON.stringify(dir)} });
      console.log('holding');
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, [...nodeArgs, script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('holding')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited early (${code})`)));
      });
      expect(() => Till.open({ dataDir: dir })).toThrow(TillLockedError);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    holder = Till.open({ dataDir: dir });
    expect(holder.cashier.status().deviceId).toBe('paris-1');
  }, 20_000);
});
