//! Delivers the mail outbox: claims due messages, sends them over SMTP (or writes `.eml`
//! files when no SMTP server is configured), retries with exponential backoff and gives up
//! after a configured number of attempts, keeping the message as `failed`.

// The workspace denies unsafe code; only compact-api `memory` may allow it.
#![forbid(unsafe_code)]

#[cfg(feature = "testing")]
pub mod testing;
mod transport;
mod worker;

pub use transport::{MailTransport, SmtpSecurity, SmtpSettings};
pub use worker::{MailerConfig, OutboxWorker, backoff};

/// What can go wrong delivering one message.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address or message: {0}")]
    InvalidMessage(String),
    /// The server refused for good (5xx): retrying will not help.
    #[error("rejected by the SMTP server: {0}")]
    Rejected(String),
    /// The server is away or answered 4xx: worth retrying.
    #[error("SMTP delivery failed: {0}")]
    Transient(String),
    #[error("cannot write mail file: {0}")]
    File(#[from] std::io::Error),
    #[error("SMTP configuration: {0}")]
    Config(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::InvalidMessage(_) | MailError::Rejected(_))
    }
}
