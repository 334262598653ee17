#!/usr/bin/env node
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startTillApp } from '../app/till-app.js';
import { logTillDamaged, openTillLog } from '../app/till-log.js';
import { TillDamagedError, TillError } from '../engine/errors.js';
import { Till } from '../engine/till.js';
import { SyncAgent } from '../sync/agent.js';
import { enrolTill } from '../sync/enrol.js';
import { HELP, runCommand } from './commands.js';
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

const GLOBAL = new Set(['--data', '--hub', '--code', '--from']);

const defaultIo: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l), input: process.stdin };

export async function runTillCli(argv: string[], io: CliIo = defaultIo, env = process.env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      data: { type: 'string' },
      hub: { type: 'string' },
      code: { type: 'string' },
      port: { type: 'string' },
      from: { type: 'string' },
    },
  });
  const dataDir = String(values.data ?? env.TILL_DATA_DIR ?? './till-data');
  const command = positionals[0];
  // The command's own words and flags (sell LIP-RED:2 --pay card), without the global options.
  const words = argv.filter((w, i) => !GLOBAL.has(w) && !GLOBAL.has(argv[i - 1] ?? ''));
  try {
    if (command === 'enrol') {
      if (!values.hub || !values.code)
        throw new TillError('invalid_input', 'usage: till enrol --hub <url> --code <code>');
      const till = await enrolTill({
        dataDir,
        hubUrl: String(values.hub),
        enrolmentCode: String(values.code),
      });
      const e = till.enrolment!;
      io.out(
        `enrolled as ${e.deviceId} at ${e.locationId}; catalogue: ${till.store.searchProducts('', 100_000).length} products`,
      );
      till.close();
      return 0;
    }
    if (command === 'serve') return await serve(dataDir, values.port, io);
    const till = Till.open({ dataDir });
    const log = openTillLog(till, dataDir);
    try {
      if (command === 'recover') {
        if (typeof values.from !== 'string')
          throw new TillError('invalid_input', 'usage: till recover --from <old data dir>');
        recoverOps(till, values.from, io.out);
        return 0;
      }
      if (command === 'run') return await shell(till, io, new SyncAgent(till, { logger: log.logger }));
      if (command === 'sync') {
        const agent = new SyncAgent(till, { logger: log.logger });
        agent.start();
        try {
          await agent.drained(60_000);
          io.out(`in sync: ${till.status().outboxDepth} op(s) waiting`);
        } finally {
          await agent.stop();
        }
        return 0;
      }
      runCommand(words, { till, agent: null, out: io.out });
      return 0;
    } finally {
      log.close();
      till.close();
    }
  } catch (err) {
    if (err instanceof TillDamagedError && err.dataDir === dataDir) logTillDamaged(err);
    io.err(err instanceof Error ? err.message : String(err));
    return err instanceof TillError ? 2 : 1;
  }
}

/** `till serve`: the cashier UI in a browser, until Ctrl-C. */
async function serve(dataDir: string, portFlag: string | boolean | undefined, io: CliIo): Promise<number> {
  const port = portFlag === undefined ? 0 : Number(portFlag);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TillError('invalid_input', 'usage: till serve [--port <0-65535>]');
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
  io.out(`till ${till.enrolment?.deviceId ?? '(not enrolled)'} ready. ${HELP}`);
  const rl = createInterface({ input: io.input ?? process.stdin, terminal: false });
  const stop = () => rl.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  for await (const line of rl) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) continue;
    if (words[0] === 'quit' || words[0] === 'exit') break;
    try {
      runCommand(words, { till, agent, out: io.out });
    } catch (err) {
      io.err(err instanceof Error ? err.message : String(err));
    }
  }
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  await agent.stop();
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runTillCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
