import type { FastifyInstance } from 'fastify';
import type { Namespace } from 'socket.io';
import type { HqUpdate } from '../schemas/health.js';
import { listAlerts } from '../services/health/alerts.js';
import { syncHealth } from '../services/health/sync-health.js';
import { authenticate } from '../services/tokens.js';
import { handshakePrincipal } from '../sync/socket-limits.js';
import type { SyncServer } from '../sync/socket-server.js';

/*
 * The dashboard's live feed: Socket.IO namespace /hq on the sync server (path /sync), for hq and
 * admin tokens. Each dashboard gets an `update` {health, alerts} on connect, shortly after any stock
 * commit or till (dis)connection, and every REFRESH_MS regardless (heartbeats, time-based status
 * changes, and changes made through other hub instances). Nothing is computed while no dashboard is
 * connected; updates go to this instance's dashboards only (each instance refreshes its own).
 *
 * A dashboard is closed when its token stops working: at its expiry (a timer here), and when it is
 * revoked or rotated (closeTokenSockets, through the cluster adapter to every instance).
 */

const REFRESH_MS = 2_000;
/** At most one recomputation per this interval, however busy the hub is. */
const MIN_GAP_MS = 500;
const ALERTS_IN_UPDATE = 50;

export async function hqUpdate(app: FastifyInstance): Promise<HqUpdate> {
  const health = await syncHealth(app.db, app.healthThresholds);
  const alerts = await listAlerts(app.db, { limit: ALERTS_IN_UPDATE });
  return { health, alerts: alerts.items };
}

interface HqServerEvents {
  update: (update: HqUpdate) => void;
}
interface HqSocketData {
  token: string;
  tokenId: string;
  expiresAt: Date | null;
}
export type HqNamespace = Namespace<
  Record<string, never>,
  HqServerEvents,
  Record<string, never>,
  HqSocketData
>;

/** setTimeout's longest delay (about 24.8 days): a later expiry is waited for in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const tokenRoom = (tokenId: string) => `token:${tokenId}`;

/** Close every dashboard signed in with this API token, on every hub instance. */
export function closeTokenSockets(io: SyncServer, tokenId: string): void {
  io.of('/hq').in(tokenRoom(tokenId)).disconnectSockets(true);
}

export function attachHqFeed(app: FastifyInstance): HqNamespace {
  // The sync server is typed for tills; this namespace speaks its own (smaller) protocol.
  const nsp = app.io.of('/hq') as unknown as HqNamespace;
  nsp.use(async (socket, next) => {
    const token: unknown = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(refusal('unauthorized', 'unknown, revoked or missing token'));
    const principal = await handshakePrincipal(app.db, socket.request, token).catch(() => null);
    if (!principal) return next(refusal('unauthorized', 'unknown, revoked or missing token'));
    if (principal.kind !== 'token' || (principal.role !== 'hq' && principal.role !== 'admin')) {
      return next(refusal('forbidden', 'the HQ dashboard needs an hq or admin token'));
    }
    socket.data = { token, tokenId: principal.id, expiresAt: principal.expiresAt };
    next();
  });

  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let last = 0;
  const refresh = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        if (nsp.sockets.size === 0) return;
        last = Date.now();
        nsp.local.emit('update', await hqUpdate(app));
      } while (again);
    } catch (err) {
      app.log.warn({ err }, 'HQ dashboard update failed');
    } finally {
      running = false;
    }
  };
  /** Coalesce bursts of changes into one update, at most every MIN_GAP_MS. */
  const soon = () => {
    if (timer || nsp.sockets.size === 0) return;
    timer = setTimeout(
      () => {
        timer = null;
        void refresh();
      },
      Math.max(100, MIN_GAP_MS - (Date.now() - last)),
    );
  };

  nsp.on('connection', (socket) => {
    const { token, tokenId, expiresAt } = socket.data;
    void socket.join(tokenRoom(tokenId));
    // A revocation committed between the handshake's check and the join above found no socket in
    // the room to close: checked once more, now that a later one would find it.
    authenticate(app.db, token).then(
      (still) => still || socket.disconnect(true),
      (err: unknown) => app.log.warn({ err }, 'HQ dashboard token re-check failed'),
    );
    if (expiresAt) {
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        const left = expiresAt.getTime() - Date.now();
        if (left <= 0) socket.disconnect(true);
        else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      arm();
      socket.on('disconnect', () => clearTimeout(timer));
    }
    hqUpdate(app).then(
      (update) => socket.emit('update', update),
      (err: unknown) => app.log.warn({ err }, 'HQ dashboard first update failed'),
    );
  });
  const onTill = (socket: { on(event: 'disconnect', fn: () => void): unknown }) => {
    soon();
    socket.on('disconnect', soon);
  };
  app.io.on('connection', onTill);
  app.stock.commits.on('commit', soon);
  const interval = setInterval(() => void refresh(), REFRESH_MS);
  interval.unref();
  app.addHook('onClose', async () => {
    clearInterval(interval);
    if (timer) clearTimeout(timer);
    app.io.off('connection', onTill);
    app.stock.commits.off('commit', soon);
  });
  return nsp;
}

function refusal(code: 'unauthorized' | 'forbidden', message: string) {
  return Object.assign(new Error(message), { data: { code, message } });
}
