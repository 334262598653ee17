import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, type IpcMainInvokeEvent, ipcMain, session } from 'electron';
import type { CashierApi } from '../src/app/cashier-api.js';
import { CASHIER_METHODS, CashierArgs } from '../src/app/cashier-args.js';
import {
  createCashierService,
  invalidInput,
  toCashierError,
  watchTillState,
} from '../src/app/cashier-service.js';
import { TillDamagedError } from '../src/engine/errors.js';
import { Till } from '../src/engine/till.js';
import { SyncAgent } from '../src/sync/agent.js';
import { type IpcResult, STATE_CHANNEL } from './ipc.js';
import { electronTokenVault } from './token-vault.js';

/*
 * The Electron shell: the till, its sync agent and the cashier service live in this (main)
 * process; the window shows the same UI as browser mode, sandboxed, and reaches the service only
 * through the `cashier:<method>` handlers below (exposed to the page by preload.ts).
 * Data: TILL_DATA_DIR, else <userData>/till-data (enrol it once with `till enrol --data <dir>`); the
 * device token is sealed with safeStorage at the first start (token-vault.ts).
 */

const appRoot = app.getAppPath();
const indexFile = join(appRoot, 'ui/dist/index.html');
const indexUrl = pathToFileURL(indexFile).href;

function openTill(): { till: Till; agent: SyncAgent; api: CashierApi } {
  const dataDir = process.env.TILL_DATA_DIR ?? join(app.getPath('userData'), 'till-data');
  const { vault, warning } = electronTokenVault();
  if (warning) console.warn(warning);
  const till = Till.open({ dataDir, vault });
  const agent = new SyncAgent(till.replica, { appVersion: app.getVersion() });
  return { till, agent, api: createCashierService(till.cashier, agent) };
}

/** Only our own page, in its top frame, may call the till. */
function fromOurPage(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return frame !== null && frame.parent === null && frame.url.split('#')[0] === indexUrl;
}

function serveIpc(api: CashierApi): void {
  for (const method of CASHIER_METHODS) {
    ipcMain.handle(`cashier:${method}`, async (event, ...args: unknown[]): Promise<IpcResult> => {
      if (!fromOurPage(event))
        return { ok: false, error: { code: 'forbidden', message: 'not the till page' } };
      const parsed = CashierArgs[method].safeParse(args);
      if (!parsed.success) return { ok: false, error: invalidInput(parsed.error) };
      try {
        const call = api[method] as (...a: unknown[]) => Promise<unknown>;
        return { ok: true, value: await call(...parsed.data) };
      } catch (err) {
        return { ok: false, error: toCashierError(err) };
      }
    });
  }
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'Tillsync',
    show: false,
    webPreferences: {
      preload: join(appRoot, 'electron/dist/preload.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      spellcheck: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadFile(indexFile);
  return win;
}

function lockDown(): void {
  // The page never needs the camera, notifications, new windows or another site.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, allow) => allow(false));
  app.on('web-contents-created', (_event, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (e, url) => {
      if (url.split('#')[0] !== indexUrl) e.preventDefault();
    });
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
}

async function main(): Promise<void> {
  // One till process per data directory: a second launch focuses the first window.
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  await app.whenReady();
  lockDown();
  const { till, agent, api } = openTill();
  serveIpc(api);
  const win = createWindow();
  app.on('second-instance', () => {
    if (win.isMinimized()) win.restore();
    win.focus();
  });
  const unwatch = watchTillState(till.cashier, agent, api, (state) => {
    if (!win.isDestroyed()) win.webContents.send(STATE_CHANNEL, state);
  });
  agent.start();
  app.on('window-all-closed', () => {
    unwatch();
    void agent.stop().finally(() => {
      till.close();
      app.quit();
    });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  // A damaged database is the operator's to salvage: say so on screen, never sell on it.
  if (err instanceof TillDamagedError) dialog.showErrorBox('Till database damaged', err.message);
  app.exit(1);
});
