import { io, type Socket } from 'socket.io-client';
import type { HqUpdate } from '../../src/schemas/health.js';

/*
 * The live feed: Socket.IO namespace /hq on the hub's sync server (path /sync). The hub sends an
 * `update` on connect, on every change and every couple of seconds. A refused token (unknown, or not
 * hq/admin) ends the session; anything else (hub restarting, network) is retried by Socket.IO.
 */

export interface Refusal {
  code: 'unauthorized' | 'forbidden';
  message: string;
}

export type LinkState = 'connecting' | 'live' | 'reconnecting';

export interface LiveHandlers {
  update(update: HqUpdate): void;
  refused(refusal: Refusal): void;
  link(state: LinkState): void;
  /** The hub closed the feed on purpose: its token may have been revoked, rotated or expired. */
  closedByHub(): void;
}

interface HqEvents {
  update: (update: HqUpdate) => void;
}

/** Connects; returns the function that closes the feed. */
export function connectLive(token: string, on: LiveHandlers): () => void {
  const socket: Socket<HqEvents> = io(`${location.origin}/hq`, {
    path: '/sync',
    auth: { token },
    // A browser cannot set headers on a WebSocket; the hub checks this before the upgrade.
    query: { token },
    transports: ['websocket'],
  });
  on.link('connecting');
  socket.on('connect', () => on.link('live'));
  socket.on('update', (update) => on.update(update));
  socket.on('disconnect', (reason) => {
    on.link('reconnecting');
    // The hub closing us on purpose is not retried by Socket.IO; a restarted hub is worth a retry.
    // A revoked token's retry is refused before the handshake, which a browser cannot read: the
    // page asks the REST API, whose 401 says so.
    if (reason === 'io server disconnect') {
      on.closedByHub();
      socket.connect();
    }
  });
  socket.on('connect_error', (err: Error & { data?: unknown }) => {
    const refusal = asRefusal(err.data);
    if (!refusal) return on.link('reconnecting');
    socket.close();
    on.refused(refusal);
  });
  return () => {
    socket.close();
  };
}

function asRefusal(data: unknown): Refusal | null {
  if (!data || typeof data !== 'object') return null;
  const { code, message } = data as { code?: unknown; message?: unknown };
  if (code !== 'unauthorized' && code !== 'forbidden') return null;
  return { code, message: typeof message === 'string' ? message : code };
}
