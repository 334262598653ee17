import { h, mount } from '../../../web/dom.js';
import type { CashierError } from '../../src/app/cashier-api.js';

interface ReservedLine {
  sku: string;
  requested: number;
  available: number;
  reserved: number;
}

/**
 * Selling units promised to online orders needs the cashier's explicit, reasoned override.
 * Resolves to the reason, or null when the cashier backs out (Esc or Cancel).
 */
export function confirmOverride(dialog: HTMLDialogElement, error: CashierError): Promise<string | null> {
  const details = error.details as { lines?: ReservedLine[] } | undefined;
  const reason = h('textarea', {
    rows: '2',
    class: 'reason',
    placeholder: 'e.g. customer at the counter, online order can wait',
    'aria-label': 'Reason for the override',
    'data-testid': 'override-reason',
  });
  const confirm = h(
    'button',
    { class: 'danger big', 'data-testid': 'override-confirm', type: 'submit' },
    'Sell anyway',
  );
  const cancel = h(
    'button',
    { class: 'secondary big', type: 'button', 'data-testid': 'override-cancel' },
    'Cancel',
  );
  const form = h(
    'form',
    { method: 'dialog', class: 'dialog-body' },
    h('h2', {}, 'Reserved for online orders'),
    h('p', {}, error.message),
    details?.lines
      ? h(
          'ul',
          { class: 'reserved-lines' },
          details.lines.map((l) =>
            h(
              'li',
              {},
              h('strong', {}, l.sku),
              ` · selling ${l.requested}, free ${Math.max(0, l.available)}, reserved ${l.reserved}`,
            ),
          ),
        )
      : null,
    h('label', {}, 'Why sell them anyway?', reason),
    h('div', { class: 'dialog-actions' }, cancel, confirm),
  );
  mount(dialog, form);
  const sync = () => {
    confirm.disabled = reason.value.trim() === '';
  };
  reason.addEventListener('input', sync);
  sync();
  return new Promise((resolve) => {
    const finish = (value: string | null) => {
      dialog.removeEventListener('cancel', onClose);
      dialog.removeEventListener('close', onClose);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onClose = () => finish(null);
    // Escape fires 'cancel' at once but 'close' only in a later task: settle on 'cancel', so an F2
    // pressed right after Escape finds the sale no longer waiting on this dialog.
    dialog.addEventListener('cancel', onClose);
    dialog.addEventListener('close', onClose);
    cancel.addEventListener('click', () => finish(null));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (reason.value.trim()) finish(reason.value.trim());
    });
    reason.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    dialog.showModal();
    reason.focus();
  });
}
