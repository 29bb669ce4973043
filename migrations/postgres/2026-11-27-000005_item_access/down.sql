DROP TABLE item_access;
