import { h, mount } from '../../../web/dom.js';
import type { TillState } from '../../src/app/cashier-api.js';
import type { RejectedOp } from '../../src/engine/store.js';
import { clock, duration } from './format.js';

const SHOWN_REJECTIONS = 3;

/** Always on screen: connection, what is waiting to sync and since when, last sync, rejections. */
export function renderStatus(
  bar: HTMLElement,
  rejectedEl: HTMLElement,
  s: TillState,
  receivedAt: number,
): void {
  const elapsed = Date.now() - receivedAt;
  const connection = s.online
    ? { label: 'Online', tone: 'good' }
    : s.syncState === 'catching-up'
      ? { label: 'Syncing…', tone: 'warn' }
      : { label: 'Offline', tone: 'bad' };
  mount(
    bar,
    h(
      'div',
      { class: `pill ${connection.tone}`, 'data-testid': 'connection', title: s.lastError ?? s.syncState },
      h('span', { class: 'dot' }),
      connection.label,
    ),
    h(
      'div',
      { class: `stat ${s.outboxDepth > 0 ? 'pending' : ''}` },
      h('span', { class: 'stat-label' }, 'Waiting to sync'),
      h('span', { class: 'stat-value', 'data-testid': 'outbox' }, String(s.outboxDepth)),
      s.oldestUnsyncedAgeMs !== null && s.outboxDepth > 0
        ? h(
            'span',
            { class: 'stat-sub', 'data-testid': 'oldest' },
            `oldest ${duration(s.oldestUnsyncedAgeMs + elapsed)}`,
          )
        : null,
    ),
    h(
      'div',
      { class: 'stat' },
      h('span', { class: 'stat-label' }, 'Last sync'),
      h(
        'span',
        { class: 'stat-value small', 'data-testid': 'last-sync' },
        s.lastSyncAt ? clock(s.lastSyncAt) : 'never',
      ),
      s.lastSyncAt ? h('span', { class: 'stat-sub' }, `${duration(Date.now() - s.lastSyncAt)} ago`) : null,
    ),
  );
  rejectedEl.hidden = s.rejected.length === 0;
  mount(
    rejectedEl,
    h(
      'div',
      { class: 'rejected-title' },
      `⚠ ${s.rejected.length} operation${s.rejected.length === 1 ? '' : 's'} refused by the hub — tell your manager`,
    ),
    h(
      'ul',
      { 'data-testid': 'rejected' },
      s.rejected
        .slice(0, SHOWN_REJECTIONS)
        .map((r) =>
          h(
            'li',
            {},
            h('strong', {}, describe(r)),
            h('span', { class: 'code' }, r.code),
            h('span', {}, r.reason),
            h('span', { class: 'when' }, clock(r.rejectedAt)),
          ),
        ),
      s.rejected.length > SHOWN_REJECTIONS
        ? h('li', { class: 'more' }, `and ${s.rejected.length - SHOWN_REJECTIONS} more`)
        : null,
    ),
  );
}

function describe(r: RejectedOp): string {
  const op = r.op as { receiptId?: string; orderId?: string; lines?: Array<{ sku: string }> };
  const skus = op.lines?.map((l) => l.sku).join(', ');
  const ref = op.receiptId ?? op.orderId;
  return [r.type, ref, skus ? `(${skus})` : ''].filter(Boolean).join(' ');
}
