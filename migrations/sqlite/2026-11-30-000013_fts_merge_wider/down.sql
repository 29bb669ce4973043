-- FTS5's own defaults before this migration (it keeps no row for an unset option).
INSERT INTO item_search (item_search, rank) VALUES ('usermerge', 4);
INSERT INTO item_search (item_search, rank) VALUES ('crisismerge', 16);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('usermerge', 4);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('crisismerge', 16);
