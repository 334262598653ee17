import { ProtocolError } from './messages.js';

/*
 * The hub checks a till's token on the HTTP request that opens the socket (before the WebSocket
 * upgrade, so nothing is read from a caller it does not know), and again in the Socket.IO handshake.
 * A refused upgrade reaches a WebSocket client only as a status line, so it is a fixed one.
 */

/** The status of an upgrade refused for its token. */
export const UPGRADE_REFUSED_STATUS = 401;

/** The request header that carries the token on the upgrade (the till sends it with `extraHeaders`). */
export const upgradeHeaders = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * Why the hub refused a connection, from a Socket.IO client's `connect_error`: the refusal it sent
 * in the handshake (`err.data`), or `unauthorized` when it refused the upgrade (Node's WebSocket
 * reports "Unexpected server response: 401"). Null for anything else (a network error).
 */
export function handshakeRefusal(err: { data?: unknown; description?: unknown }): ProtocolError | null {
  const sent = ProtocolError.safeParse(err.data);
  if (sent.success) return sent.data;
  const d = err.description as { message?: unknown } | undefined;
  const text = typeof d?.message === 'string' ? d.message : '';
  if (text.includes(`Unexpected server response: ${UPGRADE_REFUSED_STATUS}`)) {
    return { code: 'unauthorized', message: 'the hub refused this device token before the handshake' };
  }
  return null;
}
