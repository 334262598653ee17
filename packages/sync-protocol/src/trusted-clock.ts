/*
 * Physical time for a node whose wall clock may be set wrong while it runs (a till whose clock is
 * moved 30 days ahead, or a day back, by a person, a dead CMOS battery or a bad NTP answer).
 *
 * Time is the wall clock minus an offset: the wall clock minus the reference's (the hub's) time,
 * as last measured. Each reading compares how far the wall clock moved since the last one with how
 * far a monotonic clock moved. When they disagree by more than `maxJumpMs` the wall clock was set,
 * not run: the difference goes into the offset, so time carries on from where the monotonic clock
 * says it is, and the jump is reported. Smaller disagreements (NTP slewing) are followed.
 *
 * The monotonic clock should count through OS sleep (a till suspended overnight did not have its
 * clock set); the hub's time at the next hello settles whatever this cannot tell (`rebase`).
 */

export interface ClockJump {
  /** The trusted time when the jump was seen. */
  at: number;
  /** How far the wall clock jumped, in ms (positive: ahead). */
  byMs: number;
}

export interface TrustedClockOptions {
  /** The wall clock (Date.now). */
  wall: () => number;
  /** Any monotonic clock in ms; only its differences are read. */
  monotonic: () => number;
  /** Wall minus reference time, as last measured (persisted across restarts). */
  offsetMs?: number;
  /** A wall clock that moved this much more or less than the monotonic one has been set. */
  maxJumpMs?: number;
  onJump?: (jump: ClockJump) => void;
}

export const DEFAULT_MAX_CLOCK_JUMP_MS = 60_000;

export class TrustedClock {
  private readonly wall: () => number;
  private readonly monotonic: () => number;
  private readonly maxJumpMs: number;
  private readonly onJump: ((jump: ClockJump) => void) | undefined;
  private offset: number;
  private lastWall: number;
  private lastMono: number;

  constructor(options: TrustedClockOptions) {
    this.wall = options.wall;
    this.monotonic = options.monotonic;
    this.maxJumpMs = options.maxJumpMs ?? DEFAULT_MAX_CLOCK_JUMP_MS;
    this.onJump = options.onJump;
    this.offset = options.offsetMs ?? 0;
    this.lastWall = this.wall();
    this.lastMono = this.monotonic();
  }

  /** Wall minus trusted time: how far off the wall clock is now. */
  get offsetMs(): number {
    return this.offset;
  }

  now(): number {
    const wall = this.wall();
    const mono = this.monotonic();
    // Whole ms: HLC walls are integers, monotonic clocks are not.
    const jump = Math.round(wall - this.lastWall - (mono - this.lastMono));
    this.lastWall = wall;
    this.lastMono = mono;
    if (Math.abs(jump) > this.maxJumpMs) this.shift(jump);
    return wall - this.offset;
  }

  /** Adopt a measured offset: the wall clock minus the reference's time (the hub's, at hello). */
  rebase(offsetMs: number): void {
    this.now();
    this.offset = offsetMs;
  }

  /**
   * After a restart (no monotonic reading spans it): time is at least `floor`, the last stamp this
   * node issued. A wall clock behind it by more than a jump was set back while the node was off.
   */
  atLeast(floor: number): void {
    const behind = floor - this.now();
    if (behind > this.maxJumpMs) this.shift(-behind);
  }

  private shift(jump: number): void {
    this.offset += jump;
    this.onJump?.({ at: this.lastWall - this.offset, byMs: jump });
  }
}
