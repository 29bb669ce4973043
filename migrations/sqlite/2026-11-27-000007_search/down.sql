DROP TABLE item_search;
DROP TABLE item_search_map;
CREATE TABLE item_access_old (
    item_kind TEXT NOT NULL CHECK (item_kind IN ('document', 'update')),
    item_id TEXT NOT NULL,
    grantee_type TEXT NOT NULL CHECK (grantee_type IN ('public', 'platform', 'organization', 'group', 'user')),
    grantee_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_kind, item_id, grantee_type, grantee_id)
);
INSERT INTO item_access_old SELECT * FROM item_access WHERE item_kind <> 'version';
DROP TABLE item_access;
ALTER TABLE item_access_old RENAME TO item_access;
CREATE INDEX item_access_grantee ON item_access (grantee_type, grantee_id, item_kind, item_id);
