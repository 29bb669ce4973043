-- Versions get audiences of their own (SQLite cannot alter a CHECK: rebuild the table).
CREATE TABLE item_access_new (
    item_kind TEXT NOT NULL CHECK (item_kind IN ('document', 'update', 'version')),
    item_id TEXT NOT NULL,
    grantee_type TEXT NOT NULL CHECK (grantee_type IN ('public', 'platform', 'organization', 'group', 'user')),
    grantee_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_kind, item_id, grantee_type, grantee_id)
);
INSERT INTO item_access_new SELECT * FROM item_access;
DROP TABLE item_access;
ALTER TABLE item_access_new RENAME TO item_access;
CREATE INDEX item_access_grantee ON item_access (grantee_type, grantee_id, item_kind, item_id);

-- Full-text search: FTS5 over text the application has already analysed (lower-cased,
-- stemmed with the item's language, CJK characters split apart), so the tokenizer only
-- needs to split on spaces and fold diacritics. FTS5 wants integer row ids: item_search_map
-- gives each item one.
CREATE TABLE item_search_map (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL UNIQUE REFERENCES items (id)
);
CREATE VIRTUAL TABLE item_search USING fts5 (
    title, summary, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);
