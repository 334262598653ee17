import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/*
 * Background jobs (reservation expiry, webhook delivery, …): each runs every `intervalMs` once the
 * app is ready, never overlapping itself, and stops when the app closes. Jobs must be safe to run
 * on several hub instances at once: they claim work with row locks (`FOR UPDATE SKIP LOCKED`), so
 * each piece of work is done by exactly one instance. Tests call `runNow(name)` instead of waiting.
 */

export interface Job {
  name: string;
  intervalMs: number;
  /** Do one round of work; returns how many items it handled. */
  run(): Promise<number>;
}

export class JobRunner {
  private readonly jobs = new Map<string, Job>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Map<string, Promise<number>>();
  private stopped = false;

  constructor(private readonly log: FastifyInstance['log']) {}

  register(job: Job): void {
    this.jobs.set(job.name, job);
  }

  /** Run a job now (or join the run in progress). */
  runNow(name: string): Promise<number> {
    const job = this.jobs.get(name);
    if (!job) throw new Error(`no job named ${name}`);
    const current = this.running.get(name);
    if (current) return current;
    const run = job.run().finally(() => this.running.delete(name));
    this.running.set(name, run);
    return run;
  }

  start(): void {
    for (const job of this.jobs.values()) {
      const timer = setInterval(() => {
        if (this.stopped) return;
        this.runNow(job.name).catch((err: unknown) =>
          this.log.error({ err, job: job.name }, 'background job failed'),
        );
      }, job.intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled(this.running.values());
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobRunner;
  }
}

/** `opts.autoStart: false` (tests) registers jobs without timers; call `app.jobs.runNow`. */
export default fp(
  async (app: FastifyInstance, opts: { autoStart?: boolean }) => {
    const runner = new JobRunner(app.log);
    app.decorate('jobs', runner);
    if (opts.autoStart !== false) app.addHook('onReady', async () => runner.start());
    app.addHook('onClose', async () => runner.stop());
  },
  { name: 'jobs' },
);
