-- Shared items: documents (long-lived, versioned, with attachments) and updates (short
-- dated posts for the feed). One table, so the feed, search and audiences treat both alike;
-- document-only fields are empty strings on updates.
CREATE TABLE items (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('document', 'update')),
    owner_org_id TEXT NOT NULL REFERENCES organizations (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('ar', 'zh', 'en', 'fr', 'ru', 'es', 'other')),
    doc_type TEXT NOT NULL,
    -- JSON array; the same tags are rows of item_tags for filters and facets.
    tags TEXT NOT NULL,
    tlp TEXT NOT NULL CHECK (tlp IN ('clear', 'green', 'amber', 'amber_strict', 'red')),
    -- JSON {organizations, groups, users}; who may see it is item_access.
    recipients TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Who made the current version.
    updated_by TEXT NOT NULL REFERENCES users (id),
    deleted_at TIMESTAMP
);
CREATE INDEX items_newest ON items (kind, created_at DESC, id DESC);
CREATE INDEX items_owner ON items (owner_org_id, created_at DESC);

CREATE TABLE item_tags (
    item_id TEXT NOT NULL REFERENCES items (id),
    tag TEXT NOT NULL,
    PRIMARY KEY (item_id, tag)
);
CREATE INDEX item_tags_tag ON item_tags (tag, item_id);

-- Every earlier state of an item. A version is seen by those who see the item now AND were
-- in that version's audience (item_access rows of kind 'version', keyed by version_id).
CREATE TABLE item_versions (
    version_id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES items (id),
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    body TEXT NOT NULL,
    language TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    tags TEXT NOT NULL,
    tlp TEXT NOT NULL,
    recipients TEXT NOT NULL,
    edited_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (item_id, version)
);

-- A client's Idempotency-Key for a creation: a retry returns the first result.
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    item_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

-- Files of a document, stored under the data directory by their SHA-256.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL REFERENCES items (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    uploaded_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP
);
CREATE INDEX attachments_item ON attachments (item_id, created_at);
CREATE INDEX attachments_sha256 ON attachments (sha256);

CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    target_type TEXT NOT NULL CHECK (target_type IN ('organization', 'group', 'tag', 'everything')),
    target_id TEXT NOT NULL,
    delivery TEXT NOT NULL CHECK (delivery IN ('immediate', 'daily')),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, target_type, target_id)
);
CREATE INDEX subscriptions_target ON subscriptions (target_type, target_id);

-- Items waiting for a subscriber's daily digest, and the digests already sent (one per user
-- and UTC day, so a restart never sends one twice).
CREATE TABLE digest_entries (
    user_id TEXT NOT NULL REFERENCES users (id),
    item_id TEXT NOT NULL REFERENCES items (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, item_id)
);
CREATE TABLE digests_sent (
    user_id TEXT NOT NULL REFERENCES users (id),
    period TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, period)
);
