//! Organizations: the Compact's entities, its secretariat, regional organizations and
//! member states. Admin and secretariat manage them; every signed-in user can list them.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use compact_auth::{Permission, Principal};
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::organizations;
use compact_db::{DbConnection, now};

use crate::{RegistryError, validate};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Secretariat,
    CompactEntity,
    RegionalOrganization,
    MemberState,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Secretariat,
        OrgKind::CompactEntity,
        OrgKind::RegionalOrganization,
        OrgKind::MemberState,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Secretariat => "secretariat",
            OrgKind::CompactEntity => "compact_entity",
            OrgKind::RegionalOrganization => "regional_organization",
            OrgKind::MemberState => "member_state",
        }
    }
}

impl fmt::Display for OrgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrgKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OrgKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown organization kind {s:?}"))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Suspended,
}

impl OrgStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgStatus::Active => "active",
            OrgStatus::Suspended => "suspended",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub acronym: String,
    pub acronym_normalized: String,
    pub kind: String,
    pub un_system: bool,
    pub status: String,
    pub email_domains: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Organization {
    pub fn domains(&self) -> Vec<String> {
        self.email_domains
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// A new organization.
pub struct OrganizationInput {
    pub name: String,
    pub acronym: String,
    pub kind: OrgKind,
    pub un_system: bool,
    pub email_domains: Vec<String>,
}

/// Fields to change; `None` keeps the current value.
#[derive(Default)]
pub struct OrganizationPatch {
    pub name: Option<String>,
    pub acronym: Option<String>,
    pub kind: Option<OrgKind>,
    pub un_system: Option<bool>,
    pub email_domains: Option<Vec<String>>,
    pub status: Option<OrgStatus>,
}

fn acronym(value: &str) -> Result<String, RegistryError> {
    let value = validate::text("acronym", value, 20)?;
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '&' | '.' | ' '))
    {
        return Err(RegistryError::invalid(
            "acronym",
            "letters, digits, spaces and - & . only",
        ));
    }
    Ok(value)
}

fn domains(values: &[String]) -> Result<String, RegistryError> {
    if values.len() > 20 {
        return Err(RegistryError::invalid(
            "email_domains",
            "at most 20 domains",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let domain = validate::domain("email_domains", value)?;
        if !out.contains(&domain) {
            out.push(domain);
        }
    }
    Ok(out.join(","))
}

fn acronym_taken(
    conn: &mut DbConnection,
    normalized: &str,
    except: Option<&str>,
) -> Result<bool, RegistryError> {
    let mut query = organizations::table
        .filter(organizations::acronym_normalized.eq(normalized.to_owned()))
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(organizations::id.ne(id.to_owned()));
    }
    Ok(query.count().get_result::<i64>(conn)? > 0)
}

pub fn create(
    conn: &mut DbConnection,
    actor: &Principal,
    input: OrganizationInput,
    audit_actor: Actor,
) -> Result<Organization, RegistryError> {
    actor.require(Permission::RegistryManage)?;
    if input.kind == OrgKind::Secretariat {
        return Err(RegistryError::Conflict(
            "there is one secretariat, created with the first administrator".into(),
        ));
    }
    let name = validate::text("name", &input.name, 200)?;
    let acronym = acronym(&input.acronym)?;
    let normalized = acronym.to_uppercase();
    let email_domains = domains(&input.email_domains)?;
    if acronym_taken(conn, &normalized, None)? {
        return Err(RegistryError::Conflict(format!(
            "the acronym {acronym} is taken"
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let at = now();
    diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(&id),
            organizations::name.eq(&name),
            organizations::acronym.eq(&acronym),
            organizations::acronym_normalized.eq(&normalized),
            organizations::kind.eq(input.kind.as_str()),
            organizations::un_system.eq(input.un_system),
            organizations::status.eq(OrgStatus::Active.as_str()),
            organizations::email_domains.eq(&email_domains),
            organizations::created_at.eq(at),
            organizations::updated_at.eq(at),
        ))
        .execute(conn)?;
    let event = NewAuditEvent::new("organization.create", Outcome::Success)
        .actor(audit_actor)
        .target("organization", &id)
        .details(json!({ "acronym": acronym, "kind": input.kind }));
    audit::append(conn, event)?;
    find(conn, &id)?.ok_or(RegistryError::NotFound)
}

/// Changes an organization; returns it and whether its status changed (the caller then
/// forgets cached user state, so a suspension cuts its users off at once).
pub fn update(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
    patch: OrganizationPatch,
    audit_actor: Actor,
) -> Result<(Organization, bool), RegistryError> {
    actor.require(Permission::RegistryManage)?;
    let current = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    let name = patch
        .name
        .as_deref()
        .map(|n| validate::text("name", n, 200))
        .transpose()?
        .unwrap_or(current.name.clone());
    let acronym = patch
        .acronym
        .as_deref()
        .map(acronym)
        .transpose()?
        .unwrap_or(current.acronym.clone());
    let normalized = acronym.to_uppercase();
    if normalized != current.acronym_normalized && acronym_taken(conn, &normalized, Some(id))? {
        return Err(RegistryError::Conflict(format!(
            "the acronym {acronym} is taken"
        )));
    }
    let email_domains = patch
        .email_domains
        .as_deref()
        .map(domains)
        .transpose()?
        .unwrap_or(current.email_domains.clone());
    let kind = patch
        .kind
        .map(OrgKind::as_str)
        .unwrap_or(&current.kind)
        .to_owned();
    if kind != current.kind
        && (kind == OrgKind::Secretariat.as_str() || current.kind == OrgKind::Secretariat.as_str())
    {
        return Err(RegistryError::Conflict(
            "there is one secretariat; its kind cannot change, nor can another take it".into(),
        ));
    }
    let un_system = patch.un_system.unwrap_or(current.un_system);
    let status = patch
        .status
        .map(OrgStatus::as_str)
        .unwrap_or(&current.status)
        .to_owned();
    if status != current.status
        && current.kind == OrgKind::Secretariat.as_str()
        && status == OrgStatus::Suspended.as_str()
    {
        return Err(RegistryError::Conflict(
            "the secretariat cannot be suspended".into(),
        ));
    }
    diesel::update(organizations::table.find(id))
        .set((
            organizations::name.eq(&name),
            organizations::acronym.eq(&acronym),
            organizations::acronym_normalized.eq(&normalized),
            organizations::kind.eq(&kind),
            organizations::un_system.eq(un_system),
            organizations::status.eq(&status),
            organizations::email_domains.eq(&email_domains),
            organizations::updated_at.eq(now()),
        ))
        .execute(conn)?;
    let status_changed = status != current.status;
    let action = match (status_changed, status.as_str()) {
        (true, "suspended") => "organization.suspend",
        (true, _) => "organization.reactivate",
        _ => "organization.update",
    };
    let event = NewAuditEvent::new(action, Outcome::Success)
        .actor(audit_actor)
        .target("organization", id)
        .details(json!({ "name": name, "acronym": acronym, "kind": kind, "un_system": un_system, "status": status, "email_domains": email_domains }));
    audit::append(conn, event)?;
    Ok((
        find(conn, id)?.ok_or(RegistryError::NotFound)?,
        status_changed,
    ))
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Organization>, RegistryError> {
    Ok(organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
        .optional()?)
}

pub fn get(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
) -> Result<Organization, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    find(conn, id)?.ok_or(RegistryError::NotFound)
}

#[derive(Debug, Default)]
pub struct OrganizationFilter {
    pub kind: Option<OrgKind>,
    pub status: Option<OrgStatus>,
}

/// Every organization, by acronym: the registry is public to signed-in users.
pub fn list(
    conn: &mut DbConnection,
    actor: &Principal,
    filter: &OrganizationFilter,
) -> Result<Vec<Organization>, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    let mut query = organizations::table
        .select(Organization::as_select())
        .order(organizations::acronym_normalized.asc())
        .into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(organizations::kind.eq(kind.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(organizations::status.eq(status.as_str()));
    }
    Ok(query.load(conn)?)
}
