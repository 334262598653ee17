-- Retention (services/retention.ts): each growing table is purged by age in bounded chunks, found
-- through these indexes instead of a scan of the whole table.
CREATE INDEX applied_ops_retention ON applied_ops (applied_at) WHERE status = 'applied';
CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
CREATE INDEX webhook_attempts_finished_at ON webhook_attempts (finished_at);
-- Deleting an event deletes its deliveries (found by event) once their attempts (found by
-- delivery) are gone; without these, each foreign-key check reads the whole referencing table.
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

-- The delivery log used to keep up to 300 characters of a failing receiver's answer, which an
-- internal service could be made to fill (webhook SSRF). Only the status is kept now.
UPDATE webhook_attempts SET error = 'HTTP ' || status_code
WHERE status_code IS NOT NULL AND error LIKE 'HTTP %: %';
UPDATE webhook_deliveries SET last_error = 'HTTP ' || last_status_code
WHERE last_status_code IS NOT NULL AND last_error LIKE 'HTTP %: %';
