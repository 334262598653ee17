import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { decodeCursor, encodeCursor } from '../../http/pagination.js';
import { principalOf } from '../../plugins/app/auth.js';
import { ErrorBody, errorResponses, PageQuery, page } from '../../schemas/common.js';
import {
  DeadLetter,
  Device,
  DeviceCreate,
  Enrolment,
  EnrolmentCode,
  EnrolRequest,
} from '../../schemas/devices.js';
import { assertCanReadLocation, assertCanWriteStock } from '../../services/access.js';
import { createDevice, enrol, findDevice, renewEnrolmentCode, revokeDevice } from '../../services/devices.js';

const DeviceParams = z.object({ deviceId: DeviceId });

interface DeviceRow {
  id: string;
  location_id: string;
  name: string;
  enrolled_at: Date | null;
  revoked_at: Date | null;
  last_acked_seq: number;
  last_seen_at: Date | null;
  connected: boolean | null;
  outbox_depth: number | null;
  oldest_unsynced_age_ms: number | null;
  clock_offset_ms: number | null;
  app_version: string | null;
  last_heartbeat_at: Date | null;
}

const toDevice = (r: DeviceRow): z.infer<typeof Device> => ({
  id: r.id,
  locationId: r.location_id,
  name: r.name,
  enrolled: r.enrolled_at !== null,
  revoked: r.revoked_at !== null,
  lastAckedSeq: r.last_acked_seq,
  lastSeenAt: r.last_seen_at?.toISOString() ?? null,
  connected: r.connected ?? false,
  outboxDepth: r.outbox_depth,
  oldestUnsyncedAgeMs: r.oldest_unsynced_age_ms,
  clockOffsetMs: r.clock_offset_ms,
  appVersion: r.app_version,
  lastHeartbeatAt: r.last_heartbeat_at?.toISOString() ?? null,
});

/** Tills: enrolment, listing with live status, revocation; and the sync dead-letter list. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/devices',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        tags: ['devices'],
        summary: 'Create a till and a one-time enrolment code for it',
        body: DeviceCreate,
        response: { 201: EnrolmentCode, 409: ErrorBody, ...errorResponses },
      },
    },
    async (request, reply) => {
      assertCanWriteStock(principalOf(request), request.body.locationId);
      const { device, enrolmentCode, expiresAt } = await createDevice(app.db, request.body);
      return reply.status(201).send({
        deviceId: device.id,
        locationId: device.location_id,
        enrolmentCode,
        enrolmentExpiresAt: expiresAt.toISOString(),
      });
    },
  );

  app.post(
    '/devices/enrol',
    {
      // The one-time code is the credential here; the rate limit keeps guessing hopeless.
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: {
        tags: ['devices'],
        summary: 'Exchange a one-time enrolment code for the device token (called by the till)',
        security: [],
        body: EnrolRequest,
        response: { 200: Enrolment, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => enrol(app.db, request.body.enrolmentCode),
  );

  app.post(
    '/devices/:deviceId/enrolment-code',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        tags: ['devices'],
        summary: 'A new one-time enrolment code for an existing till (a rebuilt machine)',
        params: DeviceParams,
        response: { 200: EnrolmentCode, ...errorResponses },
      },
    },
    async (request) => {
      const device = await findDevice(app.db, request.params.deviceId);
      if (!device || device.revoked_at) throw new NotFoundError('device', request.params.deviceId);
      assertCanWriteStock(principalOf(request), device.location_id);
      const { code, expiresAt } = await renewEnrolmentCode(app.db, device.id);
      return {
        deviceId: device.id,
        locationId: device.location_id,
        enrolmentCode: code,
        enrolmentExpiresAt: expiresAt.toISOString(),
      };
    },
  );

  app.get(
    '/devices',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        tags: ['devices'],
        summary: 'Tills with their sync status',
        querystring: PageQuery.extend({ locationId: LocationId.optional() }),
        response: { 200: page(Device), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const locationId = principal.role === 'store_manager' ? principal.locationId : request.query.locationId;
      if (request.query.locationId) assertCanReadLocation(principal, request.query.locationId);
      const after = request.query.cursor ? String(decodeCursor(request.query.cursor, 1)[0]) : '';
      const { rows } = await app.db.query<DeviceRow>(
        `SELECT d.id, d.location_id, d.name, d.enrolled_at, d.revoked_at, d.last_acked_seq, d.last_seen_at,
                s.connected, s.outbox_depth, s.oldest_unsynced_age_ms, s.clock_offset_ms, s.app_version,
                s.last_heartbeat_at
         FROM devices d LEFT JOIN device_status s ON s.device_id = d.id
         WHERE ($1::text IS NULL OR d.location_id = $1) AND d.id > $2
         ORDER BY d.id LIMIT $3`,
        [locationId ?? null, after, request.query.limit + 1],
      );
      const items = rows.slice(0, request.query.limit);
      const last = items[items.length - 1];
      return {
        items: items.map(toDevice),
        nextCursor: rows.length > request.query.limit && last ? encodeCursor([last.id]) : null,
      };
    },
  );

  app.delete(
    '/devices/:deviceId',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        tags: ['devices'],
        summary: 'Revoke a till: its token stops working and its connection is closed',
        params: DeviceParams,
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const device = await findDevice(app.db, request.params.deviceId);
      if (!device) throw new NotFoundError('device', request.params.deviceId);
      assertCanWriteStock(principalOf(request), device.location_id);
      await revokeDevice(app.db, request.params.deviceId);
      app.io.in(`device:${request.params.deviceId}`).disconnectSockets(true);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/sync/dead-letters',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        tags: ['sync'],
        summary: 'Operations the hub rejected, with the reason (they never block later ops)',
        querystring: PageQuery.extend({
          locationId: LocationId.optional(),
          deviceId: DeviceId.optional(),
          status: z.enum(['open', 'retried', 'dismissed']).optional(),
        }),
        response: { 200: page(DeadLetter), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const q = request.query;
      if (q.locationId) assertCanReadLocation(principal, q.locationId);
      if (principal.role === 'store_manager' && !q.locationId) {
        throw new ForbiddenError(
          `pass locationId=${principal.locationId}: this token manages that location only`,
        );
      }
      const after = q.cursor ? Number(decodeCursor(q.cursor, 1)[0]) : 0;
      const { rows } = await app.db.query<{
        id: number;
        location_id: string;
        device_id: string;
        seq: number;
        op_id: string | null;
        op: unknown;
        code: string;
        reason: string;
        status: 'open' | 'retried' | 'dismissed';
        created_at: Date;
      }>(
        `SELECT id, location_id, device_id, seq, op_id, op, code, reason, status, created_at FROM dead_letters
         WHERE ($1::text IS NULL OR location_id = $1) AND ($2::text IS NULL OR device_id = $2)
           AND ($3::text IS NULL OR status = $3) AND id > $4
         ORDER BY id LIMIT $5`,
        [q.locationId ?? null, q.deviceId ?? null, q.status ?? null, after, q.limit + 1],
      );
      const items = rows.slice(0, q.limit);
      const last = items[items.length - 1];
      return {
        items: items.map((r) => ({
          id: r.id,
          locationId: r.location_id,
          deviceId: r.device_id,
          seq: r.seq,
          opId: r.op_id,
          op: r.op,
          code: r.code,
          reason: r.reason,
          status: r.status,
          createdAt: r.created_at.toISOString(),
        })),
        nextCursor: rows.length > q.limit && last ? encodeCursor([last.id]) : null,
      };
    },
  );
};

export default routes;
