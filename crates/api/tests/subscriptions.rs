//! Subscriptions over HTTP and SMTP (DESIGN §4): only subscribers in an item's audience are
//! told, never its author, with the TLP in the subject; daily digests go out once a day.

mod support;

use std::time::Duration;

use compact_mail::testing::SmtpSink;
use serde_json::{Value, json};
use support::{TestApp, problem};

async fn follow(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/subscriptions", Some(token), body)
        .await
}

#[tokio::test]
async fn only_subscribers_in_the_audience_are_told_and_never_the_author() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    let fatf = app.create_org("FATF", "compact_entity");
    let group = app.create_group("Sahel circle", &[&fatf]);
    app.create_user(&unodc, "author@unodc.example", "focal_point");
    app.create_user(&interpol, "reader@interpol.example", "member");
    app.create_user(&fatf, "outsider@fatf.example", "member");
    let author = app.tokens("author@unodc.example").await.0;
    let reader = app.tokens("reader@interpol.example").await.0;
    let outsider = app.tokens("outsider@fatf.example").await.0;

    for token in [&author, &reader, &outsider] {
        let answer = follow(
            &app,
            token,
            json!({ "target": "everything", "delivery": "immediate" }),
        )
        .await;
        assert_eq!(answer.status(), 201);
    }
    problem(
        follow(
            &app,
            &reader,
            json!({ "target": "everything", "delivery": "daily" }),
        )
        .await,
        409,
    )
    .await;
    problem(
        follow(
            &app,
            &reader,
            json!({ "target": "organization", "target_id": "nope", "delivery": "daily" }),
        )
        .await,
        422,
    )
    .await;
    problem(
        follow(
            &app,
            &reader,
            json!({ "target": "group", "target_id": group, "delivery": "daily" }),
        )
        .await,
        422,
    )
    .await;
    problem(
        follow(
            &app,
            &reader,
            json!({ "target": "everything", "target_id": "x", "delivery": "daily" }),
        )
        .await,
        422,
    )
    .await;
    problem(
        follow(
            &app,
            &reader,
            json!({ "target": "tag", "target_id": "two words", "delivery": "daily" }),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        follow(
            &app,
            &outsider,
            json!({ "target": "group", "target_id": group, "delivery": "daily" })
        )
        .await
        .status(),
        201,
        "FATF belongs to the group"
    );

    let doc = app
        .share_document(
            &author,
            json!({
                "title": "Joint assessment", "summary": "Confidential findings", "body": "Text.",
                "language": "en", "type": "assessment", "tlp": "amber",
                "recipients": { "organizations": [interpol] },
            }),
        )
        .await;
    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(
        mail.header("Subject"),
        Some("[TLP:AMBER] New document: Joint assessment")
    );
    assert!(
        mail.to
            .iter()
            .any(|r| r.contains("reader@interpol.example")),
        "{:?}",
        mail.to
    );
    assert!(
        !mail.body().contains("Confidential findings"),
        "no AMBER content in mail"
    );
    assert!(mail.body().contains(doc["id"].as_str().expect("id")));
    // Give the outbox time to deliver anything else it (wrongly) holds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let told: Vec<String> = sink.messages().into_iter().flat_map(|m| m.to).collect();
    assert_eq!(told.len(), 1, "only the reader: {told:?}");

    // Following a group: told of what is addressed to the group, from its own recipients.
    app.create_user(&fatf, "follower@fatf.example", "member");
    let follower = app.tokens("follower@fatf.example").await.0;
    let answer = follow(
        &app,
        &follower,
        json!({ "target": "group", "target_id": group, "delivery": "immediate" }),
    )
    .await;
    assert_eq!(answer.status(), 201);
    app.share_document(
        &author,
        json!({
            "title": "Circle brief", "body": "Text.", "language": "en", "type": "assessment",
            "tlp": "amber", "recipients": { "groups": [group] },
        }),
    )
    .await;
    sink.wait_for(3, Duration::from_secs(10)).await;
    // As above: time for anything else the outbox (wrongly) holds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let told: Vec<String> = sink
        .messages()
        .into_iter()
        .skip(1)
        .flat_map(|m| m.to)
        .collect();
    for who in ["follower@fatf.example", "outsider@fatf.example"] {
        assert!(told.iter().any(|r| r.contains(who)), "{who}: {told:?}");
    }
    assert_eq!(told.len(), 2, "FATF's two followers only: {told:?}");

    // Subscriptions are listed and removed by their owner only.
    let mine: Value = app.get_json(&reader, "/api/v1/subscriptions").await;
    let id = mine[0]["id"].as_str().expect("id").to_owned();
    let delete = |token: &str| {
        app.client
            .delete(app.url(&format!("/api/v1/subscriptions/{id}")))
            .bearer_auth(token.to_owned())
            .send()
    };
    problem(delete(&outsider).await.expect("delete"), 404).await;
    assert_eq!(delete(&reader).await.expect("delete").status(), 204);
    assert_eq!(
        app.get_json(&reader, "/api/v1/subscriptions").await,
        json!([])
    );
}

#[tokio::test]
async fn a_daily_digest_goes_out_once_per_day_with_what_is_still_visible() {
    use compact_registry::subscriptions::send_digests;

    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    app.create_user(&unodc, "author@unodc.example", "focal_point");
    app.create_user(&interpol, "reader@interpol.example", "member");
    let author = app.tokens("author@unodc.example").await.0;
    let reader = app.tokens("reader@interpol.example").await.0;
    let answer = follow(
        &app,
        &reader,
        json!({ "target": "tag", "target_id": "Sahel", "delivery": "daily" }),
    )
    .await;
    assert_eq!(answer.status(), 201);

    let mut ids = Vec::new();
    for (title, tlp) in [
        ("Green note", "green"),
        ("Amber note", "amber"),
        ("Withdrawn note", "green"),
    ] {
        let mut body = json!({ "title": title, "body": "Text.", "language": "en", "tags": ["sahel"], "tlp": tlp });
        if tlp == "amber" {
            body["recipients"] = json!({ "organizations": [interpol] });
        }
        let v: Value = app
            .post_json("/api/v1/updates", Some(&author), body)
            .await
            .json()
            .await
            .expect("json");
        ids.push(v["id"].as_str().expect("id").to_owned());
    }
    // Deleted before the digest: it must not be mentioned.
    let gone = app
        .client
        .delete(app.url(&format!("/api/v1/updates/{}", ids[2])))
        .bearer_auth(&author)
        .send()
        .await
        .expect("delete");
    assert_eq!(gone.status(), 204);

    let mail = compact_auth::accounts::MailContext {
        public_url: "https://compact.test".into(),
        message_domain: "compact.test".into(),
    };
    let mut conn = app.db.get().expect("connection");
    let today = compact_db::now();
    assert_eq!(
        send_digests(&mut conn, &mail, today).expect("digests"),
        0,
        "today's items wait for tomorrow"
    );
    let tomorrow = today + chrono::Duration::days(1);
    assert_eq!(
        send_digests(&mut conn, &mail, tomorrow).expect("digests"),
        1
    );
    assert_eq!(
        send_digests(&mut conn, &mail, tomorrow + chrono::Duration::hours(1)).expect("digests"),
        0,
        "once a day"
    );
    drop(conn);

    let outbox = outbox_for(&app, "reader@interpol.example");
    assert_eq!(outbox.len(), 1);
    let (subject, body) = &outbox[0];
    assert_eq!(
        subject,
        "[TLP:AMBER] Your daily digest: 2 new or changed items"
    );
    assert!(
        body.contains("[TLP:GREEN] Green note") && body.contains("[TLP:AMBER] Amber note"),
        "{body}"
    );
    assert!(!body.contains("Withdrawn note"));
}

fn outbox_for(app: &TestApp, recipient: &str) -> Vec<(String, String)> {
    use compact_db::schema::outbox::dsl as o;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    o::outbox
        .filter(o::recipient.eq(recipient))
        .select((o::subject, o::body_text))
        .load(&mut *conn)
        .expect("outbox")
}
