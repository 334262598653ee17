import { LocationId } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Location, LocationCreate, LocationListQuery, LocationPatch } from '../../schemas/catalog.js';
import { ErrorBody, errorResponses, page } from '../../schemas/common.js';
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
        tags,
        summary: 'List locations (filter, sort, cursor pagination)',
        querystring: LocationListQuery,
        response: { 200: page(Location), ...errorResponses },
      },
    },
    async (request) => listLocations(app.db, request.query),
  );

  app.post(
    '/locations',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Create a location',
        body: LocationCreate,
        response: { 201: Location, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createLocation(app.db, request.body)),
  );

  app.get(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        tags,
        summary: 'Get a location',
        params: Params,
        response: { 200: Location, ...errorResponses },
      },
    },
    async (request) => getLocation(app.db, request.params.locationId),
  );

  app.patch(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Change a location (absent fields are left as they are)',
        params: Params,
        body: LocationPatch,
        response: { 200: Location, ...errorResponses },
      },
    },
    async (request) => updateLocation(app.db, request.params.locationId, request.body),
  );

  app.delete(
    '/locations/:locationId',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Delete a location that has no stock, movements or devices (else deactivate it)',
        params: Params,
        response: { 204: z.null().describe('Deleted'), ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      await deleteLocation(app.db, request.params.locationId);
      return reply.status(204).send(null);
    },
  );
};
export default routes;
