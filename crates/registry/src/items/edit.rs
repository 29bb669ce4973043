//! Changing shared items: edits by the owner organization (each keeping the previous
//! version), further sharing by recipients where the TLP allows it, and soft deletion.
//! Widening an audience or lowering a TLP is audited as such.

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use compact_auth::Principal;
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::{item_access, item_versions, items};
use compact_db::{DbConnection, MultiBackend, now};

use super::{
    DocType, Item, ItemInput, ItemKind, ItemRow, UPDATE_TYPE, checked_input, get, viewer_of,
    write_tags,
};
use crate::RegistryError;
use crate::audience::{self, Grant, Recipients, Tlp, Viewer};
use crate::search::index;
use crate::search::text::Language;
use crate::subscriptions::{self, Change};
use compact_auth::accounts::MailContext;

/// The fields to change; None leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct ItemPatch {
    pub title: Option<String>,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub language: Option<Language>,
    pub doc_type: Option<DocType>,
    pub tags: Option<Vec<String>>,
    pub tlp: Option<Tlp>,
    pub recipients: Option<Recipients>,
}

fn current_input(item: &Item) -> ItemInput {
    ItemInput {
        title: item.row.title.clone(),
        summary: item.row.summary.clone(),
        body: item.row.body.clone(),
        language: item.language(),
        doc_type: item.row.doc_type.parse().ok(),
        tags: item.tags.clone(),
        tlp: item.tlp(),
        recipients: item.recipients.clone(),
    }
}

fn grants_of(item: &Item, input: &ItemInput) -> Result<BTreeSet<Grant>, RegistryError> {
    audience::grants(
        input.tlp,
        &item.row.owner_org_id,
        &item.row.author_id,
        &input.recipients,
    )
}

/// The item for a change by `principal`: visible (else 404) and of its own organization
/// (else 403), with the write permission of its kind.
pub(crate) fn owned_item(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    id: &str,
) -> Result<Item, RegistryError> {
    principal.require(kind.write_permission())?;
    // The answer is the item itself: a write-only API key does not get to read through it.
    principal.require(kind.read_permission())?;
    let item = get(conn, &viewer_of(principal), kind, id)?;
    if item.row.owner_org_id != principal.org_id {
        return Err(RegistryError::Forbidden(
            "only the owner organization changes an item".into(),
        ));
    }
    Ok(item)
}

fn check_version(item: &Item, expected_etag: &str) -> Result<(), RegistryError> {
    if expected_etag.trim() != item.etag() {
        return Err(RegistryError::PreconditionFailed(format!(
            "the item changed since: its current ETag is {}",
            item.etag()
        )));
    }
    Ok(())
}

/// Edits an item of the caller's organization, given the ETag the caller last saw.
#[allow(clippy::too_many_arguments)]
pub fn update(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    id: &str,
    expected_etag: &str,
    patch: ItemPatch,
    mail: &MailContext,
    audit_actor: &Actor,
) -> Result<Item, RegistryError> {
    let item = owned_item(conn, principal, kind, id)?;
    check_version(&item, expected_etag)?;
    let old = current_input(&item);
    let wanted = ItemInput {
        title: patch.title.unwrap_or(old.title.clone()),
        summary: patch.summary.unwrap_or(old.summary.clone()),
        body: patch.body.unwrap_or(old.body.clone()),
        language: patch.language.unwrap_or(old.language),
        doc_type: patch.doc_type.or(old.doc_type),
        tags: patch.tags.unwrap_or(old.tags.clone()),
        tlp: patch.tlp.unwrap_or(old.tlp),
        recipients: patch.recipients.unwrap_or(old.recipients.clone()),
    };
    if kind == ItemKind::Update && wanted.doc_type.is_some() {
        return Err(RegistryError::invalid("type", "updates have no type"));
    }
    let wanted = checked_input(kind, &wanted)?;
    apply(conn, principal, item, wanted, mail, audit_actor)
}

/// Adds organizations and groups to an item's audience. The owner organization may always;
/// a recipient may on TLP:GREEN and TLP:AMBER items, never on TLP:AMBER+STRICT or TLP:RED.
#[allow(clippy::too_many_arguments)]
pub fn add_recipients(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    id: &str,
    more: Recipients,
    mail: &MailContext,
    audit_actor: &Actor,
) -> Result<Item, RegistryError> {
    principal.require(kind.write_permission())?;
    principal.require(kind.read_permission())?;
    let item = get(conn, &viewer_of(principal), kind, id)?;
    let tlp = item.tlp();
    if !more.users.is_empty() || tlp == Tlp::Red {
        return Err(RegistryError::Forbidden(
            "TLP:RED items are not shared further".into(),
        ));
    }
    if item.row.owner_org_id != principal.org_id && tlp == Tlp::AmberStrict {
        return Err(RegistryError::Forbidden(
            "TLP:AMBER+STRICT: only the owner organization adds recipients".into(),
        ));
    }
    if tlp == Tlp::Clear || (tlp == Tlp::Green && item.recipients.is_empty()) {
        return Err(RegistryError::invalid(
            "recipients",
            "the item is already shared with every user",
        ));
    }
    let mut wanted = current_input(&item);
    wanted.recipients.organizations.extend(more.organizations);
    wanted.recipients.groups.extend(more.groups);
    if wanted.recipients == item.recipients {
        // Nothing new: no version, no notices (a recipient could otherwise flood both).
        return Err(RegistryError::invalid(
            "recipients",
            "names no organization or group that is not a recipient already",
        ));
    }
    apply(conn, principal, item, wanted, mail, audit_actor)
}

/// Keeps the current state as a version, then writes `wanted` with its grants, tags and
/// search entry; audits, and notifies subscribers who are in the new audience.
fn apply(
    conn: &mut DbConnection,
    principal: &Principal,
    item: Item,
    wanted: ItemInput,
    mail: &MailContext,
    audit_actor: &Actor,
) -> Result<Item, RegistryError> {
    let kind = item.kind();
    let old = current_input(&item);
    let old_grants = grants_of(&item, &old)?;
    let new_grants = grants_of(&item, &wanted)?;
    let added = Recipients {
        organizations: &wanted.recipients.organizations - &old.recipients.organizations,
        groups: &wanted.recipients.groups - &old.recipients.groups,
        users: &wanted.recipients.users - &old.recipients.users,
    };
    audience::check_recipient_count(&wanted.recipients)?;
    audience::check_recipients(conn, &added)?;
    keep_version(conn, &item, &old_grants)?;
    let at = now();
    let doc_type = wanted.doc_type.map_or(UPDATE_TYPE, DocType::as_str);
    diesel::update(items::table.filter(items::id.eq(&item.row.id)))
        .set((
            items::title.eq(&wanted.title),
            items::summary.eq(&wanted.summary),
            items::body.eq(&wanted.body),
            items::language.eq(wanted.language.as_str()),
            items::doc_type.eq(doc_type),
            items::tags.eq(json!(wanted.tags).to_string()),
            items::tlp.eq(wanted.tlp.as_str()),
            items::recipients.eq(json!(wanted.recipients).to_string()),
            items::version.eq(item.row.version + 1),
            items::updated_at.eq(at),
            items::updated_by.eq(&principal.user_id),
        ))
        .execute(conn)?;
    write_tags(conn, &item.row.id, &wanted.tags)?;
    audience::write_grants(conn, kind.as_str(), &item.row.id, &new_grants)?;
    let row: ItemRow = items::table
        .find(&item.row.id)
        .select(ItemRow::as_select())
        .first(conn)?;
    index::index_item(conn, &row)?;
    audit::append(
        conn,
        NewAuditEvent::new(format!("{}.updated", kind.as_str()), Outcome::Success)
            .actor(audit_actor.clone())
            .target(kind.as_str(), &item.row.id)
            .details(json!({ "version": row.version })),
    )?;
    let widened = wanted.tlp < old.tlp || audience::widens(conn, &old_grants, &new_grants)?;
    if widened {
        audit::append(
            conn,
            NewAuditEvent::new(
                format!("{}.audience_widened", kind.as_str()),
                Outcome::Success,
            )
            .actor(audit_actor.clone())
            .target(kind.as_str(), &item.row.id)
            .details(json!({
                "from_tlp": old.tlp,
                "to_tlp": wanted.tlp,
                "added": added,
                "by_owner": principal.org_id == item.row.owner_org_id,
            })),
        )?;
    }
    let item = Item::from_row(row);
    subscriptions::notify(conn, mail, &item, Change::Changed)?;
    Ok(item)
}

/// Saves the state an edit replaces, readable by whoever was in its audience then.
fn keep_version(
    conn: &mut DbConnection,
    item: &Item,
    grants: &BTreeSet<Grant>,
) -> Result<(), RegistryError> {
    let version_id = format!("{}/v{}", item.row.id, item.row.version);
    diesel::insert_into(item_versions::table)
        .values((
            item_versions::version_id.eq(&version_id),
            item_versions::item_id.eq(&item.row.id),
            item_versions::version.eq(item.row.version),
            item_versions::title.eq(&item.row.title),
            item_versions::summary.eq(&item.row.summary),
            item_versions::body.eq(&item.row.body),
            item_versions::language.eq(&item.row.language),
            item_versions::doc_type.eq(&item.row.doc_type),
            item_versions::tags.eq(&item.row.tags),
            item_versions::tlp.eq(&item.row.tlp),
            item_versions::recipients.eq(&item.row.recipients),
            item_versions::edited_by.eq(&item.row.updated_by),
            item_versions::created_at.eq(item.row.updated_at),
        ))
        .execute(conn)?;
    audience::write_grants(conn, "version", &version_id, grants)
}

/// Soft-deletes an item: the row and its versions stay for the record, but every grant
/// goes, so nothing can read it any more.
pub fn delete(
    conn: &mut DbConnection,
    principal: &Principal,
    kind: ItemKind,
    id: &str,
    expected_etag: Option<&str>,
    audit_actor: &Actor,
) -> Result<(), RegistryError> {
    let item = owned_item(conn, principal, kind, id)?;
    if let Some(etag) = expected_etag {
        check_version(&item, etag)?;
    }
    diesel::update(items::table.filter(items::id.eq(id)))
        .set(items::deleted_at.eq(Some(now())))
        .execute(conn)?;
    let version_ids: Vec<String> = item_versions::table
        .filter(item_versions::item_id.eq(id))
        .select(item_versions::version_id)
        .load(conn)?;
    diesel::delete(
        item_access::table
            .filter(item_access::item_kind.eq(kind.as_str()))
            .filter(item_access::item_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(
        item_access::table
            .filter(item_access::item_kind.eq("version"))
            .filter(item_access::item_id.eq_any(version_ids)),
    )
    .execute(conn)?;
    index::unindex_item(conn, id)?;
    audit::append(
        conn,
        NewAuditEvent::new(format!("{}.deleted", kind.as_str()), Outcome::Success)
            .actor(audit_actor.clone())
            .target(kind.as_str(), id)
            .details(json!({ "tlp": item.row.tlp, "version": item.row.version })),
    )?;
    Ok(())
}

/// One earlier state of an item.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = item_versions)]
pub struct VersionRow {
    pub version: i32,
    pub edited_by: String,
    pub title: String,
    pub summary: String,
    pub body: String,
    pub language: String,
    pub doc_type: String,
    pub tags: String,
    pub tlp: String,
    pub created_at: NaiveDateTime,
}

/// The earlier versions of an item the viewer sees, newest first: only those whose
/// audience, when they were current, included the viewer.
pub fn versions(
    conn: &mut DbConnection,
    viewer: &Viewer,
    kind: ItemKind,
    id: &str,
) -> Result<Vec<VersionRow>, RegistryError> {
    get(conn, viewer, kind, id)?;
    Ok(item_versions::table
        .into_boxed::<MultiBackend>()
        .filter(item_versions::item_id.eq(id))
        .filter(audience::visible_versions(viewer))
        .order(item_versions::version.desc())
        .select(VersionRow::as_select())
        .load(conn)?)
}
