import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PostgresDatabase, quoteIdent } from '../db/postgres.js';
import { type CliIo, type CliOutcome, say } from './io.js';
import { checkRestored } from './restore-check.js';

const run = promisify(execFile);

/*
 * Postgres: pg_dump's custom format of the hub's schema (`public`, or the schema named by
 * `options=-c search_path=<schema>` in DATABASE_URL), restored with pg_restore. pg_dump reads one
 * consistent snapshot, so backing up a running hub is safe.
 */

/** The schema the hub's tables live in: DATABASE_URL's search_path option, else public. */
export function hubSchema(databaseUrl: string): string {
  const options = new URL(databaseUrl).searchParams.get('options') ?? '';
  return /search_path\s*=\s*([a-z_][a-z0-9_]*)/.exec(options)?.[1] ?? 'public';
}

/**
 * libpq does not decode `+` as a space in a URI, and pg_dump picks the schema with --schema
 * anyway: the tools get the URL without its options.
 */
function toolUrl(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.delete('options');
  return url.toString();
}

export async function backupPostgres(io: CliIo, databaseUrl: string, file: string): Promise<CliOutcome> {
  const schema = hubSchema(databaseUrl);
  if (!(await checkClientVersion(io, databaseUrl, 'pg_dump'))) return { exitCode: 1 };
  await tool('pg_dump', [
    '--format=custom',
    `--schema=${schema}`,
    `--file=${file}`,
    `--dbname=${toolUrl(databaseUrl)}`,
  ]);
  say(io, `Backed up Postgres schema ${schema} to ${file}`);
  return { exitCode: 0 };
}

export async function restorePostgres(
  io: CliIo,
  databaseUrl: string,
  file: string,
  force: boolean,
): Promise<CliOutcome> {
  const schema = hubSchema(databaseUrl);
  if (!(await checkClientVersion(io, databaseUrl, 'pg_restore'))) return { exitCode: 1 };
  // Reading the archive's table of contents first also proves it is a readable dump.
  const { stdout: toc } = await tool('pg_restore', ['--list', file]);
  const dumped = /^\d+; \d+ \d+ SCHEMA - (\S+) /m.exec(toc)?.[1];
  if (dumped !== schema) {
    io.stderr.write(
      `error: ${file} holds schema ${dumped ?? '(none)'} but DATABASE_URL names schema ${schema}; ` +
        'pg_restore cannot rename a schema, so restore into the schema the backup was taken from.\n',
    );
    return { exitCode: 1 };
  }
  const relations = await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`,
      [schema],
    );
    return rows[0]?.n ?? 0;
  });
  if (relations > 0 && !force) {
    io.stderr.write(
      `error: schema ${schema} already holds ${relations} tables/sequences; a restore replaces it entirely. ` +
        'Re-run with --force to drop and restore it, or point DATABASE_URL at an empty database.\n',
    );
    return { exitCode: 1 };
  }
  await withClient(databaseUrl, async (client) => {
    if (relations > 0) await client.query(`DROP SCHEMA ${quoteIdent(schema)} CASCADE`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  });
  // The dump creates its schema; it exists now (keeping its owner and grants), so skip that entry.
  const dir = await mkdtemp(join(tmpdir(), 'tillsync-restore-'));
  try {
    const list = join(dir, 'toc.list');
    const schemaEntry = new RegExp(`^(\\d+; \\d+ \\d+ (SCHEMA - |COMMENT - SCHEMA )${schema} .*)$`, 'gm');
    await writeFile(list, toc.replace(schemaEntry, ';$1'));
    await tool('pg_restore', [
      '--no-owner',
      '--no-privileges',
      '--exit-on-error',
      '--single-transaction',
      `--use-list=${list}`,
      `--dbname=${toolUrl(databaseUrl)}`,
      file,
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  say(io, `Restored ${file} into Postgres schema ${schema}`);
  const db = await PostgresDatabase.connect({ connectionString: databaseUrl, max: 1 });
  try {
    return { exitCode: (await checkRestored(db, io)) ? 0 : 1 };
  } finally {
    await db.close();
  }
}

/** pg_dump/pg_restore older than the server cannot read or write its dumps: say which to install. */
async function checkClientVersion(io: CliIo, databaseUrl: string, binary: string): Promise<boolean> {
  let clientMajor: number;
  try {
    const { stdout } = await run(binary, ['--version']);
    clientMajor = Number.parseInt(/(\d+)(\.\d+)*/.exec(stdout)?.[1] ?? '0', 10);
  } catch {
    io.stderr.write(`error: ${binary} not found on PATH; install the PostgreSQL client tools\n`);
    return false;
  }
  const serverMajor = await withClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ v: string }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]?.v ?? 0) / 10_000);
  });
  if (clientMajor < serverMajor) {
    io.stderr.write(
      `error: ${binary} ${clientMajor} is older than the server (PostgreSQL ${serverMajor}); ` +
        `install postgresql-client-${serverMajor}\n`,
    );
    return false;
  }
  return true;
}

async function tool(binary: string, args: string[]): Promise<{ stdout: string }> {
  try {
    return await run(binary, args, { maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`${binary} failed: ${stderr || (err as Error).message}`);
  }
}

async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
