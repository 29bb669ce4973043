-- SQLite only (FTS5's merge settings); PostgreSQL's GIN indexes have no such setting.
SELECT 1;
