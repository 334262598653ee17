import { h } from '../../../web/dom.js';
import type { HealthStatus } from '../../src/schemas/health.js';

/* A status is always colour AND words AND a shape, never colour alone. */

const LABEL: Record<HealthStatus, string> = { ok: 'OK', degraded: 'Degraded', critical: 'Critical' };
const ICON: Record<HealthStatus, string> = { ok: '●', degraded: '▲', critical: '■' };

/** For sorting: worst first when descending. */
export const SEVERITY: Record<HealthStatus, number> = { ok: 0, degraded: 1, critical: 2 };

export function statusLabel(status: HealthStatus): string {
  return LABEL[status];
}

export function statusBadge(status: HealthStatus): HTMLElement {
  return h(
    'span',
    { class: `badge status-${status}`, 'data-status': status },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, ICON[status]),
    ` ${LABEL[status]}`,
  );
}

export function linkBadge(online: boolean): HTMLElement {
  return h(
    'span',
    { class: `badge link-${online ? 'online' : 'offline'}`, 'data-link': online ? 'online' : 'offline' },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, online ? '●' : '○'),
    online ? ' Online' : ' Offline',
  );
}
