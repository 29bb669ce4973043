-- Every new row of `item_search_recent` deletes its oldest, which leaves a tombstone in an old
-- segment until that segment is merged. FTS5 looks each row it reads up among the tombstones
-- (open addressing over consecutive rowids: long probes), so at a million items a search for
-- a word in most items took 2-3 times the CPU after a few thousand POSTs, and kept it: with
-- `deletemerge` 0 (migration 2026-11-29-000011) an old segment waited for 16 more on its
-- level. That 0 kept FTS5 from rewriting segments inside the writing transactions; since
-- migration 2026-11-30-000012 only the server's merger merges, in small steps of its own, so
-- FTS5's default comes back: a level a tenth deleted is merged (bench/README.md, 2026-11-30).
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('deletemerge', 10);
