import { appendFileSync } from 'node:fs';
import type { BenchDb } from './databases.js';
import type { TreeLabel } from './hub-tree.js';
import { type Cell, printTable } from './table.js';

/*
 * Issue 15's targets, judged where they are measured. Each benchmark prints its own target table;
 * with BENCH_SUMMARY=<file> (test/bench/targets.ts sets it) it also appends the rows there as JSON
 * lines, for the one summary table at the end of `pnpm bench:targets`.
 *
 * The targets are for Postgres. On PGlite the issue asks that no figure be worse than before by
 * more than 10 %: a PGlite row is met when "after" is within 10 % of "before" (needs BENCH_BASELINE).
 */

export interface Target {
  /** What is measured, e.g. "online: ops/s". */
  name: string;
  /** The goal as the issue states it, e.g. "≥ 5,000". */
  goal: string;
  /** Whether a value meets the goal. */
  met: (value: number) => boolean;
  /** Which way is better (the PGlite 10 % rule). */
  better: 'higher' | 'lower';
  /** Unit printed after the values. */
  unit?: string;
}

export interface TargetRow {
  target: string;
  db: BenchDb;
  goal: string;
  before: string;
  after: string;
  met: string;
}

export const atLeast = (min: number) => (v: number) => v >= min;
export const below = (max: number) => (v: number) => v < max;
export const atMost = (max: number) => (v: number) => v <= max;

function show(value: number | undefined, unit = ''): string {
  if (value === undefined || Number.isNaN(value)) return '—';
  const text = Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  return !unit ? text : unit === '×' ? `${text}×` : `${text} ${unit}`;
}

/** The mean of the rounds' values of one tree (undefined when that tree was not measured). */
export function meanOf(values: readonly number[]): number | undefined {
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length;
}

/** One target's row: the mean of each tree's rounds, judged on "after". */
export function judge(
  target: Target,
  db: BenchDb,
  values: Partial<Record<TreeLabel, readonly number[]>>,
): TargetRow {
  const before = meanOf(values.before ?? []);
  const after = meanOf(values.after ?? []);
  let met: string;
  let goal = target.goal;
  if (after === undefined || Number.isNaN(after)) met = 'not measured';
  else if (db === 'postgres') met = target.met(after) ? 'yes' : '**no**';
  else {
    goal = `within 10 % of before (Postgres: ${target.goal})`;
    if (before === undefined) met = '— (no baseline)';
    else {
      const ok = target.better === 'higher' ? after >= 0.9 * before : after <= 1.1 * before;
      met = ok ? 'yes' : '**no**';
    }
  }
  return {
    target: target.name,
    db,
    goal,
    before: show(before, target.unit),
    after: show(after, target.unit),
    met,
  };
}

const HEADERS = ['target', 'database', 'goal', 'before', 'after', 'met?'];

export const targetCells = (r: TargetRow): Cell[] => [r.target, r.db, r.goal, r.before, r.after, r.met];

/** Print a benchmark's target rows, and hand them to the summary when one is being collected. */
export function reportTargets(title: string, rows: readonly TargetRow[]): void {
  printTable(title, HEADERS, rows.map(targetCells));
  const file = process.env.BENCH_SUMMARY;
  if (file) appendFileSync(file, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
}

export function printSummary(title: string, rows: readonly TargetRow[]): void {
  printTable(title, HEADERS, rows.map(targetCells));
}
