import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { testDatabaseUrl } from '../../hub/test/helpers/test-db.js';

/*
 * The hub and tills as real child processes, so a chaos run can kill them with SIGKILL at any
 * instant (no shutdown hook runs, no buffer is flushed) and start them again on the same port or
 * data directory.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Run TypeScript sources directly; `node --import tsx` (not the tsx CLI) so the pid killed is the process. */
const TS_NODE = ['--import', 'tsx', '--conditions=@tillsync/source'];

function spawnTs(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...TS_NODE, script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * How long a start may take: a hub booting retries a database out of reach for up to ~30 s, and a
 * loaded machine (a run beside other work) slows both.
 */
const START_TIMEOUT_MS = 120_000;

/** Resolve once a child printed a line matching `test` (or fail when it exits first). */
function waitForLine(
  what: string,
  child: ChildProcess,
  test: (line: string) => boolean,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const stderr: string[] = [];
    child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    const said = () => stderr.join('').slice(-2_000);
    const timer = setTimeout(
      () => finish(new Error(`${what}: no ready line within ${timeoutMs} ms; stderr: ${said()}`)),
      timeoutMs,
    );
    const onExit = (code: number | null) =>
      finish(new Error(`${what} exited (${code}) before ready: ${said()}`));
    const finish = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      lines.off('line', onLine);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    };
    const onLine = (line: string) => {
      if (test(line)) finish(null, line);
    };
    lines.on('line', onLine);
    child.once('exit', onExit);
  });
}

async function kill9(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** Where the hub keeps its data: a Postgres URL (a schema of its own in it) or a PGlite directory. */
export type HubStorage = { databaseUrl: string } | { dataDir: string };

/**
 * The test Postgres, with `schema` as the hub's search path. `applicationName` tags the hub's
 * connections in pg_stat_activity, so a fault can find exactly its backends.
 */
export function postgresStorage(schema: string, applicationName?: string): HubStorage {
  const url = new URL(testDatabaseUrl());
  url.searchParams.set('options', `-c search_path=${schema}`);
  if (applicationName) url.searchParams.set('application_name', applicationName);
  return { databaseUrl: url.toString() };
}

/** A port free on loopback right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** How a hub process ended, and how long it took after the signal. */
export interface HubExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/** The hub CLI's `serve` as a child process on a fixed port. */
export class HubProcess {
  private child: ChildProcess | null = null;
  kills = 0;
  /** Everything the current process printed (stdout and stderr). */
  output = '';

  constructor(
    readonly storage: HubStorage,
    readonly port: number,
    /** More of the hub's environment (settings a run needs). */
    private readonly env: NodeJS.ProcessEnv = {},
    /** The checkout whose hub sources run (a benchmark's baseline is another tree). */
    private readonly root: string = ROOT,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start `serve` and resolve once it listens. */
  async start(): Promise<void> {
    const child = spawnTs(join(this.root, 'hub/src/cli/main.ts'), ['serve'], {
      HOST: '127.0.0.1',
      PORT: String(this.port),
      LOG_LEVEL: 'silent',
      TILLSYNC_RATE_LIMIT: '1000000',
      ...this.env,
      ...('databaseUrl' in this.storage
        ? { DATABASE_URL: this.storage.databaseUrl }
        : { DATABASE_URL: '', TILLSYNC_DATA_DIR: this.storage.dataDir }),
    });
    this.child = child;
    this.output = '';
    const collect = (chunk: Buffer) => {
      this.output += chunk.toString();
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    try {
      await waitForLine(
        `hub on port ${this.port}`,
        child,
        (l) => l.includes('hub listening on'),
        START_TIMEOUT_MS,
      );
    } catch (err) {
      await kill9(child);
      this.child = null;
      throw err;
    }
  }

  /** SIGKILL: whatever transaction is open dies with the process. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child) this.kills++;
    await kill9(child);
  }

  /** A clean shutdown (SIGTERM), e.g. before opening its PGlite directory from another process. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<HubExit | null> {
    const child = this.child;
    if (!child || child.exitCode !== null) {
      this.child = null;
      return null;
    }
    const started = performance.now();
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    child.kill(signal);
    const [code, sig] = await exited;
    if (this.child === child) this.child = null;
    return { code, signal: sig, ms: Math.round(performance.now() - started) };
  }

  /** Send a signal without waiting (a second Ctrl-C during a shutdown, say). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }
}

export interface TillWorkerOptions {
  dataDir: string;
  seed: number;
  everyMs: number;
  /** Shift the till process's wall clock by this much (a jump changes it, restarts keep it). */
  skewMs?: number;
}

/** One line a till worker printed: an op the cashier saw completed, or its state on request. */
export type TillEvent =
  | { e: 'ready'; deviceId: string | null }
  | { e: 'op'; opId: string; type: string; effects: number }
  | { e: 'state'; outboxDepth: number; sync: string; rows: unknown[] };

/** A till worker (test/chaos/till-worker.ts) as a child process that can be SIGKILLed and restarted. */
export class TillProcess {
  private child: ChildProcess | null = null;
  private starts = 0;
  private pendingState: Array<(s: Extract<TillEvent, { e: 'state' }>) => void> = [];
  kills = 0;
  /** How far this till's wall clock is off now. */
  skewMs: number;

  constructor(
    readonly id: string,
    readonly options: TillWorkerOptions,
    /** Every op the cashier saw completed, across restarts. */
    private readonly onOp: (till: TillProcess, op: Extract<TillEvent, { e: 'op' }>) => void,
  ) {
    this.skewMs = options.skewMs ?? 0;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Start the worker (enrolling on the first start) and resolve once it is open. */
  async start(enrolment?: { hubUrl: string; code: string }): Promise<void> {
    const o = this.options;
    const child = spawnTs('test/chaos/till-worker.ts', [
      '--data-dir',
      o.dataDir,
      // Each start rings a different sequence (a restarted cashier does not repeat themselves).
      '--seed',
      String(o.seed * 1_000 + this.starts++),
      '--every-ms',
      String(o.everyMs),
      // `=` form: a negative skew would read as an option.
      `--skew-ms=${this.skewMs}`,
      ...(enrolment ? ['--hub-url', enrolment.hubUrl, '--code', enrolment.code] : []),
    ]);
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as TillEvent;
      if (event.e === 'op') this.onOp(this, event);
      else if (event.e === 'state') this.pendingState.shift()?.(event);
    });
    child.once('exit', () => {
      if (this.child === child) this.child = null;
      this.pendingState = [];
    });
    try {
      await waitForLine(this.id, child, (l) => l.startsWith('{"e":"ready"'), START_TIMEOUT_MS);
    } catch (err) {
      await kill9(child);
      this.child = null;
      throw err;
    }
  }

  private send(command: string): void {
    this.child?.stdin?.write(`${command}\n`);
  }

  ring(on: boolean): void {
    this.send(on ? 'go' : 'pause');
  }

  /** The till's wall clock jumps by `ms` (its monotonic clock does not); it stays off across restarts. */
  jump(ms: number): void {
    this.skewMs += ms;
    this.send(`jump ${ms}`);
  }

  /** The till's outbox depth, sync state and its view of its location's stock. */
  state(timeoutMs = 5_000): Promise<Extract<TillEvent, { e: 'state' }>> {
    return new Promise((resolve, reject) => {
      if (!this.child) return reject(new Error(`till ${this.id} is not running`));
      const timer = setTimeout(() => reject(new Error(`till ${this.id} did not answer "state"`)), timeoutMs);
      this.pendingState.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
      this.send('state');
    });
  }

  /** SIGKILL, at whatever instant: between a sale and its ack, mid-push, mid-transaction. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child) this.kills++;
    await kill9(child);
  }

  /** Ends the worker without counting it as a fault (end of run). */
  async close(): Promise<void> {
    const child = this.child;
    this.child = null;
    await kill9(child);
  }
}
