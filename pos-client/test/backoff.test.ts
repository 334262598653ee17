import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/index.js';

describe('reconnect backoff', () => {
  const options = { baseMs: 500, maxMs: 30_000 };
  const top = () => 1;

  it('doubles the ceiling on every attempt', () => {
    expect([0, 1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, options, top))).toEqual([
      500, 1000, 2000, 4000, 8000, 16_000,
    ]);
  });

  it('never waits longer than the cap, however many attempts failed', () => {
    expect(backoffDelay(6, options, top)).toBe(30_000);
    expect(backoffDelay(50, options, top)).toBe(30_000);
    expect(backoffDelay(10_000, options, top)).toBe(30_000);
  });

  it('spreads tills over the whole interval (full jitter), so a store does not reconnect in lockstep', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(0);
    expect(backoffDelay(3, options, () => 0.25)).toBe(1000);
    expect(backoffDelay(3, options, () => 0.5)).toBe(2000);
    expect(backoffDelay(20, options, () => 0.5)).toBe(15_000);
  });

  it('returns whole milliseconds', () => {
    expect(backoffDelay(0, { baseMs: 3, maxMs: 100 }, () => 0.5)).toBe(2);
  });

  it('uses 500 ms doubling up to 30 s by default', () => {
    expect(backoffDelay(0, undefined, top)).toBe(500);
    expect(backoffDelay(12, undefined, top)).toBe(30_000);
    for (let attempt = 0; attempt < 20; attempt++) {
      const delay = backoffDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(30_000, 500 * 2 ** attempt));
    }
  });
});
