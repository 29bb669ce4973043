DROP TABLE item_search_recent_range;
DROP TABLE item_search_recent;
