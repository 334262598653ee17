-- Idempotency-Key on every POST/PATCH that writes (http/idempotency.ts), not only orders and holds:
-- a key now remembers the whole first answer (status, the headers worth repeating, the body as
-- sent) and the route it was used on. The row is claimed and answered in the transaction of the
-- write it guards, so a committed row always has its answer; status_code is NULL only while the
-- claiming transaction is still running (never visible to others).
ALTER TABLE idempotency_keys
  ADD COLUMN request_method   text,
  ADD COLUMN request_path     text,
  ADD COLUMN status_code      smallint,
  ADD COLUMN response_headers jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN response_body    text;

-- Keys stored before: an order (201) or a hold (200, the only answer with a "reference"); both JSON.
UPDATE idempotency_keys SET
  status_code = CASE WHEN response ? 'reference' THEN 200 ELSE 201 END,
  response_headers = '{"content-type": "application/json; charset=utf-8"}',
  response_body = response::text
WHERE response IS NOT NULL;

ALTER TABLE idempotency_keys DROP COLUMN response;
