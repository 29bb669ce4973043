-- A dense number per item and a change number per write, for the search count index
-- (registry `search::counts`): it keeps the items' facets and audiences in memory and asks
-- only for rows whose change number is above the last one it read.
--
-- Writers of items take a transaction-level advisory lock before drawing their change
-- number and hold it until they commit. Change numbers therefore commit in order: once
-- a reader sees number N, every number below N is committed or gone, and "changed after
-- N" misses nothing. It serialises writes of items from their first item row to commit.
ALTER TABLE items ADD COLUMN seq BIGSERIAL;
ALTER TABLE items ADD COLUMN change_seq BIGINT;
UPDATE items SET change_seq = seq;
ALTER TABLE items ALTER COLUMN change_seq SET NOT NULL;
CREATE SEQUENCE item_change_seq;
SELECT setval('item_change_seq', greatest((SELECT max(seq) FROM items), 1));
CREATE UNIQUE INDEX items_seq ON items (seq);
CREATE INDEX items_change_seq ON items (change_seq);
CREATE FUNCTION items_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7164506180443008371); -- "cmpitems", see above
    NEW.change_seq := nextval('item_change_seq');
    RETURN NEW;
END
$$;
CREATE TRIGGER items_change_seq BEFORE INSERT OR UPDATE ON items
    FOR EACH ROW EXECUTE FUNCTION items_change_seq();
