import { describe, expect, it } from 'vitest';
import { compareHlc, encodeHlc, Hlc, HybridClock, parseHlc } from './hlc.js';

describe('HybridClock', () => {
  it('is monotonic when the physical clock stands still or goes back', () => {
    let t = 1_000;
    const clock = new HybridClock('till-1', { now: () => t });
    const a = clock.tick();
    const b = clock.tick();
    t = 500;
    const c = clock.tick();
    expect(a < b && b < c).toBe(true);
    expect(parseHlc(c)).toEqual({ wall: 1000, counter: 2, node: 'till-1' });
  });

  it('orders local events after a received remote timestamp', () => {
    const clock = new HybridClock('hub', { now: () => 1_000 });
    const remote = encodeHlc({ wall: 2_000, counter: 7, node: 'till-1' });
    expect(clock.receive(remote)).toBe(true);
    const next = clock.tick();
    expect(compareHlc(next, remote)).toBe(1);
    expect(parseHlc(next)).toMatchObject({ wall: 2_000, counter: 9 });
  });

  it('does not adopt a remote clock far ahead of its own', () => {
    const clock = new HybridClock('hub', { now: () => 1_000, maxForwardDriftMs: 60_000 });
    const skewed = encodeHlc({ wall: 1_000 + 3 * 3_600_000, counter: 0, node: 'till-1' });
    expect(clock.receive(skewed)).toBe(false);
    expect(parseHlc(clock.tick()).wall).toBe(1_000);
  });

  it('restores after a restart without reissuing a timestamp', () => {
    const before = new HybridClock('till-1', { now: () => 5_000 });
    before.tick();
    const last = before.tick();
    const after = new HybridClock('till-1', { now: () => 4_000 });
    after.restore(last);
    expect(after.tick() > last).toBe(true);
  });

  it('encodes to a fixed width so string order is clock order', () => {
    const early = encodeHlc({ wall: 9, counter: 99, node: 'z' });
    const late = encodeHlc({ wall: 10, counter: 0, node: 'a' });
    expect(early < late).toBe(true);
    expect(Hlc.safeParse(early).success).toBe(true);
    expect(Hlc.safeParse('10:0:a').success).toBe(false);
  });
});
