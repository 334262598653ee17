/**
 * One till as its own process, for chaos runs that kill it with SIGKILL at any instant:
 *
 *   node --import tsx --conditions=@tillsync/source test/chaos/till-worker.ts \
 *     --data-dir DIR [--hub-url URL --code ENROLMENT_CODE] [--seed N] [--every-ms MS] [--skew-ms MS]
 *
 * Opens (or first enrols) the till on DIR, starts its SyncAgent and rings random cashier actions every
 * `--every-ms` while ringing is on. It prints one JSON line per event on stdout:
 *
 *   {"e":"ready"}                                       open and syncing
 *   {"e":"op","opId":…,"type":…,"effects":n}            an op the cashier saw completed (AFTER the
 *                                                       till call returned: it is committed)
 *   {"e":"state","outboxDepth":n,"sync":…,"rows":[…]}   answer to "state"
 *
 * and reads commands, one a line, on stdin: "go" (ring), "pause" (stop ringing), "state", and
 * "jump <ms>" (the wall clock jumps by that much, as a mis-set or NTP-corrected clock does).
 * Pipes are written synchronously on Linux, so a line printed before a kill reached the parent.
 *
 * `--skew-ms` shifts this process's wall clock (Date.now) as a till whose clock is hours off would
 * see it: the till, its HLC and its sync agent all read that clock. "jump" moves it while the till
 * runs; the monotonic clock (performance.now) is left alone, as an operating system leaves it.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    'hub-url': { type: 'string' },
    code: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'every-ms': { type: 'string', default: '150' },
    'skew-ms': { type: 'string', default: '0' },
  },
});

let skewMs = Number(values['skew-ms']);
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + skewMs;

// Imported after the clock is set, so nothing captures the true one first.
const { enrolTill, SyncAgent, Till, ReservedStockError, InvalidInputError } = await import(
  '@tillsync/pos-client'
);
const { effectsOf } = await import('@tillsync/sync-protocol');
const { mulberry32 } = await import('./random.js');

type TillOp = import('@tillsync/sync-protocol').TillOp;

const dataDir = values['data-dir'];
if (!dataDir) throw new Error('--data-dir is required');
const everyMs = Number(values['every-ms']);
const random = mulberry32(Number(values.seed));

const till =
  values.code && values['hub-url']
    ? await enrolTill({ dataDir, hubUrl: values['hub-url'], enrolmentCode: values.code })
    : Till.open({ dataDir });
const agent = new SyncAgent(till.replica, {
  backoff: { baseMs: 50, maxMs: 500 },
  heartbeatMs: 500,
  checksumMs: 5_000,
  requestTimeoutMs: 1_500,
});
agent.start();

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

let lastOp: TillOp | undefined;
till.replica.on('op', (op) => {
  lastOp = op;
});

const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const skus = () => till.cashier.allStock().map((r) => r.sku);
/** Sale receipts rung by this process, for returns against a receipt. */
const sales: string[] = [];

/** One random cashier action; the op it recorded, or none when the till refused it. */
function ring(): TillOp | undefined {
  const all = skus();
  if (all.length === 0) return undefined;
  lastOp = undefined;
  const roll = random();
  try {
    if (roll < 0.55) {
      const lines = [{ ref: pick(all), qty: 1 + Math.floor(random() * 3) }];
      const second = pick(all);
      if (random() < 0.3 && second !== lines[0]!.ref) lines.push({ ref: second, qty: 1 });
      // A quarter of the time the cashier confirms selling units held for online orders.
      const r = till.cashier.sell({
        lines,
        ...(random() < 0.25 ? { reservedOverride: 'customer at the till' } : {}),
      });
      sales.push(r.receiptId);
    } else if (roll < 0.7) {
      const original = sales.length > 0 && random() < 0.7 ? pick(sales) : undefined;
      const line = original ? till.cashier.receipt(original)?.lines[0] : undefined;
      till.cashier.returnItems({
        ...(original && line ? { originalReceiptId: original } : {}),
        lines: [{ ref: line?.sku ?? pick(all), qty: 1, condition: random() < 0.2 ? 'damaged' : 'sellable' }],
      });
    } else if (roll < 0.8) {
      till.cashier.count([{ ref: pick(all), counted: 20 + Math.floor(random() * 40) }]);
    } else if (roll < 0.9) {
      till.cashier.receive([{ ref: pick(all), qty: 5 + Math.floor(random() * 10) }], 'chaos delivery');
    } else {
      const held = till.cashier.pickupOrders();
      if (held.length === 0) return undefined;
      till.cashier.pickup(pick(held).orderId);
    }
  } catch (err) {
    // The till refusing an action (held stock, nothing left to return) is a cashier's everyday.
    if (err instanceof ReservedStockError || err instanceof InvalidInputError) return undefined;
    throw err;
  }
  return lastOp;
}

let ringing = false;
setInterval(() => {
  if (!ringing) return;
  const op = ring();
  if (op) print({ e: 'op', opId: op.opId, type: op.type, effects: effectsOf(op).length });
}, everyMs);

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'go') ringing = true;
  else if (command === 'pause') ringing = false;
  else if (command.startsWith('jump ')) skewMs += Number(command.slice(5));
  else if (command === 'state')
    print({
      e: 'state',
      outboxDepth: till.cashier.status().outboxDepth,
      sync: agent.status().state,
      rows: till.cashier.allStock(),
    });
});
// The parent going away (stdin closed) ends this till too.
process.stdin.on('end', () => process.exit(0));

print({ e: 'ready', deviceId: till.replica.enrolment?.deviceId ?? null });
