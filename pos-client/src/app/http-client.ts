import type { CashierApi, CashierError } from './cashier-api.js';
import { CashierApiError } from './cashier-error.js';

/*
 * The CashierApi over the till's loopback HTTP server (ui-server.ts). Runs in the browser bundle
 * as well as in Node: fetch only, no Node imports.
 */

const SECRET_HEADER = 'x-till-secret';

export function httpCashierApi(baseUrl: string, secret: string, fetchFn?: typeof fetch): CashierApi {
  const base = baseUrl.replace(/\/+$/, '');
  const doFetch = fetchFn ?? ((input: string, init?: RequestInit) => fetch(input, init));

  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${base}${path}`, {
        method,
        headers: {
          [SECRET_HEADER]: secret,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new CashierApiError(
        { code: 'unreachable', message: 'the till is not answering' },
        { cause: err },
      );
    }
    const payload: unknown = await res.json().catch(() => null);
    if (res.ok) return payload as T;
    throw new CashierApiError(errorOf(payload, res.status));
  }

  /** GET something that may not exist: the server's 404 `not_found` means null. */
  async function find<T>(path: string): Promise<T | null> {
    try {
      return await call<T>('GET', path);
    } catch (err) {
      if (err instanceof CashierApiError && err.code === 'not_found') return null;
      throw err;
    }
  }

  const seg = encodeURIComponent;
  return {
    state: () => call('GET', '/api/state'),
    product: (ref) => find(`/api/products/${seg(ref)}`),
    search: (query) => call('GET', `/api/search?q=${seg(query)}`),
    stock: (ref) => call('GET', `/api/stock/${seg(ref)}`),
    sell: (input) => call('POST', '/api/sales', input),
    returnItems: (input) => call('POST', '/api/returns', input),
    receipt: (receiptId) => find(`/api/receipts/${seg(receiptId)}`),
    pickupOrders: () => call('GET', '/api/pickups'),
    pickup: (orderId) => call('POST', `/api/pickups/${seg(orderId)}`),
    count: (lines) => call('POST', '/api/counts', { lines }),
  };
}

function errorOf(payload: unknown, status: number): CashierError {
  if (typeof payload === 'object' && payload !== null && 'code' in payload && 'message' in payload) {
    const { code, message, details } = payload as CashierError;
    return { code: String(code), message: String(message), ...(details !== undefined ? { details } : {}) };
  }
  return { code: status === 401 ? 'unauthorized' : 'http_error', message: `the till answered ${status}` };
}
