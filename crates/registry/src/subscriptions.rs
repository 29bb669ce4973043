//! Subscriptions (DESIGN §4): a user follows an organization, a group, a tag or everything,
//! and hears of new and changed items at once or in a daily digest. Only subscribers in the
//! item's audience are told — the audience is evaluated in SQL, as for every read — never
//! its author or editor, and always with the TLP in the subject line. Mail goes through the
//! outbox inside the item's own transaction.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{NaiveDateTime, NaiveTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use compact_auth::accounts::MailContext;
use compact_auth::users::second_factor_rule_met_sql;
use compact_auth::{Principal, Role};
use compact_db::schema::{
    digest_entries, digests_sent, group_members, groups, item_access, item_tags, items,
    organizations, subscriptions, users,
};
use compact_db::{DbConnection, MultiBackend, now, write_transaction};

use crate::RegistryError;
use crate::audience::{self, Tlp, Viewer};
use crate::items::{Item, ItemKind, checked_tags};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Organization,
    Group,
    Tag,
    Everything,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Organization => "organization",
            Target::Group => "group",
            Target::Tag => "tag",
            Target::Everything => "everything",
        }
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            Target::Organization,
            Target::Group,
            Target::Tag,
            Target::Everything,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
        .ok_or_else(|| format!("unknown subscription target {s:?}"))
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Immediate,
    Daily,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Immediate => "immediate",
            Delivery::Daily => "daily",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct Subscription {
    pub id: String,
    pub user_id: String,
    pub target_type: String,
    pub target_id: String,
    pub delivery: String,
    pub created_at: NaiveDateTime,
}

const MAX_PER_USER: i64 = 200;

/// Follows something. Groups must be ones the caller's organization belongs to (or any,
/// for those who manage the registry); a second subscription to the same target is a 409.
pub fn create(
    conn: &mut DbConnection,
    principal: &Principal,
    target: Target,
    target_id: Option<&str>,
    delivery: Delivery,
) -> Result<Subscription, RegistryError> {
    // A person's own mail, not a scope an API key carries; and not before the second factor.
    principal.require_session()?;
    let target_id = checked_target(conn, principal, target, target_id)?;
    let count: i64 = subscriptions::table
        .filter(subscriptions::user_id.eq(&principal.user_id))
        .count()
        .get_result(conn)?;
    if count >= MAX_PER_USER {
        return Err(RegistryError::invalid(
            "target",
            format!("at most {MAX_PER_USER} subscriptions"),
        ));
    }
    let row = Subscription {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: principal.user_id.clone(),
        target_type: target.as_str().into(),
        target_id,
        delivery: delivery.as_str().into(),
        created_at: now(),
    };
    let taken: i64 = subscriptions::table
        .filter(subscriptions::user_id.eq(&row.user_id))
        .filter(subscriptions::target_type.eq(&row.target_type))
        .filter(subscriptions::target_id.eq(&row.target_id))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(RegistryError::Conflict("you already follow this".into()));
    }
    diesel::insert_into(subscriptions::table)
        .values((
            subscriptions::id.eq(&row.id),
            subscriptions::user_id.eq(&row.user_id),
            subscriptions::target_type.eq(&row.target_type),
            subscriptions::target_id.eq(&row.target_id),
            subscriptions::delivery.eq(&row.delivery),
            subscriptions::created_at.eq(row.created_at),
        ))
        .execute(conn)?;
    Ok(row)
}

fn checked_target(
    conn: &mut DbConnection,
    principal: &Principal,
    target: Target,
    target_id: Option<&str>,
) -> Result<String, RegistryError> {
    let id = target_id.map(str::trim).unwrap_or_default();
    let missing = |what: &str| RegistryError::invalid("target_id", format!("no such {what}"));
    match target {
        Target::Everything => {
            if !id.is_empty() {
                return Err(RegistryError::invalid(
                    "target_id",
                    "following everything takes no target_id",
                ));
            }
            Ok(String::new())
        }
        Target::Tag => Ok(checked_tags(&[id.to_owned()])?.remove(0)),
        Target::Organization => {
            let found: i64 = organizations::table
                .filter(organizations::id.eq(id))
                .count()
                .get_result(conn)?;
            if found == 0 {
                return Err(missing("organization"));
            }
            Ok(id.to_owned())
        }
        Target::Group => {
            let mut query = groups::table.filter(groups::id.eq(id)).into_boxed();
            if !principal.has(compact_auth::Permission::RegistryManage) {
                let mine = group_members::table
                    .filter(group_members::organization_id.eq(principal.org_id.clone()))
                    .select(group_members::group_id);
                query = query.filter(groups::id.eq_any(mine));
            }
            let found: i64 = query.count().get_result(conn)?;
            if found == 0 {
                return Err(missing("group"));
            }
            Ok(id.to_owned())
        }
    }
}

pub fn list(
    conn: &mut DbConnection,
    principal: &Principal,
) -> Result<Vec<Subscription>, RegistryError> {
    principal.require_session()?;
    Ok(subscriptions::table
        .filter(subscriptions::user_id.eq(&principal.user_id))
        .order(subscriptions::created_at)
        .select(Subscription::as_select())
        .load(conn)?)
}

/// Stops following; someone else's subscription is a 404 like a missing one.
pub fn delete(
    conn: &mut DbConnection,
    principal: &Principal,
    id: &str,
) -> Result<(), RegistryError> {
    principal.require_session()?;
    let gone = diesel::delete(
        subscriptions::table
            .filter(subscriptions::id.eq(id))
            .filter(subscriptions::user_id.eq(&principal.user_id)),
    )
    .execute(conn)?;
    if gone == 0 {
        return Err(RegistryError::NotFound);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Changed,
}

/// Tells the subscribers of `item` who are in its audience, except whoever wrote it.
pub fn notify(
    conn: &mut DbConnection,
    mail: &MailContext,
    item: &Item,
    change: Change,
) -> Result<(), RegistryError> {
    let kind = item.kind();
    // The item's tags and groups as its own rows, written earlier in this transaction (a
    // group recipient is always a group grant), not as lists of values: the statement then
    // has one shape for every item, and SQLite keeps it prepared instead of parsing it on
    // every write, under the write lock.
    let tags = item_tags::table
        .filter(item_tags::item_id.eq(item.row.id.clone()))
        .select(item_tags::tag);
    let groups = item_access::table
        .filter(item_access::item_kind.eq(kind.as_str()))
        .filter(item_access::item_id.eq(item.row.id.clone()))
        .filter(item_access::grantee_type.eq("group"))
        .select(item_access::grantee_id);
    let targets = subscriptions::target_type
        .eq("everything")
        .and(subscriptions::target_id.eq(""))
        .or(subscriptions::target_type
            .eq("organization")
            .and(subscriptions::target_id.eq(item.row.owner_org_id.clone())))
        .or(subscriptions::target_type
            .eq("tag")
            .and(subscriptions::target_id.eq_any(tags)))
        .or(subscriptions::target_type
            .eq("group")
            .and(subscriptions::target_id.eq_any(groups)));
    let subscribers = |delivery: &'static str| {
        let following = subscriptions::table
            .filter(targets.clone())
            .filter(subscriptions::delivery.eq(delivery))
            .select(subscriptions::user_id);
        users::table
            .into_boxed::<MultiBackend>()
            .filter(audience::item_audience(kind.as_str(), &item.row.id))
            .filter(users::id.ne(item.row.author_id.clone()))
            .filter(users::id.ne(item.row.updated_by.clone()))
            .filter(users::id.eq_any(following))
            // Until they enrol a second factor, admins and the secretariat get no content.
            .filter(second_factor_rule_met_sql())
            .select((users::id, users::email))
    };
    // One notice per person; immediate wins over the digest.
    let mut by_user: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (user_id, email) in subscribers("daily").load::<(String, String)>(conn)? {
        by_user.insert(user_id, (email, false));
    }
    for (user_id, email) in subscribers("immediate").load::<(String, String)>(conn)? {
        by_user.insert(user_id, (email, true));
    }
    for (user_id, (email, immediate)) in by_user {
        if immediate {
            let (subject, body) = notice(mail, item, change);
            mail.send(conn, &email, &subject, body)?;
        } else {
            queue_for_digest(conn, &user_id, &item.row.id)?;
        }
    }
    Ok(())
}

fn queue_for_digest(
    conn: &mut DbConnection,
    user_id: &str,
    item_id: &str,
) -> Result<(), RegistryError> {
    let queued: i64 = digest_entries::table
        .filter(digest_entries::user_id.eq(user_id))
        .filter(digest_entries::item_id.eq(item_id))
        .count()
        .get_result(conn)?;
    if queued == 0 {
        diesel::insert_into(digest_entries::table)
            .values((
                digest_entries::user_id.eq(user_id),
                digest_entries::item_id.eq(item_id),
                digest_entries::created_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn noun(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Document => "document",
        ItemKind::Update => "update",
    }
}

fn item_link(mail: &MailContext, item: &Item) -> String {
    mail.link(&format!("/api/v1/{}s/{}", noun(item.kind()), item.row.id))
}

/// Subject and body of an immediate notice. Only TLP:CLEAR and TLP:GREEN items have their
/// summary in the mail; for the rest, the title and a link that needs signing in.
fn notice(mail: &MailContext, item: &Item, change: Change) -> (String, String) {
    let what = match change {
        Change::New => "New",
        Change::Changed => "Changed",
    };
    let tlp = item.tlp();
    let subject = format!(
        "[{}] {what} {}: {}",
        tlp.label(),
        noun(item.kind()),
        item.row.title
    );
    let mut body = format!("{}\n\n{}\n", tlp.label(), item.row.title);
    if matches!(tlp, Tlp::Clear | Tlp::Green) && !item.row.summary.is_empty() {
        body.push_str(&format!("\n{}\n", item.row.summary));
    }
    body.push_str(&format!(
        "\nRead it on the Compact Platform: {}\n\nYou receive this because you follow it; manage your subscriptions at {}.\n",
        item_link(mail, item),
        mail.link("/api/v1/subscriptions")
    ));
    (subject, body)
}

/// Sends each daily subscriber one digest of the items queued for them before today
/// (UTC), at most once per day: the `digests_sent` row for the day is written in the same
/// transaction as the mail, so a restart or a second node never sends it twice. The
/// audience is checked again at sending time. Returns how many digests went out.
pub fn send_digests(
    conn: &mut DbConnection,
    mail: &MailContext,
    at: NaiveDateTime,
) -> Result<usize, RegistryError> {
    let day_start = at.date().and_time(NaiveTime::MIN);
    let period = at.date().to_string();
    let waiting: Vec<String> = digest_entries::table
        .filter(digest_entries::created_at.lt(day_start))
        .select(digest_entries::user_id)
        .distinct()
        .load(conn)?;
    let mut sent = 0;
    for user_id in waiting {
        let done = write_transaction(conn, |conn| {
            send_digest(conn, mail, &user_id, &period, day_start, at)
        });
        match done {
            Ok(true) => sent += 1,
            Ok(false) | Err(RegistryError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

fn send_digest(
    conn: &mut DbConnection,
    mail: &MailContext,
    user_id: &str,
    period: &str,
    day_start: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<bool, RegistryError> {
    let already: i64 = digests_sent::table
        .filter(digests_sent::user_id.eq(user_id))
        .filter(digests_sent::period.eq(period))
        .count()
        .get_result(conn)?;
    if already > 0 {
        return Ok(false);
    }
    let entries = digest_entries::table
        .filter(digest_entries::user_id.eq(user_id))
        .filter(digest_entries::created_at.lt(day_start));
    let item_ids: Vec<String> = entries.select(digest_entries::item_id).load(conn)?;
    diesel::delete(entries).execute(conn)?;
    let reader: Option<(String, String, String, bool)> = users::table
        .inner_join(organizations::table.on(organizations::id.eq(users::organization_id)))
        .filter(users::id.eq(user_id))
        .filter(users::status.eq("active"))
        .filter(organizations::status.eq("active"))
        .select((
            users::organization_id,
            users::email,
            users::role,
            users::totp_enabled,
        ))
        .first(conn)
        .optional()?;
    let Some((org_id, email, role, enrolled)) = reader else {
        return Ok(false);
    };
    // As for immediate notices; checked again here, as the role may have changed since the
    // items were queued. An unknown role needs a second factor.
    let role: Option<Role> = role.parse().ok();
    if !role.is_some_and(|r| r.second_factor_rule_met(enrolled)) {
        return Ok(false);
    }
    let viewer = Viewer::User {
        user_id: user_id.to_owned(),
        org_id,
    };
    let kinds = ["document", "update"];
    let rows: Vec<crate::items::ItemRow> = items::table
        .into_boxed::<MultiBackend>()
        .filter(items::id.eq_any(item_ids))
        .filter(items::deleted_at.is_null())
        .filter(audience::visible_items(&viewer, &kinds))
        .order(items::created_at)
        .select(crate::items::ItemRow::as_select())
        .load(conn)?;
    if rows.is_empty() {
        return Ok(false);
    }
    diesel::insert_into(digests_sent::table)
        .values((
            digests_sent::user_id.eq(user_id),
            digests_sent::period.eq(period),
            digests_sent::sent_at.eq(at),
        ))
        .execute(conn)?;
    let items: Vec<Item> = rows.into_iter().map(Item::from_row).collect();
    let strictest = items.iter().map(Item::tlp).max().unwrap_or(Tlp::Clear);
    let subject = format!(
        "[{}] Your daily digest: {} new or changed item{}",
        strictest.label(),
        items.len(),
        if items.len() == 1 { "" } else { "s" }
    );
    let mut body = format!(
        "Items shared with you up to {period} (the strictest marking among them is {}):\n\n",
        strictest.label()
    );
    for item in &items {
        body.push_str(&format!(
            "- [{}] {}\n  {}\n",
            item.tlp().label(),
            item.row.title,
            item_link(mail, item)
        ));
    }
    mail.send(conn, &email, &subject, body)?;
    Ok(true)
}
