import type { Database } from '../../db/database.js';
import { claimDue, recordAttempt } from './outbox.js';
import { sendDelivery } from './sender.js';
import type { TargetGuard } from './targets.js';

export interface DeliverySettings {
  /** Per request, the receiver's answer included. */
  timeoutMs: number;
  /** The first retry waits about this long; each later one twice the one before. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Attempts per event and webhook before the delivery is marked failed. */
  maxAttempts: number;
  /** Deliveries claimed (and sent concurrently) at a time. */
  batchSize: number;
  /** Batches per job run, so one run ends even while events keep coming. */
  maxBatchesPerRun: number;
  /** How long a claim holds; past it the delivery is presumed lost and is claimed again. */
  leaseMs: number;
}

export const DEFAULT_DELIVERY_SETTINGS: Omit<DeliverySettings, 'leaseMs'> = {
  timeoutMs: 10_000,
  baseDelayMs: 5_000,
  maxDelayMs: 3_600_000,
  maxAttempts: 10,
  batchSize: 50,
  maxBatchesPerRun: 10,
};

export function deliverySettings(overrides: Partial<DeliverySettings> = {}): DeliverySettings {
  const s = { ...DEFAULT_DELIVERY_SETTINGS, ...overrides };
  // A batch is sent concurrently, so its claim must outlast one timeout plus the bookkeeping.
  return { leaseMs: s.timeoutMs + 60_000, ...s };
}

/**
 * The wait before the next attempt after `attemptsMade` failed ones: base · 2^(n-1), capped, with
 * "equal jitter" (half fixed, half random) so receivers coming back up are not hit in lockstep.
 */
export function retryDelayMs(
  attemptsMade: number,
  s: Pick<DeliverySettings, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const full = Math.min(s.baseDelayMs * 2 ** (attemptsMade - 1), s.maxDelayMs);
  return Math.round(full / 2 + (random() * full) / 2);
}

/** Hears of each failed attempt: 'retrying' (another is scheduled) or 'failed' (given up). */
export type DeliveryFailureListener = (outcome: 'retrying' | 'failed') => void;

/** One run of the delivery job: claim due deliveries, send them, record outcomes. Returns attempts made. */
export async function deliverDue(
  db: Database,
  s: DeliverySettings,
  guard: TargetGuard,
  onFailure: DeliveryFailureListener = () => undefined,
): Promise<number> {
  let attempts = 0;
  for (let batch = 0; batch < s.maxBatchesPerRun; batch++) {
    const { claimed, taken } = await claimDue(db, s.batchSize, s.leaseMs);
    await Promise.all(
      claimed.map(async (delivery) => {
        const result = await sendDelivery(delivery, s.timeoutMs, guard);
        if (result.error === null) return recordAttempt(db, delivery, result, 'delivered', null);
        const outcome = delivery.attempt >= s.maxAttempts ? 'failed' : 'retrying';
        onFailure(outcome);
        const retryInMs = outcome === 'retrying' ? retryDelayMs(delivery.attempt, s) : null;
        return recordAttempt(db, delivery, result, outcome, retryInMs);
      }),
    );
    attempts += claimed.length;
    if (taken < s.batchSize) break;
  }
  return attempts;
}
