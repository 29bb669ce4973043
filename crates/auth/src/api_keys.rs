//! API keys for scripts: chosen scopes (a subset of the owner's permissions), a required
//! expiry of at most a year, an optional CIDR allow-list. The secret is shown once and
//! stored as SHA-256; keys are listed by prefix, revocable, and die with their owner.

use std::net::IpAddr;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use ipnet::IpNet;
use serde::Serialize;

use compact_db::schema::api_keys;
use compact_db::{DbConnection, now};

use crate::principal::{ApiKeyGrant, Principal};
use crate::secrets::{random_token, token_hash};
use crate::{AuthError, Permission, users};

/// Every key starts with this, so a leaked key is recognisable (and secret scanners can
/// find it) and the server can tell keys from JWTs.
pub const KEY_PREFIX: &str = "cpk_";
pub const MAX_LIFETIME_DAYS: i64 = 365;
/// `last_used_at` is written at most this often per key, not on every request.
const LAST_USE_GRANULARITY_SECS: i64 = 60;

#[derive(Debug, Clone, Serialize, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub scopes: String,
    pub allowed_cidrs: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiKeyRow {
    pub fn scope_list(&self) -> Vec<Permission> {
        self.scopes
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    pub fn cidr_list(&self) -> Vec<String> {
        self.allowed_cidrs
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }
}

pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: NaiveDateTime,
    pub allowed_cidrs: Vec<String>,
}

/// Creates a key for `owner`; returns it and the secret, which is never shown again.
pub fn create(
    conn: &mut DbConnection,
    owner: &Principal,
    new: NewApiKey,
) -> Result<(ApiKeyRow, String), AuthError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AuthError::invalid("name", "must be 1 to 100 characters"));
    }
    if new.scopes.is_empty() || new.scopes.len() > Permission::ALL.len() {
        return Err(AuthError::invalid("scopes", "choose at least one scope"));
    }
    let mut scopes = Vec::new();
    for scope in &new.scopes {
        let permission: Permission = scope
            .parse()
            .map_err(|e: String| AuthError::invalid("scopes", e))?;
        if !owner.role.can(permission) {
            return Err(AuthError::invalid(
                "scopes",
                format!("your role does not allow {permission}"),
            ));
        }
        if !scopes.contains(&permission) {
            scopes.push(permission);
        }
    }
    let at = now();
    if new.expires_at <= at {
        return Err(AuthError::invalid("expires_at", "must be in the future"));
    }
    if new.expires_at > at + TimeDelta::days(MAX_LIFETIME_DAYS) {
        return Err(AuthError::invalid(
            "expires_at",
            "must be at most 365 days from now",
        ));
    }
    if new.allowed_cidrs.len() > 50 {
        return Err(AuthError::invalid("allowed_cidrs", "at most 50 entries"));
    }
    let mut cidrs = Vec::new();
    for cidr in &new.allowed_cidrs {
        let net = parse_cidr(cidr).ok_or_else(|| {
            AuthError::invalid(
                "allowed_cidrs",
                format!("{cidr:?} is not an IP address or CIDR block"),
            )
        })?;
        cidrs.push(net.to_string());
    }
    let secret = format!("{KEY_PREFIX}{}", random_token());
    let prefix: String = secret.chars().take(KEY_PREFIX.len() + 8).collect();
    let row = ApiKeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: owner.user_id.clone(),
        name: name.to_owned(),
        prefix,
        secret_hash: token_hash(&secret),
        scopes: scopes
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        allowed_cidrs: cidrs.join(" "),
        created_at: at,
        expires_at: compact_db::truncate_to_micros(new.expires_at),
        last_used_at: None,
        revoked_at: None,
    };
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::id.eq(&row.id),
            api_keys::user_id.eq(&row.user_id),
            api_keys::name.eq(&row.name),
            api_keys::prefix.eq(&row.prefix),
            api_keys::secret_hash.eq(&row.secret_hash),
            api_keys::scopes.eq(&row.scopes),
            api_keys::allowed_cidrs.eq(&row.allowed_cidrs),
            api_keys::created_at.eq(row.created_at),
            api_keys::expires_at.eq(row.expires_at),
        ))
        .execute(conn)?;
    Ok((row, secret))
}

fn parse_cidr(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

pub fn list(conn: &mut DbConnection, user_id: &str) -> Result<Vec<ApiKeyRow>, AuthError> {
    Ok(api_keys::table
        .filter(api_keys::user_id.eq(user_id))
        .select(ApiKeyRow::as_select())
        .order(api_keys::created_at.desc())
        .load(conn)?)
}

/// Revokes one of the user's keys; `NotFound` for anyone else's.
pub fn revoke(
    conn: &mut DbConnection,
    user_id: &str,
    key_id: &str,
) -> Result<ApiKeyRow, AuthError> {
    let key: ApiKeyRow = api_keys::table
        .filter(api_keys::id.eq(key_id))
        .filter(api_keys::user_id.eq(user_id))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AuthError::NotFound)?;
    if key.revoked_at.is_none() {
        diesel::update(api_keys::table.find(key_id))
            .set(api_keys::revoked_at.eq(now()))
            .execute(conn)?;
    }
    Ok(key)
}

/// Checks a presented key: known, not revoked, not expired, from an allowed address, owner
/// able to act. Its scopes are cut to what the owner's role allows today.
pub fn authenticate(
    conn: &mut DbConnection,
    secret: &str,
    ip: Option<&str>,
) -> Result<Principal, AuthError> {
    let key: ApiKeyRow = api_keys::table
        .filter(api_keys::secret_hash.eq(token_hash(secret)))
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(AuthError::Unauthenticated)?;
    let at = now();
    if key.revoked_at.is_some() || key.expires_at <= at {
        return Err(AuthError::Unauthenticated);
    }
    let cidrs = key.cidr_list();
    if !cidrs.is_empty() {
        let ip: Option<IpAddr> = ip.and_then(|ip| ip.parse().ok());
        let allowed = ip.is_some_and(|ip| {
            cidrs
                .iter()
                .filter_map(|c| c.parse::<IpNet>().ok())
                .any(|net| net.contains(&ip))
        });
        if !allowed {
            return Err(AuthError::Unauthenticated);
        }
    }
    let owner = users::find(conn, &key.user_id)?.ok_or(AuthError::Unauthenticated)?;
    if !owner.may_sign_in() {
        return Err(AuthError::Unauthenticated);
    }
    let role = owner.user.role();
    if key
        .last_used_at
        .is_none_or(|t| at - t > TimeDelta::seconds(LAST_USE_GRANULARITY_SECS))
    {
        diesel::update(api_keys::table.find(&key.id))
            .set(api_keys::last_used_at.eq(at))
            .execute(conn)?;
    }
    let scopes = key
        .scope_list()
        .into_iter()
        .filter(|p| role.can(*p))
        .collect();
    Ok(Principal {
        user_id: owner.user.id,
        org_id: owner.user.organization_id,
        role,
        api_key: Some(ApiKeyGrant { id: key.id, scopes }),
        // The owner may have become an admin since: the rule applies to keys too.
        mfa_satisfied: role.second_factor_rule_met(owner.user.totp_enabled),
    })
}
