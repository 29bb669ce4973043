//! Totp (RFC 6238) second factor and single-use recovery codes.

use diesel::prelude::*;
use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use compact_db::schema::{recovery_codes, users};
use compact_db::{DbConnection, now};

use crate::AuthError;
use crate::secrets::token_hash;

const ISSUER: &str = "Compact Platform";
const RECOVERY_CODES: usize = 10;

fn totp(secret_base32: &str, account: &str) -> Result<Totp, AuthError> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| AuthError::Internal(format!("TOTP secret: {e:?}")))?;
    // SHA-1, 6 digits, 30 s: what every authenticator app understands; one step of skew.
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| AuthError::Internal(format!("TOTP: {e:?}")))
}

/// Starts enrolment: a new secret (not yet enabled) and its provisioning URI.
pub fn begin_enrolment(
    conn: &mut DbConnection,
    user_id: &str,
    account: &str,
) -> Result<(String, String), AuthError> {
    let enabled: bool = users::table
        .find(user_id)
        .select(users::totp_enabled)
        .first(conn)?;
    if enabled {
        return Err(AuthError::Conflict(
            "a second factor is already enrolled".into(),
        ));
    }
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = Secret::from(&bytes[..]).to_base32();
    let uri = totp(&secret, account)?
        .to_url()
        .map_err(|e| AuthError::Internal(format!("TOTP URI: {e:?}")))?;
    diesel::update(users::table.find(user_id))
        .set((users::totp_secret.eq(&secret), users::updated_at.eq(now())))
        .execute(conn)?;
    Ok((secret, uri))
}

/// Confirms enrolment with a current code; returns the recovery codes, shown once.
pub fn confirm_enrolment(
    conn: &mut DbConnection,
    user_id: &str,
    account: &str,
    code: &str,
) -> Result<Vec<String>, AuthError> {
    let (secret, enabled): (Option<String>, bool) = users::table
        .find(user_id)
        .select((users::totp_secret, users::totp_enabled))
        .first(conn)?;
    if enabled {
        return Err(AuthError::Conflict(
            "a second factor is already enrolled".into(),
        ));
    }
    let secret = secret.ok_or_else(|| AuthError::Conflict("start enrolment first".into()))?;
    let Some(step) = totp(&secret, account)?.check_current(code.trim()) else {
        return Err(AuthError::invalid(
            "code",
            "the code does not match; check the device's clock",
        ));
    };
    diesel::update(users::table.find(user_id))
        .set((
            users::totp_enabled.eq(true),
            users::totp_last_step.eq(step_value(step)),
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let code = new_recovery_code();
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::id.eq(uuid::Uuid::now_v7().to_string()),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(token_hash(&code)),
            ))
            .execute(conn)?;
        codes.push(code);
    }
    Ok(codes)
}

/// Checks a login's second factor: a current Totp code, or an unused recovery code (which
/// is then spent).
pub fn verify_second_factor(
    conn: &mut DbConnection,
    user_id: &str,
    secret: &str,
    account: &str,
    code: &str,
) -> Result<bool, AuthError> {
    let code = code.trim();
    if code.len() == 6 && code.chars().all(|c| c.is_ascii_digit()) {
        let Some(step) = totp(secret, account)?.check_current(code) else {
            return Ok(false);
        };
        // Each code works once: the step must be newer than the last one accepted, and the
        // conditional update makes two concurrent uses of one code count once.
        let accepted = diesel::update(
            users::table
                .find(user_id)
                .filter(users::totp_last_step.lt(step_value(step))),
        )
        .set(users::totp_last_step.eq(step_value(step)))
        .execute(conn)?;
        return Ok(accepted == 1);
    }
    let spent = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(token_hash(&code.to_lowercase())))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now()))
    .execute(conn)?;
    Ok(spent == 1)
}

/// The code of the next 30-second step, which the one-step skew accepts now (tests: a code
/// already used in this step is refused).
pub fn next_code(secret: &str) -> Result<String, AuthError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(totp(secret, "x")?.generate(now.as_secs() + 30).to_string())
}

/// The current code for a secret (tests and tooling).
pub fn current_code(secret: &str) -> Result<String, AuthError> {
    Ok(totp(secret, "x")?.generate_current().to_string())
}

fn new_recovery_code() -> String {
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex = hex::encode(bytes);
    format!("{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12])
}

fn step_value(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}
