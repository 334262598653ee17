import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestHub, type TestHub } from './helpers/build-hub.js';
import { testDbKind } from './helpers/test-db.js';

describe(`hub boots on ${testDbKind()}`, () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await buildTestHub();
  });
  afterAll(() => hub.close());

  it('answers health and serves OpenAPI', async () => {
    expect((await hub.request({ method: 'GET', url: '/healthz' })).body).toEqual({ ok: true });
    const docs = await hub.request({ method: 'GET', url: '/docs/json' });
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
  });

  it('documents every /v1 route in OpenAPI', async () => {
    // Rebuild full paths from Fastify's route tree ("│   ├── /:sku (GET, PATCH)").
    const routes: string[] = [];
    const stack: string[] = [];
    for (const line of hub.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line);
      if (!m) continue;
      const depth = m[1]!.length / 4;
      const path = (stack[depth - 1] ?? '') + m[2]!;
      stack[depth] = path;
      if (!path.startsWith('/v1/')) continue;
      for (const method of m[3]!.split(', ')) if (method !== 'HEAD') routes.push(`${method} ${path}`);
    }
    const docs = (await hub.request({ method: 'GET', url: '/docs/json' })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(docs.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await hub.request({ method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toEqual({ code: 'not_found', message: 'no route GET /v1/nope' });
  });
});
