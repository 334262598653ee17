import { byId, mount } from '../../../web/dom.js';
import type { WhoAmI } from '../../src/schemas/access.js';
import type { HqUpdate } from '../../src/schemas/health.js';
import type { Api } from './api.js';
import type { Ctx, View } from './context.js';
import { lowStockView } from './low-stock.js';
import { overview } from './overview.js';
import { storeView } from './store.js';
import { renderSummary } from './summary.js';
import { tokensView } from './tokens.js';

/*
 * The signed-in dashboard: the brand banner over one of four views, chosen by the URL fragment
 * (#/, #/store/<id>, #/low-stock[/<id>], #/tokens) so Back works and a view can be linked to. The
 * API tokens view is offered to admin tokens only.
 */

export interface Dashboard {
  update(update: HqUpdate): void;
  destroy(): void;
}

const ROUTE = /^#\/(store|low-stock|tokens)(?:\/([^/]+))?$/;
type ViewName = 'overview' | 'store' | 'low-stock' | 'tokens';

export function createDashboard(api: Api, token: string): Dashboard {
  let latest: HqUpdate | null = null;
  // Unknown (the call failed): offer no actions; the hub would refuse a write anyway.
  const me = api.get<WhoAmI>('/v1/me').then(
    (m) => m,
    () => null,
  );
  const ctx: Ctx = {
    api,
    canTriage: me.then((m) => m?.canTriage ?? false),
    me,
    tokenId: token.split('.')[1] ?? null,
    latest: () => latest,
    go(hash) {
      if (location.hash !== hash) location.hash = hash;
    },
  };
  const views: Record<ViewName, View> = {
    overview: overview(ctx),
    store: storeView(ctx),
    'low-stock': lowStockView(ctx),
    tokens: tokensView(ctx),
  };
  const summary = byId('summary');
  const nav = byId('nav');
  const tokensLink = byId('nav-tokens');
  tokensLink.hidden = true;
  void me.then((m) => {
    tokensLink.hidden = m?.role !== 'admin';
  });
  mount(
    byId('views'),
    Object.values(views).map((v) => v.el),
  );

  let current: View | null = null;
  function route() {
    const match = ROUTE.exec(location.hash);
    const name = (match?.[1] as ViewName | undefined) ?? 'overview';
    const param = match?.[2] ? decodeURIComponent(match[2]) : null;
    const next = name === 'store' && !param ? views.overview : views[name];
    if (current && current !== next) current.hide();
    current = next;
    next.show(param);
    for (const a of nav.querySelectorAll<HTMLAnchorElement>('a[data-view]')) {
      if (a.dataset.view === (name === 'store' ? 'overview' : name)) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    window.scrollTo(0, 0);
  }
  window.addEventListener('hashchange', route);

  return {
    update(u) {
      const first = latest === null;
      latest = u;
      renderSummary(summary, u.health);
      for (const view of Object.values(views)) view.update(u);
      if (first) route();
    },
    destroy() {
      window.removeEventListener('hashchange', route);
      current?.hide();
      mount(byId('views'));
      mount(summary);
    },
  };
}
