-- A dense number per item and a change number per write, for the search count index
-- (registry `search::counts`): it keeps the items' facets and audiences in memory and asks
-- only for rows whose change number is above the last one it read. SQLite has one writer
-- at a time, so numbers drawn as max + 1 inside the write commit in order.
ALTER TABLE items ADD COLUMN seq INTEGER;
ALTER TABLE items ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE items SET seq = rowid, change_seq = rowid;
CREATE UNIQUE INDEX items_seq ON items (seq);
CREATE INDEX items_change_seq ON items (change_seq);
CREATE TRIGGER items_numbered AFTER INSERT ON items
BEGIN
    UPDATE items SET
        seq = coalesce(NEW.seq, (SELECT coalesce(max(seq), 0) + 1 FROM items)),
        change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM items)
    WHERE rowid = NEW.rowid;
END;
-- The WHEN keeps the numbering above (which changes change_seq) from counting twice.
CREATE TRIGGER items_changed AFTER UPDATE ON items WHEN NEW.change_seq = OLD.change_seq
BEGIN
    UPDATE items SET change_seq = (SELECT max(change_seq) + 1 FROM items)
    WHERE rowid = NEW.rowid;
END;
