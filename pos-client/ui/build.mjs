// Bundles the cashier UI into pos-client/ui/dist: one app.js (no CDN, CSP default-src 'self'),
// plus index.html and styles.css copied as they are.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.ts')],
  outfile: join(dist, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['chrome120'],
  conditions: ['@tillsync/source'],
  sourcemap: true,
  minify: process.env.NODE_ENV === 'production',
  logLevel: 'warning',
});
for (const file of ['index.html', 'styles.css']) copyFileSync(join(here, file), join(dist, file));
