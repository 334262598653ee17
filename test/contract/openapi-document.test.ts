import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../hub/src/errors.js';
import { buildOpenapiDocument } from '../../hub/src/openapi/document.js';
import { WEBHOOK_EVENT_PAYLOADS } from '../../hub/src/schemas/webhook-events.js';
import { buildTestHub, type TestHub } from '../../hub/test/helpers/build-hub.js';
import { testDbKind } from '../../hub/test/helpers/test-db.js';

type Json = Record<string, unknown>;
type Doc = Json & {
  paths: Record<string, Record<string, Json>>;
  webhooks: Record<string, Record<string, Json>>;
};

const METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);
const WRITES = new Set(['post', 'put', 'patch', 'delete']);
/** Codes the API never answers: the HQ page's, outside the document. */
const UNDOCUMENTED: readonly ErrorCode[] = ['ui_not_built'];

function resolveRef(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Json)[key] : undefined),
      doc,
    );
}

const deref = (doc: Json, node: Json): Json =>
  typeof node.$ref === 'string' ? ((resolveRef(doc, node.$ref) as Json | undefined) ?? {}) : node;

function operations(doc: Doc): { where: string; method: string; path: string; op: Json }[] {
  return [
    ...Object.entries(doc.paths).map(([path, item]) => ['', path, item] as const),
    ...Object.entries(doc.webhooks ?? {}).map(([name, item]) => ['webhook ', name, item] as const),
  ].flatMap(([kind, path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.has(method))
      .map(([method, op]) => ({ where: `${kind}${method.toUpperCase()} ${path}`, method, path, op })),
  );
}

/** Every way the document falls short of the contract (README, "API contract"); [] when none. */
export function contractViolations(doc: Doc): string[] {
  const out: string[] = [];
  const tags = new Set(((doc.tags ?? []) as { name: string; description?: string }[]).map((t) => t.name));
  if (doc.openapi !== '3.1.0') out.push(`openapi is ${String(doc.openapi)}, not 3.1.0`);
  const seen = new Map<string, string>();
  const documentedCodes = new Set<string>();
  for (const { where, method, path, op } of operations(doc)) {
    const id = op.operationId;
    if (typeof id !== 'string' || !/^[a-z][A-Za-z0-9]+$/.test(id))
      out.push(`${where}: no camelCase operationId`);
    else if (seen.has(id)) out.push(`${where}: operationId ${id} also on ${seen.get(id)}`);
    else seen.set(id, where);
    const opTags = (op.tags ?? []) as string[];
    if (opTags.length === 0) out.push(`${where}: no tag`);
    for (const t of opTags) if (!tags.has(t)) out.push(`${where}: tag ${t} is not among the document's tags`);
    if (typeof op.description !== 'string' || op.description.trim() === '')
      out.push(`${where}: no description`);
    if (typeof op.summary !== 'string' || op.summary.trim() === '') out.push(`${where}: no summary`);

    const body = op.requestBody as { content?: Record<string, { schema: Json }> } | undefined;
    for (const [type, media] of Object.entries(body?.content ?? {})) {
      if (!named(media.schema)) out.push(`${where}: request body (${type}) is not a named component`);
    }
    const responses = (op.responses ?? {}) as Record<string, Json>;
    for (const [status, raw] of Object.entries(responses)) {
      const response = deref(doc, raw);
      if (!response.description || response.description === 'Default Response') {
        out.push(`${where} ${status}: no description`);
      }
      if (where.startsWith('webhook')) continue;
      const headers = (response.headers ?? {}) as Json;
      if (!headers['x-request-id']) out.push(`${where} ${status}: no x-request-id header`);
      if ((status === '429' || status === '503') && !headers['retry-after']) {
        out.push(`${where} ${status}: no retry-after header`);
      }
      const media = (response.content ?? {}) as Record<string, { schema: Json }>;
      const code = Number(status);
      if (code >= 200 && code < 300) {
        const json = media['application/json'];
        if (json && !named(json.schema)) out.push(`${where} ${status}: response is not a named component`);
        continue;
      }
      const schema = media['application/json']?.schema;
      const codes = ((schema?.properties as Json | undefined)?.code as { enum?: string[] } | undefined)?.enum;
      // /readyz answers its 503 with the readiness verdict (which checks failed), not an error.
      if (where === 'GET /readyz' && code === 503) continue;
      if (!codes?.length) {
        out.push(`${where} ${status}: error codes not enumerated`);
        continue;
      }
      for (const c of codes) {
        documentedCodes.add(c);
        const known = ERROR_CODES[c as ErrorCode];
        if (!known) out.push(`${where} ${status}: code ${c} is not in errors.ts ERROR_CODES`);
        else if (String(known.status) !== status)
          out.push(`${where} ${status}: ${c} is answered with ${known.status}`);
      }
    }
    if (where.startsWith('webhook')) continue;
    const statuses = new Set(Object.keys(responses));
    const open = Array.isArray(op.security) && op.security.length === 0;
    const required = [
      '400',
      '429',
      '500',
      '503',
      ...(open ? [] : ['401', '403']),
      ...(WRITES.has(method) ? ['413'] : []),
      ...(path.includes('{') ? ['404', '414'] : []),
    ];
    for (const s of required) if (!statuses.has(s)) out.push(`${where}: status ${s} not documented`);
    if (![...statuses].some((s) => s.startsWith('2'))) out.push(`${where}: no success status`);
    const params = (op.parameters ?? []) as Json[];
    if (params.some((p) => p.in === 'header' && p.name === 'idempotency-key')) {
      for (const [s, r] of Object.entries(responses)) {
        const h = (deref(doc, r).headers ?? {}) as Json;
        if (s.startsWith('2') && !h['idempotent-replayed'])
          out.push(`${where} ${s}: no idempotent-replayed header`);
      }
    }
  }
  for (const c of Object.keys(ERROR_CODES) as ErrorCode[]) {
    if (!documentedCodes.has(c) && !UNDOCUMENTED.includes(c))
      out.push(`code ${c} is documented on no operation`);
  }
  walkRefs(doc, doc, '#', out);
  return out;
}

/** A $ref, or a nullable one (an optional body). */
function named(schema: Json | undefined): boolean {
  if (!schema) return false;
  if (typeof schema.$ref === 'string') return true;
  const any = schema.anyOf as Json[] | undefined;
  return !!any?.some((s) => typeof s.$ref === 'string') && any.every((s) => s.$ref || s.type === 'null');
}

function walkRefs(doc: Json, node: unknown, at: string, out: string[]): void {
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) walkRefs(doc, n, `${at}/${i}`, out);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && resolveRef(doc, value) === undefined) {
        out.push(`${at}: $ref ${value} does not resolve`);
      } else walkRefs(doc, value, `${at}/${key}`, out);
    }
  }
}

describe(`the OpenAPI document (${testDbKind()})`, () => {
  let doc: Doc;
  let hub: TestHub;

  beforeAll(async () => {
    doc = (await buildOpenapiDocument()) as Doc;
    hub = await buildTestHub();
  }, 120_000);
  afterAll(() => hub?.close());

  it('meets the contract on every operation', () => {
    expect(operations(doc).length).toBeGreaterThan(60);
    expect(contractViolations(doc)).toEqual([]);
  });

  it('would report an operation without operationId, a duplicate, a Default Response, a dangling $ref and a missing 4xx', () => {
    const broken = structuredClone(doc);
    const create = broken.paths['/v1/orders']!.post!;
    delete create.operationId;
    broken.paths['/v1/orders']!.get!.operationId = 'getOrder';
    const responses = create.responses as Record<string, Json>;
    responses['201'] = { ...responses['201'], description: 'Default Response' };
    delete responses['413'];
    (broken.components as { schemas: Json }).schemas.Order = undefined;
    const violations = contractViolations(broken);
    expect(violations).toEqual(
      expect.arrayContaining([
        'POST /v1/orders: no camelCase operationId',
        'GET /v1/orders/{orderId}: operationId getOrder also on GET /v1/orders',
        'POST /v1/orders 201: no description',
        'POST /v1/orders: status 413 not documented',
        expect.stringMatching(/\$ref #\/components\/schemas\/Order does not resolve/),
      ]),
    );
  });

  it('enumerates only codes errors.ts defines, each under its own status', () => {
    const broken = structuredClone(doc);
    const get = broken.paths['/v1/orders/{orderId}']!.get!;
    (get.responses as Json)['404'] = {
      description: 'x',
      headers: { 'x-request-id': {} },
      content: {
        'application/json': {
          schema: { properties: { code: { type: 'string', enum: ['no_such_code', 'forbidden'] } } },
        },
      },
    };
    expect(contractViolations(broken)).toEqual(
      expect.arrayContaining([
        'GET /v1/orders/{orderId} 404: code no_such_code is not in errors.ts ERROR_CODES',
        'GET /v1/orders/{orderId} 404: forbidden is answered with 403',
      ]),
    );
  });

  it('documents every webhook event type from WEBHOOK_EVENT_PAYLOADS, with its payload as a component', () => {
    expect(Object.keys(doc.webhooks).sort()).toEqual(Object.keys(WEBHOOK_EVENT_PAYLOADS).sort());
    for (const item of Object.values(doc.webhooks)) {
      const body = (item.post!.requestBody as { content: Record<string, { schema: Json }> }).content;
      const schema = resolveRef(doc, body['application/json']!.schema.$ref as string) as Json;
      expect(schema).toMatchObject({
        type: 'object',
        properties: { id: {}, type: {}, timestamp: {}, apiVersion: {}, data: {} },
      });
    }
  });

  it('gives request examples for the main flows: create an order, receive stock, create a webhook', () => {
    for (const [path, method] of [
      ['/v1/orders', 'post'],
      ['/v1/locations/{locationId}/receipts', 'post'],
      ['/v1/webhooks', 'post'],
    ] as const) {
      const body = (doc.paths[path]![method]!.requestBody as { content: Record<string, { schema: Json }> })
        .content;
      const schema = deref(doc, body['application/json']!.schema);
      expect(schema.examples, path).toEqual([expect.any(Object)]);
    }
  });

  it('declares the ETag of stock rows and the servers, security and tags a client needs', () => {
    const row = doc.paths['/v1/locations/{locationId}/inventory/{sku}']!;
    for (const op of [row.get!, row.patch!]) {
      expect(((op.responses as Record<string, Json>)['200']!.headers as Json).etag).toEqual({
        $ref: '#/components/headers/ETag',
      });
    }
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect((doc.components as Json).securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
    });
    for (const tag of doc.tags as { description?: string }[]) expect(tag.description).toMatch(/.+/);
  });

  it('is served at /openapi.json and /docs/json (the same document), with the UI at /docs', async () => {
    const served = await hub.request({ method: 'GET', url: '/openapi.json', token: null });
    expect(served.statusCode).toBe(200);
    expect(served.body).toEqual(doc);
    expect((await hub.request({ method: 'GET', url: '/docs/json', token: null })).body).toEqual(doc);
    const ui = await hub.request({ method: 'GET', url: '/docs/', token: null });
    expect(ui.statusCode).toBe(200);
    expect(ui.text).toMatch(/swagger/i);
  });

  it('documents the headers the hub really sends (request id, rate limit, ETag)', async () => {
    await hub.request({
      method: 'POST',
      url: '/v1/locations',
      payload: { id: 'store-x', name: 'X', kind: 'store' },
    });
    await hub.request({
      method: 'POST',
      url: '/v1/products',
      payload: { sku: 'SKU-X', name: 'X', priceMinor: 100 },
    });
    const res = await hub.request({ method: 'GET', url: '/v1/locations/store-x/inventory/SKU-X' });
    expect(res.statusCode, res.text).toBe(200);
    const documented = (
      doc.paths['/v1/locations/{locationId}/inventory/{sku}']!.get!.responses as Record<string, Json>
    )['200']!.headers as Json;
    for (const name of Object.keys(documented)) expect(res.headers[name], name).toBeDefined();
    const missing = await hub.request({ method: 'GET', url: '/v1/orders/nope' });
    expect(missing.statusCode).toBe(404);
    const codes = (
      deref(doc, (doc.paths['/v1/orders/{orderId}']!.get!.responses as Record<string, Json>)['404']!)
        .content as {
        'application/json': { schema: { properties: { code: { enum: string[] } } } };
      }
    )['application/json'].schema.properties.code.enum;
    expect(codes).toContain((missing.body as { code: string }).code);
  });
});
