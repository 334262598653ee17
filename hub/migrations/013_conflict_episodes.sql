-- One open broken-reservation conflict per order: an order flagged at risk stays one episode
-- (services/conflicts.ts) until resolved or re-allocated, however many pushes find it still short.
-- Older hubs opened one per push: keep the oldest open one of each order, resolve the rest.
UPDATE conflicts c SET status = 'resolved', resolved_at = now(), resolved_by = 'system',
  resolution = 'duplicate of conflict ' || k.keep
FROM (
  SELECT details->>'orderId' AS order_id, min(id) AS keep FROM conflicts
  WHERE kind = 'broken_reservation' AND status = 'open' GROUP BY 1
) k
WHERE c.kind = 'broken_reservation' AND c.status = 'open' AND c.details->>'orderId' = k.order_id
  AND c.id <> k.keep;

CREATE UNIQUE INDEX conflicts_open_broken_reservation ON conflicts ((details->>'orderId'))
  WHERE kind = 'broken_reservation' AND status = 'open';
