-- SQLite only (a second FTS5 table for ranking the newest matches); PostgreSQL ranks from
-- each row's tsvector and needs nothing here.
SELECT 1;
