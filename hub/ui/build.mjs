// Bundles the HQ dashboard into hub/ui/dist: one app.js with socket.io-client inside (no CDN; the
// page is served under CSP script-src 'self'), plus index.html and styles.css copied as they are.
// Each file is written aside and renamed into place: a hub serving dist never sends a half-written
// file, even while another build (a parallel test project) runs.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });
const place = (path, contents) => {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, contents);
  renameSync(aside, path);
};
const { outputFiles } = await build({
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
  write: false,
});
for (const file of outputFiles) place(file.path, file.contents);
for (const file of ['index.html', 'styles.css']) place(join(dist, file), readFileSync(join(here, file)));
