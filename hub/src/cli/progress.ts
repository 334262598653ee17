import cliProgress from 'cli-progress';
import type { CliIo } from './io.js';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

/** Below this many rows an import is quick enough to need no progress display. */
const SHOW_FROM = 1000;
/** Plain (non-TTY) output prints a line at every tenth of the way. */
const PLAIN_STEPS = 10;

/** A progress bar on a terminal; plain lines when output goes to a file or pipe. */
export function progress(io: CliIo, label: string, rows: number): Progress {
  if (rows < SHOW_FROM) return { update: () => undefined, stop: () => undefined };
  if (io.stdout.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {percentage}% | {value}/{total} rows`,
        stream: io.stdout,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
      stop: () => bar.stop(),
    };
  }
  let lastStep = -1;
  return {
    update(done, total) {
      const step = Math.floor((done / total) * PLAIN_STEPS);
      if (step === lastStep) return;
      lastStep = step;
      io.stdout.write(`${label}: ${done}/${total} rows\n`);
    },
    stop: () => undefined,
  };
}
