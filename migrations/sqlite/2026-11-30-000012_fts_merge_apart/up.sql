-- FTS5 merges its segments inside the writing transaction: every 64 leaf pages written it
-- merges up to 64 × (levels) pages, 20–170 ms at a million items, while every other writer
-- waits for the lock (SQLite POST p99 0.35–0.75 s, bench/README.md). The server's index
-- merger does the same work in small transactions of its own (`search::index::merge_step`);
-- `crisismerge` (16 segments on a level) still bounds the segments when nothing merges.
INSERT INTO item_search (item_search, rank) VALUES ('automerge', 0);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('automerge', 0);
