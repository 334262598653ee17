import { Writable } from 'node:stream';
import { type CliOutcome, runCli } from '../../src/cli/main.js';

/** A CLI run's outcome with everything it printed. */
export interface CliRun extends CliOutcome {
  stdout: string;
  stderr: string;
}

/** Run the hub CLI in-process with `env`, capturing its output instead of printing it. */
export async function runCliCaptured(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) =>
    new Writable({
      write(chunk, _encoding, done) {
        append(String(chunk));
        done();
      },
    });
  const outcome = await runCli(argv, {
    stdout: sink((s) => {
      stdout += s;
    }),
    stderr: sink((s) => {
      stderr += s;
    }),
    env,
  });
  return { ...outcome, stdout, stderr };
}
