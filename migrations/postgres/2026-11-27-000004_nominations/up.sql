CREATE TABLE nominations (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    nominee_name TEXT NOT NULL,
    nominee_email TEXT NOT NULL,
    nominee_email_normalized TEXT NOT NULL,
    position TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('primary', 'alternate')),
    mandate TEXT NOT NULL DEFAULT '',
    -- The focal point (user) this nomination replaces when approved.
    replaces_user_id TEXT REFERENCES users (id),
    term_end TIMESTAMP,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'active', 'rejected', 'withdrawn', 'revoked', 'expired')),
    nominated_by TEXT NOT NULL REFERENCES users (id),
    decided_by TEXT REFERENCES users (id),
    decided_at TIMESTAMP,
    reason TEXT,
    -- The focal point's account, set on approval.
    user_id TEXT REFERENCES users (id),
    activated_at TIMESTAMP,
    ended_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX nominations_organization ON nominations (organization_id, status);
CREATE INDEX nominations_status ON nominations (status, term_end);
CREATE INDEX nominations_user ON nominations (user_id);
