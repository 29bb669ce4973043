//! Shared items (DESIGN §4): documents — long-lived, versioned, with attachments — and
//! updates — short dated posts for the feed. Both live in `items`, are owned by their
//! author's organization, and are seen only through their `item_access` grants: every read
//! here joins [`audience::visible_items`] (a GET by id its unboxed twin,
//! `audience::visible_item!`), so what a caller may not see is never fetched.

pub mod edit;
pub mod idempotency;

use std::str::FromStr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use compact_auth::{Permission, Principal};
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::{item_tags, items};
use compact_db::{DbConnection, MultiBackend, now, write_transaction};

use crate::audience::{self, Recipients, Tlp, Viewer};
use crate::search::index;
use crate::search::text::Language;
use crate::subscriptions;
use crate::{RegistryError, validate};
use compact_auth::accounts::MailContext;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Document,
    Update,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Document => "document",
            ItemKind::Update => "update",
        }
    }

    pub fn read_permission(self) -> Permission {
        match self {
            ItemKind::Document => Permission::DocumentsRead,
            ItemKind::Update => Permission::UpdatesRead,
        }
    }

    pub fn write_permission(self) -> Permission {
        match self {
            ItemKind::Document => Permission::DocumentsWrite,
            ItemKind::Update => Permission::UpdatesWrite,
        }
    }
}

/// What kind of document it is; updates have the type `update`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Report,
    Assessment,
    Guidance,
    MeetingRecord,
    Plan,
    Legal,
    Other,
}

impl DocType {
    pub const ALL: [DocType; 7] = [
        DocType::Report,
        DocType::Assessment,
        DocType::Guidance,
        DocType::MeetingRecord,
        DocType::Plan,
        DocType::Legal,
        DocType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocType::Report => "report",
            DocType::Assessment => "assessment",
            DocType::Guidance => "guidance",
            DocType::MeetingRecord => "meeting_record",
            DocType::Plan => "plan",
            DocType::Legal => "legal",
            DocType::Other => "other",
        }
    }
}

impl FromStr for DocType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        DocType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown document type {s:?}"))
    }
}

/// The `doc_type` stored for updates.
pub const UPDATE_TYPE: &str = "update";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = items)]
pub struct ItemRow {
    pub id: String,
    pub kind: String,
    pub owner_org_id: String,
    pub author_id: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub language: String,
    pub doc_type: String,
    pub tags: String,
    pub tlp: String,
    pub recipients: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub updated_by: String,
    pub deleted_at: Option<NaiveDateTime>,
}

/// An item with its JSON columns read.
#[derive(Debug, Clone)]
pub struct Item {
    pub row: ItemRow,
    pub tags: Vec<String>,
    pub recipients: Recipients,
}

impl Item {
    pub fn from_row(row: ItemRow) -> Item {
        // Written only by this module from typed values, so they always parse.
        let tags = serde_json::from_str(&row.tags).unwrap_or_default();
        let recipients = serde_json::from_str(&row.recipients).unwrap_or_default();
        Item {
            row,
            tags,
            recipients,
        }
    }

    pub fn tlp(&self) -> Tlp {
        self.row.tlp.parse().unwrap_or(Tlp::Red)
    }

    pub fn language(&self) -> Language {
        self.row.language.parse().unwrap_or(Language::Other)
    }

    pub fn kind(&self) -> ItemKind {
        if self.row.kind == "update" {
            ItemKind::Update
        } else {
            ItemKind::Document
        }
    }

    /// The entity tag of the current version, for `If-Match`.
    pub fn etag(&self) -> String {
        format!("\"v{}\"", self.row.version)
    }
}

/// What the author gives; for updates, `summary` is empty and `doc_type` is None.
#[derive(Debug, Clone, Serialize)]
pub struct ItemInput {
    pub title: String,
    pub summary: String,
    pub body: String,
    pub language: Language,
    pub doc_type: Option<DocType>,
    pub tags: Vec<String>,
    pub tlp: Tlp,
    pub recipients: Recipients,
}

pub const MAX_TITLE: usize = 300;
pub const MAX_SUMMARY: usize = 2_000;
pub const MAX_BODY: usize = 200_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;

/// Tags in lower case, letters, digits, `-` and `_` only, without duplicates.
pub fn checked_tags(tags: &[String]) -> Result<Vec<String>, RegistryError> {
    if tags.len() > MAX_TAGS {
        return Err(RegistryError::invalid(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        let ok = !tag.is_empty()
            && tag.chars().count() <= MAX_TAG_CHARS
            && tag
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(RegistryError::invalid(
                "tags",
                format!("{tag:?}: a tag is 1 to {MAX_TAG_CHARS} letters, digits, '-' or '_'"),
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Checks an item's fields, returning them cleaned.
pub(crate) fn checked_input(kind: ItemKind, input: &ItemInput) -> Result<ItemInput, RegistryError> {
    let title = validate::text("title", &input.title, MAX_TITLE)?;
    let summary = validate::long_text("summary", &input.summary, MAX_SUMMARY)?;
    let body = validate::long_text("body", &input.body, MAX_BODY)?;
    if kind == ItemKind::Update && body.is_empty() {
        return Err(RegistryError::invalid("body", "an update needs a body"));
    }
    if kind == ItemKind::Document && input.doc_type.is_none() {
        return Err(RegistryError::invalid("type", "a document needs a type"));
    }
    Ok(ItemInput {
        title,
        summary,
        body,
        language: input.language,
        doc_type: input.doc_type,
        tags: checked_tags(&input.tags)?,
        tlp: input.tlp,
        recipients: input.recipients.clone(),
    })
}

pub fn viewer_of(principal: &Principal) -> Viewer {
    Viewer::User {
        user_id: principal.user_id.clone(),
        org_id: principal.org_id.clone(),
    }
}

/// The result of a creation: the item, and whether it was a replay of an earlier request
/// with the same `Idempotency-Key`.
pub struct Created {
    pub item: Item,
    pub replayed: bool,
}

/// Shares a new item for the caller's organization. With an idempotency key, a retry of
/// the same request returns the first item, and the same key with another request is a 422.
/// Runs its own transactions: a concurrent twin that loses the race on the key is retried
/// once, and then finds the winner's item.
pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    input: &ItemInput,
    idempotency_key: Option<&str>,
    mail: &MailContext,
    audit_actor: &Actor,
) -> Result<Created, RegistryError> {
    principal.require(kind.write_permission())?;
    let input = checked_input(kind, input)?;
    let key = idempotency_key
        .map(|k| idempotency::Key::new(principal, kind, k, &input))
        .transpose()?;
    let attempt = |conn: &mut DbConnection| {
        write_transaction(conn, |conn| {
            if let Some(key) = &key
                && let Some(item_id) = idempotency::replay(conn, key)?
            {
                let item = get(conn, &viewer_of(principal), kind, &item_id)?;
                return Ok(Created {
                    item,
                    replayed: true,
                });
            }
            let item = insert(conn, principal, kind, &input, mail, audit_actor)?;
            if let Some(key) = &key {
                idempotency::record(conn, key, &item.row.id)?;
            }
            Ok(Created {
                item,
                replayed: false,
            })
        })
    };
    match attempt(conn) {
        Err(RegistryError::Conflict(_)) if key.is_some() => attempt(conn),
        other => other,
    }
}

fn insert(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    input: &ItemInput,
    mail: &MailContext,
    audit_actor: &Actor,
) -> Result<Item, RegistryError> {
    audience::check_recipients(conn, &input.recipients)?;
    let grants = audience::grants(
        input.tlp,
        &principal.org_id,
        &principal.user_id,
        &input.recipients,
    )?;
    let at = now();
    let row = ItemRow {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.as_str().into(),
        owner_org_id: principal.org_id.clone(),
        author_id: principal.user_id.clone(),
        title: input.title.clone(),
        summary: input.summary.clone(),
        body: input.body.clone(),
        language: input.language.as_str().into(),
        doc_type: input
            .doc_type
            .map_or(UPDATE_TYPE, DocType::as_str)
            .to_owned(),
        tags: json!(input.tags).to_string(),
        tlp: input.tlp.as_str().into(),
        recipients: json!(input.recipients).to_string(),
        version: 1,
        created_at: at,
        updated_at: at,
        updated_by: principal.user_id.clone(),
        deleted_at: None,
    };
    diesel::insert_into(items::table)
        .values(&row)
        .execute(conn)?;
    write_tags(conn, &row.id, &input.tags)?;
    audience::write_grants(conn, kind.as_str(), &row.id, &grants)?;
    index::index_item(conn, &row)?;
    audit::append(
        conn,
        NewAuditEvent::new(format!("{}.created", kind.as_str()), Outcome::Success)
            .actor(audit_actor.clone())
            .target(kind.as_str(), &row.id)
            // Counts, not names: whoever reads the audit log must not learn of RED audiences.
            .details(json!({
                "tlp": row.tlp,
                "recipient_organizations": input.recipients.organizations.len(),
                "recipient_groups": input.recipients.groups.len(),
                "recipient_users": input.recipients.users.len(),
            })),
    )?;
    let item = Item::from_row(row);
    subscriptions::notify(conn, mail, &item, subscriptions::Change::New)?;
    Ok(item)
}

pub(crate) fn write_tags(
    conn: &mut DbConnection,
    item_id: &str,
    tags: &[String],
) -> Result<(), RegistryError> {
    diesel::delete(item_tags::table.filter(item_tags::item_id.eq(item_id))).execute(conn)?;
    for tag in tags {
        diesel::insert_into(item_tags::table)
            .values((item_tags::item_id.eq(item_id), item_tags::tag.eq(tag)))
            .execute(conn)?;
    }
    Ok(())
}

/// One item the viewer may see, or NotFound — also when it exists but is not theirs.
pub fn get(
    conn: &mut DbConnection,
    viewer: &Viewer,
    kind: ItemKind,
    id: &str,
) -> Result<Item, RegistryError> {
    // Unboxed and run on the backend's own connection: through the multi-backend
    // connection, or boxed, diesel writes the statement's SQL out anew on every execution
    // to find it prepared (more of a GET's CPU than SQLite's own work); here the query's
    // type is the key. No LIMIT: the id is unique.
    let query = items::table
        .filter(items::id.eq(id))
        .filter(items::kind.eq(kind.as_str()))
        .filter(items::deleted_at.is_null())
        .filter(audience::visible_item!(viewer));
    // The selection names its backend.
    let row = match conn {
        DbConnection::Pg(pg) => query.select(ItemRow::as_select()).get_result(pg),
        DbConnection::Sqlite(sqlite) => query.select(ItemRow::as_select()).get_result(sqlite),
    }
    .optional()?
    .ok_or(RegistryError::NotFound)?;
    Ok(Item::from_row(row))
}

/// Where a newest-first listing resumes: after the item created at `created_at` with `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewestCursor {
    pub created_at: NaiveDateTime,
    pub id: String,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub after: Option<NewestCursor>,
    /// Only items created after this instant (for clients that poll).
    pub since: Option<NaiveDateTime>,
    pub limit: i64,
}

pub const MAX_PAGE: i64 = 100;

/// A page of results and, when there are more, where the next page starts.
pub struct Page<T, C> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// The viewer's items of a kind, newest first: the feed of updates, the list of documents.
pub fn list(
    conn: &mut DbConnection,
    viewer: &Viewer,
    kind: ItemKind,
    query: &ListQuery,
) -> Result<Page<Item, NewestCursor>, RegistryError> {
    let kinds = [kind.as_str()];
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut rows = items::table
        .into_boxed::<MultiBackend>()
        .filter(items::kind.eq(kind.as_str()))
        .filter(items::deleted_at.is_null())
        .filter(audience::visible_items(viewer, &kinds));
    if let Some(since) = query.since {
        rows = rows.filter(items::created_at.gt(since));
    }
    if let Some(after) = &query.after {
        rows = rows.filter(
            items::created_at.lt(after.created_at).or(items::created_at
                .eq(after.created_at)
                .and(items::id.lt(after.id.clone()))),
        );
    }
    let mut rows: Vec<ItemRow> = rows
        .order((items::created_at.desc(), items::id.desc()))
        .limit(limit + 1)
        .select(ItemRow::as_select())
        .load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| NewestCursor {
            created_at: r.created_at,
            id: r.id.clone(),
        })
    } else {
        None
    };
    Ok(Page {
        items: rows.into_iter().map(Item::from_row).collect(),
        next,
    })
}
