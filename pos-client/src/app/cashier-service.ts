import { z } from 'zod';
import type { Cashier } from '../engine/cashier.js';
import { TillError, UnknownProductError } from '../engine/errors.js';
import type { SyncAgent } from '../sync/agent.js';
import type { CashierApi, CashierError, StockLookup, TillState } from './cashier-api.js';
import { CashierArgs, type CashierMethod } from './cashier-args.js';
import { CashierApiError } from './cashier-error.js';

export interface CashierServiceOptions {
  /** How long a stock lookup waits for the hub before showing the cached answer. */
  stockTimeoutMs?: number;
  fetch?: typeof fetch;
}

type Elsewhere = NonNullable<StockLookup['elsewhere']>;

/** The part of the hub's `GET /v1/inventory/{sku}` answer a stock lookup shows. */
const SkuInventory = z.object({
  locations: z.array(
    z.object({ locationId: z.string(), onHand: z.number(), reserved: z.number(), available: z.number() }),
  ),
});

/**
 * The CashierApi over a till and its sync agent. Every method parses its arguments (CashierArgs)
 * and fails with a CashierApiError only: TillError codes pass through, anything else is 'internal'.
 */
export function createCashierService(
  cashier: Cashier,
  agent: SyncAgent,
  options: CashierServiceOptions = {},
): CashierApi {
  const stockTimeoutMs = options.stockTimeoutMs ?? 2_000;
  const fetchFn = options.fetch ?? fetch;
  /** The hub's last answer per SKU: shown, marked stale, while the hub cannot be asked. */
  const elsewhereCache = new Map<string, Elsewhere>();

  async function askHub(sku: string, ownLocation: string): Promise<Elsewhere | null> {
    const enrolment = cashier.enrolment;
    // Waiting means the hub just failed: do not make the cashier wait for another timeout.
    if (!enrolment || agent.status().state === 'waiting') return null;
    try {
      const res = await fetchFn(`${enrolment.hubUrl}/v1/inventory/${encodeURIComponent(sku)}`, {
        headers: { authorization: `Bearer ${enrolment.token}` },
        signal: AbortSignal.timeout(stockTimeoutMs),
      });
      if (!res.ok) return null;
      const body = SkuInventory.parse(await res.json());
      return body.locations
        .filter((l) => l.locationId !== ownLocation)
        .map(({ locationId, onHand, reserved, available }) => ({ locationId, onHand, reserved, available }));
    } catch {
      return null;
    }
  }

  const api: CashierApi = {
    async state(): Promise<TillState> {
      const t = cashier.status();
      const s = agent.status();
      return {
        deviceId: t.deviceId,
        locationId: t.locationId,
        online: s.state === 'live',
        syncState: s.state,
        lastError: s.lastError,
        outboxDepth: t.outboxDepth,
        oldestUnsyncedAgeMs: t.oldestUnsyncedAgeMs,
        lastSyncAt: t.lastSyncAt,
        rejected: t.rejected,
        pickupOrders: cashier.pickupOrders().length,
      };
    },

    async product(ref) {
      return cashier.product(ref) ?? null;
    },

    async search(query) {
      return cashier.searchProducts(query.trim(), 20);
    },

    async stock(ref) {
      const product = cashier.product(ref);
      if (!product) throw new UnknownProductError(ref);
      const here = cashier.stock(product.sku);
      if (!here) throw new UnknownProductError(ref);
      const live = await askHub(product.sku, here.locationId);
      if (live) {
        elsewhereCache.set(product.sku, live);
        return { product, here, elsewhere: live, stale: false };
      }
      const cached = elsewhereCache.get(product.sku);
      return { product, here, elsewhere: cached ?? null, stale: cached !== undefined };
    },

    async sell(input) {
      return cashier.sell({
        lines: input.lines,
        paymentMethod: input.payment,
        ...(input.reservedOverride ? { reservedOverride: input.reservedOverride } : {}),
      });
    },

    async returnItems(input) {
      return cashier.returnItems({
        lines: input.lines,
        refundMethod: input.refund,
        ...(input.originalReceiptId ? { originalReceiptId: input.originalReceiptId } : {}),
      });
    },

    async receipt(receiptId) {
      return cashier.receipt(receiptId) ?? null;
    },

    async pickupOrders() {
      return cashier.pickupOrders();
    },

    async pickup(orderId) {
      return { seq: cashier.pickup(orderId).seq };
    },

    async count(lines) {
      return { seq: cashier.count(lines).seq };
    },
  };

  return guarded(api);
}

/** Wrap every method: parse its arguments, and turn whatever it throws into a CashierApiError. */
function guarded(api: CashierApi): CashierApi {
  const wrap = <M extends CashierMethod>(method: M): CashierApi[M] => {
    const impl = api[method] as (...args: unknown[]) => Promise<unknown>;
    return (async (...args: unknown[]) => {
      const parsed = CashierArgs[method].safeParse(args);
      if (!parsed.success) throw new CashierApiError(invalidInput(parsed.error));
      try {
        return await impl(...parsed.data);
      } catch (err) {
        // The original stays as `cause` for the transport's log; the cashier sees the mapped error.
        throw new CashierApiError(toCashierError(err), { cause: err });
      }
    }) as CashierApi[M];
  };
  return {
    state: wrap('state'),
    product: wrap('product'),
    search: wrap('search'),
    stock: wrap('stock'),
    sell: wrap('sell'),
    returnItems: wrap('returnItems'),
    receipt: wrap('receipt'),
    pickupOrders: wrap('pickupOrders'),
    pickup: wrap('pickup'),
    count: wrap('count'),
  };
}

/** A zod failure on a method's argument tuple, with the field named (`lines.0.qty: …`). */
export function invalidInput(error: z.ZodError): CashierError {
  const issue = error.issues[0];
  // The tuple index of the (single) argument is noise to the cashier.
  const path = (issue?.path ?? []).slice(1).join('.');
  return {
    code: 'invalid_input',
    message: `${path ? `${path}: ` : ''}${issue?.message ?? 'invalid input'}`,
    details: error.issues.map((i) => ({ path: i.path.slice(1).join('.'), message: i.message })),
  };
}

export function toCashierError(err: unknown): CashierError {
  if (err instanceof CashierApiError) return err.toJSON();
  if (err instanceof TillError)
    return {
      code: err.code,
      message: err.message,
      ...(err.details !== undefined ? { details: err.details } : {}),
    };
  return { code: 'internal', message: 'the till could not do that: see its log' };
}

/**
 * Call `listener` with the till's state whenever the till or its sync agent changes, at most once
 * per `intervalMs` (a burst of changes — a catch-up applying hundreds of rows — becomes one call,
 * and the last change is always reported). Returns the unsubscribe function.
 */
export function watchTillState(
  cashier: Cashier,
  agent: SyncAgent,
  api: CashierApi,
  listener: (state: TillState) => void,
  intervalMs = 200,
): () => void {
  let timer: NodeJS.Timeout | null = null;
  let last = 0;
  const fire = () => {
    timer = null;
    last = Date.now();
    api.state().then(listener, () => undefined);
  };
  const poke = () => {
    timer ??= setTimeout(fire, Math.max(0, last + intervalMs - Date.now()));
  };
  const unwatch = cashier.onChange(poke);
  agent.on('state', poke);
  return () => {
    unwatch();
    agent.off('state', poke);
    if (timer) clearTimeout(timer);
    timer = null;
  };
}
