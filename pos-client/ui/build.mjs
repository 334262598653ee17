// Bundles the cashier UI into pos-client/ui/dist (app.js, styles.css, index.html): see
// web/build.mjs, shared with the HQ dashboard.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWebUi } from '../../web/build.mjs';

await buildWebUi(dirname(fileURLToPath(import.meta.url)), build);
