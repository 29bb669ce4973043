//! Access tokens: JWTs signed with Ed25519 (EdDSA), 10 minutes, every registered claim
//! checked. Keys live in the database so every node signs and verifies with the same set;
//! `rotate` adds a signing key and keeps the old one verifying until its last token expired.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use compact_db::schema::signing_keys;
use compact_db::{Database, DbConnection, now, write_transaction};

use crate::{AuthError, Role};

/// RFC 8410 PKCS#8 v1 prefix of an Ed25519 private key; the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/// Clock skew tolerated between nodes and clients.
const LEEWAY_SECS: u64 = 5;
/// How often a node re-reads the key set (another node may have rotated).
const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// Verified tokens remembered at once; a deployment has a few live tokens per person.
const VERIFIED_CAPACITY: u64 = 20_000;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
}

impl TokenSettings {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: "compact-api".into(),
            access_ttl: Duration::from_secs(600),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// The user's organization.
    pub org: String,
    pub role: Role,
    /// The user's token version when issued; a token whose version moved on is dead.
    pub tv: i32,
    /// `access`: other kinds of token presented here are refused.
    pub typ: String,
    /// False while a role that needs a second factor has none enrolled: such a token only
    /// allows enrolling one.
    pub mfa: bool,
}

pub const ACCESS_TOKEN_TYPE: &str = "access";

/// A public key as a JSON Web Key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct KeyRow {
    kid: String,
    private_key: String,
    public_key: String,
    created_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
}

struct LoadedKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
    retired_at: Option<NaiveDateTime>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("not an access token")]
    WrongType,
}

pub struct KeyRing {
    db: Database,
    settings: TokenSettings,
    keys: RwLock<(Vec<LoadedKey>, Instant)>,
    /// When the last reload was tried, and whether it failed.
    reload_attempt: Mutex<(Option<Instant>, bool)>,
    /// Tokens whose signature already verified, by SHA-256 of the whole token: checking an
    /// Ed25519 signature costs more than the rest of a request, and a client presents the
    /// same token for its whole life. Only the signature is remembered; time, key and the
    /// user's token version are checked on every use.
    verified: moka::sync::Cache<[u8; 32], Arc<VerifiedToken>>,
}

struct VerifiedToken {
    kid: String,
    claims: AccessClaims,
}

impl KeyRing {
    /// Loads the keys, creating the first one on first start. A database that is down now
    /// is not fatal: the ring stays empty and loads at its first use after it came back.
    pub fn load(db: Database, settings: TokenSettings) -> Self {
        let remember_for = settings.access_ttl + Duration::from_secs(LEEWAY_SECS);
        let ring = Self {
            db,
            settings,
            keys: RwLock::new((Vec::new(), Instant::now())),
            reload_attempt: Mutex::new((None, false)),
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(remember_for)
                .build(),
        };
        if let Err(error) = ring.reload() {
            tracing::warn!(%error, "could not load token signing keys yet");
        }
        ring
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Re-reads keys from the database (after a rotation, or periodically), creating the
    /// first one if there is none.
    pub fn reload(&self) -> Result<(), AuthError> {
        let mut conn = self.db.get()?;
        ensure_signing_key(&mut conn)?;
        let keys = load_keys(&mut conn)?;
        *self
            .keys
            .write()
            .map_err(|_| AuthError::Internal("key ring lock".into()))? = (keys, Instant::now());
        Ok(())
    }

    /// Re-reads the keys when they are older than `RELOAD_EVERY`, or sooner when there are
    /// none or a token names an unknown `kid` (`force`: another node rotated). One request
    /// reloads while the others go on with the keys they have; attempts are at least a second
    /// apart, five after a failure, so requests do not each wait on a database that is away.
    fn reload_if_stale(&self, force: bool) {
        let (empty, age) = self
            .keys
            .read()
            .map(|k| (k.0.is_empty(), k.1.elapsed()))
            .unwrap_or((true, RELOAD_EVERY));
        if !(age > RELOAD_EVERY || empty || force) {
            return;
        }
        let Ok(mut attempt) = self.reload_attempt.try_lock() else {
            return;
        };
        let gap = if attempt.1 {
            Duration::from_secs(5)
        } else {
            Duration::from_secs(1)
        };
        if attempt.0.is_some_and(|at| at.elapsed() < gap) {
            return;
        }
        let result = self.reload();
        if let Err(error) = &result {
            tracing::warn!(%error, "could not reload signing keys; using the ones loaded");
        }
        *attempt = (Some(Instant::now()), result.is_err());
    }

    /// Signs an access token; returns it and its lifetime in seconds.
    pub fn issue(
        &self,
        user_id: &str,
        org_id: &str,
        role: Role,
        token_version: i32,
        mfa: bool,
    ) -> Result<(String, u64), AuthError> {
        self.reload_if_stale(false);
        let guard = self
            .keys
            .read()
            .map_err(|_| AuthError::Internal("key ring lock".into()))?;
        let key = guard
            .0
            .iter()
            .find(|k| k.retired_at.is_none())
            .ok_or_else(|| AuthError::Internal("no signing key".into()))?;
        let issued = Utc::now().timestamp();
        let ttl = self.settings.access_ttl.as_secs();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user_id.to_owned(),
            exp: issued + ttl as i64,
            nbf: issued,
            iat: issued,
            jti: uuid::Uuid::new_v4().to_string(),
            org: org_id.to_owned(),
            role,
            tv: token_version,
            typ: ACCESS_TOKEN_TYPE.to_owned(),
            mfa,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| AuthError::Internal(format!("sign token: {e}")))?;
        Ok((token, ttl))
    }

    /// Verifies signature, algorithm, issuer, audience, time claims and token type.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(seen) = self.verified.get(&digest) {
            self.reload_if_stale(false);
            if within_time(&seen.claims, Utc::now().timestamp()) && self.key_verifies(&seen.kid) {
                return Ok(seen.claims.clone());
            }
            // Expired, or its key stopped verifying: the full check gives the reason.
            self.verified.invalidate(&digest);
        }
        let (kid, claims) = self.verify_signature(token)?;
        self.verified.insert(
            digest,
            Arc::new(VerifiedToken {
                kid,
                claims: claims.clone(),
            }),
        );
        Ok(claims)
    }

    fn key_verifies(&self, kid: &str) -> bool {
        self.keys.read().is_ok_and(|keys| {
            keys.0
                .iter()
                .any(|k| k.kid == kid && self.still_verifies(k))
        })
    }

    fn verify_signature(&self, token: &str) -> Result<(String, AccessClaims), TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("algorithm not allowed".into()));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let known = self
            .keys
            .read()
            .map(|k| k.0.iter().any(|key| key.kid == kid))
            .unwrap_or(false);
        self.reload_if_stale(!known);
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub", "jti"]);
        let guard = self
            .keys
            .read()
            .map_err(|_| TokenError::Invalid("key ring".into()))?;
        let key = guard
            .0
            .iter()
            .find(|k| k.kid == kid && self.still_verifies(k))
            .ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        if data.claims.typ != ACCESS_TOKEN_TYPE {
            return Err(TokenError::WrongType);
        }
        Ok((kid, data.claims))
    }

    fn still_verifies(&self, key: &LoadedKey) -> bool {
        match key.retired_at {
            None => true,
            Some(retired) => {
                let grace =
                    self.settings.access_ttl + RELOAD_EVERY + Duration::from_secs(LEEWAY_SECS);
                let until = retired
                    + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::hours(1));
                now() < until
            }
        }
    }

    /// The public keys that currently verify, for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Vec<PublicJwk> {
        self.reload_if_stale(false);
        let Ok(guard) = self.keys.read() else {
            return Vec::new();
        };
        guard
            .0
            .iter()
            .filter(|k| self.still_verifies(k))
            .map(|k| PublicJwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: k.public_x.clone(),
                kid: k.kid.clone(),
                alg: "EdDSA".into(),
                key_use: "sig".into(),
            })
            .collect()
    }
}

/// The time claims of a remembered token, judged as `jsonwebtoken` judges them.
fn within_time(claims: &AccessClaims, now: i64) -> bool {
    let leeway = LEEWAY_SECS as i64;
    claims.exp >= now - leeway && claims.nbf <= now + leeway
}

/// Creates a signing key if none is active (first start).
fn ensure_signing_key(conn: &mut DbConnection) -> Result<(), AuthError> {
    write_transaction(conn, |conn| {
        let active: i64 = signing_keys::table
            .filter(signing_keys::retired_at.is_null())
            .count()
            .get_result(conn)?;
        if active == 0 {
            insert_new_key(conn)?;
        }
        Ok(())
    })
}

/// `compact keys rotate`: a new signing key; the previous ones retire (and keep verifying
/// for one token lifetime). Returns the new key id.
pub fn rotate(conn: &mut DbConnection) -> Result<String, AuthError> {
    write_transaction(conn, |conn| {
        diesel::update(signing_keys::table.filter(signing_keys::retired_at.is_null()))
            .set(signing_keys::retired_at.eq(now()))
            .execute(conn)?;
        insert_new_key(conn)
    })
}

fn insert_new_key(conn: &mut DbConnection) -> Result<String, AuthError> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let row = KeyRow {
        kid: uuid::Uuid::now_v7().simple().to_string(),
        private_key: STANDARD.encode(seed),
        public_key: URL_SAFE_NO_PAD.encode(public),
        created_at: now(),
        retired_at: None,
    };
    diesel::insert_into(signing_keys::table)
        .values(&row)
        .execute(conn)?;
    tracing::info!(kid = %row.kid, "new token signing key");
    Ok(row.kid)
}

fn load_keys(conn: &mut DbConnection) -> Result<Vec<LoadedKey>, AuthError> {
    let rows: Vec<KeyRow> = signing_keys::table
        .select(KeyRow::as_select())
        .order(signing_keys::created_at.desc())
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let seed = STANDARD
                .decode(&row.private_key)
                .map_err(|e| AuthError::Internal(format!("key {}: {e}", row.kid)))?;
            let mut der = PKCS8_ED25519_PREFIX.to_vec();
            der.extend_from_slice(&seed);
            let decoding = DecodingKey::from_ed_components(&row.public_key)
                .map_err(|e| AuthError::Internal(format!("key {}: {e}", row.kid)))?;
            Ok(LoadedKey {
                encoding: EncodingKey::from_ed_der(&der),
                decoding,
                public_x: row.public_key,
                kid: row.kid,
                retired_at: row.retired_at,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(nbf: i64, exp: i64) -> AccessClaims {
        AccessClaims {
            iss: "i".into(),
            aud: "a".into(),
            sub: "u".into(),
            exp,
            nbf,
            iat: nbf,
            jti: "j".into(),
            org: "o".into(),
            role: Role::Member,
            tv: 0,
            typ: ACCESS_TOKEN_TYPE.into(),
            mfa: true,
        }
    }

    #[test]
    fn a_remembered_token_keeps_its_time_limits() {
        let leeway = LEEWAY_SECS as i64;
        let token = claims(1_000, 1_600);
        assert!(within_time(&token, 1_000));
        assert!(within_time(&token, 1_600 + leeway));
        assert!(!within_time(&token, 1_601 + leeway));
        assert!(within_time(&token, 1_000 - leeway));
        assert!(!within_time(&token, 999 - leeway));
    }
}
