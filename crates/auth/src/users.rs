//! Users and the minimum of organizations that identity needs.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use diesel::expression::BoxableExpression;
use diesel::sql_types::Bool;

use compact_db::schema::{organizations, users};
use compact_db::{DbConnection, MultiBackend, now};

use crate::{AuthError, Role};

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Invited,
    Active,
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
    }
}

impl FromStr for UserStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            UserStatus::Invited,
            UserStatus::Active,
            UserStatus::Deactivated,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown status {s:?}"))
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An e-mail address as stored: trimmed, checked, compared in lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub normalized: String,
}

impl Email {
    /// A deliberately plain check: one `@`, a dotted domain, no spaces or control characters
    /// (so nothing can smuggle a header into a mail), at most 254 characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let display = raw.trim();
        if display.is_empty() || display.len() > 254 {
            return Err("must be an e-mail address of at most 254 characters".into());
        }
        if display.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        }) {
            return Err("must not contain spaces, control characters or <>,;\"".into());
        }
        let Some((local, domain)) = display.rsplit_once('@') else {
            return Err("must contain @".into());
        };
        if local.is_empty()
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err("is not a valid e-mail address".into());
        }
        Ok(Self {
            display: display.to_owned(),
            normalized: display.to_lowercase(),
        })
    }

    /// Checks the address against an organization's allowed domains (comma-separated; empty
    /// allows any); the error says which are allowed.
    pub fn check_domain(&self, allowed_csv: &str) -> Result<(), String> {
        let allowed: Vec<&str> = allowed_csv
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .collect();
        if allowed.is_empty() || allowed.contains(&self.domain()) {
            return Ok(());
        }
        Err(format!(
            "must be at one of the organization's domains: {}",
            allowed.join(", ")
        ))
    }

    pub fn domain(&self) -> &str {
        self.normalized
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub email_normalized: String,
    pub name: String,
    pub role: String,
    pub status: String,
    pub password_hash: Option<String>,
    pub token_version: i32,
    pub failed_logins: i32,
    pub locked_until: Option<NaiveDateTime>,
    pub totp_secret: Option<String>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Member)
    }

    pub fn status(&self) -> UserStatus {
        self.status.parse().unwrap_or(UserStatus::Deactivated)
    }
}

/// What a user may see of their own account: the row without its secrets.
#[derive(Debug, Clone)]
pub struct UserProfile {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub status: String,
    pub totp_enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<UserRow> for UserProfile {
    fn from(u: UserRow) -> Self {
        Self {
            id: u.id,
            organization_id: u.organization_id,
            email: u.email,
            name: u.name,
            role: u.role,
            status: u.status,
            totp_enabled: u.totp_enabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A user with their organization's status, as every access decision needs both.
#[derive(Debug, Clone)]
pub struct UserWithOrg {
    pub user: UserRow,
    pub org_active: bool,
    pub org_name: String,
}

impl UserWithOrg {
    /// May this user act at all? Active, in an active organization.
    pub fn may_sign_in(&self) -> bool {
        self.user.status() == UserStatus::Active && self.org_active
    }
}

/// [`Role::second_factor_rule_met`] in SQL, for choosing among `users` whom the platform
/// mails its content: those whose role needs no second factor, or who enrolled one. Roles
/// are listed one comparison each (not as a list of values), so statements using it keep
/// one shape and stay prepared; an unknown role needs a second factor.
pub fn second_factor_rule_met_sql()
-> Box<dyn BoxableExpression<users::table, MultiBackend, SqlType = Bool>> {
    let mut met: Box<dyn BoxableExpression<users::table, MultiBackend, SqlType = Bool>> =
        Box::new(users::totp_enabled.eq(true));
    for role in Role::ALL {
        if role.second_factor_rule_met(false) {
            met = Box::new(met.or(users::role.eq(role.as_str())));
        }
    }
    met
}

pub fn find_by_email(
    conn: &mut DbConnection,
    email: &str,
) -> Result<Option<UserWithOrg>, AuthError> {
    lookup(conn, Lookup::Email(&email.trim().to_lowercase()))
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<UserWithOrg>, AuthError> {
    lookup(conn, Lookup::Id(id))
}

enum Lookup<'a> {
    Id(&'a str),
    Email(&'a str),
}

fn lookup(conn: &mut DbConnection, by: Lookup<'_>) -> Result<Option<UserWithOrg>, AuthError> {
    let query = users::table
        .inner_join(organizations::table)
        .select((
            UserRow::as_select(),
            organizations::status,
            organizations::name,
        ))
        .into_boxed();
    let query = match by {
        Lookup::Id(id) => query.filter(users::id.eq(id.to_owned())),
        Lookup::Email(email) => query.filter(users::email_normalized.eq(email.to_owned())),
    };
    let row: Option<(UserRow, String, String)> = query.first(conn).optional()?;
    Ok(row.map(|(user, org_status, org_name)| UserWithOrg {
        user,
        org_active: org_status == "active",
        org_name,
    }))
}

/// A new organization, for `compact admin create` (the registry manages them otherwise).
pub fn ensure_secretariat(
    conn: &mut DbConnection,
    name: &str,
    acronym: &str,
) -> Result<String, AuthError> {
    let existing: Option<String> = organizations::table
        .filter(organizations::kind.eq("secretariat"))
        .select(organizations::id)
        .order(organizations::created_at.asc())
        .first(conn)
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let at = now();
    diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(&id),
            organizations::name.eq(name),
            organizations::acronym.eq(acronym),
            organizations::acronym_normalized.eq(acronym.to_uppercase()),
            organizations::kind.eq("secretariat"),
            organizations::un_system.eq(true),
            organizations::status.eq("active"),
            organizations::email_domains.eq(""),
            organizations::created_at.eq(at),
            organizations::updated_at.eq(at),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Kills every access token of the user at their next use.
pub fn bump_token_version(conn: &mut DbConnection, user_id: &str) -> Result<(), AuthError> {
    diesel::update(users::table.find(user_id))
        .set((
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use compact_db::testing::TestDatabase;

    /// The SQL form picks exactly the users the Rust rule (which decides tokens) lets act.
    #[test]
    fn the_second_factor_rule_reads_the_same_in_sql() {
        let (_test_db, db) = TestDatabase::migrated();
        let mut conn = db.get().expect("connection");
        let org = ensure_secretariat(&mut conn, "Secretariat", "SEC").expect("organization");
        let mut expected = Vec::new();
        for role in Role::ALL {
            for enrolled in [false, true] {
                let at = now();
                let id = uuid::Uuid::now_v7().to_string();
                let email = format!("{role}-{enrolled}@example.org");
                let row = UserRow {
                    id: id.clone(),
                    organization_id: org.clone(),
                    email: email.clone(),
                    email_normalized: email,
                    name: "Someone".into(),
                    role: role.as_str().into(),
                    status: UserStatus::Active.as_str().into(),
                    password_hash: None,
                    token_version: 0,
                    failed_logins: 0,
                    locked_until: None,
                    totp_secret: None,
                    totp_enabled: enrolled,
                    totp_last_step: 0,
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(users::table)
                    .values(&row)
                    .execute(&mut *conn)
                    .expect("insert user");
                if role.second_factor_rule_met(enrolled) {
                    expected.push(id);
                }
            }
        }
        let mut met: Vec<String> = users::table
            .into_boxed::<MultiBackend>()
            .filter(second_factor_rule_met_sql())
            .select(users::id)
            .load(&mut *conn)
            .expect("query");
        met.sort();
        expected.sort();
        assert_eq!(expected.len(), 8, "two of five roles need a second factor");
        assert_eq!(met, expected);
    }
}
