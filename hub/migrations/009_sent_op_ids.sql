-- A till's remembered answer compares a resent op with the op id it was first sent with. That id
-- used to live in op_id, which is unique: a malformed op carrying an id another op already holds
-- failed the whole batch. sent_op_id keeps what was sent (for the comparison); op_id stays the
-- unique claim, held only by the seq that owns the id (never by a malformed or op_id_reused op).
ALTER TABLE applied_ops ADD COLUMN sent_op_id text;
UPDATE applied_ops a SET sent_op_id = COALESCE(
  a.op_id,
  (SELECT d.op_id FROM dead_letters d WHERE d.device_id = a.device_id AND d.seq = a.seq)
);
