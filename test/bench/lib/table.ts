/** Benchmarks print Markdown tables, pasted as they are into docs/benchmarks.md. */

export type Cell = string | number;

function format(cell: Cell): string {
  if (typeof cell === 'string') return cell;
  if (Number.isInteger(cell)) return String(cell);
  return Math.abs(cell) >= 100 ? cell.toFixed(0) : cell.toFixed(2);
}

export function markdownTable(headers: readonly string[], rows: readonly Cell[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `|${headers.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(format).join(' | ')} |`),
  ].join('\n');
}

/** Print a titled table (and the command's settings) to stdout. */
export function printTable(title: string, headers: readonly string[], rows: readonly Cell[][]): void {
  console.log(`\n${title}\n\n${markdownTable(headers, rows)}\n`);
}

/** A row and what it is of (e.g. database and load): before/after rows of one thing print together. */
export interface KeyedRow {
  key: string;
  cells: Cell[];
}

/** The rows grouped by key, groups in the order their keys first came, rows in order within. */
export function groupedRows(rows: readonly KeyedRow[]): Cell[][] {
  const first = new Map<string, number>();
  for (const r of rows) if (!first.has(r.key)) first.set(r.key, first.size);
  return [...rows].sort((a, b) => first.get(a.key)! - first.get(b.key)!).map((r) => r.cells);
}
