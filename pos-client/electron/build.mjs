// Bundles the Electron shell into pos-client/electron/dist: main.cjs (the till, its sync agent and
// the cashier service; better-sqlite3 stays a native module beside it) and preload.cjs (a
// sandboxed preload must be one self-contained CommonJS file). The UI comes from ui/build.mjs.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  conditions: ['@tillsync/source'],
  external: ['electron', 'better-sqlite3', 'bufferutil', 'utf-8-validate'],
  sourcemap: true,
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [join(here, 'main.ts')], outfile: join(out, 'main.cjs') });
await build({ ...common, entryPoints: [join(here, 'preload.ts')], outfile: join(out, 'preload.cjs') });
