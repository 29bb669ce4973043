CREATE TABLE item_search_map_old (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL UNIQUE REFERENCES items (id)
);
INSERT INTO item_search_map_old (seq, item_id) SELECT seq, item_id FROM item_search_map;
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'item_search_map')
    WHERE name = 'item_search_map_old';
DROP TABLE item_search_map;
ALTER TABLE item_search_map_old RENAME TO item_search_map;
