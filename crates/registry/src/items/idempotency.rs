//! `Idempotency-Key` for creations: the first request with a key is remembered for a day
//! with a hash of what it asked for; a retry gets the first item back, and the same key with
//! a different request is refused rather than silently answered with the wrong item.

use chrono::Duration;
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use compact_auth::Principal;
use compact_db::schema::idempotency_keys;
use compact_db::{DbConnection, now};

use super::{ItemInput, ItemKind};
use crate::RegistryError;

pub const KEY_LIFETIME_HOURS: i64 = 24;
const MAX_KEY_CHARS: usize = 200;

pub struct Key {
    user_id: String,
    key: String,
    request_hash: String,
}

impl Key {
    pub fn new(
        principal: &Principal,
        kind: ItemKind,
        key: &str,
        input: &ItemInput,
    ) -> Result<Key, RegistryError> {
        let ok = !key.is_empty()
            && key.len() <= MAX_KEY_CHARS
            && key.chars().all(|c| c.is_ascii_graphic());
        if !ok {
            return Err(RegistryError::invalid(
                "Idempotency-Key",
                format!("1 to {MAX_KEY_CHARS} visible ASCII characters"),
            ));
        }
        let mut hash = Sha256::new();
        hash.update(kind.as_str());
        hash.update([0]);
        hash.update(serde_json::to_vec(input).unwrap_or_default());
        Ok(Key {
            user_id: principal.user_id.clone(),
            key: key.to_owned(),
            request_hash: hex::encode(hash.finalize()),
        })
    }
}

/// The item a live key already created, or None; a 422 when the key came with another request.
pub fn replay(conn: &mut DbConnection, key: &Key) -> Result<Option<String>, RegistryError> {
    let found: Option<(String, String, chrono::NaiveDateTime)> = idempotency_keys::table
        .filter(idempotency_keys::user_id.eq(&key.user_id))
        .filter(idempotency_keys::idempotency_key.eq(&key.key))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::item_id,
            idempotency_keys::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((hash, item_id, created_at)) = found else {
        return Ok(None);
    };
    if created_at < now() - Duration::hours(KEY_LIFETIME_HOURS) {
        forget(conn, &key.user_id, &key.key)?;
        return Ok(None);
    }
    if hash != key.request_hash {
        return Err(RegistryError::invalid(
            "Idempotency-Key",
            "this key was already used with a different request",
        ));
    }
    Ok(Some(item_id))
}

/// Remembers the key; a concurrent twin's insert fails here with a Conflict.
pub fn record(conn: &mut DbConnection, key: &Key, item_id: &str) -> Result<(), RegistryError> {
    diesel::insert_into(idempotency_keys::table)
        .values((
            idempotency_keys::user_id.eq(&key.user_id),
            idempotency_keys::idempotency_key.eq(&key.key),
            idempotency_keys::request_hash.eq(&key.request_hash),
            idempotency_keys::item_id.eq(item_id),
            idempotency_keys::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

fn forget(conn: &mut DbConnection, user_id: &str, key: &str) -> Result<(), RegistryError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::user_id.eq(user_id))
            .filter(idempotency_keys::idempotency_key.eq(key)),
    )
    .execute(conn)?;
    Ok(())
}

/// Drops keys past their lifetime (the scheduler calls this).
pub fn purge_expired(conn: &mut DbConnection) -> Result<usize, RegistryError> {
    let cutoff = now() - Duration::hours(KEY_LIFETIME_HOURS);
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
            .execute(conn)?,
    )
}
