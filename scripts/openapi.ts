import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { buildOpenapiDocument } from '../hub/src/openapi/document.js';

/** `pnpm openapi [path]`: write the hub's OpenAPI document (default build/openapi.json). */
const out = resolve(process.argv[2] ?? 'build/openapi.json');
const document = await buildOpenapiDocument();
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(document, null, 2)}\n`);
console.log(`wrote ${out}`);
