//! Mail as the server queues it: the outbox, daily digests and subscriptions, read and
//! driven straight through the database (no SMTP needed).

use serde_json::Value;

use super::TestApp;
use super::matrix_extra::outbox;

/// The mail context the server's own writes use in tests.
pub fn mail_context() -> compact_auth::accounts::MailContext {
    compact_auth::accounts::MailContext {
        public_url: "https://compact.test".into(),
        message_domain: "compact.test".into(),
    }
}

/// The (subject, body) of every mail to `recipient` in the outbox, oldest first.
pub fn outbox_for(app: &TestApp, recipient: &str) -> Vec<(String, String)> {
    outbox(app)
        .into_iter()
        .filter(|mail| mail.recipient == recipient)
        .map(|mail| (mail.subject, mail.body))
        .collect()
}

/// The token after `marker` in the last mail queued for `recipient`.
pub fn mailed_token(app: &TestApp, recipient: &str, marker: &str) -> String {
    let mails = outbox_for(app, recipient);
    let (_, body) = mails.last().expect("a mail");
    super::token_after(body, marker)
}

/// How many items wait in `user_id`'s next digest.
pub fn queued_for_digest(app: &TestApp, user_id: &str) -> i64 {
    use compact_db::schema::digest_entries::dsl as d;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    d::digest_entries
        .filter(d::user_id.eq(user_id))
        .count()
        .get_result(&mut *conn)
        .expect("digest entries")
}

/// `send_digests` as the scheduler runs it, at `at`; returns how many went out.
pub fn send_digests_at(app: &TestApp, at: chrono::NaiveDateTime) -> usize {
    let mut conn = app.db.get().expect("connection");
    compact_registry::subscriptions::send_digests(&mut conn, &mail_context(), at).expect("digests")
}

/// Subscribes the signed-in user (asserting 201); returns the subscription.
pub async fn subscribe(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app
        .post_json("/api/v1/subscriptions", Some(token), body)
        .await;
    assert_eq!(response.status(), 201, "subscribe");
    response.json().await.expect("json")
}

/// Follows everything with this delivery (`immediate` or `daily`).
pub async fn follow_everything(app: &TestApp, token: &str, delivery: &str) {
    let body = serde_json::json!({ "target": "everything", "delivery": delivery });
    subscribe(app, token, body).await;
}
