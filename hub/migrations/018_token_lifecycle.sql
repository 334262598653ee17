-- API tokens made, listed, rotated and revoked over REST (routes/v1/tokens.ts): who made each
-- (the admin token that called POST /v1/tokens; NULL from the CLI or the first start), when it
-- stops working by itself, and when its secret was last replaced. last_used_at and revoked_at
-- exist since 001; last_used_at is written at most once a minute per token (services/tokens.ts).
ALTER TABLE api_tokens
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN created_by text REFERENCES api_tokens (id),
  ADD COLUMN rotated_at timestamptz;

-- The list's order (newest first, then id): keyset pagination.
CREATE INDEX api_tokens_created ON api_tokens (created_at DESC, id DESC);
