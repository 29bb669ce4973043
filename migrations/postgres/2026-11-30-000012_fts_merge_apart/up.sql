-- SQLite only (FTS5 merges done apart from the writes); PostgreSQL's GIN indexes
-- need nothing here.
SELECT 1;
