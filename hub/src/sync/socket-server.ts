import {
  ChecksumRequest,
  type ClientToHubEvents,
  HandshakeAuth,
  Heartbeat,
  type HubToClientEvents,
  LIMITS,
  PROTOCOL_VERSION,
  type ProtocolError,
  Pull,
  type Reply,
  type RequestEvent,
  type ReservationPush,
  type StockPush,
} from '@tillsync/sync-protocol';
import type { FastifyInstance } from 'fastify';
import { Server, type Socket } from 'socket.io';
import { isDatabaseUnavailable } from '../db/connection-errors.js';
import { heldReservations, type ReservationChangeAt } from '../ledger/reservation-feed.js';
import { locationChecksum, locationCursor, pullSince } from '../ledger/stock-feed.js';
import type { LocationCommit } from '../ledger/writer.js';
import { SHUTTING_DOWN_MESSAGE } from '../lifecycle.js';
import type { SyncAdapter } from './cluster.js';
import { recordConnected, recordDisconnected, recordHeartbeat } from './device-status.js';
import { PushSettler, pushGroupTuning, stockPushes } from './push.js';
import { MalformedBatchError, PushEnvelope } from './push-plan.js';
import { observedPush } from './push-telemetry.js';
import { reconcileJournal } from './restore-recovery.js';
import {
  handshakePrincipal,
  linesOverLimit,
  MAX_MESSAGE_BYTES,
  rateLimited,
  socketBudget,
  upgradeGate,
  upgradeToken,
} from './socket-limits.js';

/*
 * The sync endpoint (Socket.IO at path /sync, on the hub's HTTP server).
 *
 *   handshake ─ auth {token, protocolVersion} ─▶ refused: connect_error {code, message}
 *      │ ok
 *   rooms loc:<location>, device:<id>; hello ─▶ till
 *      │
 *   push  ─▶ PushSettler (group commit) ─▶ ack        pull ─▶ rows since cursor
 *   checksum ─▶ location checksum at a cursor           heartbeat ─▶ device_status
 *   every committed stock change ─▶ 'stock' to the location's room
 *
 * With a cluster adapter (sync/cluster.ts) the hub is one of several instances: a commit on one
 * reaches the location's tills on every instance, exactly once each, never the pushing till
 * itself; `fetchSockets` and `disconnectSockets` span the instances.
 */

export interface SocketData {
  deviceId: string;
  locationId: string;
}
/** What one hub instance hands the others (through the cluster adapter) for their own tills. */
interface PeerEvents {
  /** `origins`: the sockets whose pushes made these changes (they have them in their acks already). */
  stock: (locationId: string, pushes: StockPush[], origins: string[]) => void;
  reservations: (locationId: string, push: ReservationPush) => void;
}
export type SyncServer = Server<ClientToHubEvents, HubToClientEvents, PeerEvents, SocketData>;
type SyncSocket = Socket<ClientToHubEvents, HubToClientEvents, PeerEvents, SocketData>;

declare module 'fastify' {
  interface FastifyInstance {
    /** The sync endpoint's Socket.IO server. */
    io: SyncServer;
  }
}

/** How long the device_in_use check waits for the other hub instances to answer. */
const PEER_CHECK_TIMEOUT_MS = 3_000;

function refusal(code: ProtocolError['code'], message: string): Error & { data: ProtocolError } {
  return Object.assign(new Error(message), { data: { code, message } });
}

const unavailable = Symbol('database unavailable');
const UNAVAILABLE_MESSAGE = "the hub's database is unavailable; retry later";

export function attachSyncServer(app: FastifyInstance, adapter: SyncAdapter | null = null): SyncServer {
  const gate = upgradeGate(app.db);
  const io: SyncServer = new Server(app.server, {
    ...(adapter ? { adapter } : {}),
    path: '/sync',
    serveClient: false,
    maxHttpBufferSize: MAX_MESSAGE_BYTES,
    // Shutting down: engine.io's plain 400, which a till (and the HQ page) retries later.
    allowRequest: (req, callback) =>
      app.lifecycle.shuttingDown ? callback(SHUTTING_DOWN_MESSAGE, false) : gate(req, callback),
    pingInterval: 10_000,
    pingTimeout: 10_000,
  });

  io.use(async (socket, next) => {
    if (app.lifecycle.shuttingDown) return next(refusal('unavailable', SHUTTING_DOWN_MESSAGE));
    const auth = HandshakeAuth.safeParse(socket.handshake.auth);
    if (!auth.success) return next(refusal('malformed', 'handshake auth must be {token, protocolVersion}'));
    if (auth.data.protocolVersion !== PROTOCOL_VERSION) {
      return next(
        refusal(
          'protocol_version',
          `this hub speaks sync protocol ${PROTOCOL_VERSION}, the till speaks ${auth.data.protocolVersion}: update the till`,
        ),
      );
    }
    if (auth.data.token !== upgradeToken(socket.request))
      return next(refusal('unauthorized', "the handshake token differs from the upgrade request's"));
    const principal = await handshakePrincipal(app.db, socket.request, auth.data.token).catch(
      (err: unknown) =>
        // A database blip is no verdict on the token: the till must retry, not stop as refused.
        isDatabaseUnavailable(err) ? unavailable : null,
    );
    if (principal === unavailable) return next(refusal('unavailable', UNAVAILABLE_MESSAGE));
    if (principal?.kind !== 'device')
      return next(refusal('unauthorized', 'unknown, revoked or non-device token'));
    if (await deviceConnected(app, io, principal.id)) {
      return next(
        refusal(
          'device_in_use',
          `device ${principal.id} is already connected: one connection per till is allowed`,
        ),
      );
    }
    socket.data = { deviceId: principal.id, locationId: principal.locationId };
    next();
  });

  // Pushes of all this instance's tills: settled in group commits (sync/push.ts).
  const pushes = new PushSettler(
    { stock: app.stock, reservations: app.reservationFeed },
    pushGroupTuning(app.db.kind),
  );
  io.on('connection', (socket) => {
    void onConnection(app, pushes, socket, auth(socket)).catch((err: unknown) => {
      app.log.error({ err, device: socket.data.deviceId }, 'sync session failed to start');
      socket.disconnect(true);
    });
  });

  // Each instance delivers to its own tills at once (before the pushing till's ack, as on a single
  // hub) and hands the same pushes to the other instances, which deliver to theirs. A hub that
  // knows of no peer (heartbeats: a starting hub announces itself at once) sends nothing: every
  // NOTIFY is a Postgres commit, which a lone hub would pay on each stock change for nobody.
  const hasPeers = () => (adapter ? io.of('/').adapter.serverCount() : Promise.resolve(1)).then((n) => n > 1);
  const location = (locationId: string, origins: string[]) =>
    origins.length > 0 ? io.local.to(`loc:${locationId}`).except(origins) : io.local.to(`loc:${locationId}`);
  const deliverStock: PeerEvents['stock'] = (locationId, pushes, origins) => {
    const room = location(locationId, origins);
    for (const push of pushes) room.emit('stock', push);
  };
  const deliverReservations: PeerEvents['reservations'] = (locationId, push) => {
    location(locationId, []).emit('reservations', push);
  };
  const broadcast = (commits: LocationCommit[], origins: readonly string[]) => {
    for (const c of commits) {
      const pushes = stockPushes(c);
      deliverStock(c.locationId, pushes, [...origins]);
      void hasPeers().then((yes) => yes && io.serverSideEmit('stock', c.locationId, pushes, [...origins]));
    }
  };
  const forwardReservations = (changes: ReservationChangeAt[]) => {
    const byLocation = new Map<string, ReservationChangeAt[]>();
    for (const c of changes) byLocation.set(c.locationId, [...(byLocation.get(c.locationId) ?? []), c]);
    for (const [locationId, list] of byLocation) {
      const push: ReservationPush = {
        snapshot: false,
        changes: list.map(({ locationId: _, ...change }) => change),
      };
      deliverReservations(locationId, push);
      void hasPeers().then((yes) => yes && io.serverSideEmit('reservations', locationId, push));
    }
  };
  io.on('stock', deliverStock);
  io.on('reservations', deliverReservations);
  app.stock.commits.on('commit', broadcast);
  app.reservationFeed.on('changes', forwardReservations);
  app.addHook('onClose', async () => {
    app.stock.commits.off('commit', broadcast);
    app.reservationFeed.off('changes', forwardReservations);
    await io.close();
  });
  return io;
}

/**
 * Whether the device has a connection on any hub instance. An instance that does not answer in
 * time (going down, not yet dropped from the cluster) must not lock tills out: this instance's
 * own sockets decide then (the check is best-effort anyway: two connections can race through it).
 */
async function deviceConnected(app: FastifyInstance, io: SyncServer, deviceId: string): Promise<boolean> {
  const room = `device:${deviceId}`;
  const live = await io
    .in(room)
    .timeout(PEER_CHECK_TIMEOUT_MS)
    .fetchSockets()
    .catch(async (err: unknown) => {
      app.log.warn({ err, device: deviceId }, 'other hub instances did not answer; checking this one only');
      return io.local.in(room).fetchSockets();
    });
  return live.length > 0;
}

function auth(socket: SyncSocket) {
  return HandshakeAuth.parse(socket.handshake.auth);
}

async function onConnection(
  app: FastifyInstance,
  pushes: PushSettler,
  socket: SyncSocket,
  handshake: HandshakeAuth,
): Promise<void> {
  const { deviceId, locationId } = socket.data;
  // A racing second connection of the same device: the newer one goes.
  await socket.join([`device:${deviceId}`, `loc:${locationId}`]);

  // Pushes of one connection apply one after another, in arrival order.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>) => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };

  const budget = socketBudget();

  socket.on('push', (payload, reply) => {
    if (typeof reply !== 'function') return void socket.emit('error', ackRequired('push'));
    const batch = PushEnvelope.safeParse(payload);
    if (!batch.success) {
      const tooMany = Array.isArray((payload as { ops?: unknown } | null)?.ops);
      return reply(
        fail(
          tooMany ? 'batch_too_large' : 'malformed',
          tooMany ? `a batch holds 1 to ${LIMITS.maxOpsPerBatch} ops` : 'push must be {ops: [...]}',
        ),
      );
    }
    const tooLong = linesOverLimit(batch.data.ops);
    if (tooLong) return reply({ ok: false, error: tooLong });
    // Nothing applied: the till keeps the batch in its outbox and sends it again after reconnecting.
    if (app.lifecycle.shuttingDown) return reply(fail('unavailable', SHUTTING_DOWN_MESSAGE));
    // Tracked: shutdown waits for this batch's transaction and its ack before disconnecting.
    const applied = serial(() =>
      observedPush(app, socket.data, () =>
        pushes.submit({ deviceId, locationId }, batch.data.ops, socket.id),
      ),
    ).then(
      (outcome) => reply({ ok: true, value: outcome }),
      (err: unknown) => reply(failure(app, err, deviceId)),
    );
    void app.lifecycle.track(applied);
  });

  socket.on('pull', (payload, reply) => {
    if (typeof reply !== 'function') return void socket.emit('error', ackRequired('pull'));
    const wait = budget('pull');
    if (wait) return reply({ ok: false, error: rateLimited('pull', wait) });
    const req = Pull.safeParse(payload);
    if (!req.success) return reply(fail('malformed', 'pull must be {since: "<cursor>", limit?}'));
    void pullSince(app.db, locationId, Number(req.data.since), req.data.limit).then(
      (page) => reply({ ok: true, value: page }),
      (err: unknown) => reply(failure(app, err, deviceId)),
    );
  });

  socket.on('checksum', (payload, reply) => {
    if (typeof reply !== 'function') return void socket.emit('error', ackRequired('checksum'));
    const wait = budget('checksum');
    if (wait) return reply({ ok: false, error: rateLimited('checksum', wait) });
    if (!ChecksumRequest.safeParse(payload ?? {}).success)
      return reply(fail('malformed', 'checksum takes {}'));
    void locationChecksum(app.db, locationId).then(
      (value) => reply({ ok: true, value }),
      (err: unknown) => reply(failure(app, err, deviceId)),
    );
  });

  socket.on('heartbeat', (payload) => {
    const wait = budget('heartbeat');
    if (wait) {
      socket.emit('error', rateLimited('heartbeat', wait));
      return;
    }
    const hb = Heartbeat.safeParse(payload);
    if (!hb.success) {
      socket.emit('error', { code: 'malformed', message: 'heartbeat did not match the schema' });
      return;
    }
    void recordHeartbeat(app.db, deviceId, hb.data).catch((err: unknown) =>
      app.log.warn({ err, device: deviceId }, 'heartbeat not recorded'),
    );
  });

  socket.on('disconnect', () => {
    void recordDisconnected(app.db, deviceId).catch(() => undefined);
  });

  const [acked, cursor] = await Promise.all([
    reconcileJournal(app.db, socket.data, handshake.journal),
    locationCursor(app.db, locationId),
    recordConnected(app.db, deviceId, handshake),
  ]);
  socket.emit('hello', {
    protocolVersion: PROTOCOL_VERSION,
    serverTime: Date.now(),
    serverHlc: app.stock.clock.tick(),
    deviceId,
    locationId,
    ...acked,
    stockCursor: String(cursor),
  });
  socket.emit('reservations', { snapshot: true, changes: await heldReservations(app.db, locationId) });
}

/** A request sent without a callback has nowhere to be answered: it is not processed, and said so. */
function ackRequired(event: RequestEvent): ProtocolError {
  return {
    code: 'ack_required',
    message: `${event} must be emitted with an acknowledgement callback (its reply is the callback's argument); nothing was done`,
    details: { event },
  };
}

function fail(code: ProtocolError['code'], message: string): Reply<never> {
  return { ok: false, error: { code, message } };
}

function failure(app: FastifyInstance, err: unknown, deviceId: string): Reply<never> {
  if (err instanceof MalformedBatchError) return fail('malformed', err.message);
  if (isDatabaseUnavailable(err)) {
    app.log.warn({ err, device: deviceId }, 'sync request failed: database unavailable');
    return fail('unavailable', UNAVAILABLE_MESSAGE);
  }
  app.log.error({ err, device: deviceId }, 'sync request failed');
  return fail('internal', 'the hub could not process this request; retry later');
}
