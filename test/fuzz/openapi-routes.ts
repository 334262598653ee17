import type { TestHub } from '../../hub/test/helpers/build-hub.js';

/** One documented /v1 operation, as the fuzz suites drive it. */
export interface DocumentedRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** OpenAPI path template, e.g. "/v1/locations/{locationId}". */
  path: string;
  pathParams: string[];
  queryParams: string[];
  headerParams: string[];
  /** Top-level properties of the JSON body, when it takes one. */
  bodyFields: string[] | null;
}

interface JsonSchema {
  $ref?: string;
  anyOf?: JsonSchema[];
  properties?: Record<string, unknown>;
}

interface OpenApiOperation {
  parameters?: Array<{ in: string; name: string }>;
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

/** A body schema's own object: its component when it is a $ref, the non-null branch of a nullable one. */
function bodyObject(
  schema: JsonSchema | undefined,
  schemas: Record<string, JsonSchema>,
): JsonSchema | undefined {
  if (schema?.$ref) return bodyObject(schemas[schema.$ref.replace('#/components/schemas/', '')], schemas);
  const branch = schema?.anyOf?.find((s) => s.$ref || s.properties);
  return branch ? bodyObject(branch, schemas) : schema;
}

/** Every /v1 operation of the hub's own OpenAPI doc: a route added later is fuzzed without a change here. */
export async function documentedRoutes(hub: TestHub): Promise<DocumentedRoute[]> {
  const res = await hub.request({ method: 'GET', url: '/docs/json' });
  if (res.statusCode !== 200) throw new Error(`no OpenAPI doc: ${res.statusCode}`);
  const doc = res.body as {
    paths: Record<string, Record<string, OpenApiOperation>>;
    components?: { schemas?: Record<string, JsonSchema> };
  };
  const schemas = doc.components?.schemas ?? {};
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/v1/'))
    .flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => {
        const names = (where: string) =>
          (op.parameters ?? []).filter((p) => p.in === where).map((p) => p.name);
        const schema = bodyObject(op.requestBody?.content?.['application/json']?.schema, schemas);
        return {
          method: method.toUpperCase() as DocumentedRoute['method'],
          path,
          pathParams: names('path'),
          queryParams: names('query'),
          headerParams: names('header'),
          bodyFields: op.requestBody ? Object.keys(schema?.properties ?? {}) : null,
        };
      }),
    );
}

const LONE_SURROGATE = /([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/;

/** encodeURIComponent that sends a lone surrogate as the invalid UTF-8 it would be, instead of throwing. */
export function encodeHostile(text: string): string {
  return text
    .split(LONE_SURROGATE)
    .map((part) => (LONE_SURROGATE.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

/** The route's URL with its path params filled (URL-encoded). */
export function fillPath(route: DocumentedRoute, values: Record<string, string>): string {
  return route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeHostile(values[name] ?? 'x'));
}

/** True when `body` is the hub's one error shape: `{ code, message, details? }` and nothing else. */
export function isErrorShape(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const { code, message, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest).filter((k) => k !== 'details');
  return (
    typeof code === 'string' &&
    /^[a-z_]+$/.test(code) &&
    typeof message === 'string' &&
    message.length > 0 &&
    extra.length === 0
  );
}
