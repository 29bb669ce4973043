//! Managing people: the first admin, invitations, roles and status, password change and
//! reset. Every change is audited and mails go through the outbox in the same transaction.

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;

use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::outbox::{self, NewMail};
use compact_db::schema::users as user_table;
use compact_db::schema::{one_time_tokens, organizations};
use compact_db::{DbConnection, now};

use crate::secrets::{random_token, token_hash};
use crate::session::revoke_all_sessions;
use crate::users::{self, Email, UserRow, UserStatus};
use crate::{AuthError, Permission, Principal, Role};

pub const INVITATION_TTL_HOURS: i64 = 72;
pub const RESET_TTL_MINUTES: i64 = 30;

/// What mails need to say where the platform is.
#[derive(Debug, Clone)]
pub struct MailContext {
    pub public_url: String,
    pub message_domain: String,
}

impl MailContext {
    pub fn send(
        &self,
        conn: &mut DbConnection,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), AuthError> {
        outbox::enqueue(
            conn,
            NewMail {
                recipient: to.to_owned(),
                subject: subject.to_owned(),
                body_text: body,
            },
            &self.message_domain,
        )?;
        Ok(())
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }
}

fn validate_name(name: &str) -> Result<String, AuthError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AuthError::invalid(
            "name",
            "must be 1 to 200 characters without control characters",
        ));
    }
    Ok(name.to_owned())
}

fn insert_user(
    conn: &mut DbConnection,
    org_id: &str,
    email: &Email,
    name: &str,
    role: Role,
    password_hash: Option<String>,
) -> Result<UserRow, AuthError> {
    let taken: i64 = user_table::table
        .filter(user_table::email_normalized.eq(&email.normalized))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(AuthError::Conflict(
            "a user with this e-mail already exists".into(),
        ));
    }
    let at = now();
    let status = if password_hash.is_some() {
        UserStatus::Active
    } else {
        UserStatus::Invited
    };
    let row = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: org_id.to_owned(),
        email: email.display.clone(),
        email_normalized: email.normalized.clone(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        status: status.as_str().to_owned(),
        password_hash,
        token_version: 0,
        failed_logins: 0,
        locked_until: None,
        totp_secret: None,
        totp_enabled: false,
        totp_last_step: 0,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(user_table::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

fn issue_one_time_token(
    conn: &mut DbConnection,
    user_id: &str,
    purpose: &str,
    ttl: TimeDelta,
) -> Result<String, AuthError> {
    let token = random_token();
    let at = now();
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            one_time_tokens::user_id.eq(user_id),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::token_hash.eq(token_hash(&token)),
            one_time_tokens::created_at.eq(at),
            one_time_tokens::expires_at.eq(at + ttl),
        ))
        .execute(conn)?;
    Ok(token)
}

/// The secretariat organization `compact admin create` makes when there is none yet.
pub const SECRETARIAT_NAME: &str = "United Nations Office of Counter-Terrorism";
pub const SECRETARIAT_ACRONYM: &str = "UNOCT";

/// What makes a new admin's password guessable: their e-mail and name, and the name and
/// acronym of the secretariat `create_admin` puts them in (the existing one, or the one it
/// would create).
pub fn admin_password_context(
    conn: &mut DbConnection,
    email: &str,
    name: &str,
) -> Result<Vec<String>, AuthError> {
    let existing: Option<(String, String)> = organizations::table
        .filter(organizations::kind.eq("secretariat"))
        .order(organizations::created_at.asc())
        .select((organizations::name, organizations::acronym))
        .first(conn)
        .optional()?;
    let (org_name, acronym) =
        existing.unwrap_or_else(|| (SECRETARIAT_NAME.to_owned(), SECRETARIAT_ACRONYM.to_owned()));
    Ok(vec![
        email.trim().to_owned(),
        name.trim().to_owned(),
        org_name,
        acronym,
    ])
}

/// `compact admin create`: an admin in the secretariat organization (created if missing),
/// with a password, or invited through a single-use link (returned).
pub fn create_admin(
    conn: &mut DbConnection,
    email: &str,
    name: &str,
    password_hash: Option<String>,
) -> Result<(UserRow, Option<String>), AuthError> {
    let email = Email::parse(email).map_err(|m| AuthError::invalid("email", m))?;
    let name = validate_name(name)?;
    let org_id = users::ensure_secretariat(conn, SECRETARIAT_NAME, SECRETARIAT_ACRONYM)?;
    let has_password = password_hash.is_some();
    let user = insert_user(conn, &org_id, &email, &name, Role::Admin, password_hash)?;
    let token = if has_password {
        None
    } else {
        Some(issue_one_time_token(
            conn,
            &user.id,
            "invitation",
            TimeDelta::hours(INVITATION_TTL_HOURS),
        )?)
    };
    let event = NewAuditEvent::new("user.create_admin", Outcome::Success)
        .target("user", &user.id)
        .details(json!({ "via": "cli" }));
    audit::append(conn, event)?;
    Ok((user, token))
}

/// Who may manage `target`, and give it `new_role`. Coordinators (and the secretariat) only
/// in their own organization, only users up to coordinator; admins anyone. Nobody changes
/// their own role or status.
fn authorize(actor: &Principal, target: &UserRow, new_role: Option<Role>) -> Result<(), AuthError> {
    let ceiling = if actor.has(Permission::UsersManageAny) {
        Role::Admin
    } else {
        actor.require(Permission::UsersManageOwnOrg)?;
        if target.organization_id != actor.org_id {
            return Err(AuthError::NotFound);
        }
        Role::Coordinator
    };
    if target.role() > ceiling {
        return Err(AuthError::Forbidden(
            "you cannot manage a user with this role".into(),
        ));
    }
    if new_role == Some(Role::FocalPoint) && target.role() != Role::FocalPoint {
        return Err(AuthError::invalid(
            "role",
            "focal points are designated through nominations (/api/v1/nominations)",
        ));
    }
    if let Some(role) = new_role
        && role > ceiling
    {
        return Err(AuthError::Forbidden(format!(
            "you cannot give the role {role}"
        )));
    }
    if target.id == actor.user_id {
        return Err(AuthError::Conflict(
            "you cannot change your own role or status".into(),
        ));
    }
    Ok(())
}

pub struct Invitation {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Defaults to the inviter's organization.
    pub organization_id: Option<String>,
}

/// Invites a user: created as `invited`, mailed a single-use link valid 72 hours.
pub fn invite(
    conn: &mut DbConnection,
    actor: &Principal,
    invitation: Invitation,
    mail: &MailContext,
    audit_actor: Actor,
) -> Result<UserRow, AuthError> {
    let email = Email::parse(&invitation.email).map_err(|m| AuthError::invalid("email", m))?;
    let name = validate_name(&invitation.name)?;
    let org_id = invitation
        .organization_id
        .unwrap_or_else(|| actor.org_id.clone());
    let placeholder = UserRow {
        organization_id: org_id.clone(),
        role: Role::Member.as_str().into(),
        id: String::new(),
        ..blank()
    };
    authorize(actor, &placeholder, Some(invitation.role))?;
    invite_to_organization(
        conn,
        &org_id,
        &email.display,
        &name,
        invitation.role,
        mail,
        audit_actor,
    )
}

/// Creates an invited user in an organization and mails the invitation: for callers that
/// have already decided this is allowed (an invitation by a coordinator, an approved
/// focal-point nomination). The organization must be active and the e-mail within its
/// allowed domains.
pub fn invite_to_organization(
    conn: &mut DbConnection,
    org_id: &str,
    email: &str,
    name: &str,
    role: Role,
    mail: &MailContext,
    audit_actor: Actor,
) -> Result<UserRow, AuthError> {
    let email = Email::parse(email).map_err(|m| AuthError::invalid("email", m))?;
    let name = validate_name(name)?;
    let org_id = org_id.to_owned();
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
        return Err(AuthError::invalid(
            "organization_id",
            "no such organization",
        ));
    };
    if org_status != "active" {
        return Err(AuthError::Conflict("the organization is suspended".into()));
    }
    email
        .check_domain(&domains)
        .map_err(|m| AuthError::invalid("email", m))?;
    let user = insert_user(conn, &org_id, &email, &name, role, None)?;
    let token = issue_one_time_token(
        conn,
        &user.id,
        "invitation",
        TimeDelta::hours(INVITATION_TTL_HOURS),
    )?;
    let body = format!(
        "Hello {name},\n\nYou have been invited to the Compact Platform as {role} of {org_name}.\n\n\
         Set your password within {INVITATION_TTL_HOURS} hours to activate your account:\n{link}\n\n\
         (From a script: POST /api/v1/invitations/{token}/accept with {{\"password\": \"…\"}}.)\n\n\
         If you did not expect this, ignore this message.\n",
        link = mail.link(&format!("/invitations/{token}")),
    );
    mail.send(
        conn,
        &user.email,
        "Your invitation to the Compact Platform",
        body,
    )?;
    let event = NewAuditEvent::new("user.invite", Outcome::Success)
        .actor(audit_actor)
        .target("user", &user.id)
        .details(json!({ "role": role, "organization_id": org_id }));
    audit::append(conn, event)?;
    Ok(user)
}

fn blank() -> UserRow {
    let at = now();
    UserRow {
        id: String::new(),
        organization_id: String::new(),
        email: String::new(),
        email_normalized: String::new(),
        name: String::new(),
        role: String::new(),
        status: String::new(),
        password_hash: None,
        token_version: 0,
        failed_logins: 0,
        locked_until: None,
        totp_secret: None,
        totp_enabled: false,
        totp_last_step: 0,
        created_at: at,
        updated_at: at,
    }
}

/// Users the actor may see: their own organization's, or everyone's for admins.
pub fn list(
    conn: &mut DbConnection,
    actor: &Principal,
    organization_id: Option<&str>,
) -> Result<Vec<UserRow>, AuthError> {
    let any = actor.has(Permission::UsersManageAny);
    if !any {
        actor.require(Permission::UsersManageOwnOrg)?;
    }
    let mut query = user_table::table
        .select(UserRow::as_select())
        .order(user_table::email_normalized.asc())
        .into_boxed();
    let org = if any {
        organization_id.map(str::to_owned)
    } else {
        Some(actor.org_id.clone())
    };
    if let Some(org) = org {
        query = query.filter(user_table::organization_id.eq(org));
    }
    Ok(query.limit(1000).load(conn)?)
}

/// One user, if the actor may manage them.
pub fn get(
    conn: &mut DbConnection,
    actor: &Principal,
    user_id: &str,
) -> Result<UserRow, AuthError> {
    let target = users::find(conn, user_id)?.ok_or(AuthError::NotFound)?.user;
    if !actor.has(Permission::UsersManageAny) {
        actor.require(Permission::UsersManageOwnOrg)?;
        if target.organization_id != actor.org_id {
            return Err(AuthError::NotFound);
        }
    }
    Ok(target)
}

/// Changes a user's role and/or status. Either kills their access tokens at once.
pub fn update(
    conn: &mut DbConnection,
    actor: &Principal,
    user_id: &str,
    role: Option<Role>,
    status: Option<UserStatus>,
    audit_actor: Actor,
) -> Result<UserRow, AuthError> {
    let target = users::find(conn, user_id)?.ok_or(AuthError::NotFound)?.user;
    authorize(actor, &target, role)?;
    if status == Some(UserStatus::Invited) {
        return Err(AuthError::invalid(
            "status",
            "only active or deactivated can be set",
        ));
    }
    if status == Some(UserStatus::Active) && target.status() == UserStatus::Invited {
        return Err(AuthError::Conflict(
            "an invited user becomes active by accepting the invitation".into(),
        ));
    }
    let new_role = role.unwrap_or(target.role());
    let new_status = status.unwrap_or(target.status());
    if new_role == target.role() && new_status == target.status() {
        return Ok(target);
    }
    diesel::update(user_table::table.find(user_id))
        .set((
            user_table::role.eq(new_role.as_str()),
            user_table::status.eq(new_status.as_str()),
            user_table::token_version.eq(user_table::token_version + 1),
            user_table::updated_at.eq(now()),
        ))
        .execute(conn)?;
    if new_status == UserStatus::Deactivated {
        revoke_all_sessions(conn, user_id)?;
        spend_one_time_tokens(conn, user_id)?;
    }
    let event = NewAuditEvent::new("user.update", Outcome::Success)
        .actor(audit_actor)
        .target("user", user_id)
        .details(json!({
            "role": { "from": target.role(), "to": new_role },
            "status": { "from": target.status(), "to": new_status },
        }));
    audit::append(conn, event)?;
    Ok(users::find(conn, user_id)?.ok_or(AuthError::NotFound)?.user)
}

/// The user a valid, unused one-time token of `purpose` belongs to.
pub fn user_for_token(
    conn: &mut DbConnection,
    token: &str,
    purpose: &str,
) -> Result<UserRow, AuthError> {
    let user_id: Option<String> = one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(token_hash(token)))
        .filter(one_time_tokens::purpose.eq(purpose))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now()))
        .select(one_time_tokens::user_id)
        .first(conn)
        .optional()?;
    let user =
        users::find(conn, &user_id.ok_or(AuthError::NotFound)?)?.ok_or(AuthError::NotFound)?;
    Ok(user.user)
}

/// Spends a one-time token and sets the password: accepting an invitation activates the
/// user, a reset ends every session. Call with the hash of a password already checked.
pub fn redeem_token(
    conn: &mut DbConnection,
    token: &str,
    purpose: &str,
    password_hash: String,
    mail: &MailContext,
    ctx: Actor,
) -> Result<UserRow, AuthError> {
    let user = user_for_token(conn, token, purpose)?;
    let spent = diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(token_hash(token)))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(now()))
    .execute(conn)?;
    if spent != 1 {
        return Err(AuthError::NotFound);
    }
    let status = if purpose == "invitation" {
        UserStatus::Active
    } else {
        user.status()
    };
    if status == UserStatus::Deactivated {
        return Err(AuthError::NotFound);
    }
    diesel::update(user_table::table.find(&user.id))
        .set((
            user_table::password_hash.eq(Some(password_hash)),
            user_table::status.eq(status.as_str()),
            user_table::failed_logins.eq(0),
            user_table::locked_until.eq(None::<chrono::NaiveDateTime>),
            user_table::token_version.eq(user_table::token_version + 1),
            user_table::updated_at.eq(now()),
        ))
        .execute(conn)?;
    revoke_all_sessions(conn, &user.id)?;
    let action = if purpose == "invitation" {
        "user.accept_invitation"
    } else {
        "user.reset_password"
    };
    let actor = Actor {
        user_id: Some(user.id.clone()),
        org_id: Some(user.organization_id.clone()),
        ..ctx
    };
    audit::append(
        conn,
        NewAuditEvent::new(action, Outcome::Success)
            .actor(actor)
            .target("user", &user.id),
    )?;
    if purpose != "invitation" {
        notify_password_changed(conn, &user, mail)?;
    }
    Ok(users::find(conn, &user.id)?
        .ok_or(AuthError::NotFound)?
        .user)
}

/// Mails a reset link if the e-mail belongs to an active user; silent otherwise, so the
/// answer never tells whether an account exists.
pub fn request_password_reset(
    conn: &mut DbConnection,
    email: &str,
    mail: &MailContext,
    ctx: Actor,
) -> Result<(), AuthError> {
    let Some(account) = users::find_by_email(conn, email)? else {
        return Ok(());
    };
    if !account.may_sign_in() {
        return Ok(());
    }
    let token = issue_one_time_token(
        conn,
        &account.user.id,
        "password_reset",
        TimeDelta::minutes(RESET_TTL_MINUTES),
    )?;
    let body = format!(
        "Hello {name},\n\nSomeone asked to reset your Compact Platform password. Within {RESET_TTL_MINUTES} minutes, set a new one here:\n{link}\n\n\
         (From a script: POST /api/v1/auth/password-reset/{token} with {{\"password\": \"…\"}}.)\n\n\
         If it was not you, ignore this message; your password is unchanged.\n",
        name = account.user.name,
        link = mail.link(&format!("/password-reset/{token}")),
    );
    mail.send(
        conn,
        &account.user.email,
        "Reset your Compact Platform password",
        body,
    )?;
    let actor = Actor {
        user_id: Some(account.user.id.clone()),
        ..ctx
    };
    audit::append(
        conn,
        NewAuditEvent::new("user.request_password_reset", Outcome::Success).actor(actor),
    )?;
    Ok(())
}

/// Sets a new password (the current one was verified by the caller) and ends every session.
pub fn change_password(
    conn: &mut DbConnection,
    user_id: &str,
    password_hash: String,
    mail: &MailContext,
    actor: Actor,
) -> Result<UserRow, AuthError> {
    let user = users::find(conn, user_id)?.ok_or(AuthError::NotFound)?.user;
    diesel::update(user_table::table.find(user_id))
        .set((
            user_table::password_hash.eq(Some(password_hash)),
            user_table::token_version.eq(user_table::token_version + 1),
            user_table::updated_at.eq(now()),
        ))
        .execute(conn)?;
    revoke_all_sessions(conn, user_id)?;
    audit::append(
        conn,
        NewAuditEvent::new("user.change_password", Outcome::Success)
            .actor(actor)
            .target("user", user_id),
    )?;
    notify_password_changed(conn, &user, mail)?;
    Ok(user)
}

fn notify_password_changed(
    conn: &mut DbConnection,
    user: &UserRow,
    mail: &MailContext,
) -> Result<(), AuthError> {
    let body = format!(
        "Hello {},\n\nThe password of your Compact Platform account was just changed, and every session was signed out.\n\
         If this was not you, reset your password at once and tell your organization's coordinator.\n",
        user.name
    );
    mail.send(
        conn,
        &user.email,
        "Your Compact Platform password was changed",
        body,
    )
}

/// Makes every pending invitation or reset link of a user unusable.
fn spend_one_time_tokens(conn: &mut DbConnection, user_id: &str) -> Result<(), AuthError> {
    diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::user_id.eq(user_id))
            .filter(one_time_tokens::used_at.is_null()),
    )
    .set(one_time_tokens::used_at.eq(now()))
    .execute(conn)?;
    Ok(())
}

/// Withdraws an invitation: the still-invited user is deactivated and their link spent
/// (a focal-point nomination revoked or expired before they signed up).
pub fn cancel_invitation(conn: &mut DbConnection, user_id: &str) -> Result<bool, AuthError> {
    let changed = diesel::update(
        user_table::table
            .find(user_id)
            .filter(user_table::status.eq(UserStatus::Invited.as_str())),
    )
    .set((
        user_table::status.eq(UserStatus::Deactivated.as_str()),
        user_table::token_version.eq(user_table::token_version + 1),
        user_table::updated_at.eq(now()),
    ))
    .execute(conn)?;
    spend_one_time_tokens(conn, user_id)?;
    Ok(changed == 1)
}

/// Mails a still-invited user a fresh 72-hour link, spending any earlier one.
pub fn reissue_invitation(
    conn: &mut DbConnection,
    user_id: &str,
    mail: &MailContext,
) -> Result<(), AuthError> {
    let user = users::find(conn, user_id)?.ok_or(AuthError::NotFound)?;
    if user.user.status() != UserStatus::Invited {
        return Err(AuthError::Conflict(
            "the user is not waiting for an invitation".into(),
        ));
    }
    spend_one_time_tokens(conn, user_id)?;
    let token = issue_one_time_token(
        conn,
        user_id,
        "invitation",
        TimeDelta::hours(INVITATION_TTL_HOURS),
    )?;
    let body = format!(
        "Hello {name},\n\nYou have been invited to the Compact Platform as {role} of {org}.\n\n\
         Set your password within {INVITATION_TTL_HOURS} hours to activate your account:\n{link}\n\n\
         (From a script: POST /api/v1/invitations/{token}/accept with {{\"password\": \"…\"}}.)\n",
        name = user.user.name,
        role = user.user.role(),
        org = user.org_name,
        link = mail.link(&format!("/invitations/{token}")),
    );
    mail.send(
        conn,
        &user.user.email,
        "Your invitation to the Compact Platform",
        body,
    )
}

/// Whether the user still has an unused, unexpired invitation.
pub fn has_open_invitation(conn: &mut DbConnection, user_id: &str) -> Result<bool, AuthError> {
    let open: i64 = one_time_tokens::table
        .filter(one_time_tokens::user_id.eq(user_id))
        .filter(one_time_tokens::purpose.eq("invitation"))
        .filter(one_time_tokens::used_at.is_null())
        .filter(one_time_tokens::expires_at.gt(now()))
        .count()
        .get_result(conn)?;
    Ok(open > 0)
}
