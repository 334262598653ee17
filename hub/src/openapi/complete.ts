import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { errorSchemas } from '../schemas/common.js';
import { WEBHOOK_EVENT_PAYLOADS } from '../schemas/webhook-events.js';

/*
 * What the OpenAPI document says once for every operation instead of each route repeating it: the
 * headers every reply carries (x-request-id, the rate-limit budget), Retry-After on 429/503,
 * Idempotent-Replayed on operations that take an Idempotency-Key, the statuses the framework
 * answers by route shape (413 on writes, 414 on paths with parameters), and the `webhooks` section
 * generated from WEBHOOK_EVENT_PAYLOADS. Components nothing refers to are dropped.
 */

type Json = Record<string, unknown>;
type OpenApi = Json & { paths?: Record<string, Record<string, Json>>; components?: Json };

const HEADERS = {
  XRequestId: {
    name: 'x-request-id',
    description: 'The request id: the caller’s x-request-id when sane ([A-Za-z0-9._-]{1,64}), else a UUID',
    schema: { type: 'string' },
  },
  RateLimitLimit: {
    name: 'x-ratelimit-limit',
    description: 'Requests allowed per minute for this token (or address, without a valid token)',
    schema: { type: 'integer' },
  },
  RateLimitRemaining: {
    name: 'x-ratelimit-remaining',
    description: 'Requests left in the current minute',
    schema: { type: 'integer' },
  },
  RateLimitReset: {
    name: 'x-ratelimit-reset',
    description: 'Seconds until the budget is refilled',
    schema: { type: 'integer' },
  },
  RetryAfter: {
    name: 'retry-after',
    description: 'Seconds to wait before retrying',
    schema: { type: 'integer' },
  },
  IdempotentReplayed: {
    name: 'idempotent-replayed',
    description:
      '"true" when this answer is the stored answer to an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
  ETag: {
    name: 'etag',
    description: 'The row’s version, quoted ("3"): send it back as If-Match',
    schema: { type: 'string' },
  },
} as const;
type HeaderId = keyof typeof HEADERS;

/** Response headers a route declares by name (schemas/common.ts `withEtag`), documented by ref. */
const BY_NAME = new Map<string, HeaderId>(
  Object.entries(HEADERS).map(([id, h]) => [h.name, id as HeaderId] as const),
);

/** Standard Webhooks (https://www.standardwebhooks.com) headers, as services/webhooks/signing.ts sends them. */
const WEBHOOK_HEADERS = [
  ['webhook-id', 'The event id (as in the body; the same on every retry and redelivery): de-duplicate on it'],
  ['webhook-timestamp', 'Unix seconds when this attempt was signed'],
  [
    'webhook-signature',
    'v1,<base64 HMAC-SHA256(secret, "<webhook-id>.<webhook-timestamp>.<body>")>; space-separated, one per ' +
      'valid secret (two during a rotation overlap)',
  ],
] as const;

const WEBHOOK_DELIVERY =
  'The hub POSTs this body to every active webhook subscribed to the type, signed with its secret. ' +
  'A 2xx answer within 10 s delivers it; anything else is retried on the Standard Webhooks schedule ' +
  '(5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: about 24 h), after which the webhook is disabled and an ' +
  'alert raised. Delivery is at-least-once: de-duplicate on webhook-id (the event id).';

const WRITE_METHODS = new Set(['post', 'put', 'patch', 'delete']);

/** Component name of an event's body: "order.created" → "OrderCreatedEvent". */
export function webhookComponentName(type: string): string {
  return `${type.split(/[._]/).map(capitalize).join('')}Event`;
}

/** operationId of an event in `webhooks`: "order.created" → "receiveOrderCreated". */
export function webhookOperationId(type: string): string {
  return `receive${type.split(/[._]/).map(capitalize).join('')}`;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Give each webhook payload a component id (unless it has one), so the document refers to it by name. */
export function registerWebhookSchemas(): void {
  for (const [type, schema] of Object.entries(WEBHOOK_EVENT_PAYLOADS) as [string, z.ZodType][]) {
    const meta = z.globalRegistry.get(schema);
    if (!meta?.id) z.globalRegistry.add(schema, { ...meta, id: webhookComponentName(type) });
  }
}

type RouteTransformInput = { schema?: unknown; url: string } & Record<string, unknown>;
type RouteTransformOutput = { schema?: unknown; url?: string };

/**
 * fastify-type-provider-zod's per-route transform, keeping the `headers` a route gives a response
 * in content form (the zod transform keeps only description and content).
 */
export function routeTransform<I extends RouteTransformInput, O extends RouteTransformOutput>(
  input: I,
  zodTransform: (input: I) => O,
): O {
  const out = zodTransform(input);
  const given = (input.schema as { response?: Record<string, unknown> } | undefined)?.response;
  const made = (out.schema as { response?: Record<string, Json> } | undefined)?.response;
  if (given && made) {
    for (const [status, response] of Object.entries(given)) {
      const headers = (response as { headers?: Json } | null)?.headers;
      if (headers && made[status]) made[status].headers = headers;
    }
  }
  return out;
}

/** The document as @fastify/swagger and the zod transform made it, completed (see the top). */
export function completeDocument<T>(document: T): T {
  const doc = document as OpenApi;
  doc.components ??= {};
  const components = doc.components;
  components.headers = Object.fromEntries(
    Object.entries(HEADERS).map(([id, { description, schema }]) => [id, { description, schema }]),
  );
  components.parameters = Object.fromEntries(
    WEBHOOK_HEADERS.map(([name, description]) => [
      paramId(name),
      { name, in: 'header', required: true, description, schema: { type: 'string' } },
    ]),
  );
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) completeOperation(path, method, op);
  }
  components.responses = shareErrorResponses(doc);
  doc.webhooks = webhooks();
  pruneSchemas(doc);
  return document;
}

/** What an operation taking an Idempotency-Key (http/idempotency.ts) can answer because of it. */
const IDEMPOTENCY_CODES: readonly ErrorCode[] = [
  'invalid_idempotency_key',
  'idempotency_key_in_use',
  'idempotency_key_sealed',
  'idempotency_key_reused',
];

function errorResponse(schema: z.ZodType): Json {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' }) as Json;
  delete json.$schema;
  return { description: schema.description ?? '', content: { 'application/json': { schema: json } } };
}

function completeOperation(path: string, method: string, op: Json): void {
  op.responses ??= {};
  const responses = op.responses as Record<string, Json>;
  const parameters = (op.parameters ?? []) as Json[];
  const idempotent = parameters.some((p) => p.in === 'header' && p.name === 'idempotency-key');
  const framework: Record<number, z.ZodType> = {
    ...(WRITE_METHODS.has(method) ? errorSchemas('payload_too_large') : {}),
    ...(path.includes('{') ? errorSchemas('uri_too_long') : {}),
  };
  for (const [status, schema] of Object.entries(framework)) responses[status] ??= errorResponse(schema);
  // The key's own refusals join the codes the route lists under the same status.
  for (const code of idempotent ? IDEMPOTENCY_CODES : []) {
    const status = String(ERROR_CODES[code].status);
    const listed = (
      (responses[status]?.content as Record<string, { schema?: Json }> | undefined)?.['application/json']
        ?.schema?.properties as Json | undefined
    )?.code as { enum?: string[] } | undefined;
    if (listed?.enum) {
      if (!listed.enum.includes(code)) listed.enum.push(code);
    } else responses[status] = errorResponse(errorSchemas(code)[Number(status)]!);
  }
  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    if (response.description === 'Default Response' || !response.description) {
      response.description = successDescription(code, response);
    }
    const declared = Object.keys((response.headers ?? {}) as Json);
    const names: HeaderId[] = [
      ...declared.map((name) => BY_NAME.get(name.toLowerCase())).filter((id) => id !== undefined),
      'XRequestId',
      'RateLimitLimit',
      'RateLimitRemaining',
      'RateLimitReset',
      ...(code === 429 || code === 503 ? (['RetryAfter'] as const) : []),
      ...(idempotent && code >= 200 && code < 300 ? (['IdempotentReplayed'] as const) : []),
    ];
    const headers: Json = {};
    for (const name of declared)
      if (!BY_NAME.has(name.toLowerCase())) headers[name] = (response.headers as Json)[name];
    for (const id of names) headers[HEADERS[id].name] = { $ref: `#/components/headers/${id}` };
    response.headers = headers;
  }
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Error responses become named components, one per set of codes ("InsufficientStockError",
 * "InvalidRequestOrInvalidTextError"): the same answer is written once, and a generated client
 * gets one type for it.
 */
function shareErrorResponses(doc: OpenApi): Record<string, Json> {
  const shared: Record<string, Json> = {};
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item)) {
      const responses = op.responses as Record<string, Json>;
      for (const [status, response] of Object.entries(responses)) {
        const media = (response.content as Record<string, { schema?: Json }> | undefined)?.[
          'application/json'
        ];
        const codes = (
          (media?.schema?.properties as Json | undefined)?.code as { enum?: string[] } | undefined
        )?.enum;
        if (Number(status) < 400 || !codes) continue;
        const name = `${codes.map((c) => c.split('_').map(capitalize).join('')).join('Or')}Error`;
        shared[name] ??= response;
        responses[status] = { $ref: `#/components/responses/${name}` };
      }
    }
  }
  return Object.fromEntries(Object.entries(shared).sort(([a], [b]) => a.localeCompare(b)));
}

/** "Created: OrderDetail", "No Content", … for a success response the route did not describe. */
function successDescription(status: number, response: Json): string {
  const media = Object.values((response.content ?? {}) as Record<string, { schema?: Json }>)[0];
  const ref = typeof media?.schema?.$ref === 'string' ? media.schema.$ref.split('/').pop() : undefined;
  const text = STATUS_CODES[status] ?? `Status ${status}`;
  return ref ? `${text}: ${ref}` : text;
}

function webhooks(): Json {
  return Object.fromEntries(
    Object.entries(WEBHOOK_EVENT_PAYLOADS).map(([type, schema]) => {
      const id = z.globalRegistry.get(schema)?.id ?? webhookComponentName(type);
      return [
        type,
        {
          post: {
            operationId: webhookOperationId(type),
            tags: ['webhooks'],
            summary: z.globalRegistry.get(schema)?.description ?? type,
            description: WEBHOOK_DELIVERY,
            security: [],
            parameters: WEBHOOK_HEADERS.map(([name]) => ({
              $ref: `#/components/parameters/${paramId(name)}`,
            })),
            requestBody: {
              required: true,
              content: { 'application/json': { schema: { $ref: `#/components/schemas/${id}` } } },
            },
            responses: {
              '2XX': { description: 'Delivered' },
              default: { description: 'Not delivered: retried with backoff' },
            },
          },
        },
      ];
    }),
  );
}

/** "x-tillsync-event-id" → "WebhookEventId". */
const paramId = (header: string) =>
  `Webhook${header
    .replace(/^x-tillsync-/, '')
    .split('-')
    .map(capitalize)
    .join('')}`;

/** Drop component schemas nothing in the document refers to (zod emits an input and an output twin of each). */
function pruneSchemas(doc: OpenApi): void {
  const schemas = ((doc.components as Json).schemas ?? {}) as Record<string, unknown>;
  const used = new Set<string>();
  const queue: unknown[] = [{ ...doc, components: { ...(doc.components as Json), schemas: {} } }];
  while (queue.length > 0) {
    const node = queue.pop();
    if (Array.isArray(node)) queue.push(...node);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
          const name = value.slice('#/components/schemas/'.length);
          if (!used.has(name)) {
            used.add(name);
            queue.push(schemas[name]);
          }
        } else queue.push(value);
      }
    }
  }
  (doc.components as Json).schemas = Object.fromEntries(
    Object.entries(schemas)
      .filter(([name]) => used.has(name))
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}
