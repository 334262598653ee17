import { Sku } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Product, ProductCreate, ProductListQuery, ProductPatch } from '../../schemas/catalog.js';
import { ErrorBody, errorResponses, page } from '../../schemas/common.js';
import {
  CATALOG_READERS,
  CATALOG_WRITERS,
  createProduct,
  deleteProduct,
  getProduct,
  listProducts,
  updateProduct,
} from '../../services/catalog.js';

const Params = z.strictObject({ sku: Sku });
const tags = ['products'];

/** The catalogue: every role reads it (tills need it), only admins change it. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/products',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        tags,
        summary: 'List products (filter, sort, cursor pagination)',
        querystring: ProductListQuery,
        response: { 200: page(Product), ...errorResponses },
      },
    },
    async (request) => listProducts(app.db, request.query),
  );

  app.post(
    '/products',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Create a product',
        body: ProductCreate,
        response: { 201: Product, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => reply.status(201).send(await createProduct(app.db, request.body)),
  );

  app.get(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        tags,
        summary: 'Get a product',
        params: Params,
        response: { 200: Product, ...errorResponses },
      },
    },
    async (request) => getProduct(app.db, request.params.sku),
  );

  app.patch(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Change a product (absent fields are left as they are)',
        params: Params,
        body: ProductPatch,
        response: { 200: Product, ...errorResponses, 409: ErrorBody },
      },
    },
    async (request) => updateProduct(app.db, request.params.sku, request.body),
  );

  app.delete(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        tags,
        summary: 'Delete a product no location stocks (else deactivate it)',
        params: Params,
        response: { 204: z.null().describe('Deleted'), ...errorResponses, 409: ErrorBody },
      },
    },
    async (request, reply) => {
      await deleteProduct(app.db, request.params.sku);
      return reply.status(204).send(null);
    },
  );
};
export default routes;
