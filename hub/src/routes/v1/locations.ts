import { LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Location, LocationCreate, LocationListQuery, LocationPatch } from '../../schemas/catalog.js';
import { errors, page } from '../../schemas/common.js';
import {
  CATALOG_READERS,
  CATALOG_WRITERS,
  createLocation,
  deleteLocation,
  getLocation,
  listLocations,
  updateLocation,
} from '../../services/catalog.js';

const Params = z.strictObject({ locationId: LocationId });
const tags = ['locations'];

/** Stores and warehouses: everyone reads them, only admins change them. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/locations',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        operationId: 'listLocations',
        tags,
        summary: 'List locations (filter, sort, cursor pagination)',
        description: 'Every role reads locations (tills need them).',
        querystring: LocationListQuery,
        response: { 200: page(Location), ...errors() },
      },
    },
    async (request) => listLocations(app.db, request.query),
  );

  app.post(
    '/locations',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'createLocation',
        tags,
        summary: 'Create a location',
        description: 'Admin only. 409 already_exists when the id is taken.',
        body: LocationCreate,
        response: { 201: Location, ...errors('already_exists') },
      },
    },
    async (request, reply) => reply.status(201).send(await createLocation(app.db, request.body)),
  );

  app.get(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        operationId: 'getLocation',
        tags,
        summary: 'Get a location',
        description: 'Every role reads locations.',
        params: Params,
        response: { 200: Location, ...errors('not_found') },
      },
    },
    async (request) => getLocation(app.db, request.params.locationId),
  );

  app.patch(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'updateLocation',
        tags,
        summary: 'Change a location (absent fields are left as they are)',
        description: 'Admin only.',
        params: Params,
        body: LocationPatch,
        response: { 200: Location, ...errors('not_found') },
      },
    },
    async (request) => updateLocation(app.db, request.params.locationId, request.body),
  );

  app.delete(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'deleteLocation',
        tags,
        summary: 'Delete a location that has no stock, movements or devices (else deactivate it)',
        description:
          'Admin only. 409 in_use while stock, movements or devices refer to it: deactivate it instead (PATCH active: false).',
        params: Params,
        response: { 204: z.null().describe('Deleted'), ...errors('not_found', 'in_use') },
      },
    },
    async (request, reply) => {
      await deleteLocation(app.db, request.params.locationId);
      return reply.status(204).send(null);
    },
  );
};
export default routes;
