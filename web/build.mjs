// Builds one browser UI (the cashier's pos-client/ui or HQ's hub/ui) into <ui>/dist: app.js, one
// bundle with its dependencies inside (no CDN: both pages are served under CSP 'self'); styles.css,
// the UI's stylesheet with the @import of web/base.css inlined (still one file, so neither server
// serves anything new); index.html as it is.
// Each file is written aside and renamed into place: a server reading dist never sends a half-written
// file, even while another build (a parallel test project) runs.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * @param {string} ui the UI's folder (holding src/main.ts, styles.css and index.html)
 * @param {typeof import('esbuild').build} build esbuild's build, passed in: esbuild is a dependency
 *   of each UI's package, not of the workspace root where this file lives
 */
export async function buildWebUi(ui, build) {
  const dist = join(ui, 'dist');
  mkdirSync(dist, { recursive: true });
  const common = {
    bundle: true,
    target: ['chrome120'],
    minify: process.env.NODE_ENV === 'production',
    logLevel: 'warning',
    write: false,
  };
  const app = await build({
    ...common,
    entryPoints: [join(ui, 'src/main.ts')],
    outfile: join(dist, 'app.js'),
    format: 'esm',
    platform: 'browser',
    conditions: ['@tillsync/source'],
    sourcemap: true,
  });
  const styles = await build({
    ...common,
    entryPoints: [join(ui, 'styles.css')],
    outfile: join(dist, 'styles.css'),
  });
  for (const file of [...app.outputFiles, ...styles.outputFiles]) place(file.path, file.contents);
  place(join(dist, 'index.html'), readFileSync(join(ui, 'index.html')));
}

function place(path, contents) {
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, contents);
  renameSync(aside, path);
}
