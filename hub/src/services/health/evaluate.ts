import type { HealthStatus, HealthThresholds } from '../../schemas/health.js';

/*
 * The health rules, as pure functions of what the hub knows (documented in the README, "Sync
 * health"). A till is:
 *   critical  offline ≥ offlineCriticalMs, or its oldest unsynced op ≥ lagCriticalMs old
 *   degraded  offline (shorter), oldest unsynced op ≥ lagDegradedMs, clock off by ≥ clockSkewMs,
 *             or rejected ops awaiting review
 * A till is online when it is connected and was heard from (heartbeat) within heartbeatStaleMs: a
 * connection row left "connected" by a hub that died is not believed.
 *   ok        otherwise
 * A location is the worst of its tills, and at least degraded with open conflicts; the brand is the
 * worst of its locations.
 */

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  heartbeatStaleMs: 60_000,
  lagDegradedMs: 60_000,
  lagCriticalMs: 10 * 60_000,
  offlineCriticalMs: 15 * 60_000,
  clockSkewMs: 2 * 60_000,
  offlineAlertMs: 5 * 60_000,
  lagAlertMs: 5 * 60_000,
};

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, critical: 2 };

export function worst(statuses: Iterable<HealthStatus>): HealthStatus {
  let out: HealthStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[out]) out = s;
  return out;
}

export function compareStatus(a: HealthStatus, b: HealthStatus): number {
  return RANK[a] - RANK[b];
}

/** What the health rules read of one till. Times are epoch ms. */
export interface TillFacts {
  online: boolean;
  offlineSince: number | null;
  outboxDepth: number | null;
  /** Oldest unsynced op's age now (extrapolated from the last heartbeat). */
  oldestUnsyncedAgeMs: number | null;
  clockOffsetMs: number | null;
  openDeadLetters: number;
}

export interface Verdict {
  status: HealthStatus;
  reasons: string[];
}

export function evaluateTill(f: TillFacts, t: HealthThresholds, now: number): Verdict {
  const found: Array<[HealthStatus, string]> = [];
  const waiting = f.outboxDepth ? `, ${plural(f.outboxDepth, 'op')} waiting` : '';
  if (!f.online) {
    const offlineMs = f.offlineSince === null ? null : now - f.offlineSince;
    if (offlineMs === null) found.push(['degraded', 'never connected']);
    else
      found.push([
        offlineMs >= t.offlineCriticalMs ? 'critical' : 'degraded',
        `offline for ${formatDuration(offlineMs)}${waiting}`,
      ]);
  }
  const lag = f.oldestUnsyncedAgeMs;
  if (lag !== null && lag >= t.lagDegradedMs) {
    found.push([
      lag >= t.lagCriticalMs ? 'critical' : 'degraded',
      `oldest unsynced op ${formatDuration(lag)} old${waiting}`,
    ]);
  }
  if (f.clockOffsetMs !== null && Math.abs(f.clockOffsetMs) >= t.clockSkewMs) {
    found.push(['degraded', `clock off by ${formatDuration(Math.abs(f.clockOffsetMs))}`]);
  }
  if (f.openDeadLetters > 0) {
    found.push(['degraded', `${plural(f.openDeadLetters, 'rejected op')} awaiting review`]);
  }
  found.sort((a, b) => compareStatus(b[0], a[0]));
  return { status: worst(found.map(([s]) => s)), reasons: found.map(([, r]) => r) };
}

/** "45 s", "6 min", "2 h 05 min", "3 d 4 h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
