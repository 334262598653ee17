-- /metrics counts open online orders by status at every scrape: a partial index keeps that to the
-- open orders, however many closed ones accumulate.
CREATE INDEX orders_open ON orders (status) WHERE kind = 'order' AND status IN ('pending', 'confirmed', 'processing');
