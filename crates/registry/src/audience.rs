//! Audiences (DESIGN §4): a TLP marking plus recipients decides who sees a shared item.
//! [`grants`] turns them into `item_access` rows, written with the item in one transaction;
//! [`visible_items`] is the SQL every read path joins (a GET by id its unboxed twin,
//! `visible_item!`), so nothing is filtered after a query and counts and pages stay exact.
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

use diesel::expression::BoxableExpression;
use diesel::sql_types::Bool;

use compact_db::schema::{
    group_members, groups, item_access, item_tags, item_versions, items, organizations, users,
};
use compact_db::{DbConnection, MultiBackend};

use crate::RegistryError;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

    /// The marking as written on the item (TLP 2.0), e.g. `TLP:AMBER+STRICT`.
    pub fn label(self) -> &'static str {
        match self {
            Tlp::Clear => "TLP:CLEAR",
            Tlp::Green => "TLP:GREEN",
            Tlp::Amber => "TLP:AMBER",
            Tlp::AmberStrict => "TLP:AMBER+STRICT",
            Tlp::Red => "TLP:RED",
        }
    }

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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

/// At most this many recipients, all kinds together.
pub const MAX_RECIPIENTS: usize = 200;

pub fn check_recipient_count(recipients: &Recipients) -> Result<(), RegistryError> {
    if recipients.organizations.len() + recipients.groups.len() + recipients.users.len()
        > MAX_RECIPIENTS
    {
        return Err(RegistryError::invalid(
            "recipients",
            format!("at most {MAX_RECIPIENTS} recipients"),
        ));
    }
    Ok(())
}

/// Checks that every recipient exists and is active (organizations and users) — a 422
/// naming the first that is not.
pub fn check_recipients(
    conn: &mut DbConnection,
    recipients: &Recipients,
) -> Result<(), RegistryError> {
    check_recipient_count(recipients)?;
    if recipients.is_empty() {
        // Most items go to everyone (TLP:CLEAR or GREEN): no lookups, no round trips.
        return Ok(());
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
    let active_orgs = organizations::table
        .filter(organizations::status.eq("active"))
        .select(organizations::id);
    let active: Vec<String> = users::table
        .filter(users::id.eq_any(ids))
        .filter(users::status.eq("active"))
        .filter(users::organization_id.eq_any(active_orgs))
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

/// Whether `new` lets in anyone `old` did not: each new grant must be covered by an old
/// one (a user by their organization, an organization by a group it belongs to). Groups
/// are only covered by themselves or by everyone, which may call a harmless change a
/// widening — erring on the side of the audit log.
pub fn widens(
    conn: &mut DbConnection,
    old: &BTreeSet<Grant>,
    new: &BTreeSet<Grant>,
) -> Result<bool, RegistryError> {
    let everyone = old.contains(&Grant::Public);
    let all_users = everyone || old.contains(&Grant::Platform);
    let old_groups: Vec<&String> = old
        .iter()
        .filter_map(|g| match g {
            Grant::Group(id) => Some(id),
            _ => None,
        })
        .collect();
    let org_covered = |conn: &mut DbConnection, org: &str| -> Result<bool, RegistryError> {
        if old.contains(&Grant::Organization(org.to_owned())) {
            return Ok(true);
        }
        let in_old_group: i64 = group_members::table
            .filter(group_members::organization_id.eq(org))
            .filter(group_members::group_id.eq_any(old_groups.clone()))
            .count()
            .get_result(conn)?;
        Ok(in_old_group > 0)
    };
    for grant in new.difference(old) {
        let covered = match grant {
            Grant::Public => everyone,
            Grant::Platform | Grant::Group(_) => all_users,
            Grant::Organization(org) => all_users || org_covered(conn, org)?,
            Grant::User(user) => {
                let org: Option<String> = users::table
                    .find(user)
                    .select(users::organization_id)
                    .first(conn)
                    .optional()?;
                all_users
                    || match org {
                        Some(org) => org_covered(conn, &org)?,
                        None => false,
                    }
            }
        };
        if !covered {
            return Ok(true);
        }
    }
    Ok(false)
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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Viewer {
    Anonymous,
    User { user_id: String, org_id: String },
}

/// The `item_access` rows that let a viewer see an item, as one query shape for every viewer
/// (an anonymous viewer is one with no organization, no id and only the public grant). It
/// stays unboxed: the multi-backend connection can only render subqueries it can type. The
/// broad grants are two fixed parameters, not an `IN` list, whose SQLite form (one
/// parameter per value) diesel cannot keep prepared: every read would parse and plan again.
macro_rules! viewer_grants {
    ($broad:expr, $user_id:expr, $org_id:expr, $kind_is:expr) => {{
        let my_groups = group_members::table
            .filter(group_members::organization_id.eq($org_id))
            .select(group_members::group_id);
        let (broad_a, broad_b): (&str, &str) = $broad;
        item_access::table.filter($kind_is).filter(
            item_access::grantee_type
                .eq(broad_a)
                .or(item_access::grantee_type.eq(broad_b))
                .or(item_access::grantee_type
                    .eq("organization")
                    .and(item_access::grantee_id.eq($org_id)))
                .or(item_access::grantee_type
                    .eq("user")
                    .and(item_access::grantee_id.eq($user_id)))
                .or(item_access::grantee_type
                    .eq("group")
                    .and(item_access::grantee_id.eq_any(my_groups))),
        )
    }};
}

/// The ids of the items a viewer may see (see [`viewer_grants`]).
macro_rules! visible_ids {
    ($broad:expr, $user_id:expr, $org_id:expr, $kinds:expr) => {{
        viewer_grants!(
            $broad,
            $user_id,
            $org_id,
            item_access::item_kind.eq_any($kinds)
        )
        .select(item_access::item_id)
    }};
}

/// "The viewer holds a grant for the item of kind `$kind` and id `$item_id`", asked per
/// item: both backends then probe the item's own grants (the primary key) rather than first
/// listing everything the viewer may see, which SQLite does for an `IN (…)` on every
/// statement. The kind is compared with `=` (the item's own column, or a constant), never
/// `= ANY(array)`: PostgreSQL then finds the generic plan of the prepared statement as
/// cheap as a custom one and stops re-planning it on every execution.
macro_rules! holds_grant {
    ($broad:expr, $user_id:expr, $org_id:expr, $kind:expr, $item_id:expr) => {{
        diesel::dsl::exists(
            $crate::audience::viewer_grants!(
                $broad,
                $user_id,
                $org_id,
                item_access::item_kind.eq($kind)
            )
            .filter(item_access::item_id.eq($item_id))
            .select(item_access::item_id),
        )
    }};
}
pub(crate) use {holds_grant, viewer_grants};

/// [`visible_items`] as a concrete expression on `items` rather than a boxed one, for a
/// query that wants its own type (see `items::get`): the item holds one of `viewer`'s
/// grants for its own kind. The caller filters on the kind it wants.
macro_rules! visible_item {
    ($viewer:expr) => {{
        use compact_db::schema::{group_members, item_access, items};
        let (broad, user_id, org_id) = $viewer.parts();
        $crate::audience::holds_grant!(broad, user_id, org_id, items::kind, items::id)
    }};
}
pub(crate) use visible_item;

impl Viewer {
    /// The two grants everyone with this viewer's standing gets (the same one twice when
    /// there is only one), and the viewer's ids ("" for none).
    pub(crate) fn parts(&self) -> ((&'static str, &'static str), &str, &str) {
        match self {
            Viewer::Anonymous => (("public", "public"), "", ""),
            Viewer::User { user_id, org_id } => (("public", "platform"), user_id, org_id),
        }
    }
}

/// Defines a function giving the condition "the item is one `viewer` may see" for a query
/// source that holds `items` (the multi-backend connection needs a concrete type for each).
macro_rules! visible_items_fn {
    ($(#[$doc:meta])* $name:ident, $source:ty) => {
        $(#[$doc])*
        pub fn $name<'a>(
            viewer: &'a Viewer,
            item_kinds: &'a [&'a str],
        ) -> Box<dyn BoxableExpression<$source, MultiBackend, SqlType = Bool> + 'a> {
            // Kinds with `=`, for the same reason as in `holds_grant`, and never `IN (…)`:
            // diesel would prepare the statement again on every read (`search::prepared`).
            let mut of_kind: Box<dyn BoxableExpression<$source, MultiBackend, SqlType = Bool> + 'a> =
                match item_kinds.first() {
                    Some(kind) => Box::new(items::kind.eq(*kind)),
                    None => Box::new(false.into_sql::<Bool>()),
                };
            for kind in item_kinds.iter().skip(1) {
                of_kind = Box::new(of_kind.or(items::kind.eq(*kind)));
            }
            Box::new(of_kind.and(visible_item!(viewer)))
        }
    };
}

visible_items_fn!(
    /// Condition on `items`: the item is one `viewer` may see. Every read path of items puts
    /// this (or, for a GET by id, its unboxed twin `visible_item!`) in its WHERE clause, so
    /// counts and pages only ever cover what the viewer may see.
    visible_items,
    items::table
);
visible_items_fn!(
    /// [`visible_items`] for `item_tags` joined to `items` (tag facets).
    visible_tagged_items,
    diesel::dsl::InnerJoinQuerySource<item_tags::table, items::table>
);

/// Condition on `item_versions`: the viewer was in the audience of that version.
pub fn visible_versions<'a>(
    viewer: &'a Viewer,
) -> Box<dyn BoxableExpression<item_versions::table, MultiBackend, SqlType = Bool> + 'a> {
    let (broad, user_id, org_id) = viewer.parts();
    Box::new(holds_grant!(
        broad,
        user_id,
        org_id,
        "version",
        item_versions::version_id
    ))
}

/// Condition on `users`: the user is active, in an active organization, and may see the
/// item — the item's side of [`visible_items`], for notifications.
pub fn item_audience<'a>(
    item_kind: &'a str,
    item_id: &'a str,
) -> Box<dyn BoxableExpression<users::table, MultiBackend, SqlType = Bool> + 'a> {
    let grants = |grantee_type: &'static str| {
        item_access::table
            .filter(item_access::item_kind.eq(item_kind))
            .filter(item_access::item_id.eq(item_id))
            .filter(item_access::grantee_type.eq(grantee_type))
            .select(item_access::grantee_id)
    };
    let everyone = item_access::table
        .filter(item_access::item_kind.eq(item_kind))
        .filter(item_access::item_id.eq(item_id))
        // Two comparisons, not `IN (?, ?)`, which SQLite would parse on every call.
        .filter(
            item_access::grantee_type
                .eq("public")
                .or(item_access::grantee_type.eq("platform")),
        )
        .select(item_access::item_id);
    let group_orgs = group_members::table
        .filter(group_members::group_id.eq_any(grants("group")))
        .select(group_members::organization_id);
    let active_orgs = organizations::table
        .filter(organizations::status.eq("active"))
        .select(organizations::id);
    Box::new(
        users::status
            .eq("active")
            .and(users::organization_id.eq_any(active_orgs))
            .and(
                diesel::dsl::exists(everyone)
                    .or(users::organization_id.eq_any(grants("organization")))
                    .or(users::organization_id.eq_any(group_orgs))
                    .or(users::id.eq_any(grants("user"))),
            ),
    )
}

/// The ids of all items of the `item_kinds` that `viewer` may see.
pub fn visible_item_ids(
    conn: &mut DbConnection,
    viewer: &Viewer,
    item_kinds: &[&str],
) -> Result<Vec<String>, RegistryError> {
    let (broad, user_id, org_id) = viewer.parts();
    Ok(visible_ids!(broad, user_id, org_id, item_kinds)
        .distinct()
        .load(conn)?)
}

/// Whether `viewer` may see one item.
pub fn can_see(
    conn: &mut DbConnection,
    viewer: &Viewer,
    item_kind: &str,
    item_id: &str,
) -> Result<bool, RegistryError> {
    let (broad, user_id, org_id) = viewer.parts();
    let hit: Option<String> = visible_ids!(broad, user_id, org_id, [item_kind])
        .filter(item_access::item_id.eq(item_id))
        .first(conn)
        .optional()?;
    Ok(hit.is_some())
}
