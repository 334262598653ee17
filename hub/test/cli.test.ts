import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliRun, runCliCaptured } from './helpers/run-cli.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl, testDbKind } from './helpers/test-db.js';

const EXAMPLES = new URL('../examples/', import.meta.url);

/*
 * The CLI runs in-process against its own database: a fresh PGlite data directory, or on Postgres a
 * fresh schema reached through DATABASE_URL's search_path option.
 */
describe(`hub command line on ${testDbKind()}`, () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let schemaDb: TestDatabase | null = null;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-cli-'));
    env = { TILLSYNC_DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'silent' };
    if (testDbKind() === 'postgres') {
      schemaDb = await createTestDatabase('postgres');
      const url = new URL(testDatabaseUrl());
      url.searchParams.set('options', `-c search_path=${schemaDb.schema}`);
      env.DATABASE_URL = url.toString();
    }
  });
  afterAll(async () => {
    await schemaDb?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  function cli(...argv: string[]): Promise<CliRun> {
    return runCliCaptured(argv, env);
  }

  async function file(name: string, lines: string[]): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  }

  let storeManagerToken = '';

  it('demo seeds the brand on first start, prints the tokens once and serves them', async () => {
    const run = await cli('demo');
    try {
      expect(run.exitCode).toBe(0);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('Bootstrap admin token written to ');
      expect(run.stdout).toContain('Demo brand "Maison Lumière" created: 4 locations, 300 products,');
      storeManagerToken = /store_manager \(store-paris-1\)\s+(tsk\.\S+)/.exec(run.stdout)?.[1] ?? '';
      expect(storeManagerToken).not.toBe('');
      const url = run.running?.url ?? '';
      expect(run.stdout).toContain(`${url}/docs`);
      expect(run.stdout).toContain(`"${url}/v1/locations/store-paris-1/inventory?limit=5"`);

      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });
      const res = await fetch(`${url}/v1/locations/store-paris-1/inventory?limit=5`, {
        headers: { authorization: `Bearer ${storeManagerToken}` },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(5);
    } finally {
      await run.running?.close();
    }
  });

  it('demo on the second start neither reseeds nor prints tokens again', async () => {
    const run = await cli('demo');
    try {
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toContain('Demo data already present (not seeded again)');
      expect(run.stdout).not.toContain('tsk.');
    } finally {
      await run.running?.close();
    }
  });

  it('serve starts and stops without printing a token once one exists', async () => {
    const run = await cli('serve');
    try {
      expect(run.stdout).toMatch(/Tillsync hub listening on http:\/\/127\.0\.0\.1:\d+/);
      expect(run.stdout).not.toContain('Bootstrap admin token');
      expect((await fetch(`${run.running?.url}/healthz`)).status).toBe(200);
      if (testDbKind() === 'pglite') {
        const clash = await cli('token', 'create', '--role', 'hq');
        expect(clash.exitCode).toBe(1);
        expect(clash.stderr).toContain('is in use by another Tillsync process');
      }
    } finally {
      await run.running?.close();
    }
  });

  it('serve logs JSON to stdout by default, to TILLSYNC_LOG_FILE when set (its folder created, 0600)', async () => {
    const plain = await cli('serve');
    try {
      expect(plain.stdout).toContain('  Logs       none (LOG_LEVEL=silent)');
    } finally {
      await plain.running?.close();
    }
    const logFile = join(dir, 'logs', 'nested', 'hub.log');
    const run = await runCliCaptured(['serve'], { ...env, LOG_LEVEL: 'info', TILLSYNC_LOG_FILE: logFile });
    try {
      expect(run.stdout).toContain(`  Logs       ${logFile} (JSON lines, level info, LOG_LEVEL to change;`);
      expect((await fetch(`${run.running?.url}/healthz`)).status).toBe(200);
    } finally {
      await run.running?.close();
    }
    const lines = (await readFile(logFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === 'incoming request' && l.req.url === '/healthz')).toBe(true);
    expect((await stat(logFile)).mode & 0o777).toBe(0o600);
    // Unset: stdout, the production convention (systemd and docker collect it); `-` says the same.
    const stdoutRun = await runCliCaptured(['serve'], { ...env, LOG_LEVEL: 'warn' });
    try {
      expect(stdoutRun.stdout).toContain('  Logs       stdout (JSON lines, level warn, LOG_LEVEL to change)');
    } finally {
      await stdoutRun.running?.close();
    }
  });

  it('imports the example products and stock files into the demo brand', async () => {
    const products = await cli('import', 'products', new URL('products.csv', EXAMPLES).pathname);
    expect(products.stderr).toBe('');
    expect(products.stdout).toContain(
      'products: 4 inserted, 1 updated, 0 unchanged, 0 rejected (5 rows in file)',
    );
    expect(products.exitCode).toBe(0);

    const stock = await cli('import', 'stock', new URL('stock.csv', EXAMPLES).pathname);
    expect(stock.stdout).toContain('stock: 8 inserted, 0 updated, 0 unchanged, 0 rejected (8 rows in file)');
    expect(stock.exitCode).toBe(0);

    const again = await cli('import', 'stock', new URL('stock.csv', EXAMPLES).pathname);
    expect(again.stdout).toContain('stock: 0 inserted, 0 updated, 8 unchanged, 0 rejected');
  });

  it('refuses a file with rejected rows, importing nothing, unless --skip-invalid', async () => {
    const path = await file('bad-stock.csv', [
      'location,sku,on_hand',
      'store-paris-1,ML-SKN-002,5',
      'store-nowhere,ML-SKN-002,5',
      'store-paris-1,ML-SKN-003,-2',
    ]);
    const refused = await cli('import', 'stock', path);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('line 3, column location: unknown location store-nowhere');
    expect(refused.stderr).toMatch(/line 4, column on_hand: .*>=\s?0/);
    expect(refused.stderr).toContain('Nothing imported: 2 line(s) rejected out of 3.');

    const partial = await cli('import', 'stock', path, '--skip-invalid');
    expect(partial.exitCode).toBe(3);
    expect(partial.stderr).toContain('line 3, column location: unknown location store-nowhere');
    expect(partial.stdout).toMatch(/stock: 0 inserted, 1 updated, 0 unchanged, 2 rejected/);
  });

  it('creates tokens from the command line, checking role and location', async () => {
    const created = await cli('token', 'create', '--role', 'store_manager', '--location', 'store-lyon-1');
    expect(created.exitCode).toBe(0);
    expect(created.stdout).toMatch(/^tsk\.[0-9a-f]+\.\S+$/m);

    const missing = await cli('token', 'create', '--role', 'store_manager');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('--location: a store_manager token needs --location <id>');

    const unknown = await cli('token', 'create', '--role', 'store_manager', '--location', 'store-nowhere');
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain('unknown location store-nowhere');
  });

  it('answers unknown commands and options with the usage text', async () => {
    const command = await cli('frobnicate');
    expect(command.exitCode).toBe(2);
    expect(command.stderr).toContain('error: unknown command: frobnicate');
    expect(command.stderr).toContain('Usage: tillsync-hub <command>');
    const option = await cli('serve', '--verbose');
    expect(option.exitCode).toBe(2);
    expect(option.stderr).toContain("Unknown option '--verbose'");
  });
});
