import type { Database } from '../db/database.js';
import type { DemoTokens } from '../demo/seed.js';

/** Where a command writes and what environment it reads: the real process, or a test's capture. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** A command's result; long-running commands (serve, demo) also hand back a way to stop them. */
export interface CliOutcome {
  exitCode: number;
  running?: {
    url: string;
    db: Database;
    /** `demo`, on the start that seeded the brand: its tokens (for `pnpm start`'s own banner). */
    demoTokens?: DemoTokens;
    /** TILLSYNC_SHUTDOWN_TIMEOUT_SECONDS: how long `close()` may take on a signal (cli/shutdown.ts). */
    shutdownTimeoutMs: number;
    close(): Promise<void>;
  };
}

/** Wraps a command for commander's `.action()`: its outcome becomes runCli's. */
export type RunCommand = (command: () => Promise<CliOutcome>) => () => Promise<void>;

/** Bad command-line usage a command finds itself (commander finds the rest): exit code 2. */
export class UsageError extends Error {}

export function say(io: CliIo, text = ''): void {
  io.stdout.write(`${text}\n`);
}
