//! The append-only, hash-chained audit store.
//!
//! Each row's `hash` is SHA-256 over the previous row's hash and the row's canonical content,
//! so changing, removing or reordering a row breaks the chain from there on. Appends are
//! serialised (an advisory lock on PostgreSQL, the write lock on SQLite) so the chain never
//! forks, and the tables refuse UPDATE and DELETE by trigger.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::schema::audit_events;
use crate::{DbConnection, DbError, now, write_transaction};

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Arbitrary key of the PostgreSQL advisory lock that serialises appends across nodes.
const APPEND_LOCK_KEY: i64 = 0x636f_6d70_6175_6474; // "compaudt"

/// Who did it: any of user, organization and API key may be unknown (e.g. failed logins).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub org_id: Option<String>,
    pub api_key_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub actor: Actor,
    /// Dotted verb, e.g. `auth.login` or `nomination.approve`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Outcome,
    pub details: serde_json::Value,
}

impl NewAuditEvent {
    pub fn new(action: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            actor: Actor::default(),
            action: action.into(),
            target_type: None,
            target_id: None,
            outcome,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn actor(mut self, actor: Actor) -> Self {
        self.actor = actor;
        self
    }

    pub fn target(mut self, kind: impl Into<String>, id: impl Into<String>) -> Self {
        self.target_type = Some(kind.into());
        self.target_id = Some(id.into());
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub seq: i64,
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub actor_user_id: Option<String>,
    pub actor_org_id: Option<String>,
    pub actor_api_key_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// The hash this row must carry, given its content and `prev_hash`.
    pub fn compute_hash(&self) -> String {
        #[derive(Serialize)]
        struct Canonical<'a> {
            seq: i64,
            id: &'a str,
            occurred_at: String,
            actor_user_id: Option<&'a str>,
            actor_org_id: Option<&'a str>,
            actor_api_key_id: Option<&'a str>,
            ip: Option<&'a str>,
            request_id: Option<&'a str>,
            action: &'a str,
            target_type: Option<&'a str>,
            target_id: Option<&'a str>,
            outcome: &'a str,
            details: &'a str,
        }
        let canonical = Canonical {
            seq: self.seq,
            id: &self.id,
            occurred_at: self
                .occurred_at
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string(),
            actor_user_id: self.actor_user_id.as_deref(),
            actor_org_id: self.actor_org_id.as_deref(),
            actor_api_key_id: self.actor_api_key_id.as_deref(),
            ip: self.ip.as_deref(),
            request_id: self.request_id.as_deref(),
            action: &self.action,
            target_type: self.target_type.as_deref(),
            target_id: self.target_id.as_deref(),
            outcome: &self.outcome,
            details: &self.details,
        };
        let content = serde_json::to_string(&canonical).expect("plain struct serialises");
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(content.as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// Appends an event to the chain. Call it inside the transaction of the change it records,
/// so both commit or neither does; on its own it opens a transaction of its own.
pub fn append(conn: &mut DbConnection, event: NewAuditEvent) -> Result<AuditEvent, DbError> {
    write_transaction(conn, |conn| {
        if let DbConnection::Pg(pg) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(APPEND_LOCK_KEY)
                .execute(pg)?;
        }
        let last: Option<(i64, String)> = audit_events::table
            .select((audit_events::seq, audit_events::hash))
            .order(audit_events::seq.desc())
            .first(conn)
            .optional()?;
        let (prev_seq, prev_hash) = last.unwrap_or((0, GENESIS_HASH.to_owned()));
        let mut row = AuditEvent {
            seq: prev_seq + 1,
            id: uuid::Uuid::now_v7().to_string(),
            occurred_at: now(),
            actor_user_id: event.actor.user_id,
            actor_org_id: event.actor.org_id,
            actor_api_key_id: event.actor.api_key_id,
            ip: event.actor.ip,
            request_id: event.actor.request_id,
            action: event.action,
            target_type: event.target_type,
            target_id: event.target_id,
            outcome: event.outcome.as_str().to_owned(),
            details: event.details.to_string(),
            prev_hash,
            hash: String::new(),
        };
        row.hash = row.compute_hash();
        diesel::insert_into(audit_events::table)
            .values(&row)
            .execute(conn)?;
        Ok(row)
    })
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub rows_checked: u64,
    pub first_broken: Option<BrokenLink>,
}

/// Walks the whole chain in order and reports the first row that does not fit.
pub fn verify(conn: &mut DbConnection) -> Result<VerifyReport, DbError> {
    const BATCH: i64 = 1000;
    let mut expected_seq = 1_i64;
    let mut expected_prev = GENESIS_HASH.to_owned();
    let mut rows_checked = 0_u64;
    loop {
        let batch: Vec<AuditEvent> = audit_events::table
            .select(AuditEvent::as_select())
            .filter(audit_events::seq.ge(expected_seq))
            .order(audit_events::seq.asc())
            .limit(BATCH)
            .load(conn)?;
        if batch.is_empty() {
            return Ok(VerifyReport {
                rows_checked,
                first_broken: None,
            });
        }
        for row in &batch {
            let broken = |reason: String| {
                Ok(VerifyReport {
                    rows_checked,
                    first_broken: Some(BrokenLink {
                        seq: row.seq,
                        reason,
                    }),
                })
            };
            if row.seq != expected_seq {
                return broken(format!("rows {expected_seq}..{} are missing", row.seq - 1));
            }
            if row.prev_hash != expected_prev {
                return broken("prev_hash does not match the previous row's hash".into());
            }
            if row.compute_hash() != row.hash {
                return broken("content does not match its hash".into());
            }
            rows_checked += 1;
            expected_seq += 1;
            expected_prev.clone_from(&row.hash);
        }
    }
}
