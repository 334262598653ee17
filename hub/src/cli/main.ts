#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { backup, restore } from './backup.js';
import { grantCommand, migrateCommand } from './db.js';
import { importCsv } from './import.js';
import { type CliIo, type CliOutcome, UsageError } from './io.js';

export type { CliIo, CliOutcome } from './io.js';

import { demo, serve } from './serve.js';
import { createToken } from './token.js';
import { REMOTE_TOKEN_ACTIONS, type RemoteTokenAction, remoteToken, remoteUrl } from './token-remote.js';

const USAGE = `Usage: tillsync-hub <command> [options]

Commands:
  serve                                  start the hub (first start: writes an admin token to a 0600 file)
  demo                                   seed the "Maison Lumière" demo brand if the database is empty, then serve
  import products <file.csv> [--skip-invalid]
                                         columns: sku,name,barcode,category,price[,currency]
  import stock <file.csv> [--skip-invalid]
                                         columns: location,sku,on_hand[,reorder_point]
  token create --role <admin|hq|store_manager|channel> [--location <id>] [--name <name>]
                                         offline (hub stopped on PGlite): straight into the database;
                                         with --url: through the running hub (also takes
                                         --expires-in-days <n> or --expires-at <ISO time>)
  token list | revoke <id> | rotate <id> --url <hub url> --token <admin token>
                                         through the running hub (env TILLSYNC_URL, TILLSYNC_TOKEN)
  migrate                                apply pending migrations as the schema owner
  db grant --role <db role>              Postgres: let <db role> serve the hub with DML only (no TRUNCATE,
                                         no DDL, the ledger append-only); idempotent
  backup <file>                          Postgres: pg_dump custom format; PGlite: data-dir tarball
                                         (PGlite: stop the hub first, it holds the data directory)
  restore <file> [--force]               into an empty database, then migrate and check the ledger;
                                         --force replaces a database that already has data

Import exit codes: 0 all rows imported, 1 nothing imported (rows rejected or error),
  3 valid rows imported with --skip-invalid, some rejected. 2 is a usage error.

Environment:
  TILLSYNC_DATA_DIR  PGlite data directory (default ./data)    DATABASE_URL  use Postgres instead
  HOST, PORT         listen address (default 127.0.0.1:8080)   LOG_LEVEL     info, debug, silent, ...
  TILLSYNC_MIGRATION_DATABASE_URL  the owner's connection for migrate, db grant (and serve's migrations)
  TILLSYNC_URL, TILLSYNC_TOKEN  token commands: the running hub and an admin token (for --url, --token)
  NODE_ENV=production  refuse to start without TILLSYNC_ADMIN_TOKEN_HASH or an admin token made out of band
`;

/**
 * Run one command. Short commands finish and return their exit code; `serve` and `demo` return
 * once listening, with `running.close()` to stop them.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliOutcome> {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'skip-invalid': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        role: { type: 'string' },
        location: { type: 'string' },
        name: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        'expires-in-days': { type: 'string' },
        'expires-at': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    const [command, ...rest] = positionals;
    if (values.help || command === 'help') {
      io.stdout.write(USAGE);
      return { exitCode: 0 };
    }
    switch (command) {
      case 'serve':
        return await serve(io);
      case 'demo':
        return await demo(io);
      case 'import':
        return await importCsv(io, rest[0], rest[1], values['skip-invalid']);
      case 'token': {
        const action = rest[0] as RemoteTokenAction;
        if (!REMOTE_TOKEN_ACTIONS.includes(action))
          throw new UsageError('the token command is `token create|list|revoke <id>|rotate <id>`');
        if (action === 'create' && !remoteUrl(io, values.url)) {
          if (values['expires-in-days'] !== undefined || values['expires-at'] !== undefined)
            throw new UsageError('an expiry is set through the running hub: add --url <hub url>');
          return await createToken(io, { role: values.role, location: values.location, name: values.name });
        }
        return await remoteToken(io, {
          action,
          url: values.url,
          token: values.token,
          id: rest[1],
          role: values.role,
          location: values.location,
          name: values.name,
          expiresInDays: values['expires-in-days'],
          expiresAt: values['expires-at'],
        });
      }
      case 'migrate':
        return await migrateCommand(io);
      case 'db':
        if (rest[0] !== 'grant') throw new UsageError('the db command is `db grant --role <db role>`');
        return await grantCommand(io, values.role);
      case 'backup':
        return await backup(io, rest[0]);
      case 'restore':
        return await restore(io, rest[0], values.force);
      default:
        throw new UsageError(command ? `unknown command: ${command}` : 'missing command');
    }
  } catch (err) {
    // parseArgs reports unknown or malformed options with an ERR_PARSE_ARGS_* code.
    const usage =
      err instanceof UsageError || String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
    io.stderr.write(`error: ${(err as Error).message}\n`);
    if (usage) io.stderr.write(`\n${USAGE}`);
    return { exitCode: usage ? 2 : 1 };
  }
}

async function main(): Promise<void> {
  const outcome = await runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  const running = outcome.running;
  if (!running) {
    process.exitCode = outcome.exitCode;
    return;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: shutting down…\n`);
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`error while shutting down: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) await main();
