import type { Database } from '../../db/database.js';
import { claimDue, recordAttempt } from './outbox.js';
import { sendDelivery } from './sender.js';
import type { TargetGuard } from './targets.js';

export interface DeliverySettings {
  /** Per request, the receiver's answer included. */
  timeoutMs: number;
  /**
   * The wait after each failed attempt of a round, in order; once they are used up the delivery
   * has failed and its webhook is disabled. Each wait is jittered by ±10 %.
   */
  retryScheduleMs: readonly number[];
  /** Deliveries claimed (and sent concurrently) at a time. */
  batchSize: number;
  /** Batches per job run, so one run ends even while events keep coming. */
  maxBatchesPerRun: number;
  /** How long a claim holds; past it the delivery is presumed lost and is claimed again. */
  leaseMs: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Standard Webhooks' suggested schedule: attempts at 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
 * 10 h after the one before: 8 attempts over 27 h 35 min (24 h 50 min at the least jitter).
 */
export const STANDARD_RETRY_SCHEDULE_MS: readonly number[] = [
  5 * SECOND,
  5 * MINUTE,
  30 * MINUTE,
  2 * HOUR,
  5 * HOUR,
  10 * HOUR,
  10 * HOUR,
];

export const DEFAULT_DELIVERY_SETTINGS: Omit<DeliverySettings, 'leaseMs'> = {
  timeoutMs: 10_000,
  retryScheduleMs: STANDARD_RETRY_SCHEDULE_MS,
  batchSize: 50,
  maxBatchesPerRun: 10,
};

export function deliverySettings(overrides: Partial<DeliverySettings> = {}): DeliverySettings {
  const s = { ...DEFAULT_DELIVERY_SETTINGS, ...overrides };
  // A batch is sent concurrently, so its claim must outlast one timeout plus the bookkeeping.
  return { leaseMs: s.timeoutMs + 60_000, ...s };
}

/**
 * The wait before the next attempt after `failedInRound` failed attempts of this round, or null
 * when the schedule is used up (give up). ±10 % jitter, so receivers coming back up are not hit
 * in lockstep by every hub's retries.
 */
export function retryDelayMs(
  failedInRound: number,
  schedule: readonly number[],
  random: () => number = Math.random,
): number | null {
  const wait = schedule[failedInRound - 1];
  return wait === undefined ? null : Math.round(wait * (0.9 + 0.2 * random()));
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
        const retryInMs = retryDelayMs(delivery.attempt - delivery.retryFrom, s.retryScheduleMs);
        const outcome = retryInMs === null ? 'failed' : 'retrying';
        onFailure(outcome);
        return recordAttempt(db, delivery, result, outcome, retryInMs);
      }),
    );
    attempts += claimed.length;
    if (taken < s.batchSize) break;
  }
  return attempts;
}
