//! The tables, shared by both backends: ids are text UUIDs, timestamps UTC without zone,
//! enums text, JSON text.

diesel::table! {
    audit_events (seq) {
        seq -> BigInt,
        id -> Text,
        occurred_at -> Timestamp,
        actor_user_id -> Nullable<Text>,
        actor_org_id -> Nullable<Text>,
        actor_api_key_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        request_id -> Nullable<Text>,
        action -> Text,
        target_type -> Nullable<Text>,
        target_id -> Nullable<Text>,
        outcome -> Text,
        details -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        message_id -> Text,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        created_at -> Timestamp,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    organizations (id) {
        id -> Text,
        name -> Text,
        acronym -> Text,
        acronym_normalized -> Text,
        kind -> Text,
        un_system -> Bool,
        status -> Text,
        email_domains -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organization_id -> Text,
        email -> Text,
        email_normalized -> Text,
        name -> Text,
        role -> Text,
        status -> Text,
        password_hash -> Nullable<Text>,
        token_version -> Integer,
        failed_logins -> Integer,
        locked_until -> Nullable<Timestamp>,
        totp_secret -> Nullable<Text>,
        totp_enabled -> Bool,
        totp_last_step -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        idle_expires_at -> Timestamp,
        family_expires_at -> Timestamp,
        spent_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Text,
        public_key -> Text,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        scopes -> Text,
        allowed_cidrs -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    one_time_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(users -> organizations (organization_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    organizations,
    users,
    refresh_tokens,
    api_keys,
    one_time_tokens,
    recovery_codes
);

diesel::table! {
    groups (id) {
        id -> Text,
        name -> Text,
        name_normalized -> Text,
        kind -> Text,
        description -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_members (group_id, organization_id) {
        group_id -> Text,
        organization_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::joinable!(group_members -> groups (group_id));
diesel::joinable!(group_members -> organizations (organization_id));
diesel::allow_tables_to_appear_in_same_query!(groups, group_members, organizations);

diesel::table! {
    nominations (id) {
        id -> Text,
        organization_id -> Text,
        nominee_name -> Text,
        nominee_email -> Text,
        nominee_email_normalized -> Text,
        position -> Text,
        kind -> Text,
        mandate -> Text,
        replaces_user_id -> Nullable<Text>,
        term_end -> Nullable<Timestamp>,
        status -> Text,
        nominated_by -> Text,
        decided_by -> Nullable<Text>,
        decided_at -> Nullable<Timestamp>,
        reason -> Nullable<Text>,
        user_id -> Nullable<Text>,
        activated_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(nominations -> organizations (organization_id));
diesel::allow_tables_to_appear_in_same_query!(nominations, organizations);
diesel::allow_tables_to_appear_in_same_query!(nominations, users);
diesel::allow_tables_to_appear_in_same_query!(nominations, group_members);

diesel::table! {
    item_access (item_kind, item_id, grantee_type, grantee_id) {
        item_kind -> Text,
        item_id -> Text,
        grantee_type -> Text,
        grantee_id -> Text,
    }
}

diesel::allow_tables_to_appear_in_same_query!(item_access, group_members);

diesel::table! {
    items (id) {
        id -> Text,
        kind -> Text,
        owner_org_id -> Text,
        author_id -> Text,
        title -> Text,
        summary -> Text,
        body -> Text,
        language -> Text,
        doc_type -> Text,
        tags -> Text,
        tlp -> Text,
        recipients -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        updated_by -> Text,
        deleted_at -> Nullable<Timestamp>,
        /// A dense number per item (search count index).
        seq -> BigInt,
        /// Drawn anew by a trigger on every write of the row, in commit order.
        change_seq -> BigInt,
    }
}

diesel::table! {
    item_tags (item_id, tag) {
        item_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    item_versions (version_id) {
        version_id -> Text,
        item_id -> Text,
        version -> Integer,
        title -> Text,
        summary -> Text,
        body -> Text,
        language -> Text,
        doc_type -> Text,
        tags -> Text,
        tlp -> Text,
        recipients -> Text,
        edited_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        item_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        item_id -> Text,
        filename -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        uploaded_by -> Text,
        created_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Text,
        user_id -> Text,
        target_type -> Text,
        target_id -> Text,
        delivery -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    digest_entries (user_id, item_id) {
        user_id -> Text,
        item_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    digests_sent (user_id, period) {
        user_id -> Text,
        period -> Text,
        sent_at -> Timestamp,
    }
}

// SQLite only: FTS5 wants integer row ids (PostgreSQL keeps a tsvector column on items,
// outside this schema because diesel has no tsvector type for both backends).
diesel::table! {
    item_search_map (seq) {
        seq -> BigInt,
        item_id -> Text,
        item_seq -> BigInt,
    }
}

diesel::table! {
    item_search (rowid) {
        rowid -> BigInt,
        title -> Text,
        summary -> Text,
        body -> Text,
    }
}

// SQLite only: the newest rows of `item_search` again, for ranking (migration
// `2026-11-29-000011_recent_search`).
diesel::table! {
    item_search_recent (rowid) {
        rowid -> BigInt,
        title -> Text,
        summary -> Text,
        body -> Text,
    }
}

diesel::table! {
    item_search_recent_range (id) {
        id -> BigInt,
        low -> BigInt,
        size -> BigInt,
    }
}

diesel::joinable!(item_tags -> items (item_id));
diesel::joinable!(item_search_map -> items (item_id));
diesel::allow_tables_to_appear_in_same_query!(
    items,
    item_tags,
    item_versions,
    item_search_map,
    item_search,
    item_search_recent,
    attachments,
    subscriptions,
    idempotency_keys,
);
diesel::allow_tables_to_appear_in_same_query!(items, item_access);
diesel::allow_tables_to_appear_in_same_query!(items, organizations);
diesel::allow_tables_to_appear_in_same_query!(items, users);
diesel::allow_tables_to_appear_in_same_query!(items, group_members);
diesel::allow_tables_to_appear_in_same_query!(item_tags, item_access);
diesel::allow_tables_to_appear_in_same_query!(item_versions, item_access);
diesel::allow_tables_to_appear_in_same_query!(subscriptions, users);
diesel::allow_tables_to_appear_in_same_query!(subscriptions, item_access);
diesel::allow_tables_to_appear_in_same_query!(subscriptions, group_members);
diesel::allow_tables_to_appear_in_same_query!(item_versions, group_members);
diesel::allow_tables_to_appear_in_same_query!(users, item_access);
diesel::allow_tables_to_appear_in_same_query!(users, item_tags);
diesel::allow_tables_to_appear_in_same_query!(users, group_members);
diesel::allow_tables_to_appear_in_same_query!(organizations, item_access);
diesel::allow_tables_to_appear_in_same_query!(subscriptions, organizations);
diesel::allow_tables_to_appear_in_same_query!(item_tags, group_members);
