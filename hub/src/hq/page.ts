import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

/*
 * The HQ dashboard page: the bundle hub/ui/build.mjs writes to hub/ui/dist, served at /hq. The page
 * holds no data, so it needs no token; everything it shows it fetches with the token the user gives
 * it (REST, and the /hq live feed). Files are read per request (a few KB; a rebuilt bundle is picked
 * up without restarting the hub) from a fixed list: no path from the URL ever reaches the disk.
 */

const DEFAULT_DIST = join(dirname(fileURLToPath(import.meta.url)), '../../ui/dist');

const FILES: Record<string, { file: string; type: string }> = {
  '/hq': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/hq/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/hq/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/hq/app.js.map': { file: 'app.js.map', type: 'application/json; charset=utf-8' },
  '/hq/styles.css': { file: 'styles.css', type: 'text/css; charset=utf-8' },
};

/*
 * Everything from this origin only (the live feed's WebSocket included: CSP 3 'self' covers ws: to
 * the same host); no inline script or style; never framed. base-uri and form-action are added: the
 * sign-in form is handled in script, so a page whose script failed cannot send the token anywhere.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
} as const;

export class UiNotBuiltError extends AppError {
  constructor() {
    super(
      503,
      'ui_not_built',
      'the HQ dashboard is not built: run `pnpm build` (or `node hub/ui/build.mjs`), then reload',
    );
  }
}

export default async function hqPage(app: FastifyInstance, opts: { dist?: string } = {}): Promise<void> {
  const dist = opts.dist ?? DEFAULT_DIST;
  // Encapsulated (no fastify-plugin): these headers go on this plugin's answers only, errors included.
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(SECURITY_HEADERS);
  });
  for (const [url, { file, type }] of Object.entries(FILES)) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      const body = await readFile(join(dist, file)).catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'ENOENT' ? new UiNotBuiltError() : err;
      });
      return reply.type(type).header('cache-control', 'no-cache').send(body);
    });
  }
}
