import { describe, expect, it } from 'vitest';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { chaosRun } from './chaos-run.js';

/*
 * A short chaos run on this project's database: 10 tills in 3 stores (child processes, SIGKILLed
 * and restarted), the hub as a child process killed and restarted, partitions, cuts, dropped
 * replies and delays, one till hours off and others' clocks jumping, the hub's Postgres backends
 * terminated, the webhook receiver down now and then, online orders retried with their Idempotency-Key. A
 * failure prints its seed: `CHAOS_SEED=<seed> pnpm chaos -- --minutes 1 --db <db>` replays it.
 */
describe(`chaos on ${testDbKind()}`, () => {
  it('keeps every invariant through process kills and network faults', { timeout: 180_000 }, async () => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const report = await chaosRun({
      seed,
      durationMs: 30_000,
      tills: 10,
      stores: 3,
      dbKind: testDbKind(),
      log: (line) => console.log(line),
    });
    console.log(JSON.stringify(report, null, 2));
    // The run did what it claims: ops rung, orders placed, and every kind of fault injected.
    expect(report.checked.ops).toBeGreaterThan(100);
    expect(report.orders.created).toBeGreaterThan(0);
    expect(Object.keys(report.faults)).toEqual(
      expect.arrayContaining([
        'partition (refuse)',
        'partition (blackhole)',
        'cut mid-batch',
        'dropped replies',
        'delay',
        'till kill -9',
        'hub kill -9',
        'till clock jump',
        'webhook receiver outage',
        ...(testDbKind() === 'postgres' ? ['postgres backend kill'] : []),
      ]),
    );
    // Every webhook event reached the brand's receiver through its outages.
    expect(report.webhooks.received).toBeGreaterThanOrEqual(report.webhooks.events);
    expect({ seed, violations: report.violations }).toEqual({ seed, violations: [] });
  });
});
