import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testDbKind } from '../../hub/test/helpers/test-db.js';
import { TestHubServer } from './helpers/test-hub-server.js';
import { startTill, type TestTill } from './helpers/tills.js';

/*
 * reliability.md, "7 · Denial of service": the hub checks a till's token on the upgrade request and
 * answers an unknown one 401 before the WebSocket opens; the till must read that as the permanent
 * refusal it is (stop, say why), not as a network failure to retry for ever.
 */

describe(`a revoked till on ${testDbKind()}`, () => {
  let hub: TestHubServer;
  let till: TestTill | null = null;

  beforeEach(async () => {
    hub = await TestHubServer.start();
    await hub.seed({ locations: [{ id: 'paris' }], products: [{ sku: 'LIP-RED' }] });
  });
  afterEach(async () => {
    await till?.close();
    await hub.close();
  });

  it('is refused at the upgrade and stops retrying', async () => {
    till = await startTill(hub, 'paris', 'paris-1');
    const revoked = await fetch(`${hub.url}/v1/devices/paris-1`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    expect(revoked.status).toBe(204);
    await expect
      .poll(() => till!.agent.status())
      .toMatchObject({
        state: 'refused',
        lastError: 'the hub refused this device token before the handshake',
        nextRetryAt: null,
      });
  });
});
