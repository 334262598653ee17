import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PreconditionRequiredError } from '../../errors.js';
import { acceptsCsv } from '../../http/csv.js';
import { principalOf } from '../../plugins/app/auth.js';
import { errors, page, withEtag } from '../../schemas/common.js';
import {
  AdjustmentCreate,
  CountCreate,
  IfMatchHeaders,
  InventoryItem,
  InventoryPatch,
  LocationInventoryQuery,
  LocationParams,
  LowStockItem,
  LowStockQuery,
  parseIfMatch,
  ReceiptCreate,
  RowParams,
  SkuInventory,
  SkuParams,
  StockWriteResult,
} from '../../schemas/inventory.js';
import { readScope } from '../../services/access.js';
import {
  adjustStock,
  countStock,
  getInventoryRow,
  INVENTORY_READERS,
  listLocationInventory,
  receiveStock,
  STOCK_WRITERS,
  setStock,
  skuInventory,
} from '../../services/inventory.js';
import { listLowStock, lowStockCsv } from '../../services/low-stock.js';

const tags = ['inventory'];
const writeAccess = 'Admin anywhere; a store manager at its own location only.';
const lineErrors = '404 for an unknown location or any unknown SKU (nothing is written).';

/** Stock rows per location × SKU: reads, and back-office writes through the ledger. */
const routes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/locations/:locationId/inventory',
    {
      preHandler: app.authorize(INVENTORY_READERS),
      schema: {
        operationId: 'listLocationInventory',
        tags,
        summary:
          "A location's stock rows (filter by SKU, reorder point, change time; cursor pagination by SKU)",
        description: 'A store manager or device reads its own location only.',
        params: LocationParams,
        querystring: LocationInventoryQuery,
        response: { 200: page(InventoryItem), ...errors('not_found') },
      },
    },
    async (request) =>
      listLocationInventory(app.db, principalOf(request), request.params.locationId, request.query),
  );

  app.get(
    '/inventory/low-stock',
    {
      preHandler: app.authorize(['admin', 'hq', 'store_manager']),
      schema: {
        operationId: 'listLowStock',
        tags,
        summary: 'Rows at or below their reorder point at every location, with the shortfall (JSON or CSV)',
        description:
          "The belowReorderPoint rule of a location's inventory, brand-wide, by location then SKU. " +
          'format=csv or Accept: text/csv: every matching row as a CSV attachment. A store manager sees ' +
          'its own location only (the default without locationId).',
        querystring: LowStockQuery,
        response: {
          200: {
            description: 'A page of rows (JSON), or every matching row (CSV)',
            content: {
              'application/json': { schema: page(LowStockItem) },
              'text/csv': { schema: z.string() },
            },
          },
          ...errors(),
        },
      },
    },
    async (request, reply) => {
      const { format, locationId, ...pageQuery } = request.query;
      const scope = readScope(principalOf(request), locationId);
      const csv = format === 'csv' || (format === undefined && acceptsCsv(request.headers.accept));
      if (!csv) return listLowStock(app.db, scope, pageQuery);
      const file = `low-stock-${new Date().toISOString().slice(0, 10)}.csv`;
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file}"`)
        .send(await lowStockCsv(app.db, scope));
    },
  );

  app.get(
    '/inventory/:sku',
    {
      preHandler: app.authorize(INVENTORY_READERS),
      schema: {
        operationId: 'getSkuInventory',
        tags,
        summary: 'A SKU at every location that stocks it, with totals',
        description: 'A store manager sees its own location only; devices and channels see every location.',
        params: SkuParams,
        response: { 200: SkuInventory, ...errors('not_found') },
      },
    },
    async (request) => skuInventory(app.db, principalOf(request), request.params.sku),
  );

  app.get(
    '/locations/:locationId/inventory/:sku',
    {
      preHandler: app.authorize(INVENTORY_READERS),
      schema: {
        operationId: 'getInventoryRow',
        tags,
        summary: 'One stock row, with its version as ETag',
        description: 'A catalogue SKU the location never stocked is a zero row at version 0.',
        params: RowParams,
        response: {
          200: withEtag(InventoryItem, 'The row; its version is the ETag'),
          ...errors('not_found'),
        },
      },
    },
    async (request, reply) => {
      const { locationId, sku } = request.params;
      const row = await getInventoryRow(app.db, principalOf(request), locationId, sku);
      return reply.header('etag', `"${row.version}"`).send(row);
    },
  );

  app.patch(
    '/locations/:locationId/inventory/:sku',
    {
      preHandler: app.authorize(STOCK_WRITERS),
      schema: {
        operationId: 'setInventoryRow',
        tags,
        summary: 'Set on_hand (a count taken now) and/or the reorder point, if the row is at If-Match',
        description:
          `${writeAccess} If-Match is required (428 without it) and takes the ETag of the row as read ` +
          '("3", 3 or W/"3"); 412 when the row has changed since.',
        params: RowParams,
        headers: IfMatchHeaders,
        body: InventoryPatch,
        response: {
          200: withEtag(InventoryItem, 'The row as written; its new version is the ETag'),
          ...errors('not_found', 'stale_version', 'precondition_required'),
        },
      },
    },
    async (request, reply) => {
      const ifMatch = request.headers['if-match'];
      if (ifMatch === undefined) throw new PreconditionRequiredError('If-Match');
      const { locationId, sku } = request.params;
      const row = await setStock(
        app.stock,
        principalOf(request),
        locationId,
        sku,
        parseIfMatch(ifMatch),
        request.body,
      );
      return reply.header('etag', `"${row.version}"`).send(row);
    },
  );

  app.post(
    '/locations/:locationId/receipts',
    {
      preHandler: app.authorize(STOCK_WRITERS),
      schema: {
        operationId: 'receiveStock',
        tags,
        summary: 'Receive a delivery (on_hand up by each line)',
        description: `${writeAccess} ${lineErrors}`,
        params: LocationParams,
        body: ReceiptCreate,
        response: { 201: StockWriteResult, ...errors('not_found') },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await receiveStock(app.stock, principalOf(request), request.params.locationId, request.body)),
  );

  app.post(
    '/locations/:locationId/adjustments',
    {
      preHandler: app.authorize(STOCK_WRITERS),
      schema: {
        operationId: 'adjustStock',
        tags,
        summary:
          'Adjust stock: damage (on_hand to damaged), shrink (lost), found, dispose (damaged written off)',
        description: `${writeAccess} ${lineErrors}`,
        params: LocationParams,
        body: AdjustmentCreate,
        response: { 201: StockWriteResult, ...errors('not_found') },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await adjustStock(app.stock, principalOf(request), request.params.locationId, request.body)),
  );

  app.post(
    '/locations/:locationId/counts',
    {
      preHandler: app.authorize(STOCK_WRITERS),
      schema: {
        operationId: 'countStock',
        tags,
        summary: 'Record a cycle count (on_hand becomes what was counted, as of now)',
        description: `${writeAccess} ${lineErrors} Each SKU once per count.`,
        params: LocationParams,
        body: CountCreate,
        response: { 201: StockWriteResult, ...errors('not_found') },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(await countStock(app.stock, principalOf(request), request.params.locationId, request.body)),
  );
};
export default routes;
