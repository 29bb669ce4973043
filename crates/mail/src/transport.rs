use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use compact_db::outbox::OutboxMessage;

use crate::MailError;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text: only for a server on the same host or a private network (e.g. a catcher).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    Starttls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub timeout: Duration,
    /// PEM certificate of a private authority that signed the relay's certificate.
    pub ca_file: Option<PathBuf>,
}

/// Where mail goes.
#[derive(Clone)]
pub enum MailTransport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// No SMTP configured: each message becomes `<dir>/<message-id>.eml`.
    Files(PathBuf),
}

impl MailTransport {
    pub fn smtp(settings: &SmtpSettings) -> Result<Self, MailError> {
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host);
        let builder = match settings.security {
            SmtpSecurity::None => plain,
            // STARTTLS is required, never opportunistic: no silent fallback to plain text.
            SmtpSecurity::Starttls => plain.tls(Tls::Required(tls_parameters(settings)?)),
            SmtpSecurity::Tls => plain.tls(Tls::Wrapper(tls_parameters(settings)?)),
        };
        let mut builder = builder.port(settings.port).timeout(Some(settings.timeout));
        if let Some(username) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(MailTransport::Smtp(builder.build()))
    }

    pub fn files(dir: impl Into<PathBuf>) -> Self {
        MailTransport::Files(dir.into())
    }

    /// Sends one outbox message from `from`.
    pub async fn send(&self, from: &Mailbox, message: &OutboxMessage) -> Result<(), MailError> {
        let email = build(from, message)?;
        match self {
            MailTransport::Smtp(smtp) => smtp.send(email).await.map(drop).map_err(|e| {
                if e.is_permanent() {
                    MailError::Rejected(e.to_string())
                } else {
                    MailError::Transient(e.to_string())
                }
            }),
            MailTransport::Files(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                // Named by Message-ID: a resend after a crash overwrites the same file.
                let name: String = message
                    .message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@'))
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                tokio::fs::write(&path, email.formatted()).await?;
                tracing::info!(path = %path.display(), to = %message.recipient, subject = %message.subject, "mail written to file (no SMTP configured)");
                Ok(())
            }
        }
    }
}

/// Certificate checks against the system's roots, plus the `ca_file` of a relay signed by a
/// private authority.
fn tls_parameters(settings: &SmtpSettings) -> Result<TlsParameters, MailError> {
    // rustls needs one process-wide crypto provider; when more than one is compiled in (as
    // in the test build), it cannot pick by itself. Ignored if one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| MailError::Config(format!("read {}: {e}", path.display())))?;
        let ca = Certificate::from_pem(&pem)
            .map_err(|e| MailError::Config(format!("{}: {e}", path.display())))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|e| MailError::Config(e.to_string()))
}

fn build(from: &Mailbox, message: &OutboxMessage) -> Result<Message, MailError> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|e| MailError::InvalidMessage(format!("recipient: {e}")))?;
    // lettre encodes header values, so CR/LF in a subject cannot inject headers.
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&message.subject)
        .message_id(Some(message.message_id.clone()))
        .date(message.created_at.and_utc().into())
        .header(ContentType::TEXT_PLAIN)
        .body(message.body_text.clone())
        .map_err(|e| MailError::InvalidMessage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn outgoing(recipient: &str, subject: &str, body: &str) -> OutboxMessage {
        let at = chrono::DateTime::from_timestamp(1_790_000_000, 0)
            .expect("instant")
            .naive_utc();
        OutboxMessage {
            id: "id".into(),
            message_id: "<abc@compact.test>".into(),
            recipient: recipient.into(),
            subject: subject.into(),
            body_text: body.into(),
            created_at: at,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            sent_at: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

        /// Whatever ends up in a subject, recipient or body, a message is built or refused,
        /// and its header section never gains a header (no CR/LF injection).
        #[test]
        fn headers_cannot_be_injected(
            subject in "\\PC{0,60}|[a-zA-Z :\r\n]{0,60}(\r\nBcc: x@evil\\.test)?",
            recipient in "[a-z]{1,8}@[a-z]{1,8}\\.test|\\PC{0,30}|[a-z]{1,5}@x\\.test\r\nBcc: y@evil\\.test",
            body in "\\PC{0,200}",
        ) {
            let from: Mailbox = "Compact <no-reply@compact.test>".parse().expect("from");
            if let Ok(message) = build(&from, &outgoing(&recipient, &subject, &body)) {
                let raw = String::from_utf8_lossy(&message.formatted()).to_string();
                let head = raw.split("\r\n\r\n").next().unwrap_or_default();
                let names: Vec<&str> = head
                    .split("\r\n")
                    .filter(|line| !line.starts_with([' ', '\t']))
                    .filter_map(|line| line.split(':').next())
                    .collect();
                prop_assert!(!names.iter().any(|n| n.eq_ignore_ascii_case("bcc")), "{}", head);
                prop_assert_eq!(names.iter().filter(|n| n.eq_ignore_ascii_case("subject")).count(), 1);
                prop_assert_eq!(names.iter().filter(|n| n.eq_ignore_ascii_case("to")).count(), 1);
            }
        }
    }
}
