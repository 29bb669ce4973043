-- Ranking the newest matches (`search::rank_in_fts5`) needs each window item's FTS5 row
-- and id. The window names items by `items.seq`, and reaching the map through `items`
-- took three B-tree descents per item, one of them into the large `items` table: 4.6-6.7
-- of a 1 % search's 9 ms of SQL at a million items. The map now holds the item's `seq`
-- too, and a covering index answers from it alone (1.4-2.4 ms; bench/README.md,
-- 2026-11-30). Rebuilt rather than altered, so the new column can be NOT NULL.
CREATE TABLE item_search_map_new (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL UNIQUE REFERENCES items (id),
    -- `items.seq` of `item_id`: one row per item, so one per number too.
    item_seq INTEGER NOT NULL
);
INSERT INTO item_search_map_new (seq, item_id, item_seq)
    SELECT m.seq, m.item_id, i.seq FROM item_search_map m JOIN items i ON i.id = m.item_id;
-- Numbering goes on from the old counter, which INSERT OR IGNORE may have moved past the
-- highest row.
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'item_search_map')
    WHERE name = 'item_search_map_new';
DROP TABLE item_search_map;
ALTER TABLE item_search_map_new RENAME TO item_search_map;
CREATE INDEX item_search_map_by_item ON item_search_map (item_seq, item_id);
