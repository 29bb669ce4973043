CREATE TABLE groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('working_group', 'regional_plan', 'sharing_circle')),
    description TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, organization_id)
);
CREATE INDEX group_members_organization ON group_members (organization_id);
CREATE INDEX organizations_kind ON organizations (kind, status);
