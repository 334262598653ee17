/*
 * Online orders and reservations. Modules: allocate (routing rule, candidate locking), allocations
 * (held units and their stock ops), create (new orders, settled in groups), lifecycle, external-holds (reserve/release endpoints),
 * expiry (the reservation-expiry job), till (what a till's push means for orders), queries.
 */
export type { OrderContext, OrderWriteContext } from './context.js';
export { ORDER_READERS, ORDER_WRITERS } from './context.js';
export { createOrder, type OrderOutcome, type OrderRequest, orderCreations } from './create.js';
export { expireDueOrders } from './expiry.js';
export { releaseHold, reserveHold } from './external-holds.js';
export {
  cancelOrder,
  confirmOrder,
  deliverOrder,
  fulfillOrder,
  returnOrder,
  shipOrder,
} from './lifecycle.js';
export { getOrder, listOrders } from './queries.js';
export {
  checkTillPickup,
  type PickupCheck,
  reallocateBrokenReservations,
  recordTillPickup,
  type TillPickup,
} from './till.js';
