//! Audiences (DESIGN §4): a TLP marking plus recipients decides who sees a shared item.
//! [`grants`] turns them into `item_access` rows, written with the item in one transaction;
//! [`visible_items`] is the SQL every read path joins, so nothing is filtered after a query
//! and counts and pages stay exact.
//!
//! | TLP | who sees it |
//! |---|---|
//! | `clear` | everyone, signed in or not |
//! | `green` | every active user, or only the owner's and the named organizations' and groups' users |
//! | `amber`, `amber_strict` | the owner's users and the named organizations' and groups' users |
//! | `red` | the author and the named users |
//!
//! Deactivated users and suspended organizations never get this far: they cannot sign in.

use std::collections::BTreeSet;
use std::str::FromStr;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use compact_db::schema::{group_members, groups, item_access, organizations, users};
use compact_db::{DbConnection, MultiBackend};

use crate::RegistryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tlp {
    Clear,
    Green,
    Amber,
    AmberStrict,
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber_strict",
            Tlp::Red => "red",
        }
    }
}

impl FromStr for Tlp {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Tlp::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown TLP {s:?}"))
    }
}

/// Whom an item is addressed to, besides its owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    pub organizations: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub users: BTreeSet<String>,
}

impl Recipients {
    pub fn is_empty(&self) -> bool {
        self.organizations.is_empty() && self.groups.is_empty() && self.users.is_empty()
    }
}

/// One `item_access` row: who is granted sight of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    Public,
    Platform,
    Organization(String),
    Group(String),
    User(String),
}

impl Grant {
    fn columns(&self) -> (&'static str, &str) {
        match self {
            Grant::Public => ("public", ""),
            Grant::Platform => ("platform", ""),
            Grant::Organization(id) => ("organization", id),
            Grant::Group(id) => ("group", id),
            Grant::User(id) => ("user", id),
        }
    }
}

/// The grants of an item of `owner_org` by `author`, or why the combination makes no sense.
pub fn grants(
    tlp: Tlp,
    owner_org: &str,
    author: &str,
    recipients: &Recipients,
) -> Result<BTreeSet<Grant>, RegistryError> {
    let mut out = BTreeSet::new();
    let orgs_and_groups = |out: &mut BTreeSet<Grant>| {
        out.insert(Grant::Organization(owner_org.to_owned()));
        out.extend(
            recipients
                .organizations
                .iter()
                .cloned()
                .map(Grant::Organization),
        );
        out.extend(recipients.groups.iter().cloned().map(Grant::Group));
    };
    match tlp {
        Tlp::Clear => {
            if !recipients.is_empty() {
                return Err(RegistryError::invalid(
                    "recipients",
                    "TLP:CLEAR is for everyone; name no recipients",
                ));
            }
            out.insert(Grant::Public);
        }
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => {
            if !recipients.users.is_empty() {
                return Err(RegistryError::invalid(
                    "recipients",
                    "individual users can only be named on TLP:RED items",
                ));
            }
            if tlp == Tlp::Green
                && recipients.organizations.is_empty()
                && recipients.groups.is_empty()
            {
                out.insert(Grant::Platform);
            } else {
                orgs_and_groups(&mut out);
            }
        }
        Tlp::Red => {
            if !recipients.organizations.is_empty() || !recipients.groups.is_empty() {
                return Err(RegistryError::invalid(
                    "recipients",
                    "TLP:RED is for named users only, not organizations or groups",
                ));
            }
            if recipients.users.is_empty() {
                return Err(RegistryError::invalid(
                    "recipients",
                    "TLP:RED needs at least one named user",
                ));
            }
            out.insert(Grant::User(author.to_owned()));
            out.extend(recipients.users.iter().cloned().map(Grant::User));
        }
    }
    Ok(out)
}

/// Checks that every recipient exists and is active (organizations and users) — a 422
/// naming the first that is not.
pub fn check_recipients(
    conn: &mut DbConnection,
    recipients: &Recipients,
) -> Result<(), RegistryError> {
    const MAX: usize = 200;
    if recipients.organizations.len() + recipients.groups.len() + recipients.users.len() > MAX {
        return Err(RegistryError::invalid(
            "recipients",
            format!("at most {MAX} recipients"),
        ));
    }
    let ids: Vec<&String> = recipients.organizations.iter().collect();
    let active: Vec<String> = organizations::table
        .filter(organizations::id.eq_any(ids))
        .filter(organizations::status.eq("active"))
        .select(organizations::id)
        .load(conn)?;
    if let Some(missing) = recipients
        .organizations
        .iter()
        .find(|id| !active.contains(id))
    {
        return Err(RegistryError::invalid(
            "recipients.organizations",
            format!("{missing:?} is not an active organization"),
        ));
    }
    let ids: Vec<&String> = recipients.groups.iter().collect();
    let found: Vec<String> = groups::table
        .filter(groups::id.eq_any(ids))
        .select(groups::id)
        .load(conn)?;
    if let Some(missing) = recipients.groups.iter().find(|id| !found.contains(id)) {
        return Err(RegistryError::invalid(
            "recipients.groups",
            format!("{missing:?} is not a group"),
        ));
    }
    let ids: Vec<&String> = recipients.users.iter().collect();
    let active: Vec<String> = users::table
        .filter(users::id.eq_any(ids))
        .filter(users::status.eq("active"))
        .select(users::id)
        .load(conn)?;
    if let Some(missing) = recipients.users.iter().find(|id| !active.contains(id)) {
        return Err(RegistryError::invalid(
            "recipients.users",
            format!("{missing:?} is not an active user"),
        ));
    }
    Ok(())
}

/// Replaces an item's grants (call in the item's write transaction).
pub fn write_grants(
    conn: &mut DbConnection,
    item_kind: &str,
    item_id: &str,
    grants: &BTreeSet<Grant>,
) -> Result<(), RegistryError> {
    diesel::delete(
        item_access::table
            .filter(item_access::item_kind.eq(item_kind))
            .filter(item_access::item_id.eq(item_id)),
    )
    .execute(conn)?;
    // One row at a time: the multi-backend connection cannot batch-insert a Vec.
    for grant in grants {
        let (grantee_type, grantee_id) = grant.columns();
        diesel::insert_into(item_access::table)
            .values((
                item_access::item_kind.eq(item_kind),
                item_access::item_id.eq(item_id),
                item_access::grantee_type.eq(grantee_type),
                item_access::grantee_id.eq(grantee_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Who is reading: nobody (the public read endpoints) or an active user of an active
/// organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    User { user_id: String, org_id: String },
}

/// The ids of the items of `item_kind` that `viewer` may see, as a subquery for
/// `items::id.eq_any(…)` in every read path. It is boxed for the multi-backend connection,
/// so the query it goes into must be boxed too (`….into_boxed().filter(…)`).
pub fn visible_items<'a>(
    viewer: &'a Viewer,
    item_kind: &'a str,
) -> item_access::BoxedQuery<'a, MultiBackend, diesel::sql_types::Text> {
    let query = item_access::table
        .filter(item_access::item_kind.eq(item_kind))
        .select(item_access::item_id)
        .into_boxed();
    match viewer {
        Viewer::Anonymous => query.filter(item_access::grantee_type.eq("public")),
        Viewer::User { user_id, org_id } => {
            let my_groups = group_members::table
                .filter(group_members::organization_id.eq(org_id.as_str()))
                .select(group_members::group_id);
            query.filter(
                item_access::grantee_type
                    .eq_any(["public", "platform"])
                    .or(item_access::grantee_type
                        .eq("organization")
                        .and(item_access::grantee_id.eq(org_id.as_str())))
                    .or(item_access::grantee_type
                        .eq("user")
                        .and(item_access::grantee_id.eq(user_id.as_str())))
                    .or(item_access::grantee_type
                        .eq("group")
                        .and(item_access::grantee_id.eq_any(my_groups))),
            )
        }
    }
}

/// Whether `viewer` may see one item.
pub fn can_see(
    conn: &mut DbConnection,
    viewer: &Viewer,
    item_kind: &str,
    item_id: &str,
) -> Result<bool, RegistryError> {
    let hit: Option<String> = visible_items(viewer, item_kind)
        .filter(item_access::item_id.eq(item_id))
        .first(conn)
        .optional()?;
    Ok(hit.is_some())
}
