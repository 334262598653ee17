import type { FastifyInstance } from 'fastify';
import { ShuttingDownError } from './errors.js';

/*
 * Graceful shutdown of one hub instance. `app.close()` runs the `preClose` drain below before
 * Fastify closes its server, in this order:
 *
 *   shuttingDown = true ─ /readyz answers 503; new sync handshakes, pushes and HTTP requests are
 *   │                     refused as "unavailable, retry" (Fastify's own 503 for HTTP)
 *   stop listening      ─ no new TCP connections
 *   in-flight pushes    ─ each finishes its transaction and its ack is sent
 *   disconnect sockets  ─ tills get an `error` {code: unavailable} then a server disconnect (they
 *   │                     reconnect with backoff, to this hub restarted or to another instance);
 *   │                     HQ dashboards are disconnected too (the page reconnects)
 *   background jobs     ─ a job round in progress finishes, no new one starts
 *
 * then Fastify's onClose hooks (Socket.IO, cluster adapter, …) and the caller closes the database.
 * Without this, Fastify's `server.close()` waited for every WebSocket to end — while they kept
 * pushing — and never reached the hook that closes them. The deadline is the caller's
 * (cli/shutdown.ts): nothing here waits forever on its own, but nothing here gives up either.
 */

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

export const SHUTTING_DOWN_MESSAGE = 'the hub is shutting down; retry later (it reconnects by itself)';

export class Lifecycle {
  private stopping = false;
  private readonly inflight = new Set<Promise<unknown>>();

  /** True from the first step of shutdown on: refuse new work. */
  get shuttingDown(): boolean {
    return this.stopping;
  }

  begin(): void {
    this.stopping = true;
  }

  /** Count `work` as in flight until it settles (the drain waits for it). */
  track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work)).catch(() => undefined);
    return work;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Resolves once nothing tracked is in flight (work tracked while waiting is waited for too). */
  async drained(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}

/** Answered during shutdown: the probes say so themselves (alive, not ready). */
const PROBES = new Set(['/healthz', '/readyz']);
export const SHUTDOWN_RETRY_AFTER_SECONDS = 5;

/**
 * Decorate `app.lifecycle` (before the sync server, which tracks its pushes with it, and before
 * the routes, which the hook covers). Fastify's own 503-on-close is off (app.ts): this one answers
 * in the hub's error shape, with Retry-After, and lets the probes through.
 */
export function installLifecycle(app: FastifyInstance): Lifecycle {
  const lifecycle = new Lifecycle();
  app.decorate('lifecycle', lifecycle);
  app.addHook('onRequest', async (request, reply) => {
    if (!lifecycle.shuttingDown || PROBES.has(request.url.split('?')[0] ?? '')) return;
    reply.header('retry-after', String(SHUTDOWN_RETRY_AFTER_SECONDS)).header('connection', 'close');
    throw new ShuttingDownError();
  });
  return lifecycle;
}

/** The drain, run by `app.close()` before Fastify closes its server (needs `app.io`). */
export function installDrain(app: FastifyInstance): void {
  app.addHook('preClose', async () => {
    const started = Date.now();
    app.lifecycle.begin();
    // Stop listening now; Fastify's own server.close() later finds it closed (which it tolerates).
    const serverClosed = new Promise<void>((resolve) => app.server.close(() => resolve()));
    const pushes = app.lifecycle.inflightCount;
    await app.lifecycle.drained();
    const tills = app.io.local.fetchSockets();
    for (const socket of await tills) {
      socket.emit('error', { code: 'unavailable', message: SHUTTING_DOWN_MESSAGE });
    }
    // Local only: with a cluster adapter the plain form would disconnect every instance's tills.
    app.io.local.disconnectSockets(true);
    app.io.of('/hq').local.disconnectSockets(true);
    await app.jobs.stop();
    // Every WebSocket is closed: the server now closes once in-flight HTTP requests are answered;
    // a keep-alive connection that goes idle after its answer is closed at once, not at its timeout.
    const idle = setInterval(() => app.server.closeIdleConnections(), 100);
    try {
      await serverClosed;
    } finally {
      clearInterval(idle);
    }
    app.log.info(
      { pushesWaitedFor: pushes, tillsDisconnected: (await tills).length, ms: Date.now() - started },
      'hub drained for shutdown',
    );
  });
}
