import { h, mount, reconcile } from '../../../web/dom.js';
import type { ApiToken, ApiTokenSecret } from '../../src/schemas/tokens.js';
import { errorText } from './api.js';
import type { Ctx, View } from './context.js';
import { absolute, relTime } from './format.js';
import { serial } from './serial.js';

/*
 * API tokens (admin only): the list, a form to create one, and per row rotate and revoke. A new
 * secret (create, rotate) is shown once, in a box with a copy button, until dismissed. The token
 * this tab is signed in with is marked and cannot be rotated or revoked from here (the tab would
 * lose its own sign-in). Another role sees why the page is empty; the hub refuses it anyway.
 */

const PAGE = 200;
/** A revoke asks to be clicked again within this long. */
const CONFIRM_MS = 4_000;

const ROLES = ['hq', 'channel', 'store_manager', 'admin'] as const;
const EXPIRY_DAYS: Array<[string, string]> = [
  ['', 'Never'],
  ['7', '7 days'],
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', '1 year'],
];

export function tokensView(ctx: Ctx): View {
  const result = h('p', { class: 'result', role: 'status', 'data-testid': 'tokens-result' });
  const secretBox = h('div', { class: 'secret-box', 'data-testid': 'token-secret', hidden: true });
  const body = h('tbody', { 'data-testid': 'tokens-rows' });
  const rows = new Map<string, { tr: HTMLTableRowElement; key: string }>();
  const empty = h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'No API tokens.'));
  const more = h('p', { class: 'muted', hidden: true }, `Showing the newest ${PAGE}.`);

  const name = h('input', {
    type: 'text',
    required: true,
    maxlength: 100,
    placeholder: 'What it is for',
    'aria-label': 'Name',
    'data-testid': 'token-name',
  });
  const role = h(
    'select',
    { 'aria-label': 'Role', 'data-testid': 'token-role' },
    ROLES.map((r) => h('option', { value: r }, r)),
  );
  const locationSelect = h('select', {
    'aria-label': 'Location',
    'data-testid': 'token-location',
    disabled: true,
  });
  const expiry = h(
    'select',
    { 'aria-label': 'Expires', 'data-testid': 'token-expiry' },
    EXPIRY_DAYS.map(([v, label]) => h('option', { value: v }, label)),
  );
  const submit = h(
    'button',
    { type: 'submit', class: 'btn primary', 'data-testid': 'token-create' },
    'Create token',
  );
  const form = h(
    'form',
    { class: 'token-form', 'data-testid': 'token-form' },
    h('label', {}, 'Name ', name),
    h('label', {}, 'Role ', role),
    h('label', {}, 'Location ', locationSelect),
    h('label', {}, 'Expires ', expiry),
    submit,
  );
  const writable = h(
    'div',
    { hidden: true },
    h('h2', {}, 'New token'),
    h(
      'p',
      { class: 'muted' },
      'A store manager token works at one location; the other roles are brand-wide. The secret is shown once.',
    ),
    form,
    secretBox,
  );
  const readOnly = h(
    'p',
    { class: 'result error', 'data-testid': 'tokens-admin-only', hidden: true },
    'Only an admin token manages API tokens: sign in with one to see them here.',
  );
  const table = h(
    'div',
    { class: 'scroll', hidden: true },
    h(
      'table',
      { class: 'grid', 'data-testid': 'tokens' },
      h('caption', { class: 'visually-hidden' }, 'API tokens'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['Name', 'Role', 'Status', 'Created', 'Last used', 'Expires', 'Id', ''].map((t) =>
            h('th', { scope: 'col' }, t),
          ),
        ),
      ),
      body,
    ),
    more,
  );
  const el = h(
    'div',
    { class: 'view', 'data-testid': 'view-tokens', hidden: true },
    h(
      'section',
      { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h1', {}, 'API tokens')),
      h(
        'p',
        { class: 'muted' },
        'Tokens for integrations, store back offices and HQ. Revoking or rotating one refuses its old ' +
          'secret at once, on every hub, and closes dashboards signed in with it. Tills have their own tokens.',
      ),
      readOnly,
      result,
      writable,
      table,
    ),
  );

  role.addEventListener('change', () => {
    locationSelect.disabled = role.value !== 'store_manager';
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void create();
  });

  const say = (tone: 'ok' | 'error' | 'pending', text: string) => {
    result.className = `result ${tone}`;
    result.textContent = text;
  };

  function showSecret(title: string, t: ApiTokenSecret) {
    const value = h('input', {
      type: 'text',
      readonly: true,
      value: t.token,
      'aria-label': 'Secret',
      'data-testid': 'token-secret-value',
    });
    const copied = h('span', { class: 'muted', role: 'status', 'data-testid': 'token-secret-copied' });
    mount(
      secretBox,
      h('strong', {}, title),
      h('p', {}, 'Copy it now: the hub keeps only its hash and will not show it again.'),
      h(
        'div',
        { class: 'secret-row' },
        value,
        h(
          'button',
          {
            type: 'button',
            class: 'btn primary',
            'data-testid': 'token-secret-copy',
            onclick: () => {
              value.select();
              navigator.clipboard.writeText(t.token).then(
                () => {
                  copied.textContent = 'Copied.';
                },
                () => {
                  copied.textContent = 'Select the text and copy it (Ctrl+C).';
                },
              );
            },
          },
          'Copy',
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'btn',
            'data-testid': 'token-secret-done',
            onclick: () => {
              mount(secretBox);
              secretBox.hidden = true;
            },
          },
          'Done',
        ),
      ),
      copied,
    );
    secretBox.hidden = false;
  }

  async function create() {
    submit.disabled = true;
    say('pending', 'Creating the token…');
    try {
      const t = await ctx.api.post<ApiTokenSecret>('/v1/tokens', {
        name: name.value,
        role: role.value,
        ...(role.value === 'store_manager' ? { locationId: locationSelect.value } : {}),
        ...(expiry.value ? { expiresInDays: Number(expiry.value) } : {}),
      });
      say('ok', `Created ${t.role} token “${t.name}”.`);
      showSecret(`The secret of “${t.name}”`, t);
      name.value = '';
      await load();
    } catch (e) {
      say('error', `Could not create the token: ${errorText(e)}`);
    } finally {
      submit.disabled = false;
    }
  }

  async function rotate(t: ApiToken) {
    say('pending', `Rotating “${t.name}”…`);
    try {
      const fresh = await ctx.api.post<ApiTokenSecret>(`/v1/tokens/${encodeURIComponent(t.id)}/rotate`);
      say('ok', `Rotated “${t.name}”: its old secret no longer works.`);
      showSecret(`The new secret of “${t.name}”`, fresh);
    } catch (e) {
      say('error', `Could not rotate “${t.name}”: ${errorText(e)}`);
    }
    await load();
  }

  async function revoke(t: ApiToken) {
    say('pending', `Revoking “${t.name}”…`);
    try {
      await ctx.api.post<ApiToken>(`/v1/tokens/${encodeURIComponent(t.id)}/revoke`);
      say('ok', `Revoked “${t.name}”.`);
    } catch (e) {
      say('error', `Could not revoke “${t.name}”: ${errorText(e)}`);
    }
    await load();
  }

  function actions(t: ApiToken): HTMLElement {
    if (t.status !== 'active') return h('td', {});
    if (t.id === ctx.tokenId) {
      return h('td', { class: 'muted', 'data-testid': 'token-own' }, 'Signed in with it in this tab');
    }
    const revokeBtn = h(
      'button',
      { type: 'button', class: 'btn chip', 'data-testid': `token-revoke-${t.id}` },
      'Revoke',
    );
    let armed: number | null = null;
    revokeBtn.addEventListener('click', () => {
      if (armed === null) {
        revokeBtn.textContent = 'Confirm revoke';
        revokeBtn.classList.add('danger');
        armed = window.setTimeout(() => {
          armed = null;
          revokeBtn.textContent = 'Revoke';
          revokeBtn.classList.remove('danger');
        }, CONFIRM_MS);
        return;
      }
      window.clearTimeout(armed);
      revokeBtn.disabled = true;
      void revoke(t);
    });
    return h(
      'td',
      {},
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            class: 'btn chip',
            'data-testid': `token-rotate-${t.id}`,
            onclick: () => void rotate(t),
          },
          'Rotate',
        ),
        revokeBtn,
      ),
    );
  }

  function row(t: ApiToken): HTMLTableRowElement {
    const tone =
      t.status === 'active' ? 'status-ok' : t.status === 'expired' ? 'status-degraded' : 'status-critical';
    return h(
      'tr',
      { 'data-testid': `tokens-row-${t.id}`, 'data-status': t.status },
      h('td', { 'data-col': 'name' }, t.name),
      h(
        'td',
        { 'data-col': 'role' },
        t.role,
        t.locationId ? h('span', { class: 'muted' }, ` · ${t.locationId}`) : null,
      ),
      h('td', { 'data-col': 'status' }, h('span', { class: `badge ${tone}` }, t.status)),
      h('td', { 'data-col': 'created' }, relTime(t.createdAt)),
      h('td', { 'data-col': 'last-used' }, t.lastUsedAt ? relTime(t.lastUsedAt) : 'never'),
      h(
        'td',
        { 'data-col': 'expires' },
        t.expiresAt ? h('time', { datetime: t.expiresAt }, absolute(t.expiresAt)) : 'never',
      ),
      h('td', { 'data-col': 'id' }, h('code', {}, t.id)),
      actions(t),
    );
  }

  const load = serial(async () => {
    let page: { items: ApiToken[]; nextCursor: string | null };
    try {
      page = await ctx.api.get(`/v1/tokens?limit=${PAGE}`);
    } catch (e) {
      say('error', `Could not load the tokens: ${errorText(e)}`);
      return;
    }
    // A row is rebuilt only when its token changed (keeps an armed revoke button armed).
    const keep = new Set(page.items.map((t) => t.id));
    for (const id of rows.keys()) if (!keep.has(id)) rows.delete(id);
    const nodes = page.items.map((t) => {
      const key = JSON.stringify(t);
      let entry = rows.get(t.id);
      if (entry?.key !== key) {
        entry = { tr: row(t), key };
        rows.set(t.id, entry);
      }
      return entry.tr;
    });
    reconcile(body, nodes.length ? nodes : [empty]);
    more.hidden = page.nextCursor === null;
  });

  function renderLocations() {
    const latest = ctx.latest();
    if (!latest) return;
    const wanted = latest.health.locations.map((l) => l.locationId).join('\u0000');
    if (locationSelect.dataset.ids === wanted) return;
    locationSelect.dataset.ids = wanted;
    const current = locationSelect.value;
    mount(
      locationSelect,
      latest.health.locations.map((l) => h('option', { value: l.locationId }, `${l.name} (${l.locationId})`)),
    );
    if (current) locationSelect.value = current;
  }

  return {
    el,
    show() {
      el.hidden = false;
      void ctx.me.then((me) => {
        const admin = me?.role === 'admin';
        readOnly.hidden = admin;
        writable.hidden = !admin;
        table.hidden = !admin;
        if (admin) {
          renderLocations();
          void load();
        }
      });
    },
    hide() {
      el.hidden = true;
    },
    update() {
      renderLocations();
    },
  };
}
