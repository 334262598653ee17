import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { listConflicts, resolveConflict } from '../../ledger/conflicts.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page } from '../../schemas/common.js';
import { Conflict, ConflictListQuery, ConflictParams, ConflictResolve } from '../../schemas/conflicts.js';
import { readScope, TRIAGE_READERS, TRIAGE_WRITERS } from '../../services/access.js';

const tags = ['conflicts'];

/** HQ triage of the conflicts the hub settled: oversells, pickup and transfer mismatches, broken reservations. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/conflicts',
    {
      preHandler: app.authorize(TRIAGE_READERS),
      schema: {
        operationId: 'listConflicts',
        tags,
        summary: 'Conflicts, newest first (filter by location, status, kind, SKU; cursor pagination)',
        description: 'A store manager sees its own location only (the default without locationId).',
        querystring: ConflictListQuery,
        response: { 200: page(Conflict), ...errors() },
      },
    },
    async (request) => {
      const { locationId, ...query } = request.query;
      return listConflicts(app.db, query, readScope(principalOf(request), locationId));
    },
  );

  app.post(
    '/conflicts/:id/resolve',
    {
      preHandler: app.authorize(TRIAGE_WRITERS),
      schema: {
        operationId: 'resolveConflict',
        tags,
        summary: 'Resolve a conflict with a note (emits conflict.resolved)',
        description:
          '409 already_resolved when it was resolved before. admin, or a store manager at its own location (hq reads only).',
        params: ConflictParams,
        body: ConflictResolve,
        response: { 200: Conflict, ...errors('not_found', 'already_resolved') },
      },
    },
    async (request) => resolveConflict(app.db, principalOf(request), request.params.id, request.body.note),
  );
};
export default routes;
