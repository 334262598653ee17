import { describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/config.js';
import {
  evaluateTill,
  formatDuration,
  DEFAULT_THRESHOLDS as T,
  type TillFacts,
  worst,
} from '../src/services/health/evaluate.js';

/** The documented health rules (README, "Sync health"), one threshold at a time. */

const NOW = Date.parse('2026-11-23T12:00:00Z');
const healthy: TillFacts = {
  online: true,
  offlineSince: null,
  outboxDepth: 0,
  oldestUnsyncedAgeMs: 0,
  clockOffsetMs: 40,
  openDeadLetters: 0,
};
const judge = (f: Partial<TillFacts>) => evaluateTill({ ...healthy, ...f }, T, NOW);

describe('till health rules', () => {
  it('is ok when connected, beating, caught up and on time', () => {
    expect(judge({})).toEqual({ status: 'ok', reasons: [] });
  });

  it('is degraded while offline, critical from offlineCriticalMs', () => {
    const offline = { online: false };
    expect(judge({ ...offline, offlineSince: NOW - 30_000 })).toEqual({
      status: 'degraded',
      reasons: ['offline for 30 s'],
    });
    expect(judge({ ...offline, offlineSince: NOW - T.offlineCriticalMs + 1 }).status).toBe('degraded');
    expect(judge({ ...offline, offlineSince: NOW - T.offlineCriticalMs, outboxDepth: 3 })).toEqual({
      status: 'critical',
      reasons: ['offline for 15 min, 3 ops waiting'],
    });
    expect(judge({ ...offline, offlineSince: null })).toEqual({
      status: 'degraded',
      reasons: ['never connected'],
    });
  });

  it('is degraded when the oldest unsynced op passes lagDegradedMs, critical at lagCriticalMs', () => {
    expect(judge({ outboxDepth: 4, oldestUnsyncedAgeMs: T.lagDegradedMs - 1 }).status).toBe('ok');
    expect(judge({ outboxDepth: 4, oldestUnsyncedAgeMs: T.lagDegradedMs })).toEqual({
      status: 'degraded',
      reasons: ['oldest unsynced op 1 min old, 4 ops waiting'],
    });
    expect(judge({ outboxDepth: 1, oldestUnsyncedAgeMs: T.lagCriticalMs }).status).toBe('critical');
  });

  it('is degraded when its clock drifts or ops await review', () => {
    expect(judge({ clockOffsetMs: -T.clockSkewMs })).toEqual({
      status: 'degraded',
      reasons: ['clock off by 2 min'],
    });
    expect(judge({ clockOffsetMs: T.clockSkewMs - 1 }).status).toBe('ok');
    expect(judge({ openDeadLetters: 2 }).reasons).toEqual(['2 rejected ops awaiting review']);
  });

  it('lists the worst reason first', () => {
    const v = judge({
      online: false,
      offlineSince: NOW - 60_000,
      outboxDepth: 2,
      oldestUnsyncedAgeMs: T.lagCriticalMs + 5_000,
      openDeadLetters: 1,
    });
    expect(v.status).toBe('critical');
    expect(v.reasons[0]).toBe('oldest unsynced op 10 min old, 2 ops waiting');
    expect(v.reasons).toHaveLength(3);
  });

  it('takes the worst status, and formats durations for people', () => {
    expect(worst([])).toBe('ok');
    expect(worst(['ok', 'degraded', 'ok'])).toBe('degraded');
    expect(worst(['degraded', 'critical', 'ok'])).toBe('critical');
    expect([0, 59_400, 60_000, 3_599_000, 3_600_000, 7_500_000, 49 * 3_600_000].map(formatDuration)).toEqual([
      '0 s',
      '59 s',
      '1 min',
      '59 min',
      '1 h 00 min',
      '2 h 05 min',
      '2 d 1 h',
    ]);
  });
});

describe('health thresholds from the environment', () => {
  it('defaults to the documented values, reads seconds, refuses nonsense', () => {
    expect(configFromEnv({}).health).toEqual(T);
    const tuned = configFromEnv({
      TILLSYNC_OFFLINE_CRITICAL_SECONDS: '30',
      TILLSYNC_LAG_ALERT_SECONDS: '2.5',
    });
    expect(tuned.health).toEqual({ ...T, offlineCriticalMs: 30_000, lagAlertMs: 2_500 });
    expect(() => configFromEnv({ TILLSYNC_CLOCK_SKEW_SECONDS: '-1' })).toThrow();
    expect(() => configFromEnv({ TILLSYNC_HEARTBEAT_STALE_SECONDS: 'soon' })).toThrow();
  });
});
