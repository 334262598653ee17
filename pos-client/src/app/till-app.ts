import { Till } from '../engine/till.js';
import { SyncAgent, type SyncAgentOptions } from '../sync/agent.js';
import type { CashierApi } from './cashier-api.js';
import { type CashierServiceOptions, createCashierService, watchTillState } from './cashier-service.js';
import { openTillLog } from './till-log.js';
import { startUiServer } from './ui-server.js';

export interface TillAppOptions {
  dataDir: string;
  /** 0 or absent: any free port. */
  port?: number;
  syncOptions?: SyncAgentOptions;
  serviceOptions?: CashierServiceOptions;
  /** The built cashier UI (default pos-client/ui/dist). */
  staticDir?: string;
}

export interface TillApp {
  /** Open this in the browser (carries the session secret in its fragment). */
  url: string;
  api: CashierApi;
  till: Till;
  agent: SyncAgent;
  close(): Promise<void>;
}

/**
 * Browser mode: the till, its sync agent, the cashier service and the loopback UI server; the
 * till's ops and batches are logged to <dataDir>/till.log.
 */
export async function startTillApp(options: TillAppOptions): Promise<TillApp> {
  const till = Till.open({ dataDir: options.dataDir });
  const log = openTillLog(till, options.dataDir);
  const agent = new SyncAgent(till.replica, { logger: log.logger, ...options.syncOptions });
  try {
    const api = createCashierService(till.cashier, agent, options.serviceOptions);
    const server = await startUiServer(api, {
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.staticDir !== undefined ? { staticDir: options.staticDir } : {}),
      watch: (listener) => watchTillState(till.cashier, agent, api, listener),
    });
    agent.start();
    return {
      url: server.url,
      api,
      till,
      agent,
      async close() {
        await server.close();
        await agent.stop();
        log.close();
        till.close();
      },
    };
  } catch (err) {
    log.close();
    till.close();
    throw err;
  }
}
