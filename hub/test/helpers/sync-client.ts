import {
  type Ack,
  type ChecksumReply,
  type ClientToHubEvents,
  type Hello,
  type HubToClientEvents,
  handshakeRefusal,
  PROTOCOL_VERSION,
  type ProtocolError,
  type PullPage,
  type Reply,
  type StockPush,
  upgradeHeaders,
} from '@tillsync/sync-protocol';
import { io, type Socket } from 'socket.io-client';
import type { TestHub } from './build-hub.js';

export type RawTill = Socket<HubToClientEvents, ClientToHubEvents>;

/** Create a device at a location and enrol it the way a till does; returns its token. */
export async function enrolDevice(
  hub: TestHub,
  locationId: string,
  id?: string,
): Promise<{ id: string; token: string }> {
  const created = await hub.request({
    method: 'POST',
    url: '/v1/devices',
    payload: { locationId, name: 'Till', id },
  });
  if (created.statusCode !== 201) throw new Error(`device not created: ${JSON.stringify(created.body)}`);
  const { enrolmentCode, deviceId } = created.body as { enrolmentCode: string; deviceId: string };
  const enrolled = await hub.request({
    method: 'POST',
    url: '/v1/devices/enrol',
    payload: { enrolmentCode },
    token: null,
  });
  return { id: deviceId, token: (enrolled.body as { token: string }).token };
}

/**
 * A bare protocol client over a real socket (no till engine): for testing the hub's side of the
 * protocol message by message. Resolves once hello arrived, or rejects with the refusal (`data`).
 * Like a till, it sends the auth token on the upgrade request too, unless `headers` say otherwise.
 */
export async function connectRaw(
  url: string,
  auth: Record<string, unknown>,
  headers: Record<string, string> = typeof auth.token === 'string' ? upgradeHeaders(auth.token) : {},
): Promise<{ socket: RawTill; hello: Hello; stock: StockPush[] }> {
  const socket: RawTill = io(url, {
    path: '/sync',
    auth,
    extraHeaders: headers,
    transports: ['websocket'],
    reconnection: false,
  });
  const stock: StockPush[] = [];
  socket.on('stock', (p) => stock.push(p));
  const hello = await new Promise<Hello>((resolve, reject) => {
    socket.once('hello', resolve);
    socket.once('connect_error', (err: Error & { data?: ProtocolError; description?: unknown }) => {
      socket.close();
      reject(Object.assign(new Error(err.message), { data: handshakeRefusal(err) ?? err.data }));
    });
  });
  return { socket, hello, stock };
}

export function authFor(token: string): Record<string, unknown> {
  return { token, protocolVersion: PROTOCOL_VERSION };
}

export function push(socket: RawTill, ops: unknown[]): Promise<Reply<Ack>> {
  return new Promise((resolve) => socket.emit('push', { ops } as never, resolve));
}

export function pull(socket: RawTill, since: string): Promise<Reply<PullPage>> {
  return new Promise((resolve) => socket.emit('pull', { since, limit: 1000 }, resolve));
}

export function checksum(socket: RawTill): Promise<Reply<ChecksumReply>> {
  return new Promise((resolve) => socket.emit('checksum', {}, resolve));
}

/** Wait until `predicate` holds, polling; fails after `ms`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
