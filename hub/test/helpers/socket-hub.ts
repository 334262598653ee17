import { buildTestHub, type TestHub } from './build-hub.js';
import { seedCatalog } from './fixtures.js';
import { authFor, connectRaw, enrolDevice, type RawTill } from './sync-client.js';
import { tillOps } from './till-ops.js';

/** A till enrolled at a SocketHub and connected over a real socket, making its ops as a till does. */
export type SocketTill = Awaited<ReturnType<typeof connectRaw>> & {
  device: { id: string; token: string };
  ops: ReturnType<typeof tillOps>;
};

/** A test hub listening on a real port, for raw tills to push to over real sockets. */
export interface SocketHub extends TestHub {
  url: string;
  /** Enrol a till at the location and connect it; its socket closes with the hub. */
  till(locationId: string, id?: string): Promise<SocketTill>;
  /** Close the tills' sockets, then the hub. */
  close(): Promise<void>;
}

/** Build and start a hub with this catalogue seeded (see seedCatalog). */
export async function startSocketHub(catalog: Parameters<typeof seedCatalog>[1]): Promise<SocketHub> {
  const hub = await buildTestHub();
  const sockets: RawTill[] = [];
  try {
    const url = await hub.listen();
    await seedCatalog(hub.database.db, catalog);
    return {
      ...hub,
      url,
      async till(locationId, id) {
        const device = await enrolDevice(hub, locationId, id);
        const conn = await connectRaw(url, authFor(device.token));
        sockets.push(conn.socket);
        return { ...conn, device, ops: tillOps(device.id, locationId) };
      },
      async close() {
        for (const s of sockets.splice(0)) s.close();
        await hub.close();
      },
    };
  } catch (err) {
    await hub.close();
    throw err;
  }
}
