/**
 * The long chaos run, standalone:
 *
 *   pnpm chaos -- --minutes 10 --db postgres [--tills 10] [--stores 3] [--every-ms 250] [--seed N]
 *
 * Postgres needs TEST_DATABASE_URL (the run makes and drops a schema of its own there). A failed
 * run prints its seed; `CHAOS_SEED=N` (or --seed N) schedules the same faults and ops again.
 * Exit code 0 when no invariant was violated, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { type ChaosReport, chaosRun, type DbKind } from './chaos-run.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    minutes: { type: 'string', default: '5' },
    db: { type: 'string', default: 'pglite' },
    tills: { type: 'string', default: '10' },
    stores: { type: 'string', default: '3' },
    'every-ms': { type: 'string', default: '250' },
    seed: { type: 'string' },
  },
});
const dbKind = values.db as DbKind;
if (dbKind !== 'pglite' && dbKind !== 'postgres') throw new Error('--db is pglite or postgres');

const report = await chaosRun({
  seed: Number(values.seed ?? process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31)),
  durationMs: Number(values.minutes) * 60_000,
  tills: Number(values.tills),
  stores: Number(values.stores),
  everyMs: Number(values['every-ms']),
  dbKind,
  log: (line) => console.log(line),
});
console.log(formatReport(report));
process.exitCode = report.violations.length === 0 ? 0 : 1;

function formatReport(r: ChaosReport): string {
  const table = (title: string, counts: Record<string, number>) =>
    [
      `| ${title} | count |`,
      '| --- | ---: |',
      ...Object.entries(counts)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `| ${k} | ${n} |`),
    ].join('\n');
  return [
    '',
    `seed ${r.seed} · ${r.dbKind} · ${r.tills} tills in ${r.stores} stores · chaos ${(r.chaosMs / 1000).toFixed(0)} s, ` +
      `whole run ${(r.totalMs / 1000).toFixed(0)} s`,
    '',
    table('op (reported done by a till)', r.ops),
    '',
    table('online orders', r.orders),
    '',
    table('webhooks', r.webhooks),
    '',
    table('fault injected', r.faults),
    '',
    table('checked', r.checked),
    '',
    `violations: ${r.violations.length}`,
    ...r.violations.slice(0, 50).map((v) => `  - ${v}`),
  ].join('\n');
}
