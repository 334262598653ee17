import { ForbiddenError } from '../errors.js';
import type { Principal, Role } from './tokens.js';

/*
 * Who may do what (DESIGN.md, Security):
 *   admin          everything
 *   hq             read everything, write nothing (triage is settled by admin or the store's manager)
 *   store_manager  read the catalogue; read and write its own location only
 *   channel        orders and reservations; read stock to know what is available
 *   device         sync for its own location; read the catalogue, its own location, and a SKU's
 *                  availability elsewhere (the cashier's stock lookup)
 */

export function assertRole(principal: Principal, roles: readonly Role[]): void {
  if (!roles.includes(principal.role)) {
    throw new ForbiddenError(`role ${principal.role} may not do this (needs ${roles.join(' or ')})`);
  }
}

/** Writing stock at a location: admin anywhere, a store manager at its own location only. */
export function assertCanWriteStock(principal: Principal, locationId: string): void {
  if (principal.role === 'admin') return;
  if (principal.role === 'store_manager' && principal.locationId === locationId) return;
  if (principal.role === 'store_manager') {
    throw new ForbiddenError(`this token manages location ${principal.locationId}, not ${locationId}`);
  }
  throw new ForbiddenError(`role ${principal.role} may not change stock`);
}

/** Reading one location's stock and ledger: everyone but a device of another location. */
export function assertCanReadLocation(principal: Principal, locationId: string): void {
  if (principal.role === 'device' && principal.locationId !== locationId) {
    throw new ForbiddenError(`this device belongs to location ${principal.locationId}, not ${locationId}`);
  }
  if (principal.role === 'store_manager' && principal.locationId !== locationId) {
    throw new ForbiddenError(`this token manages location ${principal.locationId}, not ${locationId}`);
  }
}

/**
 * The location a brand-wide read is limited to: the one asked for (if this principal may read it),
 * else a store manager's own location, else none (everything).
 */
export function readScope(principal: Principal, locationId: string | undefined): string | null {
  if (locationId) {
    assertCanReadLocation(principal, locationId);
    return locationId;
  }
  return principal.role === 'store_manager' || principal.role === 'device' ? principal.locationId : null;
}

/** Who reads the triage lists (conflicts, dead letters) and who settles them: hq watches, it does not write. */
export const TRIAGE_READERS: readonly Role[] = ['admin', 'hq', 'store_manager'];
export const TRIAGE_WRITERS: readonly Role[] = ['admin', 'store_manager'];

/** Settling triage (conflicts, dead letters): admin anywhere, a store manager at its own location. */
export function assertCanTriage(principal: Principal, locationId: string): void {
  if (principal.role === 'admin') return;
  if (principal.role === 'store_manager' && principal.locationId === locationId) return;
  if (principal.role === 'store_manager') {
    throw new ForbiddenError(`this token manages location ${principal.locationId}, not ${locationId}`);
  }
  throw new ForbiddenError(`role ${principal.role} may not settle conflicts or dead letters`);
}
