use std::time::Duration;

use lettre::message::Mailbox;
use tokio::sync::watch;

use compact_db::outbox::{self, OutboxMessage};
use compact_db::{Database, DbError};

use crate::{MailError, MailTransport};

#[derive(Debug, Clone)]
pub struct MailerConfig {
    pub from: Mailbox,
    /// Attempts before a message is marked `failed` (kept, counted, re-queueable).
    pub max_attempts: u32,
    /// How often the outbox is checked for due mail.
    pub poll_interval: Duration,
    /// Messages claimed at once.
    pub batch_size: i64,
    /// How long a claimed message stays hidden from other workers; after a crash it is sent
    /// again when this ends.
    pub lease: Duration,
    /// The first retry waits this long; each further one twice as long, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl MailerConfig {
    pub fn new(from: Mailbox) -> Self {
        Self {
            from,
            max_attempts: 8,
            poll_interval: Duration::from_secs(2),
            batch_size: 20,
            lease: Duration::from_secs(300),
            base_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// The wait before attempt `attempts + 1`, after `attempts` failures: doubling, capped.
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 2_u32.saturating_pow(attempts.saturating_sub(1));
    base.saturating_mul(factor).min(max)
}

/// Sends what the outbox holds, one batch at a time.
pub struct OutboxWorker {
    db: Database,
    transport: MailTransport,
    config: MailerConfig,
}

impl OutboxWorker {
    pub fn new(db: Database, transport: MailTransport, config: MailerConfig) -> Self {
        Self {
            db,
            transport,
            config,
        }
    }

    /// Runs until `shutdown` turns true; database outages are logged and outlived.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            // Drain: keep going while full batches come back.
            loop {
                match self.process_due().await {
                    Ok(n) if n as i64 >= self.config.batch_size => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "outbox pass failed; retrying later");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Claims one batch of due messages and attempts each; returns how many were attempted.
    pub async fn process_due(&self) -> Result<usize, DbError> {
        let lease =
            chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::minutes(5));
        let batch = self.config.batch_size;
        let claimed = self
            .blocking(move |conn| outbox::claim_due(conn, batch, lease))
            .await?;
        let count = claimed.len();
        for message in claimed {
            let outcome = self.transport.send(&self.config.from, &message).await;
            self.record(message, outcome).await?;
        }
        Ok(count)
    }

    async fn record(
        &self,
        message: OutboxMessage,
        outcome: Result<(), MailError>,
    ) -> Result<(), DbError> {
        match outcome {
            Ok(()) => {
                tracing::info!(message_id = %message.message_id, "mail sent");
                self.blocking(move |conn| outbox::mark_sent(conn, &message.id))
                    .await
            }
            Err(error) => {
                let attempts = u32::try_from(message.attempts).unwrap_or(0) + 1;
                let give_up = error.is_permanent() || attempts >= self.config.max_attempts;
                let retry_at = (!give_up).then(|| {
                    let wait = backoff(self.config.base_backoff, self.config.max_backoff, attempts);
                    compact_db::now()
                        + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
                });
                if give_up {
                    tracing::error!(message_id = %message.message_id, attempts, %error, "mail given up; kept as failed");
                } else {
                    tracing::warn!(message_id = %message.message_id, attempts, %error, "mail attempt failed; will retry");
                }
                let text = error.to_string();
                self.blocking(move |conn| {
                    outbox::mark_attempt_failed(conn, &message.id, &text, retry_at)
                })
                .await
            }
        }
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut compact_db::DbConnection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Unavailable(format!("blocking task failed: {e}")))?
    }
}
