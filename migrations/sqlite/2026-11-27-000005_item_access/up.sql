-- Who may see a shared item (document or update): the materialised form of its TLP marking
-- and recipients, written with the item in one transaction and joined by every read.
-- `group` grants are resolved through group_members at read time, so a change of
-- membership changes the audience of the group's items at once.
CREATE TABLE item_access (
    item_kind TEXT NOT NULL CHECK (item_kind IN ('document', 'update')),
    item_id TEXT NOT NULL,
    grantee_type TEXT NOT NULL CHECK (grantee_type IN ('public', 'platform', 'organization', 'group', 'user')),
    grantee_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (item_kind, item_id, grantee_type, grantee_id)
);
CREATE INDEX item_access_grantee ON item_access (grantee_type, grantee_id, item_kind, item_id);
