#!/usr/bin/env node
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { startTillApp } from '../app/till-app.js';
import { logTillDamaged, openTillLog, type TillLog } from '../app/till-log.js';
import { TILL_DB_FILE } from '../engine/db.js';
import { NoTillError, TillDamagedError, TillError } from '../engine/errors.js';
import { Till } from '../engine/till.js';
import { SyncAgent } from '../sync/agent.js';
import { enrolTill } from '../sync/enrol.js';
import { addTillCommands, shellProgram } from './commands.js';
import { recoverOps } from './recover.js';

/*
 * The till's command line:
 *   till enrol --hub http://127.0.0.1:8080 --code ABCDE-FGHJK   first start
 *   till run                                                     sync, and ring sales from a prompt
 *   till sync                                                    push everything waiting, then exit
 *   till serve [--port N]                                        sync, and serve the cashier UI on 127.0.0.1
 *   till recover --from <old data dir>                           take over a dead machine's unsynced ops
 *                                                                (salvaged from its pages if the file is damaged)
 *   till sell LIP-RED:2 / till status / …                        one action (no other till process running)
 * The data directory is --data, else TILL_DATA_DIR, else ./till-data; the till logs its ops and
 * sync batches to till.log there (JSON lines).
 */

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  input?: NodeJS.ReadableStream;
}

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Exit codes: a usage error, or a mistake the till explains (TillError: not enrolled, no till here, …). */
const USAGE_EXIT = 2;

const HINT = '(till --help lists the commands, till <command> --help their options)';

const ENVIRONMENT = `
Environment:
  TILL_DATA_DIR  the till's data directory when --data is not given (default ./till-data)`;

const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l), input: process.stdin };

/**
 * Run one till command; resolves to its exit code: 0 done, 1 failed (the hub unreachable, …),
 * 2 a usage error or a mistake the till explains. Commander never exits the process here.
 */
export async function runTillCli(argv: string[], io: CliIo = defaultIo, env = process.env): Promise<number> {
  let exitCode = 0;
  const program = new Command('till')
    .description('Tillsync till: ring sales offline, sync them with the hub')
    .version(version, '-V, --version')
    .option('--data <dir>', "the till's data directory")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError(HINT)
    .addHelpText(
      'after',
      `${ENVIRONMENT}

Exit codes: 0 done; 1 failed (e.g. the hub could not be reached); 2 a usage error or a mistake the
  till explains (not enrolled, no till in the data directory, unknown product, …).
Every command but enrol needs an enrolled till in the data directory and creates nothing elsewhere.`,
    );
  const dataDir = (): string => program.opts<{ data?: string }>().data ?? env.TILL_DATA_DIR ?? './till-data';

  program
    .command('enrol')
    .description('first start: enrol this data directory as a till with a one-time code')
    .requiredOption('--hub <url>', "the hub's address, e.g. http://127.0.0.1:8080")
    .requiredOption('--code <code>', 'the enrolment code (POST /v1/devices, or the HQ dashboard)')
    .action(async (o: { hub: string; code: string }) => {
      const till = await enrolTill({ dataDir: dataDir(), hubUrl: o.hub, enrolmentCode: o.code });
      const e = till.cashier.enrolment!;
      io.out(
        `enrolled as ${e.deviceId} at ${e.locationId}; catalogue: ${till.cashier.searchProducts('', 100_000).length} products`,
      );
      till.close();
    });
  program
    .command('run')
    .description('sync in the background and ring sales from a prompt, until "quit", EOF or Ctrl-C')
    .action(() =>
      withTill(dataDir(), async (till, log) => {
        exitCode = await shell(till, io, new SyncAgent(till.replica, { logger: log.logger }));
      }),
    );
  program
    .command('sync')
    .description('push everything waiting, then exit')
    .action(() =>
      withTill(dataDir(), async (till, log) => {
        const agent = new SyncAgent(till.replica, { logger: log.logger });
        agent.start();
        try {
          await agent.drained(60_000);
          io.out(`in sync: ${till.cashier.status().outboxDepth} op(s) waiting`);
        } finally {
          await agent.stop();
        }
      }),
    );
  program
    .command('serve')
    .description('sync, and serve the cashier UI on 127.0.0.1 until Ctrl-C')
    .addOption(new Option('--port <n>', 'the UI port (0: any free one)').argParser(parsePort).default(0))
    .action(async (o: { port: number }) => {
      const dir = dataDir();
      requireTill(dir);
      exitCode = await serve(dir, o.port, io);
    });
  program
    .command('recover')
    .description("take over a dead machine's unsynced ops (salvaged from its pages if the file is damaged)")
    .requiredOption('--from <old data dir>', "the dead till's data directory")
    .action((o: { from: string }) =>
      withTill(dataDir(), async (till) => recoverOps(till.replica, o.from, io.out)),
    );
  addTillCommands(program, (action) =>
    withTill(dataDir(), async (till) => action({ cashier: till.cashier, agent: null, out: io.out })),
  );
  for (const command of program.commands) command.addHelpText('after', ENVIRONMENT);

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    // --help and --version end here too, with exit code 0; commander printed the message.
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : USAGE_EXIT;
    if (err instanceof TillDamagedError && err.dataDir === dataDir()) logTillDamaged(err);
    io.err(err instanceof Error ? err.message : String(err));
    return err instanceof TillError ? USAGE_EXIT : 1;
  }
}

/** A till's data directory holds its database; anything else is not opened (nor created). */
function requireTill(dataDir: string): void {
  if (!existsSync(join(dataDir, TILL_DB_FILE))) throw new NoTillError(dataDir);
}

/** Open the till in `dataDir` (which must hold one) and its log for one command. */
async function withTill(dataDir: string, use: (till: Till, log: TillLog) => Promise<void>): Promise<void> {
  requireTill(dataDir);
  const till = Till.open({ dataDir });
  const log = openTillLog(till, dataDir);
  try {
    await use(till, log);
  } finally {
    log.close();
    till.close();
  }
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new InvalidArgumentError('expected an integer 0-65535');
  return port;
}

/** `till serve`: the cashier UI in a browser, until Ctrl-C. */
async function serve(dataDir: string, port: number, io: CliIo): Promise<number> {
  const app = await startTillApp({ dataDir, port });
  app.agent.on('state', (s) => io.out(`[sync] ${s.state}${s.lastError ? `: ${s.lastError}` : ''}`));
  io.out(`cashier UI: ${app.url}`);
  io.out('open that address in a browser on this machine (it holds the session key); Ctrl-C stops the till');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await app.close();
  return 0;
}

/** `till run`: sync in the background and read commands from the prompt until EOF or Ctrl-C. */
async function shell(till: Till, io: CliIo, agent: SyncAgent): Promise<number> {
  agent.on('state', (s) => io.out(`[sync] ${s.state}${s.lastError ? `: ${s.lastError}` : ''}`));
  agent.start();
  const ctx = { cashier: till.cashier, agent, out: io.out };
  io.out(shellProgram(ctx, io.err).helpInformation().trimEnd());
  io.out(
    `till ${till.cashier.enrolment?.deviceId ?? '(not enrolled)'} ready: type a command; "quit" or Ctrl-C to stop.`,
  );
  const rl = createInterface({ input: io.input ?? process.stdin, terminal: false });
  const stop = () => rl.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for await (const line of rl) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    if (words[0] === 'quit' || words[0] === 'exit') break;
    try {
      // A fresh program per line: commander keeps the last line's option values on its objects.
      await shellProgram(ctx, io.err).parseAsync(words, { from: 'user' });
    } catch (err) {
      // Commander printed its own refusal (unknown command or option, missing argument).
      if (!(err instanceof CommanderError)) io.err(err instanceof Error ? err.message : String(err));
    }
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await agent.stop();
  return 0;
}

const entry = process.argv[1];
// Through the real path: the `till` bin is a symlink.
if (entry && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  runTillCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
