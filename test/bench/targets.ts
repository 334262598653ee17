/**
 * Issue 15's targets in one command: each benchmark in its issue shape, one after another (each a
 * process of its own, printing its tables), then one summary: target, before, after, met?.
 * "before" needs BENCH_BASELINE=<another checkout, installed> (lib/hub-tree.ts); without it only
 * "after" (this tree) is measured. The steps and their settings:
 *   online   — ingest.ts SHAPE=online: 100 tills in 20 stores, one op per push, vs naive
 *   batched  — ingest.ts SHAPE=batched BASELINES=ceiling: 40 tills × 100-op batches, vs ceiling
 *   orders   — orders.ts LOADS=healthz,spread,spread-max,hot-max: 1,000/s offered, flat out, hot SKU
 *   fanout   — fanout.ts: commit → till with 1, 10 and 500 tills
 *   catch-up — catch-up.ts BATCHES=500: 100,000 queued ops
 * Knobs: SECONDS (ingest window and orders' per-load duration; default 10 and 8), ROUNDS (before/after
 * pairs, alternating), STEPS=online,orders (a subset), BENCH_DB, and each benchmark's own (TILLS,
 * REPS, N, LOADS, BATCHES… set in the environment win over the defaults above, except SHAPE).
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test BENCH_BASELINE=../main pnpm bench:targets
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS } from '@tillsync/sync-protocol';
import { printSummary, type TargetRow } from './lib/targets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Step {
  name: string;
  script: string;
  /** Settings that make the shape. */
  fixed?: NodeJS.ProcessEnv;
  /** Settings the caller's environment may override. */
  defaults?: NodeJS.ProcessEnv;
}

const STEPS: Step[] = [
  { name: 'online', script: 'ingest.ts', fixed: { SHAPE: 'online' } },
  { name: 'batched', script: 'ingest.ts', fixed: { SHAPE: 'batched' }, defaults: { BASELINES: 'ceiling' } },
  { name: 'orders', script: 'orders.ts', defaults: { LOADS: 'healthz,spread,spread-max,hot-max' } },
  { name: 'fanout', script: 'fanout.ts' },
  { name: 'catch-up', script: 'catch-up.ts', defaults: { BATCHES: String(LIMITS.maxOpsPerBatch) } },
];

const only = process.env.STEPS?.split(',');
const steps = only ? STEPS.filter((s) => only.includes(s.name)) : STEPS;
if (only && steps.length !== only.length) {
  throw new Error(`STEPS=${process.env.STEPS}: steps are ${STEPS.map((s) => s.name).join(', ')}`);
}

const commitOf = (dir: string) => {
  try {
    return execFileSync('git', ['-C', dir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim();
  } catch {
    return '(not a git checkout)';
  }
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const scratch = mkdtempSync(join(tmpdir(), 'bench-targets-'));
const summaryFile = join(scratch, 'summary.jsonl');
writeFileSync(summaryFile, '');
const started = new Date();
console.log(`# Issue 15 targets: ${started.toISOString()}`);
console.log(`after  (this tree): ${commitOf(ROOT)}`);
console.log(
  `before (BENCH_BASELINE): ${process.env.BENCH_BASELINE ? commitOf(process.env.BENCH_BASELINE) : '(none: only "after" is measured)'}`,
);
console.log(
  `databases: ${process.env.BENCH_DB ?? (process.env.TEST_DATABASE_URL ? 'pglite, postgres' : 'pglite')}; SECONDS=${process.env.SECONDS ?? '(defaults)'}; ROUNDS=${process.env.ROUNDS ?? 1}; load average ${load()}`,
);

const timings: string[] = [];
const failed: string[] = [];
try {
  for (const step of steps) {
    console.log(`\n## ${step.name} (test/bench/${step.script})`);
    const t0 = performance.now();
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--conditions=@tillsync/source', join('test/bench', step.script)],
      {
        cwd: ROOT,
        stdio: 'inherit',
        env: { ...step.defaults, ...process.env, ...step.fixed, BENCH_SUMMARY: summaryFile },
      },
    );
    const seconds = (performance.now() - t0) / 1000;
    timings.push(`${step.name} ${seconds.toFixed(0)} s`);
    if (result.status !== 0) failed.push(`${step.name} (exit ${result.status ?? result.signal})`);
  }
  const rows = readFileSync(summaryFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TargetRow);
  const minutes = ((Date.now() - started.getTime()) / 60_000).toFixed(1);
  console.log(`\n# Summary (${minutes} min: ${timings.join(', ')}; load average at the end ${load()})`);
  printSummary(
    'Postgres: issue 15 targets (before = BENCH_BASELINE, after = this tree, same run)',
    rows.filter((r) => r.db === 'postgres'),
  );
  printSummary(
    'PGlite: no figure worse than before by more than 10 %',
    rows.filter((r) => r.db === 'pglite'),
  );
  if (failed.length > 0) {
    console.log(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
