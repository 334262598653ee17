import { z } from 'zod';

/**
 * Hybrid Logical Clock timestamps, encoded as fixed-width strings so that plain string comparison
 * (JavaScript `<`, SQL `COLLATE "C"`) is the clock order:
 *
 *   000001763912345678:00000:till-7
 *   └ wall ms (15 digits) ┘ └ counter ┘ └ node (device id, or "hub") ┘
 *
 * Wall time never runs backwards on one node, the counter orders events within one millisecond,
 * and the node id breaks ties, so two distinct events never share a timestamp.
 */
export const Hlc = z
  .string()
  .max(96)
  .regex(/^\d{15}:\d{5}:[A-Za-z0-9_-]{1,64}$/, 'an HLC timestamp "wall:counter:node"');
export type Hlc = z.infer<typeof Hlc>;

export interface HlcParts {
  wall: number;
  counter: number;
  node: string;
}

const MAX_COUNTER = 99_999;

export function encodeHlc({ wall, counter, node }: HlcParts): Hlc {
  return `${String(wall).padStart(15, '0')}:${String(counter).padStart(5, '0')}:${node}`;
}

export function parseHlc(hlc: Hlc): HlcParts {
  const [wall, counter, node] = hlc.split(':');
  return { wall: Number(wall), counter: Number(counter), node: node ?? '' };
}

export function compareHlc(a: Hlc, b: Hlc): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** How far ahead of a node's own time a remote stamp may be and still be taken as it is. */
export const DEFAULT_MAX_FORWARD_DRIFT_MS = 60_000;

export interface HybridClockOptions {
  /** Physical time source; the till passes one corrected by its measured offset to the hub. */
  now?: () => number;
  /** A remote timestamp further ahead of our physical clock than this is not adopted. */
  maxForwardDriftMs?: number;
}

/** One node's clock. `tick()` stamps a local event; `receive()` folds in a timestamp seen remotely. */
export class HybridClock {
  readonly node: string;
  private readonly now: () => number;
  readonly maxForwardDriftMs: number;
  private wall = 0;
  private counter = 0;

  constructor(node: string, options: HybridClockOptions = {}) {
    this.node = node;
    this.now = options.now ?? Date.now;
    this.maxForwardDriftMs = options.maxForwardDriftMs ?? DEFAULT_MAX_FORWARD_DRIFT_MS;
  }

  tick(): Hlc {
    const physical = this.now();
    if (physical > this.wall) {
      this.wall = physical;
      this.counter = 0;
    } else {
      this.bumpCounter();
    }
    return this.current();
  }

  /**
   * Merge a remote timestamp so later local events order after it. A remote clock too far
   * ahead (a till whose clock is hours fast) is not adopted: our clock would then be wrong too.
   * Returns false when the remote timestamp was ignored for that reason.
   */
  receive(remote: Hlc): boolean {
    const r = parseHlc(remote);
    const physical = this.now();
    if (r.wall - physical > this.maxForwardDriftMs) return false;
    const wall = Math.max(this.wall, r.wall, physical);
    if (wall === this.wall && wall === r.wall) this.counter = Math.max(this.counter, r.counter);
    else if (wall === r.wall) this.counter = r.counter;
    else if (wall !== this.wall) this.counter = -1;
    this.wall = wall;
    this.bumpCounter();
    return true;
  }

  /** How many ms `remote`'s wall part is ahead of this node's physical time (negative: behind). */
  aheadBy(remote: Hlc): number {
    return parseHlc(remote).wall - this.now();
  }

  /**
   * Drop what this clock issued from a physical clock later found wrong (a till's clock set 30
   * days ahead): later ticks follow physical time again, but never go below `floor`, the newest
   * stamp still waiting to be sent (the node's own unsent ops stay in order).
   */
  rebase(floor: Hlc | null): void {
    this.wall = 0;
    this.counter = 0;
    if (floor !== null) this.restore(floor);
  }

  /** Resume after a restart from the last timestamp this node issued. */
  restore(last: Hlc): void {
    const p = parseHlc(last);
    if (p.wall > this.wall || (p.wall === this.wall && p.counter > this.counter)) {
      this.wall = p.wall;
      this.counter = p.counter;
    }
  }

  private bumpCounter(): void {
    this.counter += 1;
    if (this.counter > MAX_COUNTER) {
      // Over 100k events in one millisecond: borrow the next millisecond rather than overflow.
      this.wall += 1;
      this.counter = 0;
    }
  }

  private current(): Hlc {
    return encodeHlc({ wall: this.wall, counter: this.counter, node: this.node });
  }
}
