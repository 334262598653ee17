import { AdjustReason } from '@tillsync/sync-protocol';
import { TillError } from '../engine/errors.js';
import type { Receipt } from '../engine/store.js';
import type { Till } from '../engine/till.js';
import type { SyncAgent } from '../sync/agent.js';

/*
 * Till commands, shared by one-shot CLI calls (`till sell LIP-RED:2`) and the interactive shell of
 * `till run`, so both ring exactly the same way.
 */

export interface CommandContext {
  till: Till;
  agent: SyncAgent | null;
  out: (line: string) => void;
}

export const HELP = `commands:
  sell <sku|barcode>[:qty] ... [--pay cash|card] [--override <reason>]
  return <sku>[:qty] ... [--receipt <id>] [--damaged]
  count <sku>=<counted> ...
  receive <sku>:<qty> ... [--ref <reference>]
  adjust <damage|shrink|found|dispose> <sku>:<qty> ...
  pickups                                   online orders waiting to be collected here
  pickup <order id>                         hand an order over
  stock <sku|barcode>
  status
  help`;

/** Run one command line (already split into words). Throws TillError for cashier mistakes. */
export function runCommand(words: string[], ctx: CommandContext): void {
  const [name, ...rest] = words;
  const { args, flags } = splitFlags(rest);
  const { till, out } = ctx;
  switch (name) {
    case 'sell': {
      const receipt = till.sell({
        lines: args.map(qtyLine),
        ...(flags.pay ? { paymentMethod: payMethod(flags.pay) } : {}),
        ...(flags.override ? { reservedOverride: flags.override } : {}),
      });
      printReceipt(receipt, out);
      return;
    }
    case 'return': {
      const receipt = till.returnItems({
        ...(flags.receipt ? { originalReceiptId: flags.receipt } : {}),
        lines: args.map((a) => ({
          ...qtyLine(a),
          condition: flags.damaged !== undefined ? 'damaged' : 'sellable',
        })),
      });
      printReceipt(receipt, out);
      return;
    }
    case 'count': {
      const op = till.count(
        args.map((a) => {
          const [ref, counted] = a.split('=');
          return { ref: ref ?? '', counted: wholeNumber(counted, a) };
        }),
      );
      out(`counted (op ${op.seq})`);
      return;
    }
    case 'receive': {
      const op = till.receive(args.map(qtyLine), flags.ref);
      out(`received (op ${op.seq})`);
      return;
    }
    case 'adjust': {
      const [reason, ...lines] = args;
      const parsed = AdjustReason.safeParse(reason);
      if (!parsed.success)
        throw new TillError('invalid_input', 'adjust needs a reason: damage, shrink, found or dispose');
      const op = till.adjust(parsed.data, lines.map(qtyLine));
      out(`adjusted (op ${op.seq})`);
      return;
    }
    case 'pickups': {
      const orders = till.pickupOrders();
      if (orders.length === 0) out('no pickup orders waiting');
      for (const o of orders) out(`${o.orderId}: ${o.lines.map((l) => `${l.qty} × ${l.sku}`).join(', ')}`);
      return;
    }
    case 'pickup': {
      const op = till.pickup(args[0] ?? '');
      out(`handed over order ${args[0]} (op ${op.seq})`);
      return;
    }
    case 'stock': {
      const ref = args[0] ?? '';
      const row = till.stock(ref);
      const product = till.product(ref);
      if (!row || !product) throw new TillError('unknown_product', `no product ${ref}`);
      out(
        `${product.sku}  ${product.name}\n  on hand ${row.onHand}  reserved ${row.reserved}  available ${row.onHand - row.reserved}  incoming ${row.incoming}  damaged ${row.damaged}  (version ${row.version})`,
      );
      return;
    }
    case 'status': {
      const s = till.status();
      const sync = ctx.agent?.status();
      out(
        [
          `till ${s.deviceId ?? '(not enrolled)'} at ${s.locationId ?? '-'}`,
          `sync: ${sync ? `${sync.state}${sync.lastError ? ` (${sync.lastError})` : ''}` : 'not running'}`,
          `waiting to sync: ${s.outboxDepth} op(s)${s.oldestUnsyncedAgeMs !== null ? `, oldest ${Math.round(s.oldestUnsyncedAgeMs / 1000)} s` : ''}`,
          `last sync: ${s.lastSyncAt ? new Date(s.lastSyncAt).toISOString() : 'never'}`,
          ...s.rejected.map((r) => `rejected op ${r.seq} (${r.type}): ${r.code}: ${r.reason}`),
        ].join('\n'),
      );
      return;
    }
    case 'help':
    case undefined:
      out(HELP);
      return;
    default:
      throw new TillError('invalid_input', `unknown command ${name}\n${HELP}`);
  }
}

function splitFlags(words: string[]): { args: string[]; flags: Record<string, string | undefined> } {
  const args: string[] = [];
  const flags: Record<string, string | undefined> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith('--')) {
      args.push(w);
      continue;
    }
    const name = w.slice(2);
    const next = words[i + 1];
    if (name === 'damaged' || next === undefined || next.startsWith('--')) flags[name] = '';
    else {
      flags[name] = next;
      i++;
    }
  }
  return { args, flags };
}

function qtyLine(word: string): { ref: string; qty: number } {
  const [ref, qty] = word.split(':');
  return { ref: ref ?? '', qty: qty === undefined ? 1 : wholeNumber(qty, word) };
}

function wholeNumber(text: string | undefined, word: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0)
    throw new TillError('invalid_input', `not a whole number in ${JSON.stringify(word)}`);
  return n;
}

function payMethod(text: string): 'cash' | 'card' | 'voucher' {
  if (text === 'cash' || text === 'card' || text === 'voucher') return text;
  throw new TillError('invalid_input', 'pay with cash, card or voucher');
}

function money(minor: number): string {
  return (minor / 100).toFixed(2);
}

function printReceipt(r: Receipt, out: (line: string) => void): void {
  out(`${r.kind === 'sale' ? 'SALE' : 'RETURN'} ${r.receiptId}`);
  for (const l of r.lines)
    out(
      `  ${l.qty} × ${l.name} (${l.sku}) @ ${money(l.unitPriceMinor)} = ${money(l.qty * l.unitPriceMinor)}`,
    );
  out(`  total ${money(r.totalMinor)} (${r.payments.map((p) => p.method).join(', ')})`);
}
