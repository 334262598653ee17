import { AdjustReason } from '@tillsync/sync-protocol';
import { Argument, Command, Option } from 'commander';
import type { Cashier } from '../engine/cashier.js';
import { TillError } from '../engine/errors.js';
import type { Receipt } from '../engine/store.js';
import type { SyncAgent } from '../sync/agent.js';

/*
 * Till commands, shared by one-shot CLI calls (`till sell LIP-RED:2`) and the interactive shell of
 * `till run`, so both ring exactly the same way.
 */

export interface CommandContext {
  cashier: Cashier;
  agent: SyncAgent | null;
  out: (line: string) => void;
}

/** Runs one command's action against a till: opened for it (one-shot CLI) or already open (shell). */
export type WithTill = (action: (ctx: CommandContext) => void) => Promise<void>;

/**
 * The cashier's commands, added to `parent` (the `till` program, or the shell's). Commander
 * refuses an unknown command or option and a missing argument before anything is rung.
 */
export function addTillCommands(parent: Command, withTill: WithTill): void {
  const items = '<sku|barcode>[:qty]';
  parent
    .command('sell')
    .description('ring a sale')
    .argument(`<items...>`, `${items}, one or more (qty 1 by default)`)
    .addOption(new Option('--pay <method>', 'how the customer pays').choices(PAYMENTS).default('cash'))
    .option('--override <reason>', 'sell units reserved for online orders, saying why')
    .action((words: string[], o: { pay: (typeof PAYMENTS)[number]; override?: string }) =>
      withTill(({ cashier, out }) => {
        const receipt = cashier.sell({
          lines: words.map(qtyLine),
          paymentMethod: o.pay,
          ...(o.override ? { reservedOverride: o.override } : {}),
        });
        printReceipt(receipt, out);
      }),
    );
  parent
    .command('return')
    .description('take items back')
    .argument(`<items...>`, `${items}, one or more`)
    .option('--receipt <id>', 'the receipt they were sold on')
    .option('--damaged', 'the items cannot be sold again', false)
    .action((words: string[], o: { receipt?: string; damaged: boolean }) =>
      withTill(({ cashier, out }) => {
        const receipt = cashier.returnItems({
          ...(o.receipt ? { originalReceiptId: o.receipt } : {}),
          lines: words.map((a) => ({ ...qtyLine(a), condition: o.damaged ? 'damaged' : 'sellable' })),
        });
        printReceipt(receipt, out);
      }),
    );
  parent
    .command('count')
    .description('record a stock count')
    .argument('<counts...>', '<sku>=<counted>, one or more')
    .action((words: string[]) =>
      withTill(({ cashier, out }) => {
        const op = cashier.count(
          words.map((a) => {
            const [ref, counted] = a.split('=');
            return { ref: ref ?? '', counted: wholeNumber(counted, a) };
          }),
        );
        out(`counted (op ${op.seq})`);
      }),
    );
  parent
    .command('receive')
    .description('receive a delivery')
    .argument('<items...>', '<sku>:<qty>, one or more')
    .option('--ref <reference>', "the delivery's reference")
    .action((words: string[], o: { ref?: string }) =>
      withTill(({ cashier, out }) => {
        const op = cashier.receive(words.map(qtyLine), o.ref);
        out(`received (op ${op.seq})`);
      }),
    );
  parent
    .command('adjust')
    .description('write stock off or back on')
    .addArgument(new Argument('<reason>', 'why').choices(AdjustReason.options))
    .argument('<items...>', '<sku>:<qty>, one or more')
    .action((reason: AdjustReason, words: string[]) =>
      withTill(({ cashier, out }) => {
        const op = cashier.adjust(reason, words.map(qtyLine));
        out(`adjusted (op ${op.seq})`);
      }),
    );
  parent
    .command('pickups')
    .description('online orders waiting to be collected here')
    .action(() =>
      withTill(({ cashier, out }) => {
        const orders = cashier.pickupOrders();
        if (orders.length === 0) out('no pickup orders waiting');
        for (const o of orders) out(`${o.orderId}: ${o.lines.map((l) => `${l.qty} × ${l.sku}`).join(', ')}`);
      }),
    );
  parent
    .command('pickup')
    .description('hand an online order over')
    .argument('<order id>')
    .action((orderId: string) =>
      withTill(({ cashier, out }) => {
        const op = cashier.pickup(orderId);
        out(`handed over order ${orderId} (op ${op.seq})`);
      }),
    );
  parent
    .command('stock')
    .description("a product's stock at this store")
    .argument('<sku|barcode>')
    .action((ref: string) =>
      withTill(({ cashier, out }) => {
        const row = cashier.stock(ref);
        const product = cashier.product(ref);
        if (!row || !product) throw new TillError('unknown_product', `no product ${ref}`);
        out(
          `${product.sku}  ${product.name}\n  on hand ${row.onHand}  reserved ${row.reserved}  available ${row.onHand - row.reserved}  incoming ${row.incoming}  damaged ${row.damaged}  (version ${row.version})`,
        );
      }),
    );
  parent
    .command('status')
    .description('enrolment, sync state, ops waiting, rejected ops')
    .action(() =>
      withTill(({ cashier, agent, out }) => {
        const s = cashier.status();
        const sync = agent?.status();
        out(
          [
            `till ${s.deviceId ?? '(not enrolled)'} at ${s.locationId ?? '-'}`,
            `sync: ${sync ? `${sync.state}${sync.lastError ? ` (${sync.lastError})` : ''}` : 'not running'}`,
            `waiting to sync: ${s.outboxDepth} op(s)${s.oldestUnsyncedAgeMs !== null ? `, oldest ${Math.round(s.oldestUnsyncedAgeMs / 1000)} s` : ''}`,
            `last sync: ${s.lastSyncAt ? new Date(s.lastSyncAt).toISOString() : 'never'}`,
            ...s.rejected.map((r) => `rejected op ${r.seq} (${r.type}): ${r.code}: ${r.reason}`),
          ].join('\n'),
        );
      }),
    );
}

/** The commands `till run` reads from its prompt: the same as the one-shot CLI's, on the open till. */
export function shellProgram(ctx: CommandContext, err: (line: string) => void): Command {
  const shell = new Command('')
    .usage('<command> [options]')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.out(s.trimEnd()), writeErr: (s) => err(s.trimEnd()) })
    .showHelpAfterError('(help lists the commands, <command> --help its options)');
  addTillCommands(shell, async (action) => action(ctx));
  return shell;
}

const PAYMENTS = ['cash', 'card', 'voucher'] as const;

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
