export type * from './app/cashier-api.js';
export { CashierApiError } from './app/cashier-error.js';
export { type CashierServiceOptions, createCashierService, watchTillState } from './app/cashier-service.js';
export { httpCashierApi } from './app/http-client.js';
export { startTillApp, type TillApp, type TillAppOptions } from './app/till-app.js';
export { openTillLog, TILL_LOG_FILE, type TillLog } from './app/till-log.js';
export { startUiServer, type UiServer, type UiServerOptions } from './app/ui-server.js';
export type { Cashier } from './engine/cashier.js';
export { openTillDb } from './engine/db.js';
export * from './engine/errors.js';
export type { Enrolment, Replica, TillStatus } from './engine/replica.js';
export type { HeldOrder, OutboxEntry, Product, Receipt, ReceiptLine, RejectedOp } from './engine/store.js';
export { Till, type TillOptions } from './engine/till.js';
export { cipherVault, plainVault, type TokenVault } from './engine/token-vault.js';
export {
  SyncAgent,
  type SyncAgentOptions,
  type SyncReplica,
  type SyncState,
  type SyncStatus,
} from './sync/agent.js';
export { backoffDelay } from './sync/backoff.js';
export { enrolTill } from './sync/enrol.js';
export { enrolWithHub, fetchCatalog, HubRequestError } from './sync/hub-api.js';
