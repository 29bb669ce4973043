INSERT INTO item_search_recent (item_search_recent, rank) VALUES ('deletemerge', 0);
