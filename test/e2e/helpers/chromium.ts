import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

/** The repository's root folder. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
/**
 * Where the UI tests leave their screenshots: build/screenshots (ignored by git), so a test run
 * leaves the work tree clean; `pnpm screenshots` points TILLSYNC_SCREENSHOTS_DIR at docs/screenshots
 * to refresh the ones the README shows, on purpose.
 */
export const shots = resolve(root, process.env.TILLSYNC_SCREENSHOTS_DIR ?? 'build/screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Build a browser UI the way `pnpm build` does (`ui`: its folder from the root, say 'hub/ui'), so the
 * test sees the current sources, then launch a headless Chromium to drive it.
 */
export async function buildUiAndLaunchChromium(ui: string): Promise<Browser> {
  execFileSync(process.execPath, [join(root, ui, 'build.mjs')], { stdio: 'inherit' });
  mkdirSync(shots, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
