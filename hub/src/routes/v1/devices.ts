import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { NotFoundError } from '../../errors.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, PageQuery, page, publicErrors } from '../../schemas/common.js';
import { Device, DeviceCreate, Enrolment, EnrolmentCode, EnrolRequest } from '../../schemas/devices.js';
import { assertCanReadLocation, assertCanWriteStock } from '../../services/access.js';
import {
  createDevice,
  enrol,
  findDevice,
  listDevices,
  renewEnrolmentCode,
  revokeDevice,
} from '../../services/devices.js';

const DeviceParams = z.object({ deviceId: DeviceId });

/** Tills: enrolment, listing with live status, revocation; and the sync dead-letter list. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/devices',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        operationId: 'createDevice',
        tags: ['devices'],
        summary: 'Create a till and a one-time enrolment code for it',
        description:
          'Admin, or the store manager of the till’s location. The enrolment code is shown once and expires; the till exchanges it at POST /v1/devices/enrol.',
        body: DeviceCreate,
        response: { 201: EnrolmentCode, ...errors('not_found', 'already_exists') },
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
      // The one-time code is the credential here; the rate limit keeps guessing hopeless. No
      // Idempotency-Key: there is no token to scope it to, and a replay would hand the device
      // token out again after the one-time code was spent.
      config: { rateLimit: { max: 10, timeWindow: '1 minute' }, idempotency: false },
      schema: {
        operationId: 'enrolDevice',
        tags: ['devices'],
        summary: 'Exchange a one-time enrolment code for the device token (called by the till)',
        description:
          'No bearer token: the one-time code is the credential (401 when unknown, expired or used). Rate limited to 10 a minute per address.',
        security: [],
        body: EnrolRequest,
        response: { 200: Enrolment, ...publicErrors('unauthorized') },
      },
    },
    async (request) => enrol(app.db, request.body.enrolmentCode),
  );

  app.post(
    '/devices/:deviceId/enrolment-code',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        operationId: 'renewEnrolmentCode',
        tags: ['devices'],
        summary: 'A new one-time enrolment code for an existing till (a rebuilt machine)',
        description: 'Admin, or the store manager of the till’s location. The previous code stops working.',
        params: DeviceParams,
        response: { 200: EnrolmentCode, ...errors('not_found') },
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
        operationId: 'listDevices',
        tags: ['devices'],
        summary: 'Tills with their sync status',
        description: 'A store manager sees its own location’s tills only.',
        querystring: PageQuery.extend({ locationId: LocationId.optional() }),
        response: { 200: page(Device), ...errors() },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const locationId = principal.role === 'store_manager' ? principal.locationId : request.query.locationId;
      if (request.query.locationId) assertCanReadLocation(principal, request.query.locationId);
      return listDevices(app.db, { ...request.query, locationId });
    },
  );

  app.delete(
    '/devices/:deviceId',
    {
      preHandler: app.authorize(['admin', 'store_manager']),
      schema: {
        operationId: 'revokeDevice',
        tags: ['devices'],
        summary: 'Revoke a till: its token stops working and its connection is closed',
        description: 'Admin, or the store manager of the till’s location.',
        params: DeviceParams,
        response: { 204: z.null(), ...errors('not_found') },
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
};

export default routes;
