import type { DeviceHealth, HealthThresholds, LocationHealth } from '../../src/schemas/health.js';
import { count, duration, offset } from './format.js';
import type { Column } from './keyed-table.js';
import { SEVERITY } from './status.js';

/* The columns of the stores and tills tables (the overview's and a store's own). */

const time = (iso: string | null) => (iso ? Date.parse(iso) : null);
const reasons = (r: readonly string[]) => (r.length ? r.join(' · ') : undefined);

export function storeColumns(): Column<LocationHealth>[] {
  return [
    {
      id: 'store',
      label: 'Store',
      sortValue: (l) => l.name.toLowerCase(),
      cell: (l) => ({
        text: l.name,
        href: `#/store/${encodeURIComponent(l.locationId)}`,
        sub: `${l.locationId} · ${l.kind}`,
      }),
    },
    {
      id: 'status',
      label: 'Status',
      sortValue: (l) => SEVERITY[l.status],
      cell: (l) => ({ status: l.status, sub: reasons(l.reasons) }),
    },
    {
      id: 'tills',
      label: 'Tills online',
      numeric: true,
      sortValue: (l) => (l.devices.total ? l.devices.online / l.devices.total : null),
      cell: (l) => ({
        text: `${l.devices.online} / ${l.devices.total}`,
        tone: l.devices.online < l.devices.total ? 'bad' : undefined,
      }),
    },
    {
      id: 'outbox',
      label: 'Outbox',
      title: 'Ops waiting on the tills (as last reported)',
      numeric: true,
      sortValue: (l) => l.outboxDepth,
      cell: (l) => ({ text: count(l.outboxDepth), tone: l.outboxDepth > 0 ? 'warn' : undefined }),
    },
    {
      id: 'oldest',
      label: 'Oldest unsynced',
      numeric: true,
      sortValue: (l) => l.oldestUnsyncedAgeMs,
      cell: (l) => duration(l.oldestUnsyncedAgeMs),
    },
    {
      id: 'applied',
      label: 'Applied (1 h)',
      title: 'Till ops the hub applied in the last hour',
      numeric: true,
      sortValue: (l) => l.lastHour.applied,
      cell: (l) => count(l.lastHour.applied),
    },
    {
      id: 'conflicts',
      label: 'Conflicts',
      title: 'Open conflicts (oversells, mismatches)',
      numeric: true,
      sortValue: (l) => l.openConflicts.total,
      cell: (l) => ({
        text: count(l.openConflicts.total),
        tone: l.openConflicts.total > 0 ? 'warn' : undefined,
        title: conflictBreakdown(l),
      }),
    },
    {
      id: 'dead-letters',
      label: 'Dead letters',
      title: 'Rejected till ops awaiting review',
      numeric: true,
      sortValue: (l) => l.openDeadLetters,
      cell: (l) => ({ text: count(l.openDeadLetters), tone: l.openDeadLetters > 0 ? 'warn' : undefined }),
    },
    {
      id: 'low-stock',
      label: 'Low-stock SKUs',
      numeric: true,
      sortValue: (l) => l.lowStockSkus,
      cell: (l) => count(l.lowStockSkus),
    },
  ];
}

function conflictBreakdown(l: LocationHealth): string | undefined {
  const parts = Object.entries(l.openConflicts)
    .filter(([kind, n]) => kind !== 'total' && n > 0)
    .map(([kind, n]) => `${n} ${kind.replace('_', ' ')}`);
  return parts.length ? parts.join(', ') : undefined;
}

export function tillColumns(
  thresholds: () => HealthThresholds | null,
  { withStore }: { withStore: boolean },
): Column<DeviceHealth>[] {
  const columns: Array<Column<DeviceHealth> | false> = [
    {
      id: 'till',
      label: 'Till',
      sortValue: (d) => d.name.toLowerCase(),
      cell: (d) => ({ text: d.name, sub: d.name.includes(d.deviceId) ? undefined : d.deviceId }),
    },
    withStore && {
      id: 'store',
      label: 'Store',
      sortValue: (d) => d.locationId,
      cell: (d) => ({ text: d.locationId, href: `#/store/${encodeURIComponent(d.locationId)}` }),
    },
    {
      id: 'status',
      label: 'Status',
      sortValue: (d) => SEVERITY[d.status],
      cell: (d) => ({ status: d.status, sub: reasons(d.reasons) }),
    },
    {
      id: 'link',
      label: 'Connection',
      // Offline first when ascending, longest offline first among them.
      sortValue: (d) => (d.online ? Number.MAX_SAFE_INTEGER : (time(d.offlineSince) ?? 0)),
      cell: (d) =>
        d.online
          ? { online: true }
          : { online: false, at: d.offlineSince, prefix: d.offlineSince ? 'since ' : '' },
    },
    {
      id: 'last-seen',
      label: 'Last seen',
      sortValue: (d) => time(d.lastSeenAt),
      cell: (d) => ({ at: d.lastSeenAt }),
    },
    {
      id: 'outbox',
      label: 'Outbox',
      title: 'Ops waiting on the till (as of its last heartbeat)',
      numeric: true,
      sortValue: (d) => d.outboxDepth,
      cell: (d) => ({ text: count(d.outboxDepth), tone: (d.outboxDepth ?? 0) > 0 ? 'warn' : undefined }),
    },
    {
      id: 'oldest',
      label: 'Oldest unsynced',
      numeric: true,
      sortValue: (d) => d.oldestUnsyncedAgeMs,
      cell: (d) => duration(d.oldestUnsyncedAgeMs),
    },
    {
      id: 'clock',
      label: 'Clock offset',
      title: 'Till clock minus hub clock',
      numeric: true,
      sortValue: (d) => (d.clockOffsetMs === null ? null : Math.abs(d.clockOffsetMs)),
      cell: (d) => {
        const skew = thresholds()?.clockSkewMs;
        const off = d.clockOffsetMs;
        return { text: offset(off), tone: off !== null && skew && Math.abs(off) > skew ? 'warn' : undefined };
      },
    },
    {
      id: 'version',
      label: 'Version',
      title: 'App version · sync protocol version',
      sortValue: (d) => d.appVersion,
      cell: (d) => `${d.appVersion ?? '—'} · p${d.protocolVersion ?? '—'}`,
    },
    {
      id: 'applied',
      label: 'Applied (1 h)',
      numeric: true,
      sortValue: (d) => d.lastHour.applied,
      cell: (d) => count(d.lastHour.applied),
    },
    {
      id: 'duplicates',
      label: 'Dup. (1 h)',
      title: 'Ops resent and absorbed as duplicates in the last hour',
      numeric: true,
      sortValue: (d) => d.lastHour.duplicates,
      cell: (d) => count(d.lastHour.duplicates),
    },
    {
      id: 'rejected',
      label: 'Rejected (1 h)',
      numeric: true,
      sortValue: (d) => d.lastHour.rejected,
      cell: (d) => ({ text: count(d.lastHour.rejected), tone: d.lastHour.rejected > 0 ? 'bad' : undefined }),
    },
  ];
  return columns.filter((c): c is Column<DeviceHealth> => c !== false);
}
