-- PostgreSQL only (per-language GIN indexes); SQLite's FTS5 index is unchanged. The folder
-- exists so both backends keep the same list of migrations.
SELECT 1;
