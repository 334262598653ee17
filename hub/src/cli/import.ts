import { readFile } from 'node:fs/promises';
import { configFromEnv } from '../config.js';
import { StockWriter } from '../ledger/writer.js';
import {
  applyProductImport,
  applyStockImport,
  type ImportSummary,
  planProductImport,
  planStockImport,
} from '../services/csv-import.js';
import { describeDatabase, openCliDatabase } from './database.js';
import { type CliIo, type CliOutcome, say } from './io.js';
import { progress } from './progress.js';

/** Rejected rows printed in full; beyond this only a count (a broken 50,000-line file is one mistake). */
const MAX_REJECTS_SHOWN = 50;

/** Exit code of an import that went in with --skip-invalid but left rejected rows out. */
const PARTIAL_IMPORT = 3;

/** `import products|stock <file.csv> [--skip-invalid]` */
export async function importCsv(
  io: CliIo,
  kind: 'products' | 'stock',
  file: string,
  skipInvalid: boolean,
): Promise<CliOutcome> {
  const text = await readFile(file, 'utf8');
  const config = configFromEnv(io.env);
  const db = await openCliDatabase(config);
  try {
    say(io, `Importing ${kind} from ${file} into ${describeDatabase(config)}`);
    const bar = progress(io, `importing ${kind}`, text.length > 0 ? countLines(text) : 0);
    let summary: ImportSummary;
    try {
      summary =
        kind === 'products'
          ? await applyProductImport(db, planProductImport(text, file), {
              skipInvalid,
              onProgress: bar.update,
            })
          : await applyStockImport(new StockWriter(db), planStockImport(text, file), {
              skipInvalid,
              onProgress: bar.update,
            });
    } finally {
      bar.stop();
    }
    report(io, kind, summary);
    return { exitCode: !summary.applied ? 1 : summary.rejected.length > 0 ? PARTIAL_IMPORT : 0 };
  } finally {
    await db.close();
  }
}

function report(io: CliIo, kind: string, s: ImportSummary): void {
  if (s.rejected.length > 0) {
    io.stderr.write(`${s.rejected.length} problem(s) in ${s.file}:\n`);
    for (const r of s.rejected.slice(0, MAX_REJECTS_SHOWN))
      io.stderr.write(`  line ${r.line}${r.column ? `, column ${r.column}` : ''}: ${r.reason}\n`);
    if (s.rejected.length > MAX_REJECTS_SHOWN)
      io.stderr.write(`  … and ${s.rejected.length - MAX_REJECTS_SHOWN} more\n`);
  }
  const badLines = new Set(s.rejected.map((r) => r.line)).size;
  if (!s.applied) {
    io.stderr.write(
      `Nothing imported: ${badLines} line(s) rejected out of ${s.total}. ` +
        'Fix them, or pass --skip-invalid to import only the valid rows.\n',
    );
    return;
  }
  say(
    io,
    `${kind}: ${s.inserted} inserted, ${s.updated} updated, ${s.unchanged} unchanged, ${badLines} rejected ` +
      `(${s.total} rows in file)`,
  );
}

function countLines(text: string): number {
  return text.split('\n').length;
}
