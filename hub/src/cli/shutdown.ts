import type { CliOutcome } from './io.js';

/*
 * What SIGINT / SIGTERM do to a running `serve` or `demo`: the first starts the graceful drain
 * (lifecycle.ts) and exits 0 once the hub is closed; past the shutdown timeout, or on a second
 * signal, the process exits EXIT_FORCED at once. Either way it exits: never an orphan that still
 * syncs. A forced exit still frees the PGlite data-directory lock (proper-lockfile removes it on
 * process exit) and the database recovers like after a crash: only committed work counts, and
 * the tills re-send whatever was not acknowledged.
 */

/** Exit code of a shutdown that was cut short (timeout, second signal) or failed. */
export const EXIT_FORCED = 1;

type Running = NonNullable<CliOutcome['running']>;

export interface SignalOptions {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  exit?: (code: number) => void;
}

export function stopOnSignals(
  running: Running,
  { stdout, stderr, exit = process.exit }: SignalOptions,
): void {
  const seconds = running.shutdownTimeoutMs / 1000;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      stderr.write(`${signal} again: forcing exit now (code ${EXIT_FORCED})\n`);
      return exit(EXIT_FORCED);
    }
    stopping = true;
    const started = Date.now();
    stdout.write(`\n${signal}: shutting down (at most ${seconds} s; a second ${signal} forces it)…\n`);
    const deadline = setTimeout(() => {
      stderr.write(
        `shutdown did not finish within ${seconds} s (TILLSYNC_SHUTDOWN_TIMEOUT_SECONDS): forcing exit (code ${EXIT_FORCED})\n`,
      );
      exit(EXIT_FORCED);
    }, running.shutdownTimeoutMs);
    running.close().then(
      () => {
        clearTimeout(deadline);
        stdout.write(`stopped in ${Date.now() - started} ms\n`);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        stderr.write(`error while shutting down: ${(err as Error).message} (exit code ${EXIT_FORCED})\n`);
        exit(EXIT_FORCED);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
