//! Delivery against a real SMTP server (mailin-embedded on 127.0.0.1).

use std::time::Duration;

use compact_db::outbox::{self, NewMail};
use compact_db::testing::TestDatabase;
use compact_db::{Database, write_transaction};
use compact_mail::testing::{ReceivedMail, SmtpSink, unused_port};
use compact_mail::{
    MailTransport, MailerConfig, OutboxWorker, SmtpSecurity, SmtpSettings, backoff,
};

fn smtp_on(port: u16) -> MailTransport {
    MailTransport::smtp(&SmtpSettings {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        ca_file: None,
    })
    .expect("transport")
}

fn fast_config() -> MailerConfig {
    let mut config = MailerConfig::new(
        "Compact Platform <no-reply@compact.test>"
            .parse()
            .expect("mailbox"),
    );
    config.poll_interval = Duration::from_millis(50);
    config.base_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(200);
    config
}

fn enqueue(db: &Database, n: usize) -> Vec<outbox::OutboxMessage> {
    let mut conn = db.get().expect("connection");
    (0..n)
        .map(|i| {
            let mail = NewMail {
                recipient: format!("Person {i} <person{i}@example.org>"),
                subject: format!("Update {i}\r\nBcc: attacker@example.org"),
                body_text: format!("Body of message {i}."),
            };
            write_transaction(&mut conn, |c| outbox::enqueue(c, mail, "compact.test"))
                .expect("enqueue")
        })
        .collect()
}

/// `expected` distinct messages arrived, and the outbox holds nothing pending or failed.
fn assert_each_delivered_once(db: &Database, received: &[ReceivedMail], expected: usize) {
    let mut ids: Vec<_> = received
        .iter()
        .filter_map(|m| m.header("Message-ID"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), expected, "each message delivered exactly once");
    let counts = outbox::counts(&mut db.get().expect("connection")).expect("counts");
    assert_eq!(
        counts,
        outbox::OutboxCounts {
            pending: 0,
            failed: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_is_delivered_with_its_message_id() {
    let (_test_db, db) = TestDatabase::migrated();
    let sink = SmtpSink::start();
    let queued = enqueue(&db, 3);
    let worker = OutboxWorker::new(db.clone(), smtp_on(sink.port()), fast_config());

    assert_eq!(worker.process_due().await.expect("pass"), 3);
    let received = sink.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3);
    for message in &queued {
        let mail = received
            .iter()
            .find(|m| m.header("Message-ID") == Some(message.message_id.as_str()))
            .expect("delivered with its Message-ID");
        assert_eq!(mail.from, "no-reply@compact.test");
        assert_eq!(mail.to.len(), 1);
        assert!(mail.data.contains("Body of message"));
        // CR/LF in the subject cannot have added a header.
        assert!(
            mail.header("Bcc").is_none(),
            "header injected: {}",
            mail.data
        );
    }
    let counts = outbox::counts(&mut db.get().expect("connection")).expect("counts");
    assert_eq!(
        counts,
        outbox::OutboxCounts {
            pending: 0,
            failed: 0
        }
    );
    assert_eq!(
        worker.process_due().await.expect("pass"),
        0,
        "nothing is sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_while_smtp_is_down_is_all_delivered_once_it_is_back() {
    let (_test_db, db) = TestDatabase::migrated();
    let port = unused_port();
    enqueue(&db, 5);
    let worker = OutboxWorker::new(db.clone(), smtp_on(port), fast_config());

    // Down: every attempt fails and is rescheduled, nothing is lost or given up.
    for _ in 0..2 {
        worker.process_due().await.expect("pass");
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let messages = outbox::list(&mut db.get().expect("connection"), None, 100).expect("list");
    assert_eq!(messages.len(), 5);
    assert!(
        messages
            .iter()
            .all(|m| m.status == outbox::STATUS_PENDING && m.attempts >= 1)
    );
    assert!(messages.iter().all(|m| m.last_error.is_some()));

    // Back: the running worker delivers everything.
    let sink = SmtpSink::start_on_port(port);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let received = sink.wait_for(5, Duration::from_secs(20)).await;
    stop.send(true).expect("stop worker");
    running.await.expect("worker ends");

    assert_each_delivered_once(&db, &received, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_is_kept_as_failed_after_the_last_attempt() {
    let (_test_db, db) = TestDatabase::migrated();
    enqueue(&db, 1);
    let mut config = fast_config();
    config.max_attempts = 2;
    let worker = OutboxWorker::new(db.clone(), smtp_on(unused_port()), config);
    worker.process_due().await.expect("first attempt");
    tokio::time::sleep(Duration::from_millis(80)).await;
    worker.process_due().await.expect("second attempt");

    let mut conn = db.get().expect("connection");
    assert_eq!(
        outbox::counts(&mut conn).expect("counts"),
        outbox::OutboxCounts {
            pending: 0,
            failed: 1
        }
    );
    let failed = outbox::list(&mut conn, Some(outbox::STATUS_FAILED), 10).expect("list");
    assert_eq!(failed[0].attempts, 2);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        worker.process_due().await.expect("pass"),
        0,
        "a failed message is not retried by itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_mail_becomes_eml_files() {
    let (_test_db, db) = TestDatabase::migrated();
    let dir = tempfile::tempdir().expect("tempdir");
    let queued = enqueue(&db, 2);
    let worker = OutboxWorker::new(
        db.clone(),
        MailTransport::files(dir.path().join("mail")),
        fast_config(),
    );
    assert_eq!(worker.process_due().await.expect("pass"), 2);

    let files: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
        .expect("mail dir")
        .collect();
    assert_eq!(files.len(), 2);
    let first = queued[0].message_id.trim_matches(['<', '>']).to_owned();
    let text =
        std::fs::read_to_string(dir.path().join("mail").join(format!("{first}.eml"))).expect("eml");
    assert!(text.contains(&queued[0].message_id));
    assert!(
        text.contains("To: \"Person 0\" <person0@example.org>")
            || text.contains("To: Person 0 <person0@example.org>")
    );
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let base = Duration::from_secs(30);
    let cap = Duration::from_secs(3600);
    assert_eq!(backoff(base, cap, 1), Duration::from_secs(30));
    assert_eq!(backoff(base, cap, 2), Duration::from_secs(60));
    assert_eq!(backoff(base, cap, 5), Duration::from_secs(480));
    assert_eq!(backoff(base, cap, 30), cap);
    assert_eq!(backoff(base, cap, u32::MAX), cap);
}

/// How long the relay may be away before a message is given up (and kept as `failed`):
/// the waits between the `max_attempts` attempts.
fn retry_window(config: &MailerConfig) -> Duration {
    (1..config.max_attempts)
        .map(|attempt| backoff(config.base_backoff, config.max_backoff, attempt))
        .sum()
}

#[test]
fn the_default_schedule_rides_out_an_hour_without_a_relay() {
    let defaults = MailerConfig::new("x@compact.test".parse().expect("mailbox"));
    assert!(
        retry_window(&defaults) >= Duration::from_secs(3600),
        "{:?}",
        retry_window(&defaults)
    );
}

/// The relay is away for minutes while mail keeps being written; when it is back, every
/// message arrives exactly once and none was given up. The schedule is the default one
/// scaled down (5 s doubling to 40 s instead of 30 s to an hour), so the outage stays inside
/// the retry window as an hour-long one does with the defaults. Slow: runs in the fault
/// stage of CI (`cargo test -p compact-mail --test delivery -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "takes about three minutes; run in the fault stage"]
async fn mail_written_during_a_minutes_long_relay_outage_is_all_delivered_after() {
    const OUTAGE: Duration = Duration::from_secs(150);
    let (_test_db, db) = TestDatabase::migrated();
    let port = unused_port();
    let mut config = fast_config();
    config.poll_interval = Duration::from_millis(200);
    config.base_backoff = Duration::from_secs(5);
    config.max_backoff = Duration::from_secs(40);
    config.max_attempts = MailerConfig::new(config.from.clone()).max_attempts;
    assert!(retry_window(&config) > OUTAGE + Duration::from_secs(30));

    let worker = OutboxWorker::new(db.clone(), smtp_on(port), config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let started = tokio::time::Instant::now();
    let mut written = enqueue(&db, 5).len();
    while started.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(10)).await;
        written += enqueue(&db, 1).len();
    }
    let counts = outbox::counts(&mut db.get().expect("connection")).expect("counts");
    assert_eq!(counts.failed, 0, "nothing given up during the outage");
    assert_eq!(counts.pending, written as i64);

    let sink = SmtpSink::start_on_port(port);
    // The longest wait between attempts is 40 s.
    sink.wait_for(written, Duration::from_secs(90)).await;
    // Time for a duplicate to show up, if the worker were to send one.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send(true).expect("stop worker");
    running.await.expect("worker ends");
    let received = sink.messages();
    assert_eq!(received.len(), written);
    assert_each_delivered_once(&db, &received, written);
}

/// A relay whose certificate a private authority signed (here: self-signed for `localhost`),
/// trusted through `ca_file`; STARTTLS is required, so a relay without it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_delivers_with_a_private_authority_and_plain_relays_are_refused() {
    let (_test_db, db) = TestDatabase::migrated();
    let dir = tempfile::tempdir().expect("tempdir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).expect("write cert");
    std::fs::write(&key_path, certified.signing_key.serialize_pem()).expect("write key");
    let sink = SmtpSink::start_with_starttls(
        cert_path.to_str().expect("utf-8"),
        key_path.to_str().expect("utf-8"),
    );
    let settings = |port: u16, ca_file: Option<std::path::PathBuf>| SmtpSettings {
        host: "localhost".into(),
        port,
        security: SmtpSecurity::Starttls,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        ca_file,
    };
    enqueue(&db, 1);
    let trusted =
        MailTransport::smtp(&settings(sink.port(), Some(cert_path.clone()))).expect("transport");
    let worker = OutboxWorker::new(db.clone(), trusted, fast_config());
    worker.process_due().await.expect("pass");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);

    // Without trusting the certificate, or against a relay without STARTTLS, nothing is sent.
    enqueue(&db, 1);
    let untrusted = MailTransport::smtp(&settings(sink.port(), None)).expect("transport");
    OutboxWorker::new(db.clone(), untrusted, fast_config())
        .process_due()
        .await
        .expect("pass");
    let plain = SmtpSink::start();
    let to_plain =
        MailTransport::smtp(&settings(plain.port(), Some(cert_path))).expect("transport");
    OutboxWorker::new(db.clone(), to_plain, fast_config())
        .process_due()
        .await
        .expect("pass");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 1);
    assert!(plain.messages().is_empty(), "mail went out in plain text");
    let pending = outbox::list(
        &mut db.get().expect("connection"),
        Some(outbox::STATUS_PENDING),
        10,
    )
    .expect("list");
    assert_eq!(pending.len(), 1);
    assert!(pending[0].last_error.is_some());
}
