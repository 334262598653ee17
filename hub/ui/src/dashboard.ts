import { byId, mount } from '../../../web/dom.js';
import type { WhoAmI } from '../../src/schemas/access.js';
import type { HqUpdate } from '../../src/schemas/health.js';
import type { Api } from './api.js';
import type { Ctx, View } from './context.js';
import { lowStockView } from './low-stock.js';
import { overview } from './overview.js';
import { storeView } from './store.js';
import { renderSummary } from './summary.js';

/*
 * The signed-in dashboard: the brand banner over one of three views, chosen by the URL fragment
 * (#/, #/store/<id>, #/low-stock[/<id>]) so Back works and a view can be linked to.
 */

export interface Dashboard {
  update(update: HqUpdate): void;
  destroy(): void;
}

const ROUTE = /^#\/(store|low-stock)(?:\/([^/]+))?$/;

export function createDashboard(api: Api): Dashboard {
  let latest: HqUpdate | null = null;
  const ctx: Ctx = {
    api,
    // Unknown (the call failed): offer no actions; the hub would refuse a write anyway.
    canTriage: api.get<WhoAmI>('/v1/me').then(
      (me) => me.canTriage,
      () => false,
    ),
    latest: () => latest,
    go(hash) {
      if (location.hash !== hash) location.hash = hash;
    },
  };
  const views: Record<'overview' | 'store' | 'low-stock', View> = {
    overview: overview(ctx),
    store: storeView(ctx),
    'low-stock': lowStockView(ctx),
  };
  const summary = byId('summary');
  const nav = byId('nav');
  mount(
    byId('views'),
    Object.values(views).map((v) => v.el),
  );

  let current: View | null = null;
  function route() {
    const match = ROUTE.exec(location.hash);
    const name = (match?.[1] as 'store' | 'low-stock' | undefined) ?? 'overview';
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
