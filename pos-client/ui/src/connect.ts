import type { CashierApi, TillState } from '../../src/app/cashier-api.js';
import { httpCashierApi } from '../../src/app/http-client.js';

/** What the Electron preload exposes: the same contract, plus a push of state changes. */
export interface TillsyncBridge extends CashierApi {
  onState(listener: (state: TillState) => void): unknown;
}

declare global {
  interface Window {
    tillsync?: TillsyncBridge;
  }
}

const SECRET_KEY = 'tillsync.secret';
const POLL_MS = 5_000;

/**
 * The loopback server hands the page its secret in the URL fragment (never sent over the wire).
 * Keep it for this tab only and take it out of the address bar, history and screenshots.
 */
function takeSecret(): string {
  const found = /(?:^#|&)secret=([^&]+)/.exec(location.hash);
  if (found?.[1]) {
    sessionStorage.setItem(SECRET_KEY, decodeURIComponent(found[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(SECRET_KEY) ?? '';
}

export interface Connection {
  api: CashierApi;
  /** Calls `listener` with every new till state: pushed live, and polled as a fallback. */
  watch(listener: (state: TillState) => void): void;
}

export function connect(): Connection {
  const bridge = window.tillsync;
  const api: CashierApi = bridge ?? httpCashierApi(location.origin, takeSecret());
  const refresh = (listener: (state: TillState) => void) => api.state().then(listener, () => undefined);
  return {
    api,
    watch(listener) {
      if (bridge) {
        bridge.onState(listener);
      } else {
        const events = new EventSource(`/api/events?secret=${encodeURIComponent(takeSecret())}`);
        const onEvent = (e: MessageEvent<string>) => {
          const pushed = parseState(e.data);
          if (pushed) listener(pushed);
          else void refresh(listener);
        };
        events.addEventListener('message', onEvent);
        events.addEventListener('state', onEvent as EventListener);
      }
      void refresh(listener);
      window.setInterval(() => void refresh(listener), POLL_MS);
    },
  };
}

/** An event may carry the whole state, or only say "something changed" (then we ask). */
function parseState(data: string): TillState | null {
  try {
    const value = JSON.parse(data) as Partial<TillState> | null;
    return value && typeof value.outboxDepth === 'number' && typeof value.online === 'boolean'
      ? (value as TillState)
      : null;
  } catch {
    return null;
  }
}
