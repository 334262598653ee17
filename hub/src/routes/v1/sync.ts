import { DeviceId, LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, PageQuery, page } from '../../schemas/common.js';
import { DeadLetter, DeadLetterDismiss, DeadLetterParams, SyncIncident } from '../../schemas/devices.js';
import { SyncActivity, SyncHealth } from '../../schemas/health.js';
import { readScope, TRIAGE_READERS, TRIAGE_WRITERS } from '../../services/access.js';
import { dismissDeadLetter, listDeadLetters } from '../../services/dead-letters.js';
import { syncActivity } from '../../services/health/activity.js';
import { syncHealth } from '../../services/health/sync-health.js';
import { listSyncIncidents } from '../../services/sync-incidents.js';
import { retryDeadLetter } from '../../sync/dead-letter-retry.js';

/** What HQ reads about till sync. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/sync/dead-letters',
    {
      preHandler: app.authorize(TRIAGE_READERS),
      schema: {
        operationId: 'listDeadLetters',
        tags: ['sync'],
        summary: 'Operations the hub rejected, with the reason (they never block later ops)',
        description: 'A store manager sees its own location’s by default.',
        querystring: PageQuery.extend({
          locationId: LocationId.optional(),
          deviceId: DeviceId.optional(),
          status: z.enum(['open', 'retried', 'dismissed']).optional(),
        }),
        response: { 200: page(DeadLetter), ...errors() },
      },
    },
    async (request) => {
      const q = request.query;
      // A store manager sees its own location's by default, as in every other list.
      const locationId = readScope(principalOf(request), q.locationId) ?? undefined;
      return listDeadLetters(app.db, { ...q, locationId });
    },
  );

  app.post(
    '/sync/dead-letters/:id/retry',
    {
      preHandler: app.authorize(TRIAGE_WRITERS),
      schema: {
        operationId: 'retryDeadLetter',
        tags: ['sync'],
        summary: "Check a rejected op again and, if it now passes, apply it as its till's op",
        description:
          'The same checks as a push. Passes when what refused it was fixed since (unknown_sku: the ' +
          'product was created; unknown_location); else 409 still_rejected with the current reason, ' +
          'and the dead letter stays open. Never applies an op twice: 409 already_resolved once retried ' +
          'or dismissed. admin, or a store manager at its own location (hq reads only).',
        params: DeadLetterParams,
        response: { 200: DeadLetter, ...errors('not_found', 'still_rejected', 'already_resolved') },
      },
    },
    async (request) =>
      retryDeadLetter(
        { stock: app.stock, reservations: app.reservationFeed },
        principalOf(request),
        request.params.id,
      ),
  );

  app.post(
    '/sync/dead-letters/:id/dismiss',
    {
      preHandler: app.authorize(TRIAGE_WRITERS),
      schema: {
        operationId: 'dismissDeadLetter',
        tags: ['sync'],
        summary: 'Give up on a rejected op, saying why (it stays listed, dismissed)',
        description:
          '409 already_resolved once retried or dismissed. admin, or a store manager at its own location (hq reads only).',
        params: DeadLetterParams,
        body: DeadLetterDismiss,
        response: { 200: DeadLetter, ...errors('not_found', 'already_resolved') },
      },
    },
    async (request) =>
      dismissDeadLetter(app.db, principalOf(request), request.params.id, request.body.reason),
  );

  app.get(
    '/sync/incidents',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        operationId: 'listSyncIncidents',
        tags: ['sync'],
        summary: 'Tills found ahead of the hub (restored from an older backup): re-sent and lost ops',
        description:
          'Newest first. Each says which seqs the till re-sent and which it no longer held (lost; the ' +
          "device was re-based past them). A store manager's defaults to its own location.",
        querystring: PageQuery.extend({
          locationId: LocationId.optional(),
          deviceId: DeviceId.optional(),
        }),
        response: { 200: page(SyncIncident), ...errors() },
      },
    },
    async (request) => {
      const q = request.query;
      const locationId = readScope(principalOf(request), q.locationId) ?? undefined;
      return listSyncIncidents(app.db, { ...q, locationId });
    },
  );

  app.get(
    '/sync/health',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        operationId: 'getSyncHealth',
        tags: ['sync'],
        summary: 'Sync health per till, per location and brand-wide, with status by documented thresholds',
        description:
          'Status rules and thresholds: README, "Sync health". A store manager sees their own location.',
        querystring: z.object({ locationId: LocationId.optional() }),
        response: { 200: SyncHealth, ...errors() },
      },
    },
    async (request) =>
      syncHealth(app.db, app.healthThresholds, readScope(principalOf(request), request.query.locationId)),
  );

  app.get(
    '/sync/activity',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        operationId: 'getSyncActivity',
        tags: ['sync'],
        summary: 'Ops applied, duplicates, rejections and sync lag per minute over the last hours',
        description: 'Per-minute buckets, oldest first. A store manager sees their own location.',
        querystring: z.object({
          hours: z.coerce.number().int().min(1).max(48).default(6),
          locationId: LocationId.optional(),
        }),
        response: { 200: SyncActivity, ...errors() },
      },
    },
    async (request) =>
      syncActivity(app.db, request.query.hours, readScope(principalOf(request), request.query.locationId)),
  );
};
export default routes;
