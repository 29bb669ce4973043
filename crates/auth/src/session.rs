//! Sign-in, token refresh with rotation and reuse detection, sign-out, and turning a bearer
//! credential into a [`Principal`].

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use compact_db::audit::{self, Actor, NewAuditEvent, Outcome};
use compact_db::schema::refresh_tokens;
use compact_db::schema::users as user_table;
use compact_db::{Database, DbConnection, now, write_transaction};

use crate::keys::{KeyRing, TokenSettings};
use crate::password::{PasswordCost, PasswordHasherPool};
use crate::principal::Principal;
use crate::secrets::{random_token, token_hash};
use crate::users::{self, UserProfile, UserWithOrg};
use crate::{AuthError, Role, api_keys, mfa};

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub tokens: TokenSettings,
    pub password_cost: PasswordCost,
    /// Password hashes computed at once; more wait their turn.
    pub hash_concurrency: usize,
    /// Failed logins in a row before the account locks.
    pub lockout_threshold: i32,
    /// The first lock lasts this long, doubling with each further failure, up to `lockout_max`.
    pub lockout_base: Duration,
    pub lockout_max: Duration,
    /// A refresh token unused this long expires.
    pub refresh_idle: Duration,
    /// A sign-in lasts at most this long, however often it is refreshed.
    pub refresh_absolute: Duration,
    /// How long a user's token version is cached. Changes made through this node take effect
    /// at once; those made on another node within this bound.
    pub state_cache_ttl: Duration,
}

impl AuthSettings {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            tokens: TokenSettings::new(issuer),
            password_cost: PasswordCost::default(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            lockout_threshold: 5,
            lockout_base: Duration::from_secs(60),
            lockout_max: Duration::from_secs(3600),
            refresh_idle: Duration::from_secs(14 * 24 * 3600),
            refresh_absolute: Duration::from_secs(30 * 24 * 3600),
            state_cache_ttl: Duration::from_secs(2),
        }
    }
}

/// Tokens handed out at sign-in and refresh.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// Where a request came from, for the audit log and API-key IP allow-lists.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

impl RequestContext {
    fn actor(&self) -> Actor {
        Actor {
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
            ..Actor::default()
        }
    }
}

/// What the per-request check compares a token against.
#[derive(Debug, Clone)]
struct UserState {
    token_version: i32,
    role: Role,
    org_id: String,
    may_act: bool,
    profile: UserProfile,
}

pub struct Authenticator {
    db: Database,
    keys: KeyRing,
    passwords: PasswordHasherPool,
    settings: AuthSettings,
    states: moka::sync::Cache<String, Arc<UserState>>,
}

impl Authenticator {
    pub fn new(db: Database, settings: AuthSettings) -> Result<Self, AuthError> {
        let keys = KeyRing::load(db.clone(), settings.tokens.clone());
        let passwords = PasswordHasherPool::new(settings.password_cost, settings.hash_concurrency)?;
        let states = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(settings.state_cache_ttl)
            .build();
        Ok(Self {
            db,
            keys,
            passwords,
            settings,
            states,
        })
    }

    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    pub fn passwords(&self) -> &PasswordHasherPool {
        &self.passwords
    }

    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Forgets what is cached about a user after a change, so the next request re-reads it.
    pub fn forget(&self, user_id: &str) {
        self.states.invalidate(user_id);
    }

    /// After a change that touches many users (an organization suspended).
    pub fn forget_all(&self) {
        self.states.invalidate_all();
    }

    /// Runs database work on the blocking pool.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, AuthError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, AuthError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?
    }

    /// Signs in with e-mail and password (and a TOTP or recovery code when enrolled).
    pub async fn login(
        &self,
        email: &str,
        password: String,
        code: Option<String>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, AuthError> {
        let lookup = email.to_owned();
        let account = self
            .blocking(move |conn| users::find_by_email(conn, &lookup))
            .await?;
        let hash = account.as_ref().and_then(|a| a.user.password_hash.clone());
        let verification = self.passwords.verify(password.clone(), hash).await?;
        let at = now();

        let Some(account) = account else {
            let event = NewAuditEvent::new("auth.login", Outcome::Failure)
                .actor(ctx.actor())
                .details(json!({ "reason": "unknown_account", "email": email.trim() }));
            self.blocking(move |conn| Ok(audit::append(conn, event)?))
                .await?;
            return Err(AuthError::InvalidCredentials);
        };
        let locked = account.user.locked_until.is_some_and(|until| until > at);
        let refusal = if !verification.matched {
            Some("wrong_password")
        } else if locked {
            Some("locked")
        } else if !account.may_sign_in() {
            Some("inactive")
        } else {
            None
        };
        if let Some(reason) = refusal {
            self.record_failure(&account, reason, ctx).await?;
            return Err(AuthError::InvalidCredentials);
        }
        if account.user.totp_enabled {
            let Some(code) = code.filter(|c| !c.trim().is_empty()) else {
                return Err(AuthError::MfaRequired);
            };
            let (user_id, secret, email) = (
                account.user.id.clone(),
                account.user.totp_secret.clone().unwrap_or_default(),
                account.user.email.clone(),
            );
            let ok = self
                .blocking(move |conn| {
                    write_transaction(conn, |conn| {
                        mfa::verify_second_factor(conn, &user_id, &secret, &email, &code)
                    })
                })
                .await?;
            if !ok {
                self.record_failure(&account, "wrong_second_factor", ctx)
                    .await?;
                return Err(AuthError::InvalidCredentials);
            }
        }
        let rehash = if verification.outdated {
            Some(self.passwords.hash(password).await?)
        } else {
            None
        };
        let refresh = random_token();
        let settings = self.settings.clone();
        let (user, refresh_hash, actor) = (account.user.clone(), token_hash(&refresh), ctx.actor());
        self.blocking(move |conn| {
            write_transaction(conn, |conn| {
                diesel::update(user_table::table.find(&user.id))
                    .set((
                        user_table::failed_logins.eq(0),
                        user_table::locked_until.eq(None::<NaiveDateTime>),
                    ))
                    .execute(conn)?;
                if let Some(hash) = rehash {
                    diesel::update(user_table::table.find(&user.id))
                        .set(user_table::password_hash.eq(hash))
                        .execute(conn)?;
                }
                insert_refresh_token(
                    conn,
                    &user.id,
                    &uuid::Uuid::now_v7().to_string(),
                    &refresh_hash,
                    None,
                    &settings,
                )?;
                let actor = Actor {
                    user_id: Some(user.id.clone()),
                    org_id: Some(user.organization_id.clone()),
                    ..actor
                };
                audit::append(
                    conn,
                    NewAuditEvent::new("auth.login", Outcome::Success).actor(actor),
                )?;
                Ok(())
            })
        })
        .await?;
        // Signing in changes nothing the token check reads: the cache stays.

        self.tokens_for(&account.user, refresh)
    }

    /// A wrong password given outside sign-in (e.g. as the current password when changing
    /// it) counts towards the lockout like a failed sign-in.
    pub async fn record_password_failure(
        &self,
        account: &UserWithOrg,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        self.record_failure(account, "wrong_password", ctx).await
    }

    async fn record_failure(
        &self,
        account: &UserWithOrg,
        reason: &'static str,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let user = account.user.clone();
        let counts = matches!(reason, "wrong_password" | "wrong_second_factor");
        let settings = self.settings.clone();
        let actor = Actor {
            user_id: Some(user.id.clone()),
            org_id: Some(user.organization_id.clone()),
            ..ctx.actor()
        };
        self.blocking(move |conn| {
            write_transaction(conn, |conn| {
                if counts {
                    // Increment in the database, not from the value read before hashing:
                    // parallel guesses must each count.
                    diesel::update(user_table::table.find(&user.id))
                        .set(user_table::failed_logins.eq(user_table::failed_logins + 1))
                        .execute(conn)?;
                    let failures: i32 = user_table::table.find(&user.id).select(user_table::failed_logins).first(conn)?;
                    let lock = lock_duration(&settings, failures);
                    let locked_until = lock.map(|d| now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1)));
                    if locked_until.is_some() {
                        diesel::update(user_table::table.find(&user.id)).set(user_table::locked_until.eq(locked_until)).execute(conn)?;
                    }
                    if let Some(until) = locked_until {
                        let event = NewAuditEvent::new("auth.lockout", Outcome::Success)
                            .actor(actor.clone())
                            .target("user", &user.id)
                            .details(json!({ "failures": failures, "locked_until": until.and_utc().to_rfc3339() }));
                        audit::append(conn, event)?;
                    }
                }
                let event = NewAuditEvent::new("auth.login", Outcome::Failure).actor(actor).details(json!({ "reason": reason }));
                audit::append(conn, event)?;
                Ok(())
            })
        })
        .await
    }

    /// Starts a new session for a user who just proved who they are (e.g. after changing
    /// their password, which ended every other session).
    pub async fn start_session(&self, user_id: &str) -> Result<TokenPair, AuthError> {
        let refresh = random_token();
        let (id, hash, settings) = (
            user_id.to_owned(),
            token_hash(&refresh),
            self.settings.clone(),
        );
        let account = self
            .blocking(move |conn| {
                write_transaction(conn, |conn| {
                    let account = users::find(conn, &id)?.ok_or(AuthError::Unauthenticated)?;
                    insert_refresh_token(
                        conn,
                        &id,
                        &uuid::Uuid::now_v7().to_string(),
                        &hash,
                        None,
                        &settings,
                    )?;
                    Ok(account)
                })
            })
            .await?;
        self.forget(user_id);
        self.tokens_for(&account.user, refresh)
    }

    /// An access token for `user` (with their current role and token version) and the
    /// refresh token that goes with it.
    fn tokens_for(
        &self,
        user: &users::UserRow,
        refresh_token: String,
    ) -> Result<TokenPair, AuthError> {
        let role = user.role();
        let mfa_ok = role.second_factor_rule_met(user.totp_enabled);
        let (access_token, expires_in) = self.keys.issue(
            &user.id,
            &user.organization_id,
            role,
            user.token_version,
            mfa_ok,
        )?;
        Ok(TokenPair {
            access_token,
            refresh_token,
            expires_in,
        })
    }

    /// Trades a refresh token for new tokens. The presented token is spent; presenting a
    /// spent one again revokes its whole family (a stolen token was used).
    pub async fn refresh(&self, token: &str, ctx: &RequestContext) -> Result<TokenPair, AuthError> {
        let presented = token_hash(token);
        let next = random_token();
        let next_hash = token_hash(&next);
        let settings = self.settings.clone();
        let actor = ctx.actor();
        let outcome = self
            .blocking(move |conn| {
                write_transaction(conn, |conn| {
                    rotate_refresh(conn, &presented, &next_hash, &settings, actor)
                })
            })
            .await?;
        let Some(account) = outcome else {
            return Err(AuthError::Unauthenticated);
        };
        self.tokens_for(&account.user, next)
    }

    /// Signs out: the refresh token's family is revoked and the user's access tokens die.
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), AuthError> {
        let user_id = principal.user_id.clone();
        let hash = refresh_token.map(token_hash);
        let actor = principal.audit_actor(ctx.ip.clone(), ctx.request_id.clone());
        self.blocking(move |conn| {
            write_transaction(conn, |conn| {
                if let Some(hash) = hash {
                    let family: Option<String> = refresh_tokens::table
                        .filter(refresh_tokens::token_hash.eq(hash))
                        .filter(refresh_tokens::user_id.eq(&user_id))
                        .select(refresh_tokens::family_id)
                        .first(conn)
                        .optional()?;
                    if let Some(family) = family {
                        revoke_family(conn, &family)?;
                    }
                }
                users::bump_token_version(conn, &user_id)?;
                audit::append(
                    conn,
                    NewAuditEvent::new("auth.logout", Outcome::Success).actor(actor),
                )?;
                Ok(())
            })
        })
        .await?;
        self.forget(&principal.user_id);
        Ok(())
    }

    /// Turns a bearer credential (an access token or an API key) into a principal. `ctx` is
    /// read only for an API key (its address allow-list).
    pub async fn authenticate(
        &self,
        credential: &str,
        ctx: &RequestContext,
    ) -> Result<Principal, AuthError> {
        if credential.starts_with(api_keys::KEY_PREFIX) {
            let credential = credential.to_owned();
            let ip = ctx.ip.clone();
            return self
                .blocking(move |conn| api_keys::authenticate(conn, &credential, ip.as_deref()))
                .await;
        }
        let claims = self
            .keys
            .verify(credential)
            .map_err(|_| AuthError::Unauthenticated)?;
        let state = self
            .user_state(&claims.sub)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if !state.may_act
            || state.token_version != claims.tv
            || state.role != claims.role
            || state.org_id != claims.org
        {
            return Err(AuthError::Unauthenticated);
        }
        Ok(Principal {
            user_id: claims.sub,
            org_id: claims.org,
            role: claims.role,
            api_key: None,
            mfa_satisfied: claims.mfa,
        })
    }

    /// The caller's own account as `/me` shows it, from the state the last request cached
    /// (so as fresh as the token check itself).
    pub async fn profile(&self, user_id: &str) -> Result<UserProfile, AuthError> {
        let state = self
            .user_state(user_id)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        Ok(state.profile.clone())
    }

    async fn user_state(&self, user_id: &str) -> Result<Option<Arc<UserState>>, AuthError> {
        if let Some(state) = self.states.get(user_id) {
            return Ok(Some(state));
        }
        let id = user_id.to_owned();
        let Some(account) = self.blocking(move |conn| users::find(conn, &id)).await? else {
            return Ok(None);
        };
        let state = Arc::new(UserState {
            token_version: account.user.token_version,
            role: account.user.role(),
            org_id: account.user.organization_id.clone(),
            may_act: account.may_sign_in(),
            profile: account.user.into(),
        });
        self.states.insert(user_id.to_owned(), state.clone());
        Ok(Some(state))
    }
}

/// How long to lock after `failures` failures in a row, if at all.
pub fn lock_duration(settings: &AuthSettings, failures: i32) -> Option<Duration> {
    let over = failures - settings.lockout_threshold;
    if over < 0 {
        return None;
    }
    let factor = 2_u32.saturating_pow(u32::try_from(over).unwrap_or(u32::MAX));
    Some(
        settings
            .lockout_base
            .saturating_mul(factor)
            .min(settings.lockout_max),
    )
}

fn insert_refresh_token(
    conn: &mut DbConnection,
    user_id: &str,
    family_id: &str,
    hash: &str,
    family_expires_at: Option<NaiveDateTime>,
    settings: &AuthSettings,
) -> Result<(), AuthError> {
    let at = now();
    let span = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(1));
    let family_expires_at = family_expires_at.unwrap_or(at + span(settings.refresh_absolute));
    let idle_expires_at = (at + span(settings.refresh_idle)).min(family_expires_at);
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(uuid::Uuid::now_v7().to_string()),
            refresh_tokens::family_id.eq(family_id),
            refresh_tokens::user_id.eq(user_id),
            refresh_tokens::token_hash.eq(hash),
            refresh_tokens::created_at.eq(at),
            refresh_tokens::idle_expires_at.eq(idle_expires_at),
            refresh_tokens::family_expires_at.eq(family_expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

fn revoke_family(conn: &mut DbConnection, family_id: &str) -> Result<usize, AuthError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)?)
}

/// Revokes every refresh token of a user (password change, deactivation).
pub fn revoke_all_sessions(conn: &mut DbConnection, user_id: &str) -> Result<usize, AuthError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now()))
    .execute(conn)?)
}

/// Spends a refresh token and issues the next of its family. `None` means refused; a
/// reuse has then already revoked the family (and this transaction must commit that).
fn rotate_refresh(
    conn: &mut DbConnection,
    presented: &str,
    next_hash: &str,
    settings: &AuthSettings,
    actor: Actor,
) -> Result<Option<UserWithOrg>, AuthError> {
    type Row = (
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let row: Option<Row> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(presented))
        .select((
            refresh_tokens::id,
            refresh_tokens::family_id,
            refresh_tokens::user_id,
            refresh_tokens::idle_expires_at,
            refresh_tokens::family_expires_at,
            refresh_tokens::revoked_at,
        ))
        .first(conn)
        .optional()?;
    let Some((id, family, user_id, idle_expires_at, family_expires_at, revoked_at)) = row else {
        return Ok(None);
    };
    if revoked_at.is_some() {
        return Ok(None);
    }
    let at = now();
    // Exactly one use of a token can spend it, even when two arrive at once.
    let spent = diesel::update(
        refresh_tokens::table
            .find(&id)
            .filter(refresh_tokens::spent_at.is_null()),
    )
    .set(refresh_tokens::spent_at.eq(at))
    .execute(conn)?;
    if spent == 0 {
        revoke_family(conn, &family)?;
        let actor = Actor {
            user_id: Some(user_id.clone()),
            ..actor
        };
        let event = NewAuditEvent::new("auth.refresh_reuse", Outcome::Denied)
            .actor(actor)
            .target("refresh_family", &family)
            .details(json!({ "action": "family revoked" }));
        audit::append(conn, event)?;
        tracing::warn!(%user_id, %family, "spent refresh token presented again; family revoked");
        return Ok(None);
    }
    if idle_expires_at <= at || family_expires_at <= at {
        return Ok(None);
    }
    let Some(account) = users::find(conn, &user_id)? else {
        return Ok(None);
    };
    if !account.may_sign_in() {
        return Ok(None);
    }
    insert_refresh_token(
        conn,
        &user_id,
        &family,
        next_hash,
        Some(family_expires_at),
        settings,
    )?;
    Ok(Some(account))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §5's progressive lockout: none below the threshold, then the base doubling with
    /// each further failure, capped, so never permanent.
    #[test]
    fn the_lock_doubles_with_each_failure_up_to_its_cap() {
        let settings = AuthSettings::new("https://compact.test");
        let secs = |failures| lock_duration(&settings, failures).map(|d| d.as_secs());
        assert_eq!(secs(0), None);
        assert_eq!(secs(settings.lockout_threshold - 1), None);
        let first = settings.lockout_threshold;
        assert_eq!(secs(first), Some(60));
        assert_eq!(secs(first + 1), Some(120));
        assert_eq!(secs(first + 2), Some(240));
        assert_eq!(secs(first + 5), Some(1920));
        assert_eq!(secs(first + 6), Some(3600), "capped at the maximum");
        assert_eq!(secs(i32::MAX), Some(3600), "no overflow, still capped");
    }
}
