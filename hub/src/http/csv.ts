/*
 * CSV export (RFC 4180): CRLF line ends; a field holding a comma, a quote or a line break is
 * quoted, its quotes doubled. Text that a spreadsheet would run as a formula (starting with = + - @,
 * tab or CR: OWASP's list) gets a leading ' so it shows as text. Numbers are written as they are, so
 * a negative quantity stays a number.
 */

export type CsvCell = string | number | null;

export function toCsv(header: readonly string[], rows: ReadonlyArray<readonly CsvCell[]>): string {
  return [header, ...rows].map((row) => `${row.map(csvField).join(',')}\r\n`).join('');
}

function csvField(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Whether an Accept header asks for CSV: text/csv is named with q > 0 and application/json is not
 * preferred over it. Wildcards do not count, so a browser (which accepts anything) still gets JSON.
 */
export function acceptsCsv(accept: string | undefined): boolean {
  const q = new Map<string, number>();
  for (const part of (accept ?? '').split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const weight = params.find((p) => p.startsWith('q='));
    q.set(type, weight ? Number(weight.slice(2)) || 0 : 1);
  }
  const csv = q.get('text/csv') ?? 0;
  return csv > 0 && csv >= (q.get('application/json') ?? 0);
}
