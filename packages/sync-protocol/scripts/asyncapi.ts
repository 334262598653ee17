/**
 * `pnpm asyncapi`: write the sync protocol's AsyncAPI document to build/asyncapi.json and validate
 * it with @asyncapi/parser; exits 1 on any error (CI's "contracts" step runs it).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { asyncApiDocument } from '../src/asyncapi.js';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../../../build/asyncapi.json');
const text = `${JSON.stringify(asyncApiDocument(), null, 2)}\n`;
await mkdir(dirname(out), { recursive: true });
await writeFile(out, text);
const { diagnostics } = await new Parser().parse(text);
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  const level = d.severity === DiagnosticSeverity.Error ? 'error' : 'warning';
  console.log(`${level} ${d.code} at ${d.path.join('.') || '(root)'}: ${d.message}`);
}
console.log(`${out}: ${errors.length} errors, ${diagnostics.length - errors.length} other diagnostics`);
if (errors.length > 0) process.exit(1);
