import type { SyncAgent, Till, TillLog } from '@tillsync/pos-client';
import type { Random } from '../../hub/src/demo/random.js';
import type { SimTimings, Span } from './sim-config.js';
import { chooseAction, type Returnable, type TillAction } from './till-activity.js';

/** Returns remembered per till: enough for "the customer from earlier came back". */
const MAX_RETURNABLE = 20;

export interface SimulatedTillOptions {
  random: Random;
  timings: SimTimings;
  /** The first online period: different per till, so that some are offline at any moment. */
  firstOnlineMs: number;
  /** The till's own log (its ops, its agent's batches), closed with the till. */
  log: TillLog;
}

/**
 * A real till (its own SQLite file, its own sync agent) with nobody at it: every few seconds it
 * rings what `chooseAction` picks through the same Till calls the cashier service makes, and its
 * network comes and goes: online for a while, then the agent stops (the till keeps selling and
 * queues its ops), then it starts again and the outbox drains.
 */
export class SimulatedTill {
  private readonly timers = new Set<NodeJS.Timeout>();
  private returnable: Returnable[] = [];
  private stopped = false;

  constructor(
    readonly till: Till,
    readonly agent: SyncAgent,
    private readonly options: SimulatedTillOptions,
  ) {}

  start(): void {
    this.agent.start();
    this.after(this.options.firstOnlineMs, () => this.goOffline());
    this.after(this.draw(this.options.timings.actEvery), () => this.act());
  }

  /** Stop acting and syncing, and close the till's database. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.agent.stop();
    this.options.log.close();
    this.till.close();
  }

  private goOffline(): void {
    this.agent.stop().then(
      () => this.after(this.draw(this.options.timings.offline), () => this.goOnline()),
      (err: unknown) => this.failed(err),
    );
  }

  private goOnline(): void {
    this.agent.start();
    this.after(this.draw(this.options.timings.online), () => this.goOffline());
  }

  private act(): void {
    try {
      this.perform(
        chooseAction(
          {
            stock: this.till.cashier.allStock().filter((row) => this.till.cashier.product(row.sku)?.active),
            returnable: this.returnable,
            offline: this.agent.state === 'stopped',
          },
          this.options.random,
        ),
      );
    } catch (err) {
      this.failed(err);
    }
    this.after(this.draw(this.options.timings.actEvery), () => this.act());
  }

  private perform(action: TillAction): void {
    switch (action.kind) {
      case 'sale': {
        const receipt = this.till.cashier.sell({
          lines: action.lines.map((l) => ({ ref: l.sku, qty: l.qty })),
          paymentMethod: action.payment,
        });
        const fresh = receipt.lines.map((l) => ({ receiptId: receipt.receiptId, sku: l.sku }));
        this.returnable = [...fresh, ...this.returnable].slice(0, MAX_RETURNABLE);
        return;
      }
      case 'return':
        // Forgotten whatever happens: a receipt with nothing left to return would fail every time.
        this.returnable = this.returnable.filter(
          (r) => r.receiptId !== action.receiptId || r.sku !== action.sku,
        );
        this.till.cashier.returnItems({
          originalReceiptId: action.receiptId,
          lines: [{ ref: action.sku, qty: 1, condition: action.condition }],
        });
        return;
      case 'receive':
        this.till.cashier.receive([{ ref: action.sku, qty: action.qty }], 'demo delivery');
        return;
      case 'idle':
        return;
    }
  }

  /** An action the till refused, or a sync agent that would not stop: logged, the till goes on. */
  private failed(err: unknown): void {
    this.options.log.logger.error({ err }, 'simulated till: action failed');
  }

  private draw([min, max]: Span): number {
    return this.options.random.int(min, max);
  }

  private after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(timer);
  }
}
