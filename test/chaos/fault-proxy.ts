import { connect, createServer, type Server, type Socket } from 'node:net';

/*
 * A TCP proxy between tills and the hub that injects network faults on command:
 *
 *   pass          forward both ways (optionally delayed by `delayMs` per chunk, order kept)
 *   blackhole     accept and keep connections, deliver nothing (a dead link that has not failed);
 *                 held bytes are delivered if the link comes back before it is cut, as TCP would
 *   refuse        close new connections at once (a partition at connect time)
 *   dropReplies   forward till → hub, hold hub → till; leaving this mode cuts those connections
 *                 (the hub applied and acked, the till never heard: it must resend)
 *
 * plus `cut()`: destroy every live connection now (a cable pulled mid-batch). Faults are counted
 * so a chaos run can report what it injected.
 */

export type ProxyMode = 'pass' | 'blackhole' | 'refuse' | 'dropReplies';

export interface FaultCounts {
  connections: number;
  cuts: number;
  refused: number;
  modeChanges: Record<ProxyMode, number>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  /** Bytes held back per direction while the link is black-holed. */
  held: { up: Buffer[]; down: Buffer[] };
  /** Delayed chunks per direction are written one after another, in order. */
  chain: { up: Promise<void>; down: Promise<void> };
}

export class FaultProxy {
  private server: Server | null = null;
  private readonly links = new Set<Link>();
  private mode: ProxyMode = 'pass';
  delayMs = 0;
  readonly counts: FaultCounts = {
    connections: 0,
    cuts: 0,
    refused: 0,
    modeChanges: { pass: 0, blackhole: 0, refuse: 0, dropReplies: 0 },
  };

  constructor(
    private readonly target: { host: string; port: number },
    private listenPort = 0,
  ) {}

  /** Start listening (on the same port again after `stop`). */
  async start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as { port: number }).port;
    this.server = server;
  }

  get port(): number {
    return this.listenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listenPort}`;
  }

  /** Point at another hub (e.g. one restarted on a new port). */
  retarget(target: { host: string; port: number }): void {
    Object.assign(this.target, target);
  }

  setMode(mode: ProxyMode): void {
    if (mode === this.mode) return;
    const was = this.mode;
    this.counts.modeChanges[mode]++;
    this.mode = mode;
    if (was === 'dropReplies') {
      // A reply stream with bytes missing cannot resume: those connections die.
      for (const link of [...this.links]) if (link.held.down.length > 0) this.destroy(link);
    }
    for (const link of this.links) this.release(link);
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  /** Destroy every live connection (both sides see a reset). */
  cut(): number {
    const n = this.links.size;
    for (const link of [...this.links]) this.destroy(link);
    if (n > 0) this.counts.cuts++;
    return n;
  }

  get liveConnections(): number {
    return this.links.size;
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.mode === 'refuse') {
      this.counts.refused++;
      client.destroy();
      return;
    }
    this.counts.connections++;
    const upstream = connect(this.target.port, this.target.host);
    const link: Link = {
      client,
      upstream,
      held: { up: [], down: [] },
      chain: { up: Promise.resolve(), down: Promise.resolve() },
    };
    this.links.add(link);
    const drop = () => this.destroy(link);
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => this.forward(link, chunk, 'up'));
    upstream.on('data', (chunk: Buffer) => this.forward(link, chunk, 'down'));
  }

  private destroy(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream.destroy();
  }

  private holds(direction: 'up' | 'down'): boolean {
    return this.mode === 'blackhole' || (this.mode === 'dropReplies' && direction === 'down');
  }

  private forward(link: Link, chunk: Buffer, direction: 'up' | 'down'): void {
    if (this.holds(direction)) {
      link.held[direction].push(chunk);
      return;
    }
    this.send(link, chunk, direction);
  }

  /** Deliver what a black hole held, now that this direction flows again. */
  private release(link: Link): void {
    for (const direction of ['up', 'down'] as const) {
      if (this.holds(direction)) continue;
      for (const chunk of link.held[direction].splice(0)) this.send(link, chunk, direction);
    }
  }

  private send(link: Link, chunk: Buffer, direction: 'up' | 'down'): void {
    const to = direction === 'up' ? link.upstream : link.client;
    const at = Date.now() + this.delayMs;
    link.chain[direction] = link.chain[direction].then(async () => {
      const wait = at - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!to.destroyed) to.write(chunk);
    });
  }
}
