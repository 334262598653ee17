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
