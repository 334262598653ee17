export { openTillDb } from './engine/db.js';
export * from './engine/errors.js';
export type { HeldOrder, OutboxEntry, Product, Receipt, ReceiptLine, RejectedOp } from './engine/store.js';
export { type Enrolment, Till, type TillOptions, type TillStatus } from './engine/till.js';
export { SyncAgent, type SyncAgentOptions, type SyncState, type SyncStatus } from './sync/agent.js';
export { backoffDelay } from './sync/backoff.js';
export { enrolTill } from './sync/enrol.js';
export { enrolWithHub, fetchCatalog, HubRequestError } from './sync/hub-api.js';
