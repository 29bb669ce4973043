-- The newest items' index entries once more, in an FTS5 table of their own. bm25 weighs a
-- word by how many rows hold it, which FTS5 learns by reading the word's whole doclist: for a
-- word in most of a million items that read was 70 % of a ranked search. Ranking the newest
-- matches here reads at most this table's share of it (registry `search::recent`).
CREATE VIRTUAL TABLE item_search_recent USING fts5 (
    title, summary, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- Every new row deletes the oldest, and by default FTS5 rewrites a segment once a tenth of it
-- is deleted: a rewrite of tens of thousands of rows under the write lock, which held POSTs
-- past 2 s. With 0, deleted rows leave when their segment is merged anyway.
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('deletemerge', 0);
-- Which rows it holds: every `item_search` row numbered `low` or above, at most `size` of
-- them. Rows already indexed cannot be copied (the index keeps no text), so it starts above
-- them and fills as items are written.
CREATE TABLE item_search_recent_range (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    low INTEGER NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0)
);
INSERT INTO item_search_recent_range (id, low, size)
    SELECT 1, coalesce(max(seq), 0) + 1, 50000 FROM item_search_map;
