//! The mail outbox. Other crates enqueue mail inside the transaction of the change that causes
//! it, so a change is never committed without its mail nor mail sent for a change rolled back.
//! A worker (crate `compact-mail`) claims due messages, sends them and records the outcome.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;

use crate::schema::outbox;
use crate::{DbConnection, DbError, now, write_transaction};

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_SENT: &str = "sent";
/// Gave up after the configured number of attempts: kept, counted in metrics, never dropped.
pub const STATUS_FAILED: &str = "failed";

/// A message to send.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = outbox)]
pub struct OutboxMessage {
    pub id: String,
    /// Stable across retries, so a resend after a crash is recognisable as the same message.
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub created_at: NaiveDateTime,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
}

/// Queues a message; `message_domain` is the right-hand side of its `Message-ID`.
pub fn enqueue(
    conn: &mut DbConnection,
    mail: NewMail,
    message_domain: &str,
) -> Result<OutboxMessage, DbError> {
    let id = uuid::Uuid::now_v7();
    let created_at = now();
    let row = OutboxMessage {
        id: id.to_string(),
        message_id: format!("<{}@{}>", id.simple(), message_domain),
        recipient: mail.recipient,
        subject: mail.subject,
        body_text: mail.body_text,
        created_at,
        status: STATUS_PENDING.to_owned(),
        attempts: 0,
        next_attempt_at: created_at,
        last_error: None,
        sent_at: None,
    };
    diesel::insert_into(outbox::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// Takes up to `limit` due messages for sending and hides them from other workers for
/// `lease`: if this worker dies mid-send, they become due again when the lease ends.
/// On PostgreSQL several nodes claim concurrently with `FOR UPDATE SKIP LOCKED`.
pub fn claim_due(
    conn: &mut DbConnection,
    limit: i64,
    lease: Duration,
) -> Result<Vec<OutboxMessage>, DbError> {
    write_transaction(conn, |conn| {
        let current = now();
        // All columns rather than `as_select()`, whose backend would be inferred from the
        // first arm below.
        let due = outbox::table
            .select(outbox::all_columns)
            .filter(outbox::status.eq(STATUS_PENDING))
            .filter(outbox::next_attempt_at.le(current))
            .order(outbox::next_attempt_at.asc())
            .limit(limit);
        let mut claimed: Vec<OutboxMessage> = match conn {
            DbConnection::Pg(pg) => due.for_update().skip_locked().load(pg)?,
            // SQLite: the immediate transaction already excludes every other writer.
            DbConnection::Sqlite(_) => due.load(conn)?,
        };
        let lease_end = current + lease;
        let ids: Vec<&str> = claimed.iter().map(|m| m.id.as_str()).collect();
        diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
            .set(outbox::next_attempt_at.eq(lease_end))
            .execute(conn)?;
        for m in &mut claimed {
            m.next_attempt_at = lease_end;
        }
        Ok(claimed)
    })
}

pub fn mark_sent(conn: &mut DbConnection, id: &str) -> Result<(), DbError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(STATUS_SENT),
            outbox::sent_at.eq(now()),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: due again at `retry_at`, or `failed` for good when `retry_at`
/// is `None`.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> Result<(), DbError> {
    let status = if retry_at.is_some() {
        STATUS_PENDING
    } else {
        STATUS_FAILED
    };
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(status),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::last_error.eq(Some(error)),
            outbox::next_attempt_at.eq(retry_at.unwrap_or_else(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Puts a failed message back in the queue (an operator's `compact outbox retry`).
pub fn requeue_failed(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let changed = diesel::update(
        outbox::table
            .find(id)
            .filter(outbox::status.eq(STATUS_FAILED)),
    )
    .set((
        outbox::status.eq(STATUS_PENDING),
        outbox::attempts.eq(0),
        outbox::next_attempt_at.eq(now()),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}

/// Messages by status, for metrics and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutboxCounts {
    pub pending: i64,
    pub failed: i64,
}

pub fn counts(conn: &mut DbConnection) -> Result<OutboxCounts, DbError> {
    let count = |conn: &mut DbConnection, status: &str| -> Result<i64, DbError> {
        Ok(outbox::table
            .filter(outbox::status.eq(status))
            .count()
            .get_result(conn)?)
    };
    Ok(OutboxCounts {
        pending: count(conn, STATUS_PENDING)?,
        failed: count(conn, STATUS_FAILED)?,
    })
}

pub fn list(
    conn: &mut DbConnection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, DbError> {
    let mut query = outbox::table
        .select(OutboxMessage::as_select())
        .order(outbox::created_at.desc())
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(outbox::status.eq(status.to_owned()));
    }
    Ok(query.load(conn)?)
}
