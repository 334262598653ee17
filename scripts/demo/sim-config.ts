/** A duration drawn anew each time, in ms: [min, max]. */
export type Span = readonly [min: number, max: number];

export interface SimTimings {
  /** Between two actions of a till (a sale, mostly). */
  actEvery: Span;
  /** How long a till stays connected before its network "drops". */
  online: Span;
  /** How long it then sells offline, queuing its ops, before reconnecting. */
  offline: Span;
  /** The sync agent's heartbeat: how fresh HQ's view of each till's outbox is. */
  heartbeatMs: number;
}

/** The simulated tills' knobs (README, "The two commands"). */
export interface SimConfig {
  /** Simulated tills per store; 0 turns the simulation off. */
  tillsPerStore: number;
  /** Seeds every till's choices (the same seed makes the same choices from the same stock). */
  seed: number;
  timings: SimTimings;
}

/** At speed 1: a sale every few seconds, online ~40–90 s, offline ~20–45 s. */
const BASE: SimTimings = {
  actEvery: [2_000, 6_000],
  online: [40_000, 90_000],
  offline: [20_000, 45_000],
  heartbeatMs: 10_000,
};

/**
 * TILLSYNC_DEMO_TILLS (tills per store, default 2, 0 = none), TILLSYNC_DEMO_SPEED (divides every
 * duration, default 1; tests use 10) and TILLSYNC_DEMO_SEED (default: a new one each start).
 */
export function simConfigFromEnv(env: NodeJS.ProcessEnv): SimConfig {
  const tillsPerStore = wholeNumber(env, 'TILLSYNC_DEMO_TILLS', 2);
  const speed = positiveNumber(env, 'TILLSYNC_DEMO_SPEED', 1);
  const seed = wholeNumber(env, 'TILLSYNC_DEMO_SEED', Date.now() % 2 ** 32);
  const scale = (ms: number) => Math.max(1, Math.round(ms / speed));
  const span = ([min, max]: Span): Span => [scale(min), scale(max)];
  return {
    tillsPerStore,
    seed,
    timings: {
      actEvery: span(BASE.actEvery),
      online: span(BASE.online),
      offline: span(BASE.offline),
      heartbeatMs: scale(BASE.heartbeatMs),
    },
  };
}

function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new Error(`${name} must be a whole number ≥ 0 (got "${raw}")`);
  return Number(raw);
}

function positiveNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a number > 0 (got "${raw}")`);
  return value;
}
