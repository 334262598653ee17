import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planBootstrap, TOKEN_FILE_NAME } from '../src/services/bootstrap-admin.js';
import { hashSecret } from '../src/services/tokens.js';
import { type CliRun, runCliCaptured } from './helpers/run-cli.js';
import { createTestDatabase, type TestDatabase, testDatabaseUrl, testDbKind } from './helpers/test-db.js';

describe('planBootstrap', () => {
  const hash = `ab12:${'0'.repeat(64)}`;
  it('mints only outside production, and only when no admin exists', () => {
    expect(planBootstrap({ env: 'development' }, false)).toEqual({ kind: 'mint' });
    expect(planBootstrap({ env: 'test' }, false)).toEqual({ kind: 'mint' });
    expect(planBootstrap({ env: 'development' }, true)).toEqual({ kind: 'none' });
    expect(planBootstrap({ env: 'production' }, true)).toEqual({ kind: 'none' });
    expect(planBootstrap({ env: 'production' }, false)).toMatchObject({
      kind: 'refuse',
      message: expect.stringContaining('TILLSYNC_ADMIN_TOKEN_HASH'),
    });
  });
  it('provisions an out-of-band token in any mode, and refuses a malformed one', () => {
    for (const env of ['production', 'development'] as const) {
      expect(planBootstrap({ env, adminTokenHash: hash }, false)).toEqual({
        kind: 'provision',
        id: 'ab12',
        secretHash: '0'.repeat(64),
      });
    }
    for (const bad of [
      '',
      'ab12',
      `ab12:${'0'.repeat(63)}`,
      `a.b:${'0'.repeat(64)}`,
      `ab12:${'G'.repeat(64)}`,
    ]) {
      expect(planBootstrap({ env: 'production', adminTokenHash: bad }, true), bad).toMatchObject({
        kind: 'refuse',
        message: expect.stringContaining('TILLSYNC_ADMIN_TOKEN_HASH'),
      });
    }
  });
});

/**
 * Each case on a database of its own: a fresh PGlite data directory (its initdb takes a while on a
 * loaded machine, hence the timeout), or a fresh Postgres schema.
 */
describe(`the first admin token on ${testDbKind()}`, { timeout: 120_000 }, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function freshEnv(
    extra: NodeJS.ProcessEnv = {},
  ): Promise<{ env: NodeJS.ProcessEnv; dataDir: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'tillsync-bootstrap-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'data');
    const env: NodeJS.ProcessEnv = { TILLSYNC_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', ...extra };
    if (testDbKind() === 'postgres') {
      const schemaDb: TestDatabase = await createTestDatabase('postgres');
      cleanups.push(() => schemaDb.drop());
      const url = new URL(testDatabaseUrl());
      url.searchParams.set('options', `-c search_path=${schemaDb.schema}`);
      env.DATABASE_URL = url.toString();
    }
    return { env, dataDir };
  }

  async function serve(env: NodeJS.ProcessEnv): Promise<CliRun> {
    const run = await runCliCaptured(['serve'], env);
    if (run.running) cleanups.push(() => run.running!.close());
    return run;
  }

  const asAdmin = (url: string, token: string) =>
    fetch(`${url}/v1/webhooks`, { headers: { authorization: `Bearer ${token}` } });

  it('writes a minted token to a 0600 file in a 0700 directory and prints only where it is', async () => {
    const { env, dataDir } = await freshEnv();
    const run = await serve(env);
    expect(run.exitCode).toBe(0);
    const file = join(dataDir, TOKEN_FILE_NAME);
    expect(run.stdout).toContain(`Bootstrap admin token written to ${file} (mode 0600`);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(dataDir)).mode & 0o777).toString(8)).toBe('700');

    const token = (await readFile(file, 'utf8')).trim();
    expect(token).toMatch(/^tsk\.[0-9a-f]{12}\.[\w-]{43}$/);
    expect(run.stdout).not.toContain(token);
    expect(run.stderr).not.toContain(token);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/tsk\.\w+\.\w+/);
    expect((await asAdmin(run.running!.url, token)).status).toBe(200);
  });

  it('writes to TILLSYNC_BOOTSTRAP_TOKEN_FILE when given, and mints nothing on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tillsync-secret-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'secrets', 'admin');
    const { env } = await freshEnv({ TILLSYNC_BOOTSTRAP_TOKEN_FILE: file });
    const first = await serve(env);
    expect(first.stdout).toContain(`Bootstrap admin token written to ${file}`);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(join(dir, 'secrets'))).mode & 0o777).toString(8)).toBe('700');
    const token = (await readFile(file, 'utf8')).trim();
    await first.running!.close();
    cleanups.pop();

    const second = await serve(env);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).not.toContain('Bootstrap admin token');
    expect((await readFile(file, 'utf8')).trim()).toBe(token);
    expect((await asAdmin(second.running!.url, token)).status).toBe(200);
  });

  it('refuses to start in production without an out-of-band admin token, minting nothing', async () => {
    const { env, dataDir } = await freshEnv({ NODE_ENV: 'production' });
    const run = await serve(env);
    expect(run.exitCode).toBe(1);
    expect(run.running).toBeUndefined();
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^error: production mode .*TILLSYNC_ADMIN_TOKEN_HASH/),
    ]);
    expect(run.stdout).not.toMatch(/tsk\./);
    await expect(stat(join(dataDir, TOKEN_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });

    const malformed = await serve({ ...env, TILLSYNC_ADMIN_TOKEN_HASH: 'not-a-hash' });
    expect(malformed.exitCode).toBe(1);
    expect(malformed.stderr).toMatch(/^error: TILLSYNC_ADMIN_TOKEN_HASH must be <id>:<sha256 hex/);
  });

  it('starts in production with TILLSYNC_ADMIN_TOKEN_HASH: the token made out of band works', async () => {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const { env, dataDir } = await freshEnv({
      NODE_ENV: 'production',
      TILLSYNC_ADMIN_TOKEN_HASH: `${id}:${hashSecret(secret)}`,
    });
    const run = await serve(env);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).not.toContain('Bootstrap admin token');
    await expect(stat(join(dataDir, TOKEN_FILE_NAME))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await asAdmin(run.running!.url, `tsk.${id}.${secret}`)).status).toBe(200);
    expect(
      (await asAdmin(run.running!.url, `tsk.${id}.${randomBytes(32).toString('base64url')}`)).status,
    ).toBe(401);
  });
});
