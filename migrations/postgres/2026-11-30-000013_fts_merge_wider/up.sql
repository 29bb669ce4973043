-- SQLite only (how many FTS5 segments a merge takes); PostgreSQL's GIN indexes need
-- nothing here.
SELECT 1;
