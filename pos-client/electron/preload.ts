import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';
import type { CashierApi, TillState } from '../src/app/cashier-api.js';
import { type IpcResult, STATE_CHANNEL } from './ipc.js';

/*
 * The page's only door to the till: `window.tillsync`, the CashierApi plus onState. Each method is
 * one fixed IPC channel (never a channel name from the page). Sandboxed preloads cannot load
 * local modules, so this file imports types only besides electron (ipc.ts's constant is inlined
 * by the bundler).
 */

async function invoke(method: keyof CashierApi, args: unknown[]): Promise<unknown> {
  const result = (await ipcRenderer.invoke(`cashier:${method}`, ...args)) as IpcResult;
  if (result.ok) return result.value;
  // A plain { code, message, details } object: unlike an Error, it crosses the bridge whole.
  throw result.error;
}

const method = <M extends keyof CashierApi>(name: M) =>
  ((...args: Parameters<CashierApi[M]>) => invoke(name, args)) as CashierApi[M];

const tillsync: CashierApi & { onState(listener: (state: TillState) => void): () => void } = {
  state: method('state'),
  product: method('product'),
  search: method('search'),
  stock: method('stock'),
  sell: method('sell'),
  returnItems: method('returnItems'),
  receipt: method('receipt'),
  pickupOrders: method('pickupOrders'),
  pickup: method('pickup'),
  count: method('count'),
  onState(listener) {
    const forward = (_event: IpcRendererEvent, state: TillState) => listener(state);
    ipcRenderer.on(STATE_CHANNEL, forward);
    return () => ipcRenderer.removeListener(STATE_CHANNEL, forward);
  },
};

contextBridge.exposeInMainWorld('tillsync', tillsync);
