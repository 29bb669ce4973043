INSERT INTO item_search (item_search, rank) VALUES ('automerge', 4);
INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('automerge', 4);
