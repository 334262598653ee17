import { describe, expect, it } from 'vitest';
import { HybridClock, parseHlc } from './hlc.js';
import { type ClockJump, TrustedClock } from './trusted-clock.js';

const DAY = 86_400_000;
const T0 = 1_764_000_000_000;

/** A wall clock and a monotonic clock a test moves by hand: `run` moves both, `set` only the wall. */
function fakeClocks() {
  const c = { wall: T0, mono: 5_000 };
  return {
    wall: () => c.wall,
    monotonic: () => c.mono,
    run(ms: number) {
      c.wall += ms;
      c.mono += ms;
    },
    set(ms: number) {
      c.wall += ms;
    },
  };
}

describe('TrustedClock', () => {
  it('follows the wall clock while it runs with the monotonic one', () => {
    const f = fakeClocks();
    const clock = new TrustedClock(f);
    f.run(1_000);
    expect(clock.now()).toBe(T0 + 1_000);
    f.run(10 * 60_000);
    f.set(30_000); // NTP slewing 30 s: followed
    expect(clock.now()).toBe(T0 + 1_000 + 10 * 60_000 + 30_000);
  });

  it.each([
    ['+30 days', 30 * DAY],
    ['−1 day', -DAY],
  ])('keeps time across a wall clock set %s, and reports the jump', (_name, by) => {
    const f = fakeClocks();
    const jumps: ClockJump[] = [];
    const clock = new TrustedClock({ ...f, onJump: (j) => jumps.push(j) });
    f.run(5_000);
    expect(clock.now()).toBe(T0 + 5_000);
    f.set(by);
    f.run(2_000);
    expect(clock.now()).toBe(T0 + 7_000);
    expect(jumps).toEqual([{ at: T0 + 7_000, byMs: by }]);
    expect(clock.offsetMs).toBe(by);
    f.run(3_000);
    expect(clock.now()).toBe(T0 + 10_000);
    expect(jumps).toHaveLength(1);
  });

  it('reads whole milliseconds from a fractional monotonic clock', () => {
    let mono = 0.4;
    const clock = new TrustedClock({ wall: () => T0 + 30 * DAY, monotonic: () => mono });
    mono += 1_000.3;
    expect(clock.now()).toBe(T0 + 30 * DAY);
    mono += 0.6;
    clock.rebase(30 * DAY);
    mono += 90_000.7; // the wall clock stands still while time passes: it was set back
    expect(Number.isInteger(clock.now())).toBe(true);
    expect(clock.offsetMs).toBe(30 * DAY - 90_001);
  });

  it('takes the hub’s measured offset over its own reckoning', () => {
    const f = fakeClocks();
    const clock = new TrustedClock({ ...f, offsetMs: 0 });
    clock.rebase(30 * DAY); // this till's wall clock is 30 days ahead of the hub's
    f.run(1_000);
    expect(clock.now()).toBe(T0 - 30 * DAY + 1_000);
  });

  it('after a restart, never reads earlier than the last stamp issued before it', () => {
    const f = fakeClocks();
    f.set(-DAY); // set back while the till was off
    const jumps: ClockJump[] = [];
    const clock = new TrustedClock({ ...f, onJump: (j) => jumps.push(j) });
    clock.atLeast(T0);
    expect(clock.now()).toBe(T0);
    expect(jumps).toEqual([{ at: T0, byMs: -DAY }]);
    clock.atLeast(T0 - 5 * 60_000); // a stamp from before the restart: time is past it already
    expect(jumps).toHaveLength(1);
  });

  it('stamps HLCs at trusted time when it is the clock’s physical source', () => {
    const f = fakeClocks();
    const time = new TrustedClock(f);
    const hlc = new HybridClock('till-1', { now: () => time.now() });
    f.run(1);
    const before = hlc.tick();
    f.set(30 * DAY);
    f.run(1);
    const after = hlc.tick();
    expect(parseHlc(after).wall - parseHlc(before).wall).toBe(1);
  });
});

describe('HybridClock.rebase', () => {
  it('comes back from stamps issued ahead, but not below the newest unsent one', () => {
    let t = T0 + 30 * DAY;
    const clock = new HybridClock('till-1', { now: () => t });
    const ahead = clock.tick();
    t = T0;
    expect(parseHlc(clock.tick()).wall).toBe(T0 + 30 * DAY); // never backwards on its own
    clock.rebase(ahead);
    expect(clock.tick() > ahead).toBe(true); // an unsent op stamped ahead keeps its successors after it
    clock.rebase(null);
    expect(parseHlc(clock.tick())).toMatchObject({ wall: T0, counter: 0 });
  });

  it('measures how far a stamp is ahead of physical time', () => {
    const clock = new HybridClock('hub', { now: () => T0 });
    const other = new HybridClock('till-1', { now: () => T0 + 30 * DAY });
    expect(clock.aheadBy(other.tick())).toBe(30 * DAY);
  });
});
