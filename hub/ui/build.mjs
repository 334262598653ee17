// Bundles the HQ dashboard into hub/ui/dist (app.js with socket.io-client inside, styles.css,
// index.html): see web/build.mjs, shared with the cashier UI.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { buildWebUi } from '../../web/build.mjs';

await buildWebUi(dirname(fileURLToPath(import.meta.url)), build);
