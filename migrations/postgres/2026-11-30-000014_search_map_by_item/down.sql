-- SQLite only (its FTS5 rows are mapped to items); PostgreSQL keeps each item's tsvector
-- on the item itself.
SELECT 1;
