#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { HUB_ENV_VARS } from '../config.js';
import { ConfigError, type EnvVar, envHelpLines } from '../env-config.js';
import { backup, restore } from './backup.js';
import { grantCommand, migrateCommand } from './db.js';
import { importCsv } from './import.js';
import { type CliIo, type CliOutcome, type RunCommand, UsageError } from './io.js';

export type { CliIo, CliOutcome } from './io.js';

import { demo, serve } from './serve.js';
import { stopOnSignals } from './shutdown.js';
import { createToken } from './token.js';
import { remoteToken, remoteUrl } from './token-remote.js';

const NAME = 'tillsync-hub';
const HINT = `(${NAME} --help lists the commands, ${NAME} <command> --help their options)`;
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Usage errors (unknown command or option, missing argument, bad value): exit code 2. */
const USAGE_EXIT = 2;

/** What the commands that only open the database read: where it is and how to reach it. */
const DATABASE_VARS = HUB_ENV_VARS.filter((v) =>
  ['databaseUrl', 'migrationDatabaseUrl', 'dataDir', 'postgres'].includes(v.path[0] ?? ''),
);

/**
 * Run one command. Short commands finish and return their exit code; `serve` and `demo` return
 * once listening, with `running.close()` to stop them. Commander writes to `io` and never exits
 * the process: its errors come back here as exceptions and become exit code 2.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<CliOutcome> {
  let outcome: CliOutcome = { exitCode: 0 };
  const run = (command: () => Promise<CliOutcome>) => async () => {
    outcome = await command();
  };
  const program = hubProgram(io, run);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return outcome;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help, --version and `help` end here too, with exit code 0; commander printed the message.
      return { exitCode: err.exitCode === 0 ? 0 : USAGE_EXIT };
    }
    if (err instanceof ConfigError) {
      for (const line of err.lines) io.stderr.write(`error: ${line}\n`);
      return { exitCode: USAGE_EXIT };
    }
    io.stderr.write(`error: ${(err as Error).message}\n`);
    if (err instanceof UsageError) {
      io.stderr.write(`${HINT}\n`);
      return { exitCode: USAGE_EXIT };
    }
    return { exitCode: 1 };
  }
}

/** The command tree. Built per run: commander keeps parsed option values on its objects. */
function hubProgram(io: CliIo, run: RunCommand): Command {
  const program = new Command(NAME)
    .description("Tillsync hub: the REST API, the tills' sync and the HQ dashboard")
    .version(version, '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showHelpAfterError(HINT)
    .addHelpText(
      'after',
      `
Exit codes: 0 done; 1 failed (or import: nothing imported); 2 usage or configuration error;
  3 import --skip-invalid imported the valid rows and rejected some.
Configuration is read from the environment: \`${NAME} serve --help\` lists every variable.`,
    );

  program
    .command('serve')
    .description('start the hub (first start: writes an admin token to a 0600 file)')
    .addHelpText('after', environment(HUB_ENV_VARS, PRODUCTION_NOTE))
    .action(run(() => serve(io)));

  program
    .command('demo')
    .description('seed the "Maison Lumière" demo brand if the database is empty, then serve')
    .addHelpText('after', environment(HUB_ENV_VARS, PRODUCTION_NOTE))
    .action(run(() => demo(io)));

  const importCommand = program
    .command('import')
    .description('import products or stock from a CSV file (all rows or none, unless --skip-invalid)');
  for (const [kind, columns] of [
    ['products', 'sku,name,barcode,category,price[,currency]'],
    ['stock', 'location,sku,on_hand[,reorder_point]'],
  ] as const) {
    importCommand
      .command(kind)
      .description(`import ${kind}; columns: ${columns}`)
      .argument('<file.csv>', 'the CSV file, with a header line')
      .option('--skip-invalid', 'import the valid rows and report the others (exit code 3)', false)
      .addHelpText('after', environment(DATABASE_VARS))
      .action((file: string, options: { skipInvalid: boolean }) =>
        run(() => importCsv(io, kind, file, options.skipInvalid))(),
      );
  }

  const token = program
    .command('token')
    .description('API tokens: made offline in the database, or managed through a running hub');
  const REMOTE_VARS =
    '\nEnvironment:\n  TILLSYNC_URL    the running hub (for --url)\n  TILLSYNC_TOKEN  an admin token (for --token)';
  const remote = (c: Command) =>
    c
      .option('--url <url>', 'the running hub, e.g. http://127.0.0.1:8080 (else TILLSYNC_URL)')
      .option('--token <token>', 'an admin token (else TILLSYNC_TOKEN)');
  type RemoteOptions = { url?: string; token?: string };
  remote(
    token
      .command('create')
      .description(
        'make an API token: with --url (or TILLSYNC_URL) through the running hub; without, straight into ' +
          'the database (the way back in when a token is lost; PGlite: with the hub stopped)',
      )
      .requiredOption('--role <role>', 'admin, hq, store_manager or channel')
      .option('--location <id>', "a store_manager token's location (only theirs)")
      .option('--name <name>', 'what the token is for (default "cli <role> [<location>]")')
      .option('--expires-in-days <n>', 'through the hub: expires after n days')
      .option('--expires-at <time>', 'through the hub: expires at this ISO 8601 time'),
  )
    .addHelpText('after', `${environment(DATABASE_VARS)}${REMOTE_VARS}`)
    .action(
      (
        options: RemoteOptions & {
          role: string;
          location?: string;
          name?: string;
          expiresInDays?: string;
          expiresAt?: string;
        },
      ) =>
        run(() =>
          remoteUrl(io, options.url)
            ? remoteToken(io, { action: 'create', ...options })
            : createToken(io, { role: options.role, location: options.location, name: options.name }),
        )(),
    );
  remote(token.command('list').description('list API tokens (never their secrets) of the running hub'))
    .addHelpText('after', REMOTE_VARS)
    .action((options: RemoteOptions) => run(() => remoteToken(io, { action: 'list', ...options }))());
  for (const [action, what] of [
    ['revoke', 'revoke a token: refused at once on every hub instance'],
    ['rotate', 'give a token a new secret (shown once); the old one stops working'],
  ] as const) {
    remote(token.command(action).description(what).argument('<id>', 'the token id (the part after "tsk.")'))
      .addHelpText('after', REMOTE_VARS)
      .action((id: string, options: RemoteOptions) =>
        run(() => remoteToken(io, { action, id, ...options }))(),
      );
  }

  program
    .command('migrate')
    .description('apply pending migrations as the schema owner')
    .addHelpText('after', environment(DATABASE_VARS))
    .action(run(() => migrateCommand(io)));

  program
    .command('db')
    .description('database administration')
    .command('grant')
    .description(
      'Postgres: let <db role> serve the hub with DML only (no TRUNCATE, no DDL, the ledger append-only); idempotent',
    )
    .requiredOption('--role <db role>', 'the database role the hub serves as')
    .addHelpText('after', environment(DATABASE_VARS))
    .action((options: { role: string }) => run(() => grantCommand(io, options.role))());

  program
    .command('backup')
    .description(
      'Postgres: pg_dump custom format; PGlite: data-dir tarball (PGlite: stop the hub first, it holds the data directory)',
    )
    .argument('<file>', 'where to write the backup')
    .addHelpText('after', environment(DATABASE_VARS))
    .action((file: string) => run(() => backup(io, file))());

  program
    .command('restore')
    .description('restore into an empty database, then migrate and check the ledger')
    .argument('<file>', 'a file written by `backup`')
    .option('--force', 'replace a database that already has data', false)
    .addHelpText('after', environment(DATABASE_VARS))
    .action((file: string, options: { force: boolean }) => run(() => restore(io, file, options.force))());

  return program;
}

const PRODUCTION_NOTE =
  'NODE_ENV may be anything; production refuses to start without TILLSYNC_ADMIN_TOKEN_HASH or an\n' +
  'admin token made out of band. README, "Configuration", says what each variable does.';

function environment(vars: readonly EnvVar[], note?: string): string {
  return `\nEnvironment:\n${envHelpLines(vars).join('\n')}${note ? `\n\n${note}` : ''}`;
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
  stopOnSignals(running, { stdout: process.stdout, stderr: process.stderr });
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) await main();
