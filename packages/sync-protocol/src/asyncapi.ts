import { z } from 'zod';
import { Hlc } from './hlc.js';
import { LIMITS, PROTOCOL_VERSION } from './limits.js';
import {
  AckRequiredDetails,
  CLIENT_EVENT_NAMES,
  HandshakeAuth,
  HUB_EVENTS,
  NOTICE_EVENTS,
  OpResult,
  ProtocolError,
  RateLimitedDetails,
  REQUEST_EVENTS,
  type RequestEvent,
  ReservationChange,
  replySchema,
  TillJournal,
} from './messages.js';
import { TillOp } from './operations.js';
import { StockRow } from './stock.js';

/*
 * The AsyncAPI 3.0 document of the sync protocol, generated from the schemas both sides validate
 * with (messages.ts), so it cannot say anything the code does not. It describes the hub: what it
 * receives from tills and what it sends them. docs/protocol.md is the prose around it.
 *
 * Socket.IO has no AsyncAPI binding: each message's `name` is the Socket.IO event name, a request's
 * reply is the event's acknowledgement (`x-socketio-ack`), and the handshake and its refusal are the
 * Socket.IO CONNECT and CONNECT_ERROR packets (`x-socketio-packet`).
 */

const channel = '#/channels/sync';
const schemaRef = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const messageRef = (id: string) => ({ $ref: `${channel}/messages/${id}` });

/** The named schemas: every payload, and the shapes several payloads share. */
function schemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string; description?: string }>();
  const add = (schema: z.ZodType, id: string, description?: string) =>
    registry.add(schema, description ? { id, description } : { id });
  add(Hlc, 'Hlc', 'A hybrid logical clock timestamp "wall:counter:node" (15-digit ms, 5-digit counter).');
  add(StockRow, 'StockRow', 'One location x SKU stock row; `version` counts its ledger entries.');
  add(TillOp, 'TillOp', 'One till operation; `seq` is the device sequence, `opId` a UUIDv7.');
  add(OpResult, 'OpResult', "One op's outcome in an ack.");
  add(ReservationChange, 'ReservationChange');
  add(TillJournal, 'TillJournal', 'What the till still holds of its acknowledged history.');
  add(HandshakeAuth, 'HandshakeAuth', 'The Socket.IO handshake `auth` object.');
  add(ProtocolError, 'ProtocolError', 'A refusal or error: `code` (see docs/protocol.md) and a message.');
  add(RateLimitedDetails, 'RateLimitedDetails', 'The `details` of a `rate_limited` error.');
  add(AckRequiredDetails, 'AckRequiredDetails', 'The `details` of an `ack_required` error.');
  for (const [event, { payload, reply }] of Object.entries(REQUEST_EVENTS) as RequestEntries) {
    add(payload, PAYLOADS[event]);
    add(reply, REPLY_VALUES[event]);
    add(replySchema(reply as z.ZodType), acknowledgement(event));
  }
  for (const [event, payload] of Object.entries({ ...NOTICE_EVENTS, ...HUB_EVENTS }) as NoticeEntries) {
    if (!registry.has(payload)) add(payload, PAYLOADS[event]);
  }
  const out = z.toJSONSchema(registry, {
    target: 'draft-7',
    // What a sender may send: a field with a default may be left out.
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return Object.fromEntries(
    Object.entries(out.schemas).map(([id, { $schema: _, $id: __, ...schema }]) => [id, schema]),
  );
}

type EventName = RequestEvent | keyof typeof NOTICE_EVENTS | keyof typeof HUB_EVENTS;
type RequestEntries = Array<[RequestEvent, (typeof REQUEST_EVENTS)[RequestEvent]]>;
type NoticeEntries = Array<[Exclude<EventName, RequestEvent>, z.ZodType]>;

/** Each event's payload schema, by the name it has in messages.ts. */
const PAYLOADS: Record<EventName, string> = {
  push: 'PushBatch',
  pull: 'Pull',
  checksum: 'ChecksumRequest',
  heartbeat: 'Heartbeat',
  hello: 'Hello',
  stock: 'StockPush',
  reservations: 'ReservationPush',
  error: 'ProtocolError',
};
/** The `value` of each request's successful reply. */
const REPLY_VALUES: Record<RequestEvent, string> = {
  push: 'Ack',
  pull: 'PullPage',
  checksum: 'ChecksumReply',
};
/** The whole acknowledgement argument: `{ok: true, value} | {ok: false, error}`. */
const acknowledgement = (event: RequestEvent) => `${event[0]!.toUpperCase()}${event.slice(1)}Acknowledgement`;

const EVENT_SUMMARIES: Record<EventName, string> = {
  push: 'A batch of till ops in seq order; applied in one transaction and acknowledged per op.',
  pull: 'Stock rows of the till location changed after a cursor, one page.',
  checksum: "The hub's checksum of the till location's rows, and the cursor it is valid at.",
  heartbeat: 'Outbox depth, oldest unsynced age and clock offset, for HQ (no reply).',
  hello: 'Sent once the handshake is accepted: server time and HLC, acked seq, stock cursor, recovery.',
  stock: 'Rows changed by one commit at the till location (not sent to the pushing connection).',
  reservations: 'Reservation changes at the till location; the first one after hello is a snapshot.',
  error: 'A problem with a message that has no acknowledgement to answer in.',
};

export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {
    connect: {
      name: 'connect',
      title: 'Handshake (Socket.IO CONNECT)',
      summary: 'The till opens the default namespace with its auth object.',
      payload: schemaRef('HandshakeAuth'),
      'x-socketio-packet': 'CONNECT',
    },
    connectError: {
      name: 'connect_error',
      title: 'Handshake refused (Socket.IO CONNECT_ERROR)',
      summary: 'The handshake was refused; the client sees it as `connect_error` with this as `err.data`.',
      payload: schemaRef('ProtocolError'),
      'x-socketio-packet': 'CONNECT_ERROR',
    },
  };
  const operations: Record<string, unknown> = {
    handshake: {
      action: 'receive',
      channel: { $ref: channel },
      summary: 'A till connects; refused with connect_error, else answered with hello.',
      messages: [messageRef('connect')],
      reply: { channel: { $ref: channel }, messages: [messageRef('connectError'), messageRef('hello')] },
    },
  };
  for (const event of Object.keys(REQUEST_EVENTS) as RequestEvent[]) {
    const replyId = `${event}Acknowledgement`;
    messages[event] = {
      name: event,
      summary: EVENT_SUMMARIES[event],
      payload: schemaRef(PAYLOADS[event]),
      'x-socketio-ack': true,
    };
    messages[replyId] = {
      name: `${event} (acknowledgement)`,
      summary: `The one argument of the ${event} acknowledgement callback.`,
      payload: schemaRef(acknowledgement(event)),
    };
    operations[event] = {
      action: 'receive',
      channel: { $ref: channel },
      summary: EVENT_SUMMARIES[event],
      description:
        'Emit with an acknowledgement callback; the reply is `{ok: true, value}` or `{ok: false, error}`. ' +
        'Without a callback the hub does nothing and sends an `error` event with code `ack_required`.',
      messages: [messageRef(event)],
      reply: { channel: { $ref: channel }, messages: [messageRef(replyId)] },
    };
  }
  for (const event of Object.keys(NOTICE_EVENTS) as Array<keyof typeof NOTICE_EVENTS>) {
    messages[event] = { name: event, summary: EVENT_SUMMARIES[event], payload: schemaRef(PAYLOADS[event]) };
    operations[event] = {
      action: 'receive',
      channel: { $ref: channel },
      summary: EVENT_SUMMARIES[event],
      messages: [messageRef(event)],
    };
  }
  for (const event of Object.keys(HUB_EVENTS) as Array<keyof typeof HUB_EVENTS>) {
    messages[event] = { name: event, summary: EVENT_SUMMARIES[event], payload: schemaRef(PAYLOADS[event]) };
    operations[`send${event[0]!.toUpperCase()}${event.slice(1)}`] = {
      action: 'send',
      channel: { $ref: channel },
      summary: EVENT_SUMMARIES[event],
      messages: [messageRef(event)],
    };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Tillsync sync protocol',
      version: String(PROTOCOL_VERSION),
      description: [
        'How a till syncs with the hub: Socket.IO v4 (engine.io protocol 4) over WebSocket at path `/sync`.',
        'Prose, refusals, ordering rules and a worked example: docs/protocol.md.',
        `Limits: ${LIMITS.maxOpsPerBatch} ops, ${LIMITS.maxLinesPerBatch} lines and ${LIMITS.maxBatchBytes} bytes per push batch;`,
        `${LIMITS.maxLinesPerOp} lines per op; ${LIMITS.maxRowsPerPage} rows per stock page.`,
        `Client events: ${CLIENT_EVENT_NAMES.join(', ')}. Hub events: ${Object.keys(HUB_EVENTS).join(', ')}.`,
      ].join(' '),
    },
    defaultContentType: 'application/json',
    servers: {
      hub: {
        host: 'localhost:8080',
        protocol: 'ws',
        pathname: '/sync',
        description:
          'The hub (its host and port vary). Socket.IO path `/sync`, default namespace `/`; the ' +
          'engine.io query `EIO=4&transport=websocket` is added by Socket.IO clients.',
        security: [{ $ref: '#/components/securitySchemes/deviceToken' }],
      },
    },
    channels: {
      sync: {
        address: '/',
        title: 'The default Socket.IO namespace of /sync',
        description: "One connection per till; everything is scoped to the token's device and location.",
        servers: [{ $ref: '#/servers/hub' }],
        messages,
      },
    },
    operations,
    components: {
      schemas: schemas(),
      securitySchemes: {
        deviceToken: {
          type: 'http',
          scheme: 'bearer',
          description:
            'The device token from POST /v1/devices/enrol, as `Authorization: Bearer <token>` on the ' +
            'upgrade request AND as `auth.token` in the handshake (the two must be equal).',
        },
      },
    },
  };
}
