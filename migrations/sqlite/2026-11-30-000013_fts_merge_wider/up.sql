-- The server's merger (`search::index::merge_step`) merged a level as soon as it held 4
-- segments (`usermerge`): each POST's one-row segment was copied again at every level
-- on its way up, and those merge steps held about 10 % of the writer lock. Merging 16 at
-- a time copies each row about half as often (log16 against log4 of the segments).
-- `crisismerge`, the count at which FTS5 merges a level inside the writing transaction,
-- goes from 16 to 64: equal to `usermerge`, every 16th write merged a level itself (a
-- POST p99 of 1.15 s). At a million items on SQLite: POSTs 450–560 → 700–800 req/s, p99
-- 21–37 → 9–14 ms; searches after 16,000 POSTs no slower (bench/README.md, 2026-11-30).
INSERT INTO item_search (item_search, rank) VALUES ('usermerge', 16);
INSERT INTO item_search (item_search, rank) VALUES ('crisismerge', 64);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('usermerge', 16);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('crisismerge', 64);
