import type { WhoAmI } from '../../src/schemas/access.js';
import type { HqUpdate } from '../../src/schemas/health.js';
import type { Api } from './api.js';

/** What every view may use: the hub, the latest live update, and navigation. */
export interface Ctx {
  api: Api;
  /** Whether this token may settle conflicts and dead letters (hq reads only): from GET /v1/me. */
  canTriage: Promise<boolean>;
  /** The token's role and scope (GET /v1/me); null when it could not be read. */
  me: Promise<WhoAmI | null>;
  /** The id of the token this tab is signed in with (the part after "tsk."). */
  tokenId: string | null;
  latest(): HqUpdate | null;
  go(hash: string): void;
}

export interface View {
  el: HTMLElement;
  /** Became visible (with the route's parameter, e.g. a location id). */
  show(param: string | null): void;
  hide(): void;
  /** A live update arrived (called whether or not the view is visible). */
  update(update: HqUpdate): void;
}

/** The hub's activity counters of a scope: when they change, lists and charts are worth reloading. */
export function activitySignature(lastHour: {
  applied: number;
  duplicates: number;
  rejected: number;
}): string {
  return `${lastHour.applied}:${lastHour.duplicates}:${lastHour.rejected}`;
}
