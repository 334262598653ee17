import { Sku } from '@tillsync/sync-protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Product, ProductCreate, ProductListQuery, ProductPatch } from '../../schemas/catalog.js';
import { errors, page } from '../../schemas/common.js';
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
        operationId: 'listProducts',
        tags,
        summary: 'List products (filter, sort, cursor pagination)',
        description: 'Every role reads the catalogue (tills need it).',
        querystring: ProductListQuery,
        response: { 200: page(Product), ...errors() },
      },
    },
    async (request) => listProducts(app.db, request.query),
  );

  app.post(
    '/products',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'createProduct',
        tags,
        summary: 'Create a product',
        description: 'Admin only. 409 already_exists when the SKU or barcode is taken.',
        body: ProductCreate,
        response: { 201: Product, ...errors('already_exists') },
      },
    },
    async (request, reply) => reply.status(201).send(await createProduct(app.db, request.body)),
  );

  app.get(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_READERS),
      schema: {
        operationId: 'getProduct',
        tags,
        summary: 'Get a product',
        description: 'Every role reads the catalogue.',
        params: Params,
        response: { 200: Product, ...errors('not_found') },
      },
    },
    async (request) => getProduct(app.db, request.params.sku),
  );

  app.patch(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'updateProduct',
        tags,
        summary: 'Change a product (absent fields are left as they are)',
        description: 'Admin only. 409 already_exists when the new barcode is taken.',
        params: Params,
        body: ProductPatch,
        response: { 200: Product, ...errors('not_found', 'already_exists') },
      },
    },
    async (request) => updateProduct(app.db, request.params.sku, request.body),
  );

  app.delete(
    '/products/:sku',
    {
      preHandler: app.authorize(CATALOG_WRITERS),
      schema: {
        operationId: 'deleteProduct',
        tags,
        summary: 'Delete a product no location stocks (else deactivate it)',
        description:
          'Admin only. 409 in_use while a location stocks it: deactivate it instead (PATCH active: false).',
        params: Params,
        response: { 204: z.null().describe('Deleted'), ...errors('not_found', 'in_use') },
      },
    },
    async (request, reply) => {
      await deleteProduct(app.db, request.params.sku);
      return reply.status(204).send(null);
    },
  );
};
export default routes;
