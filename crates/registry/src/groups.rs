//! Groups: named sets of organizations — Compact working groups, regional plans of action,
//! ad-hoc sharing circles — to which documents and updates can be addressed. Admin and
//! secretariat manage them; other users see the groups their organization belongs to.

use std::collections::BTreeSet;
use std::str::FromStr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use compact_auth::{Permission, Principal};
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::{group_members, groups, item_access, organizations};
use compact_db::{DbConnection, now};

use crate::{RegistryError, validate};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    WorkingGroup,
    RegionalPlan,
    SharingCircle,
}

impl GroupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupKind::WorkingGroup => "working_group",
            GroupKind::RegionalPlan => "regional_plan",
            GroupKind::SharingCircle => "sharing_circle",
        }
    }
}

impl FromStr for GroupKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            GroupKind::WorkingGroup,
            GroupKind::RegionalPlan,
            GroupKind::SharingCircle,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown group kind {s:?}"))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub name_normalized: String,
    pub kind: String,
    pub description: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A group with the ids of its member organizations.
#[derive(Debug, Clone)]
pub struct Group {
    pub row: GroupRow,
    pub members: Vec<String>,
}

pub struct GroupInput {
    pub name: String,
    pub kind: GroupKind,
    pub description: String,
    pub members: Vec<String>,
}

#[derive(Default)]
pub struct GroupPatch {
    pub name: Option<String>,
    pub kind: Option<GroupKind>,
    pub description: Option<String>,
    /// Replaces the whole membership.
    pub members: Option<Vec<String>>,
}

const MAX_MEMBERS: usize = 500;

fn checked_members(
    conn: &mut DbConnection,
    members: &[String],
) -> Result<BTreeSet<String>, RegistryError> {
    if members.len() > MAX_MEMBERS {
        return Err(RegistryError::invalid(
            "members",
            format!("at most {MAX_MEMBERS} organizations"),
        ));
    }
    let wanted: BTreeSet<String> = members.iter().map(|m| m.trim().to_owned()).collect();
    let ids: Vec<&String> = wanted.iter().collect();
    let found: Vec<String> = organizations::table
        .filter(organizations::id.eq_any(ids))
        .select(organizations::id)
        .load(conn)?;
    if let Some(missing) = wanted.iter().find(|id| !found.contains(id)) {
        return Err(RegistryError::invalid(
            "members",
            format!("no organization {missing:?}"),
        ));
    }
    Ok(wanted)
}

fn name_taken(
    conn: &mut DbConnection,
    normalized: &str,
    except: Option<&str>,
) -> Result<bool, RegistryError> {
    let mut query = groups::table
        .filter(groups::name_normalized.eq(normalized.to_owned()))
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(groups::id.ne(id.to_owned()));
    }
    Ok(query.count().get_result::<i64>(conn)? > 0)
}

fn set_members(
    conn: &mut DbConnection,
    group_id: &str,
    members: &BTreeSet<String>,
) -> Result<(), RegistryError> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id)))
        .execute(conn)?;
    let at = now();
    // One row at a time: the multi-backend connection cannot batch-insert a Vec.
    for org in members {
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(group_id),
                group_members::organization_id.eq(org),
                group_members::added_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Principal,
    input: GroupInput,
    audit_actor: Actor,
) -> Result<Group, RegistryError> {
    actor.require(Permission::RegistryManage)?;
    let name = validate::text("name", &input.name, 200)?;
    let normalized = name.to_lowercase();
    let description = validate::long_text("description", &input.description, 4000)?;
    if name_taken(conn, &normalized, None)? {
        return Err(RegistryError::Conflict(format!(
            "a group named {name:?} exists"
        )));
    }
    let members = checked_members(conn, &input.members)?;
    let id = uuid::Uuid::now_v7().to_string();
    let at = now();
    diesel::insert_into(groups::table)
        .values((
            groups::id.eq(&id),
            groups::name.eq(&name),
            groups::name_normalized.eq(&normalized),
            groups::kind.eq(input.kind.as_str()),
            groups::description.eq(&description),
            groups::created_at.eq(at),
            groups::updated_at.eq(at),
        ))
        .execute(conn)?;
    set_members(conn, &id, &members)?;
    let event = NewAuditEvent::new("group.create", Outcome::Success)
        .actor(audit_actor)
        .target("group", &id)
        .details(json!({ "name": name, "kind": input.kind, "members": members }));
    audit::append(conn, event)?;
    load(conn, &id)?.ok_or(RegistryError::NotFound)
}

pub fn update(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
    patch: GroupPatch,
    audit_actor: Actor,
) -> Result<Group, RegistryError> {
    actor.require(Permission::RegistryManage)?;
    let current = load(conn, id)?.ok_or(RegistryError::NotFound)?;
    let name = patch
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?
        .unwrap_or(current.row.name.clone());
    let normalized = name.to_lowercase();
    if normalized != current.row.name_normalized && name_taken(conn, &normalized, Some(id))? {
        return Err(RegistryError::Conflict(format!(
            "a group named {name:?} exists"
        )));
    }
    let description = patch
        .description
        .as_deref()
        .map(|d| validate::long_text("description", d, 4000))
        .transpose()?
        .unwrap_or(current.row.description.clone());
    let kind = patch
        .kind
        .map(GroupKind::as_str)
        .unwrap_or(&current.row.kind)
        .to_owned();
    diesel::update(groups::table.find(id))
        .set((
            groups::name.eq(&name),
            groups::name_normalized.eq(&normalized),
            groups::kind.eq(&kind),
            groups::description.eq(&description),
            groups::updated_at.eq(now()),
        ))
        .execute(conn)?;
    let mut details = json!({ "name": name, "kind": kind });
    if let Some(members) = &patch.members {
        let members = checked_members(conn, members)?;
        set_members(conn, id, &members)?;
        details["members"] = json!({ "from": current.members, "to": members });
        let added: Vec<&String> = members
            .iter()
            .filter(|m| !current.members.contains(m))
            .collect();
        if !added.is_empty() {
            // The new members see every item addressed to the group from now on: a widening
            // of those items' audiences, audited as such.
            let addressed: i64 = item_access::table
                .filter(item_access::grantee_type.eq("group"))
                .filter(item_access::grantee_id.eq(id))
                .filter(item_access::item_kind.ne("version"))
                .count()
                .get_result(conn)?;
            if addressed > 0 {
                audit::append(
                    conn,
                    NewAuditEvent::new("group.audience_widened", Outcome::Success)
                        .actor(audit_actor.clone())
                        .target("group", id)
                        .details(json!({ "added": added, "items_addressed": addressed })),
                )?;
            }
        }
    }
    audit::append(
        conn,
        NewAuditEvent::new("group.update", Outcome::Success)
            .actor(audit_actor)
            .target("group", id)
            .details(details),
    )?;
    load(conn, id)?.ok_or(RegistryError::NotFound)
}

pub fn delete(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
    audit_actor: Actor,
) -> Result<(), RegistryError> {
    actor.require(Permission::RegistryManage)?;
    let current = load(conn, id)?.ok_or(RegistryError::NotFound)?;
    diesel::delete(group_members::table.filter(group_members::group_id.eq(id))).execute(conn)?;
    diesel::delete(groups::table.find(id)).execute(conn)?;
    let event = NewAuditEvent::new("group.delete", Outcome::Success)
        .actor(audit_actor)
        .target("group", id)
        .details(json!({ "name": current.row.name, "members": current.members }));
    audit::append(conn, event)?;
    Ok(())
}

fn load(conn: &mut DbConnection, id: &str) -> Result<Option<Group>, RegistryError> {
    let Some(row) = groups::table
        .find(id)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let members = group_members::table
        .filter(group_members::group_id.eq(id))
        .select(group_members::organization_id)
        .order(group_members::organization_id.asc())
        .load(conn)?;
    Ok(Some(Group { row, members }))
}

/// Managers see every group; others only those their organization belongs to (others are
/// not found, not forbidden).
fn visible(actor: &Principal, group: &Group) -> bool {
    actor.role.can(Permission::RegistryManage) || group.members.contains(&actor.org_id)
}

pub fn get(conn: &mut DbConnection, actor: &Principal, id: &str) -> Result<Group, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    load(conn, id)?
        .filter(|g| visible(actor, g))
        .ok_or(RegistryError::NotFound)
}

pub fn list(conn: &mut DbConnection, actor: &Principal) -> Result<Vec<Group>, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    let mut query = groups::table
        .select(GroupRow::as_select())
        .order(groups::name_normalized.asc())
        .into_boxed();
    if !actor.role.can(Permission::RegistryManage) {
        let mine = group_members::table
            .filter(group_members::organization_id.eq(actor.org_id.clone()))
            .select(group_members::group_id);
        query = query.filter(groups::id.eq_any(mine));
    }
    let rows: Vec<GroupRow> = query.load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let memberships: Vec<(String, String)> = group_members::table
        .filter(group_members::group_id.eq_any(ids))
        .select((group_members::group_id, group_members::organization_id))
        .order(group_members::organization_id.asc())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let members = memberships
                .iter()
                .filter(|(g, _)| *g == row.id)
                .map(|(_, o)| o.clone())
                .collect();
            Group { row, members }
        })
        .collect())
}
