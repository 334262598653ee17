import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runTillCli } from '../src/cli/main.js';
import { Till } from '../src/index.js';
import { product, provision, removeDir, tempDir } from './helpers/till-fixture.js';

/*
 * The till's command line by convention: commander refuses what it does not know before anything
 * is rung, every command explains itself, and a directory holding no till is left as it was.
 * The enrolled till's hub is a closed port: nothing here needs one.
 */

const POS_CLIENT = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(POS_CLIENT, 'package.json'), 'utf8')) as { version: string };

describe('till command line', () => {
  let root: string;
  let dir: string;
  let out: string[];
  let err: string[];
  const io = () => ({ out: (l: string) => out.push(l), err: (l: string) => err.push(l) });
  const till = (...args: string[]) => runTillCli(args, io(), {});

  /** The till's outbox and receipts, read by opening it after the command closed it. */
  function recorded(): { ops: number; receipts: number } {
    const t = Till.open({ dataDir: dir });
    try {
      const { n } = t.db.prepare('SELECT count(*) AS n FROM receipts').get() as { n: number };
      return { ops: t.cashier.status().outboxDepth, receipts: n };
    } finally {
      t.close();
    }
  }

  beforeEach(() => {
    root = tempDir('till-cli-');
    dir = join(root, 'till');
    provision(Till.open({ dataDir: dir }), {
      catalog: [product('LIP-RED', 'Red lipstick', 1500)],
      at: 1_700_000_000_000,
    }).close();
    out = [];
    err = [];
  });
  afterEach(() => removeDir(root));

  it('refuses an unknown option, naming it, and rings nothing', async () => {
    expect(await till('--data', dir, 'sell', 'LIP-RED', '--payy', 'card')).toBe(2);
    expect(err.join('\n')).toContain("error: unknown option '--payy'");
    expect(await till('--data', dir, 'sell', 'LIP-RED', '--pay', 'cheque')).toBe(2);
    expect(err.join('\n')).toContain(
      "argument 'cheque' is invalid. Allowed choices are cash, card, voucher.",
    );
    expect(await till('--data', dir, 'sell')).toBe(2);
    expect(err.join('\n')).toContain("error: missing required argument 'items'");
    expect(recorded()).toEqual({ ops: 0, receipts: 0 });

    expect(await till('--data', dir, 'sell', 'LIP-RED', '--pay', 'card')).toBe(0);
    expect(out).toContain('  total 15.00 (card)');
    expect(recorded()).toEqual({ ops: 1, receipts: 1 });
  });

  it('refuses an unknown command, naming it', async () => {
    expect(await till('--data', dir, 'frobnicate')).toBe(2);
    expect(err.join('\n')).toContain("error: unknown command 'frobnicate'");
    expect(err.join('\n')).toContain('till --help lists the commands');
  });

  it('--help on every command lists its options and the environment variable it reads', async () => {
    const commands: Array<[string, string[]]> = [
      ['enrol', ['--hub <url>', '--code <code>']],
      ['run', []],
      ['sync', []],
      ['serve', ['--port <n>']],
      ['recover', ['--from <old data dir>']],
      ['sell', ['<items...>', '--pay <method>', '--override <reason>']],
      ['return', ['<items...>', '--receipt <id>', '--damaged']],
      ['count', ['<counts...>']],
      ['receive', ['<items...>', '--ref <reference>']],
      ['adjust', ['<reason>', '<items...>']],
      ['pickups', []],
      ['pickup', ['<order id>']],
      ['stock', ['<sku|barcode>']],
      ['status', []],
    ];
    for (const [command, options] of commands) {
      out = [];
      expect(await till(command, '--help'), command).toBe(0);
      const help = out.join('\n');
      expect(help).toContain(`Usage: till ${command}`);
      for (const text of [...options, '--data <dir>', 'TILL_DATA_DIR'])
        expect(help, `${command}: ${text}`).toContain(text);
    }
    out = [];
    expect(await till('--help')).toBe(0);
    for (const [command] of commands) expect(out.join('\n')).toContain(`  ${command} `);
    expect(out.join('\n')).toContain('Exit codes:');
  });

  it('--version prints the package version', async () => {
    expect(await till('--version')).toBe(0);
    expect(out).toEqual([version]);
  });

  it('says a directory holds no till, exit code 2, and creates nothing there', async () => {
    const missing = join(root, 'nowhere');
    const empty = tempDir('till-cli-empty-');
    try {
      for (const args of [
        ['status'],
        ['stock', 'LIP-RED'],
        ['pickups'],
        ['sell', 'LIP-RED'],
        ['sync'],
        ['run'],
        ['serve'],
        ['recover', '--from', dir],
      ]) {
        for (const data of [missing, empty]) {
          err = [];
          expect(await till('--data', data, ...args), args.join(' ')).toBe(2);
          expect(err).toEqual([
            `no till in ${data}: enrol one there with \`till enrol --hub <url> --code <code>\`, or point --data (or TILL_DATA_DIR) at a till's data directory`,
          ]);
        }
        expect(existsSync(missing)).toBe(false);
        expect(readdirSync(empty)).toEqual([]);
      }
      // TILL_DATA_DIR is read when --data is not given.
      err = [];
      expect(await runTillCli(['status'], io(), { TILL_DATA_DIR: missing })).toBe(2);
      expect(err[0]).toMatch(/^no till in .*nowhere:/);
      expect(await runTillCli(['status'], io(), { TILL_DATA_DIR: dir })).toBe(0);
    } finally {
      removeDir(empty);
    }
  });

  it('`till run` says how to stop, and its prompt refuses unknown options too', async () => {
    const input = new PassThrough();
    const done = runTillCli(['--data', dir, 'run'], { ...io(), input }, {});
    input.write('sell LIP-RED --payy card\n');
    input.write('frobnicate\n');
    input.write('sell LIP-RED --pay voucher\n');
    input.write('quit\n');
    expect(await done).toBe(0);
    expect(out.join('\n')).toContain('till paris-1 ready: type a command; "quit" or Ctrl-C to stop.');
    expect(out.join('\n')).toMatch(/^ {2}sell \[options\] <items\.\.\.>/m);
    expect(err).toContain("error: unknown option '--payy'\n(Did you mean --pay?)");
    expect(err.join('\n')).toContain("error: unknown command 'frobnicate'");
    expect(out).toContain('  total 15.00 (voucher)');
    expect(recorded()).toEqual({ ops: 1, receipts: 1 });
  });

  it('exits with these codes as a real process', { timeout: 120_000 }, async () => {
    const missing = join(root, 'nowhere');
    const [printed, unknown, noTill, status] = await Promise.all([
      runTillProcess(['--version']),
      runTillProcess(['--data', dir, 'sell', 'LIP-RED', '--payy', 'card']),
      runTillProcess(['--data', missing, 'status']),
      runTillProcess(['status'], { TILL_DATA_DIR: dir }),
    ]);
    expect(printed).toMatchObject({ code: 0, stdout: `${version}\n` });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--payy'");
    expect(noTill.code).toBe(2);
    expect(noTill.stderr).toMatch(/^no till in .*nowhere: enrol one there/);
    expect(existsSync(missing)).toBe(false);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('till paris-1 at paris');
    expect(recorded()).toEqual({ ops: 0, receipts: 0 });
  });
});

/** The till's own entry point in a child process, from its sources. */
async function runTillProcess(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@tillsync/source', join(POS_CLIENT, 'src/cli/main.ts'), ...argv],
    {
      cwd: join(POS_CLIENT, '..'),
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}
