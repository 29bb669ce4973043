//! Focal-point nominations (DESIGN §3): a coordinator (or the secretariat on its behalf)
//! nominates a person; the secretariat or an admin decides; an approved focal point is an
//! account with the `focal_point` role. Every step is audited and mailed to the nominator
//! and the nominee through the outbox, in the transaction of the step.
//!
//! States: `pending → approved → active`, `pending → rejected | withdrawn`,
//! `approved | active → revoked | expired`. Approval of someone who already has an active
//! account of the organization makes the nomination `active` at once; a new person is
//! invited and the nomination stays `approved` until they accept (see [`run_scheduled`]).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use compact_auth::accounts::{self, MailContext};
use compact_auth::users::{self, Email, UserStatus};
use compact_auth::{Permission, Principal, Role};
use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::outbox::{self, NewMail};
use compact_db::schema::{nominations, organizations, users as user_table};
use compact_db::{DbConnection, now, write_transaction};

use crate::{RegistryError, validate};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NominationKind {
    Primary,
    Alternate,
}

impl NominationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NominationKind::Primary => "primary",
            NominationKind::Alternate => "alternate",
        }
    }
}

pub const PENDING: &str = "pending";
pub const APPROVED: &str = "approved";
pub const ACTIVE: &str = "active";
/// Nominations that hold a focal-point seat.
const SEATED: [&str; 2] = [APPROVED, ACTIVE];

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = nominations)]
pub struct Nomination {
    pub id: String,
    pub organization_id: String,
    pub nominee_name: String,
    pub nominee_email: String,
    #[serde(skip)]
    pub nominee_email_normalized: String,
    pub position: String,
    pub kind: String,
    pub mandate: String,
    pub replaces_user_id: Option<String>,
    pub term_end: Option<NaiveDateTime>,
    pub status: String,
    pub nominated_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub reason: Option<String>,
    pub user_id: Option<String>,
    pub activated_at: Option<NaiveDateTime>,
    pub ended_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub struct NominationInput {
    /// Defaults to the nominator's organization; only the secretariat and admins may name
    /// another.
    pub organization_id: Option<String>,
    pub nominee_name: String,
    pub nominee_email: String,
    pub position: String,
    pub kind: NominationKind,
    pub mandate: String,
    pub replaces_user_id: Option<String>,
    pub term_end: Option<NaiveDateTime>,
}

/// Registry settings that shape nominations.
#[derive(Debug, Clone)]
pub struct NominationRules {
    /// Alternates an organization may have at once.
    pub max_alternates: i64,
}

impl Default for NominationRules {
    fn default() -> Self {
        Self { max_alternates: 2 }
    }
}

/// What a step needs besides the connection.
pub struct StepContext<'a> {
    pub actor: &'a Principal,
    pub audit: Actor,
    pub mail: &'a MailContext,
    pub rules: &'a NominationRules,
}

fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Nomination>, RegistryError> {
    Ok(nominations::table
        .find(id)
        .select(Nomination::as_select())
        .first(conn)
        .optional()?)
}

/// Who may see a nomination: deciders all, nominators their organization's.
fn visible(actor: &Principal, nomination: &Nomination) -> bool {
    actor.has(Permission::NominationsDecide)
        || (actor.has(Permission::NominationsCreate) && nomination.organization_id == actor.org_id)
}

pub fn get(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
) -> Result<Nomination, RegistryError> {
    if !actor.has(Permission::NominationsDecide) {
        actor.require(Permission::NominationsCreate)?;
    }
    find(conn, id)?
        .filter(|n| visible(actor, n))
        .ok_or(RegistryError::NotFound)
}

#[derive(Debug, Default)]
pub struct NominationFilter {
    pub status: Option<String>,
    pub organization_id: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    actor: &Principal,
    filter: &NominationFilter,
) -> Result<Vec<Nomination>, RegistryError> {
    let all = actor.has(Permission::NominationsDecide);
    if !all {
        actor.require(Permission::NominationsCreate)?;
    }
    let mut query = nominations::table
        .select(Nomination::as_select())
        .order(nominations::created_at.desc())
        .into_boxed();
    if !all {
        query = query.filter(nominations::organization_id.eq(actor.org_id.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(nominations::status.eq(status.clone()));
    }
    if let Some(org) = &filter.organization_id {
        query = query.filter(nominations::organization_id.eq(org.clone()));
    }
    Ok(query.limit(1000).load(conn)?)
}

pub fn create(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    input: NominationInput,
) -> Result<Nomination, RegistryError> {
    let actor = ctx.actor;
    actor.require(Permission::NominationsCreate)?;
    let org_id = input
        .organization_id
        .unwrap_or_else(|| actor.org_id.clone());
    if org_id != actor.org_id && !actor.has(Permission::NominationsDecide) {
        return Err(RegistryError::Forbidden(
            "you can only nominate for your own organization".into(),
        ));
    }
    let org: Option<(String, String, String)> = organizations::table
        .find(&org_id)
        .select((
            organizations::name,
            organizations::status,
            organizations::email_domains,
        ))
        .first(conn)
        .optional()?;
    let Some((org_name, org_status, domains)) = org else {
        return Err(RegistryError::invalid(
            "organization_id",
            "no such organization",
        ));
    };
    if org_status != "active" {
        return Err(RegistryError::Conflict(
            "the organization is suspended".into(),
        ));
    }
    let name = validate::text("nominee_name", &input.nominee_name, 200)?;
    let email = Email::parse(&input.nominee_email)
        .map_err(|m| RegistryError::invalid("nominee_email", m))?;
    email
        .check_domain(&domains)
        .map_err(|m| RegistryError::invalid("nominee_email", m))?;
    let position = validate::text("position", &input.position, 200)?;
    let mandate = validate::long_text("mandate", &input.mandate, 4000)?;
    let at = now();
    if input.term_end.is_some_and(|end| end <= at) {
        return Err(RegistryError::invalid("term_end", "must be in the future"));
    }
    if let Some(replaced) = &input.replaces_user_id {
        let seated: i64 = nominations::table
            .filter(nominations::organization_id.eq(&org_id))
            .filter(nominations::user_id.eq(replaced))
            .filter(nominations::status.eq_any(SEATED))
            .count()
            .get_result(conn)?;
        if seated == 0 {
            return Err(RegistryError::invalid(
                "replaces_user_id",
                "is not a focal point of this organization",
            ));
        }
    }
    let pending_twin: i64 = nominations::table
        .filter(nominations::organization_id.eq(&org_id))
        .filter(nominations::nominee_email_normalized.eq(&email.normalized))
        .filter(nominations::status.eq_any([PENDING, APPROVED, ACTIVE]))
        .count()
        .get_result(conn)?;
    if pending_twin > 0 {
        return Err(RegistryError::Conflict(
            "this person is already nominated or a focal point of the organization".into(),
        ));
    }
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(nominations::table)
        .values((
            nominations::id.eq(&id),
            nominations::organization_id.eq(&org_id),
            nominations::nominee_name.eq(&name),
            nominations::nominee_email.eq(&email.display),
            nominations::nominee_email_normalized.eq(&email.normalized),
            nominations::position.eq(&position),
            nominations::kind.eq(input.kind.as_str()),
            nominations::mandate.eq(&mandate),
            nominations::replaces_user_id.eq(&input.replaces_user_id),
            nominations::term_end.eq(input.term_end.map(compact_db::truncate_to_micros)),
            nominations::status.eq(PENDING),
            nominations::nominated_by.eq(&actor.user_id),
            nominations::created_at.eq(at),
            nominations::updated_at.eq(at),
        ))
        .execute(conn)?;
    let nomination = find(conn, &id)?.ok_or(RegistryError::NotFound)?;
    record(
        conn,
        ctx,
        &nomination,
        "nomination.create",
        &format!(
            "{name} was nominated as {} focal point of {org_name}",
            input.kind.as_str()
        ),
    )?;
    Ok(nomination)
}

/// Moves a nomination from one of `from` to `to` if nobody else moved it first: of
/// concurrent decisions exactly one wins, the others get 409.
fn transition(
    conn: &mut DbConnection,
    id: &str,
    from: &[&str],
    to: &str,
    actor: &Principal,
    reason: Option<&str>,
) -> Result<(), RegistryError> {
    let at = now();
    let changed = diesel::update(
        nominations::table
            .find(id)
            .filter(nominations::status.eq_any(from)),
    )
    .set((
        nominations::status.eq(to),
        nominations::decided_by.eq(Some(&actor.user_id)),
        nominations::decided_at.eq(Some(at)),
        nominations::reason.eq(reason),
        nominations::updated_at.eq(at),
    ))
    .execute(conn)?;
    if changed != 1 {
        return Err(RegistryError::Conflict(format!(
            "the nomination is no longer {}",
            from.join(" or ")
        )));
    }
    Ok(())
}

fn decidable(
    conn: &mut DbConnection,
    actor: &Principal,
    id: &str,
) -> Result<Nomination, RegistryError> {
    actor.require(Permission::NominationsDecide)?;
    let nomination = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    if nomination.nominated_by == actor.user_id {
        return Err(RegistryError::Forbidden(
            "nobody decides a nomination they filed".into(),
        ));
    }
    Ok(nomination)
}

/// Approves a pending nomination: checks the seats, ends the replaced focal point's term,
/// and makes the nominee a focal point (promoting an account of the organization, or
/// inviting a new one).
pub fn approve(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    id: &str,
) -> Result<Nomination, RegistryError> {
    let nomination = decidable(conn, ctx.actor, id)?;
    if nomination.status != PENDING {
        return Err(RegistryError::Conflict(format!(
            "the nomination is {}",
            nomination.status
        )));
    }
    // Claim the decision first, so a concurrent approval fails here and changes nothing.
    transition(conn, id, &[PENDING], APPROVED, ctx.actor, None)?;
    // Approvals of different nominations of one organization compete for its seats: on
    // PostgreSQL they queue on the organization's row (SQLite's write lock already
    // serialises every write transaction).
    if let DbConnection::Pg(pg) = conn {
        organizations::table
            .find(&nomination.organization_id)
            .select(organizations::id)
            .for_update()
            .first::<String>(pg)?;
    }
    let org_active: bool = organizations::table
        .find(&nomination.organization_id)
        .select(organizations::status)
        .first::<String>(conn)?
        == "active";
    if !org_active {
        return Err(RegistryError::Conflict(
            "the organization is suspended".into(),
        ));
    }
    check_seats(conn, ctx, &nomination)?;

    let existing = users::find_by_email(conn, &nomination.nominee_email_normalized)?;
    let (user_id, status) = match existing {
        Some(account) if account.user.organization_id != nomination.organization_id => {
            return Err(RegistryError::Conflict(
                "the nominee has an account in another organization".into(),
            ));
        }
        Some(account) if account.user.status() == UserStatus::Deactivated => {
            return Err(RegistryError::Conflict(
                "the nominee's account is deactivated".into(),
            ));
        }
        Some(account) => {
            let seats: i64 = nominations::table
                .filter(nominations::user_id.eq(&account.user.id))
                .filter(nominations::status.eq_any(SEATED))
                .filter(nominations::id.ne(id))
                .count()
                .get_result(conn)?;
            if seats > 0 {
                return Err(RegistryError::Conflict(
                    "the nominee already holds a focal-point seat".into(),
                ));
            }
            if account.user.status() == UserStatus::Invited {
                accounts::reissue_invitation(conn, &account.user.id, ctx.mail)?;
            }
            if account.user.role() < Role::FocalPoint {
                diesel::update(user_table::table.find(&account.user.id))
                    .set((
                        user_table::role.eq(Role::FocalPoint.as_str()),
                        user_table::token_version.eq(user_table::token_version + 1),
                        user_table::updated_at.eq(now()),
                    ))
                    .execute(conn)?;
            }
            let status = if account.user.status() == UserStatus::Active {
                ACTIVE
            } else {
                APPROVED
            };
            (account.user.id, status)
        }
        None => {
            let invited = accounts::invite_to_organization(
                conn,
                &nomination.organization_id,
                &nomination.nominee_email,
                &nomination.nominee_name,
                Role::FocalPoint,
                ctx.mail,
                ctx.audit.clone(),
            )?;
            (invited.id, APPROVED)
        }
    };
    let at = now();
    diesel::update(nominations::table.find(id))
        .set((
            nominations::user_id.eq(Some(&user_id)),
            nominations::status.eq(status),
            nominations::activated_at.eq((status == ACTIVE).then_some(at)),
        ))
        .execute(conn)?;
    let nomination = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    let text = if status == ACTIVE {
        format!(
            "{} is now {} focal point.",
            nomination.nominee_name, nomination.kind
        )
    } else {
        format!(
            "The nomination of {} was approved; they become focal point once they accept the invitation sent to them.",
            nomination.nominee_name
        )
    };
    record(conn, ctx, &nomination, "nomination.approve", &text)?;
    Ok(nomination)
}

/// One primary and `max_alternates` alternates per organization; a new primary must name
/// the one it replaces, whose term then ends.
fn check_seats(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    nomination: &Nomination,
) -> Result<(), RegistryError> {
    let seated: Vec<(String, Option<String>)> = nominations::table
        .filter(nominations::organization_id.eq(&nomination.organization_id))
        .filter(nominations::kind.eq(&nomination.kind))
        .filter(nominations::status.eq_any(SEATED))
        .filter(nominations::id.ne(&nomination.id))
        .select((nominations::id, nominations::user_id))
        .load(conn)?;
    let limit = if nomination.kind == NominationKind::Primary.as_str() {
        1
    } else {
        ctx.rules.max_alternates
    };
    if (seated.len() as i64) < limit {
        return Ok(());
    }
    let replaced = nomination
        .replaces_user_id
        .as_ref()
        .and_then(|user| seated.iter().find(|(_, seat)| seat.as_ref() == Some(user)));
    let Some((replaced_id, replaced_user)) = replaced else {
        return Err(RegistryError::Conflict(format!(
            "the organization has its {} {} focal point(s); name the one this nomination replaces",
            limit, nomination.kind
        )));
    };
    end_term(
        conn,
        ctx,
        replaced_id,
        replaced_user.as_deref(),
        "revoked",
        "replaced by a new nomination",
    )?;
    Ok(())
}

/// Ends a seated nomination and steps its focal point back to `member` unless they hold
/// another seat.
fn end_term(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    id: &str,
    user_id: Option<&str>,
    to: &str,
    reason: &str,
) -> Result<(), RegistryError> {
    transition(conn, id, &SEATED, to, ctx.actor, Some(reason))?;
    diesel::update(nominations::table.find(id))
        .set(nominations::ended_at.eq(Some(now())))
        .execute(conn)?;
    if let Some(user_id) = user_id {
        step_down(conn, user_id)?;
    }
    let ended = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    record(
        conn,
        ctx,
        &ended,
        &format!(
            "nomination.{}",
            if to == "revoked" { "revoke" } else { "expire" }
        ),
        &format!(
            "The focal-point term of {} ended: {reason}.",
            ended.nominee_name
        ),
    )?;
    Ok(())
}

fn step_down(conn: &mut DbConnection, user_id: &str) -> Result<(), RegistryError> {
    let other_seats: i64 = nominations::table
        .filter(nominations::user_id.eq(user_id))
        .filter(nominations::status.eq_any(SEATED))
        .count()
        .get_result(conn)?;
    if other_seats == 0 {
        // Invited for this seat and never signed up: the invitation goes with the seat.
        accounts::cancel_invitation(conn, user_id)?;
        diesel::update(
            user_table::table
                .find(user_id)
                .filter(user_table::role.eq(Role::FocalPoint.as_str())),
        )
        .set((
            user_table::role.eq(Role::Member.as_str()),
            user_table::token_version.eq(user_table::token_version + 1),
            user_table::updated_at.eq(now()),
        ))
        .execute(conn)?;
    }
    Ok(())
}

fn reason_text(reason: Option<&str>) -> Result<Option<String>, RegistryError> {
    reason
        .map(|r| validate::long_text("reason", r, 2000))
        .transpose()
}

pub fn reject(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    id: &str,
    reason: Option<&str>,
) -> Result<Nomination, RegistryError> {
    let reason = reason_text(reason)?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| RegistryError::invalid("reason", "say why the nomination is rejected"))?;
    decidable(conn, ctx.actor, id)?;
    transition(conn, id, &[PENDING], "rejected", ctx.actor, Some(&reason))?;
    let nomination = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    record(
        conn,
        ctx,
        &nomination,
        "nomination.reject",
        &format!(
            "The nomination of {} was rejected: {reason}",
            nomination.nominee_name
        ),
    )?;
    Ok(nomination)
}

pub fn revoke(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    id: &str,
    reason: Option<&str>,
) -> Result<Nomination, RegistryError> {
    let reason = reason_text(reason)?
        .filter(|r| !r.is_empty())
        .ok_or_else(|| RegistryError::invalid("reason", "say why the focal point is revoked"))?;
    let nomination = decidable(conn, ctx.actor, id)?;
    end_term(
        conn,
        ctx,
        id,
        nomination.user_id.as_deref(),
        "revoked",
        &reason,
    )?;
    find(conn, id)?.ok_or(RegistryError::NotFound)
}

/// The nominator, or a nominator of the same organization, or a decider, withdraws a
/// pending nomination.
pub fn withdraw(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    id: &str,
) -> Result<Nomination, RegistryError> {
    let nomination = get(conn, ctx.actor, id)?;
    let own_org = nomination.organization_id == ctx.actor.org_id
        && ctx.actor.has(Permission::NominationsCreate);
    if !(own_org
        || nomination.nominated_by == ctx.actor.user_id
        || ctx.actor.has(Permission::NominationsDecide))
    {
        return Err(RegistryError::NotFound);
    }
    transition(conn, id, &[PENDING], "withdrawn", ctx.actor, None)?;
    let nomination = find(conn, id)?.ok_or(RegistryError::NotFound)?;
    record(
        conn,
        ctx,
        &nomination,
        "nomination.withdraw",
        &format!(
            "The nomination of {} was withdrawn.",
            nomination.nominee_name
        ),
    )?;
    Ok(nomination)
}

/// Scheduled work, safe to run on every node at once: each nomination is changed in a
/// transaction of its own by a conditional update, so it changes once. Approved
/// nominations whose nominee signed up become `active`; those whose invitation lapsed
/// unused expire (freeing the seat); terms past `term_end` expire and their focal points
/// step back to `member`. Returns (activated, expired).
pub fn run_scheduled(
    conn: &mut DbConnection,
    mail: &MailContext,
) -> Result<(usize, usize), RegistryError> {
    let at = now();
    let approved: Vec<(String, Option<String>)> = nominations::table
        .filter(nominations::status.eq(APPROVED))
        .select((nominations::id, nominations::user_id))
        .order(nominations::id.asc())
        .load(conn)?;
    let (mut activated, mut expired) = (0, 0);
    for (id, user_id) in approved {
        let Some(user_id) = user_id else { continue };
        let step = write_transaction(conn, |conn| -> Result<Option<&str>, RegistryError> {
            let status: Option<String> = user_table::table
                .find(&user_id)
                .select(user_table::status)
                .first(conn)
                .optional()?;
            let to = match status.as_deref() {
                Some("active") => ACTIVE,
                Some("invited") if accounts::has_open_invitation(conn, &user_id)? => {
                    return Ok(None);
                }
                _ => "expired",
            };
            let changed = diesel::update(
                nominations::table
                    .find(&id)
                    .filter(nominations::status.eq(APPROVED)),
            )
            .set((
                nominations::status.eq(to),
                nominations::activated_at.eq((to == ACTIVE).then_some(at)),
                nominations::ended_at.eq((to != ACTIVE).then_some(at)),
                nominations::updated_at.eq(at),
            ))
            .execute(conn)?;
            if changed != 1 {
                return Ok(None);
            }
            let nomination = find(conn, &id)?.ok_or(RegistryError::NotFound)?;
            let (action, subject, text) = if to == ACTIVE {
                (
                    "nomination.activate",
                    "Focal point active",
                    format!(
                        "{} signed up and is now {} focal point.",
                        nomination.nominee_name, nomination.kind
                    ),
                )
            } else {
                step_down(conn, &user_id)?;
                (
                    "nomination.expire",
                    "Focal-point nomination lapsed",
                    format!(
                        "{} did not accept the invitation in time; the seat is free again.",
                        nomination.nominee_name
                    ),
                )
            };
            audit::append(
                conn,
                NewAuditEvent::new(action, Outcome::Success)
                    .target("nomination", &id)
                    .details(json!({ "status": to })),
            )?;
            mail_parties(
                conn,
                mail,
                &nomination,
                &nomination.nominated_by,
                subject,
                &text,
            )?;
            Ok(Some(to))
        })?;
        match step {
            Some(ACTIVE) => activated += 1,
            Some(_) => expired += 1,
            None => {}
        }
    }
    let due: Vec<String> = nominations::table
        .filter(nominations::status.eq_any(SEATED))
        .filter(nominations::term_end.le(at))
        .select(nominations::id)
        .order(nominations::id.asc())
        .load(conn)?;
    for id in due {
        let ended = write_transaction(conn, |conn| -> Result<bool, RegistryError> {
            let changed = diesel::update(
                nominations::table
                    .find(&id)
                    .filter(nominations::status.eq_any(SEATED)),
            )
            .set((
                nominations::status.eq("expired"),
                nominations::ended_at.eq(Some(at)),
                nominations::updated_at.eq(at),
            ))
            .execute(conn)?;
            if changed != 1 {
                return Ok(false);
            }
            let nomination = find(conn, &id)?.ok_or(RegistryError::NotFound)?;
            if let Some(user_id) = &nomination.user_id {
                step_down(conn, user_id)?;
            }
            audit::append(
                conn,
                NewAuditEvent::new("nomination.expire", Outcome::Success)
                    .target("nomination", &id)
                    .details(json!({ "term_end": nomination.term_end })),
            )?;
            let text = format!(
                "The focal-point term of {} ended on {}.",
                nomination.nominee_name,
                at.format("%Y-%m-%d")
            );
            mail_parties(
                conn,
                mail,
                &nomination,
                &nomination.nominated_by,
                "Focal-point term ended",
                &text,
            )?;
            Ok(true)
        })?;
        expired += usize::from(ended);
    }
    Ok((activated, expired))
}

/// Ends every seat a user holds (their account was deactivated, or their role changed
/// away from focal point), in the caller's transaction.
pub fn end_seats_of(
    conn: &mut DbConnection,
    user_id: &str,
    reason: &str,
    audit_actor: Actor,
) -> Result<usize, RegistryError> {
    let seats: Vec<String> = nominations::table
        .filter(nominations::user_id.eq(user_id))
        .filter(nominations::status.eq_any(SEATED))
        .select(nominations::id)
        .load(conn)?;
    let at = now();
    for id in &seats {
        diesel::update(
            nominations::table
                .find(id)
                .filter(nominations::status.eq_any(SEATED)),
        )
        .set((
            nominations::status.eq("revoked"),
            nominations::reason.eq(Some(reason)),
            nominations::ended_at.eq(Some(at)),
            nominations::updated_at.eq(at),
        ))
        .execute(conn)?;
        let event = NewAuditEvent::new("nomination.revoke", Outcome::Success)
            .actor(audit_actor.clone())
            .target("nomination", id)
            .details(json!({ "reason": reason }));
        audit::append(conn, event)?;
    }
    Ok(seats.len())
}

/// Audits a step and mails the nominator and the nominee.
fn record(
    conn: &mut DbConnection,
    ctx: &StepContext<'_>,
    nomination: &Nomination,
    action: &str,
    text: &str,
) -> Result<(), RegistryError> {
    let event = NewAuditEvent::new(action, Outcome::Success)
        .actor(ctx.audit.clone())
        .target("nomination", &nomination.id)
        .details(json!({
            "organization_id": nomination.organization_id,
            "kind": nomination.kind,
            "status": nomination.status,
            "reason": nomination.reason,
        }));
    audit::append(conn, event)?;
    let subject = match action {
        "nomination.create" => "Focal-point nomination received",
        "nomination.approve" => "Focal-point nomination approved",
        "nomination.reject" => "Focal-point nomination rejected",
        "nomination.withdraw" => "Focal-point nomination withdrawn",
        "nomination.revoke" => "Focal-point designation revoked",
        _ => "Focal-point nomination update",
    };
    mail_parties(
        conn,
        ctx.mail,
        nomination,
        &nomination.nominated_by,
        subject,
        text,
    )
}

fn mail_parties(
    conn: &mut DbConnection,
    mail: &MailContext,
    nomination: &Nomination,
    nominator_id: &str,
    subject: &str,
    text: &str,
) -> Result<(), RegistryError> {
    let nominator: Option<String> = user_table::table
        .find(nominator_id)
        .select(user_table::email)
        .first(conn)
        .optional()?;
    let mut recipients = vec![nomination.nominee_email.clone()];
    if let Some(email) = nominator
        && !email.eq_ignore_ascii_case(&nomination.nominee_email)
    {
        recipients.push(email);
    }
    let body = format!(
        "{text}\n\nNomination: {kind} focal point, {position}\nStatus: {status}\nReference: {id}\n\n{url}\n",
        kind = nomination.kind,
        position = nomination.position,
        status = nomination.status,
        id = nomination.id,
        url = mail.public_url,
    );
    for recipient in recipients {
        let message = NewMail {
            recipient,
            subject: subject.to_owned(),
            body_text: body.clone(),
        };
        outbox::enqueue(conn, message, &mail.message_domain)?;
    }
    Ok(())
}
