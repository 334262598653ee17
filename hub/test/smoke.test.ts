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

  it('answers unknown routes with the JSON error shape', async () => {
    const res = await hub.request({ method: 'GET', url: '/v1/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.body).toEqual({ code: 'not_found', message: 'no route GET /v1/nope' });
  });
});
