-- Every push batch looks for rows at the till's location whose reservations its sales broke
-- (reserved > 0 AND on_hand - reserved < 0, services/orders/till.ts). Without this index that
-- query reads every row of the location (and, through stock_location_change, every index entry
-- the location's updates left behind); with it, only the few rows holding reservations.
CREATE INDEX stock_reserved ON stock (location_id, sku) WHERE reserved > 0;
