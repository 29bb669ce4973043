//! Subscriptions over HTTP and SMTP (DESIGN §4): only subscribers in an item's audience are
//! told, never its author, with the TLP in the subject; daily digests go out once a day.

mod support;

use std::time::Duration;

use compact_mail::testing::SmtpSink;
use serde_json::{Value, json};
use support::mail::{follow_everything, outbox_for, queued_for_digest, send_digests_at, subscribe};
use support::{TestApp, problem};

/// UNODC, whose focal point `author@unodc.example` shares, and INTERPOL, where most
/// readers are: where every test here starts.
struct Newsroom {
    app: TestApp,
    unodc: String,
    interpol: String,
    /// The UNODC focal point's access token.
    author: String,
}

impl Newsroom {
    async fn on(app: TestApp) -> Self {
        let unodc = app.create_org("UNODC", "compact_entity");
        let interpol = app.create_org("INTERPOL", "compact_entity");
        let (_, author) = app
            .signed_in(&unodc, "author@unodc.example", "focal_point")
            .await;
        Newsroom {
            app,
            unodc,
            interpol,
            author,
        }
    }

    async fn new() -> Self {
        Self::on(TestApp::spawn().await).await
    }
}

async fn follow(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/subscriptions", Some(token), body)
        .await
}

#[tokio::test]
async fn only_subscribers_in_the_audience_are_told_and_never_the_author() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let Newsroom {
        app,
        unodc: _,
        interpol,
        author,
    } = Newsroom::on(app).await;
    let fatf = app.create_org("FATF", "compact_entity");
    let group = app.create_group("Sahel circle", &[&fatf]);
    let (_, reader) = app
        .signed_in(&interpol, "reader@interpol.example", "member")
        .await;
    let (_, outsider) = app
        .signed_in(&fatf, "outsider@fatf.example", "member")
        .await;

    for token in [&author, &reader, &outsider] {
        follow_everything(&app, token, "immediate").await;
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
    let (_, follower) = app
        .signed_in(&fatf, "follower@fatf.example", "member")
        .await;
    subscribe(
        &app,
        &follower,
        json!({ "target": "group", "target_id": group, "delivery": "immediate" }),
    )
    .await;
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
    let path = format!("/api/v1/subscriptions/{id}");
    problem(app.delete_as(&outsider, &path).await, 404).await;
    assert_eq!(app.delete_as(&reader, &path).await.status(), 204);
    assert_eq!(
        app.get_json(&reader, "/api/v1/subscriptions").await,
        json!([])
    );
}

#[tokio::test]
async fn a_daily_digest_goes_out_once_per_day_with_what_is_still_visible() {
    let Newsroom {
        app,
        unodc: _,
        interpol,
        author,
    } = Newsroom::new().await;
    let (_, reader) = app
        .signed_in(&interpol, "reader@interpol.example", "member")
        .await;
    subscribe(
        &app,
        &reader,
        json!({ "target": "tag", "target_id": "Sahel", "delivery": "daily" }),
    )
    .await;

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
        .delete_as(&author, &format!("/api/v1/updates/{}", ids[2]))
        .await;
    assert_eq!(gone.status(), 204);

    let today = compact_db::now();
    assert_eq!(
        send_digests_at(&app, today),
        0,
        "today's items wait for tomorrow"
    );
    let tomorrow = today + chrono::Duration::days(1);
    assert_eq!(send_digests_at(&app, tomorrow), 1);
    assert_eq!(
        send_digests_at(&app, tomorrow + chrono::Duration::hours(1)),
        0,
        "once a day"
    );

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

/// (recipient, subject) of every mail in the outbox, oldest first.
fn outbox(app: &TestApp) -> Vec<(String, String)> {
    support::matrix_extra::outbox(app)
        .into_iter()
        .map(|mail| (mail.recipient, mail.subject))
        .collect()
}

/// The mail queued since `seen` mails, as (recipient, subject) sorted by recipient; moves
/// `seen` past them.
fn mail_since(app: &TestApp, seen: &mut usize) -> Vec<(String, String)> {
    let all = outbox(app);
    let mut new = all[*seen..].to_vec();
    *seen = all.len();
    new.sort();
    new
}

/// Asserts that the mail queued since `seen` mails is `subject` to exactly `who`.
fn assert_told(app: &TestApp, seen: &mut usize, subject: &str, who: &[&str]) {
    let mut told: Vec<(String, String)> = who
        .iter()
        .map(|w| ((*w).to_owned(), subject.to_owned()))
        .collect();
    told.sort();
    assert_eq!(mail_since(app, seen), told, "{subject}");
}

/// `hour` o'clock (UTC) `days` days after the day of `from`.
fn hour_of_day(from: chrono::NaiveDateTime, days: i64, hour: u32) -> chrono::NaiveDateTime {
    (from.date() + chrono::Duration::days(days))
        .and_hms_opt(hour, 0, 0)
        .expect("time")
}

/// Creates an item over HTTP (`kind` is `documents` or `updates`), asserting 201.
async fn share(app: &TestApp, token: &str, kind: &str, body: Value) -> Value {
    let response = app
        .post_json(&format!("/api/v1/{kind}"), Some(token), body)
        .await;
    assert_eq!(response.status(), 201, "share {kind}");
    response.json().await.expect("json")
}

fn sahel_update(title: &str) -> Value {
    json!({ "title": title, "body": "Text.", "language": "en", "tags": ["sahel"], "tlp": "green" })
}

/// The `digests_sent` row, not the emptied queue, keeps a second digest from going out in
/// the same day: an item queued after the day's digest waits, through a restart, for the
/// next day's.
#[tokio::test]
async fn an_item_queued_after_the_days_digest_waits_for_the_next_day_even_after_a_restart() {
    let (test_db, _) = compact_db::testing::TestDatabase::migrated();
    let Newsroom {
        app,
        unodc: _,
        interpol,
        author,
    } = Newsroom::on(
        TestApp::builder()
            .database_url(test_db.url().clone())
            .spawn()
            .await,
    )
    .await;
    let (reader_id, reader) = app
        .signed_in(&interpol, "reader@interpol.example", "member")
        .await;
    subscribe(
        &app,
        &reader,
        json!({ "target": "tag", "target_id": "sahel", "delivery": "daily" }),
    )
    .await;

    share(&app, &author, "updates", sahel_update("First note")).await;
    let today = compact_db::now();
    let tomorrow = hour_of_day(today, 1, 6);
    assert_eq!(send_digests_at(&app, tomorrow), 1);
    assert_eq!(queued_for_digest(&app, &reader_id), 0);

    // Queued after that digest went out, yet before its day began: due, but not today.
    share(&app, &author, "updates", sahel_update("Second note")).await;
    assert_eq!(queued_for_digest(&app, &reader_id), 1);
    assert_eq!(
        send_digests_at(&app, hour_of_day(today, 1, 7)),
        0,
        "one digest a day, though an item waits"
    );
    assert_eq!(queued_for_digest(&app, &reader_id), 1, "still waiting");

    // A restart: a new server on the same database knows the day's digest went out.
    drop(app);
    let app = TestApp::builder()
        .database_url(test_db.url().clone())
        .spawn()
        .await;
    assert_eq!(
        send_digests_at(&app, hour_of_day(today, 1, 8)),
        0,
        "not after a restart either"
    );
    assert_eq!(queued_for_digest(&app, &reader_id), 1);
    assert_eq!(outbox_for(&app, "reader@interpol.example").len(), 1);

    // The next day it goes out, once.
    assert_eq!(send_digests_at(&app, hour_of_day(today, 2, 0)), 1);
    assert_eq!(send_digests_at(&app, hour_of_day(today, 2, 12)), 0);
    let digests = outbox_for(&app, "reader@interpol.example");
    assert_eq!(digests.len(), 2);
    assert!(digests[0].1.contains("First note") && !digests[0].1.contains("Second note"));
    let (subject, body) = &digests[1];
    assert_eq!(
        subject,
        "[TLP:GREEN] Your daily digest: 1 new or changed item"
    );
    assert!(
        body.contains("Second note") && !body.contains("First note"),
        "{body}"
    );
}

/// Following an organization: told of each of its new items one may see, under every
/// marking, with the marking in the subject; not of another organization's.
#[tokio::test]
async fn following_an_organization_tells_of_its_items_with_the_tlp_in_the_subject() {
    let Newsroom {
        app,
        unodc,
        interpol,
        author: unodc_author,
    } = Newsroom::new().await;
    let fatf = app.create_org("FATF", "compact_entity");
    let (_, fatf_author) = app.signed_in(&fatf, "fp@fatf.example", "focal_point").await;
    let (follower_id, follower) = app
        .signed_in(&interpol, "follower@interpol.example", "member")
        .await;
    subscribe(
        &app,
        &follower,
        json!({ "target": "organization", "target_id": unodc, "delivery": "immediate" }),
    )
    .await;

    let to_interpol = json!({ "organizations": [interpol] });
    let document = |title: &str, tlp: &str, recipients: &Value| {
        json!({
            "title": title, "summary": format!("Summary of {title}"), "body": "Text.",
            "language": "en", "type": "report", "tlp": tlp, "recipients": recipients,
        })
    };
    let update = |title: &str, tlp: &str, recipients: &Value| json!({ "title": title, "body": "Text.", "tlp": tlp, "recipients": recipients });
    let nobody = json!({});
    for (kind, body) in [
        ("updates", update("Clear note", "clear", &nobody)),
        ("documents", document("Green report", "green", &nobody)),
        ("documents", document("Amber report", "amber", &to_interpol)),
        (
            "updates",
            update("Strict note", "amber_strict", &to_interpol),
        ),
        (
            "documents",
            document("Red memo", "red", &json!({ "users": [follower_id] })),
        ),
        // UNODC's, but not for INTERPOL: no notice.
        ("documents", document("Internal memo", "amber", &nobody)),
    ] {
        share(&app, &unodc_author, kind, body).await;
    }
    // FATF's items, which the follower sees but does not follow.
    let fatf_green = share(
        &app,
        &fatf_author,
        "documents",
        document("FATF guidance", "green", &nobody),
    )
    .await;
    share(
        &app,
        &fatf_author,
        "updates",
        update("FATF alert", "amber", &to_interpol),
    )
    .await;
    let path = format!(
        "/api/v1/documents/{}",
        fatf_green["id"].as_str().expect("id")
    );
    assert_eq!(app.status_of(Some(&follower), &path).await, 200);

    let mails = outbox_for(&app, "follower@interpol.example");
    let subjects: Vec<&str> = mails.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "[TLP:CLEAR] New update: Clear note",
            "[TLP:GREEN] New document: Green report",
            "[TLP:AMBER] New document: Amber report",
            "[TLP:AMBER+STRICT] New update: Strict note",
            "[TLP:RED] New document: Red memo",
        ]
    );
    // Only CLEAR and GREEN items have their summary in the mail.
    assert!(mails[1].1.contains("Summary of Green report"));
    for (_, body) in &mails[2..] {
        assert!(!body.contains("Summary of"), "{body}");
    }
    assert_eq!(outbox(&app).len(), 5, "nobody else follows anything");
}

/// A change tells the subscribers in the item's audience after the change, never its
/// author nor whoever made the change.
#[tokio::test]
async fn a_changed_item_tells_its_audience_but_never_its_author_or_editor() {
    let Newsroom {
        app,
        unodc,
        interpol,
        author,
    } = &Newsroom::new().await;
    let fatf = app.create_org("FATF", "compact_entity");
    let (colleague_mail, editor_mail) = ("colleague@unodc.example", "editor@unodc.example");
    let (reader_mail, outsider_mail) = ("reader@interpol.example", "outsider@fatf.example");
    let (_, editor) = &app.signed_in(unodc, editor_mail, "focal_point").await;
    let (_, colleague) = &app.signed_in(unodc, colleague_mail, "member").await;
    let (reader_id, reader) = &app.signed_in(interpol, reader_mail, "focal_point").await;
    let (_, outsider) = &app.signed_in(&fatf, outsider_mail, "member").await;
    for token in [author, editor, colleague, reader, outsider] {
        follow_everything(app, token, "immediate").await;
    }
    let mut seen = 0;

    let doc = share(
        app,
        author,
        "documents",
        json!({
            "title": "Route analysis", "body": "Text.", "language": "en", "type": "assessment",
            "tlp": "amber", "recipients": { "organizations": [interpol] },
        }),
    )
    .await;
    assert_told(
        app,
        &mut seen,
        "[TLP:AMBER] New document: Route analysis",
        &[colleague_mail, editor_mail, reader_mail],
    );
    let path = format!("/api/v1/documents/{}", doc["id"].as_str().expect("id"));

    // An edit by a colleague of the author: neither hears of it.
    app.edit(
        editor,
        &path,
        1,
        json!({ "title": "Route analysis, revised" }),
    )
    .await;
    let changed = "[TLP:AMBER] Changed document: Route analysis, revised";
    assert_told(app, &mut seen, changed, &[colleague_mail, reader_mail]);

    // Shared further by the recipient: FATF is in the audience now and hears of it; the one
    // who shared does not, and the earlier editor does.
    let shared = app
        .post_json(
            &format!("{path}/recipients"),
            Some(reader),
            json!({ "organizations": [fatf] }),
        )
        .await;
    assert_eq!(shared.status(), 200);
    assert_told(
        app,
        &mut seen,
        changed,
        &[colleague_mail, editor_mail, outsider_mail],
    );

    // Narrowed to TLP:RED for the reader: only the reader is in the new audience.
    app.edit(
        editor,
        &path,
        3,
        json!({ "tlp": "red", "recipients": { "users": [reader_id] } }),
    )
    .await;
    assert_told(
        app,
        &mut seen,
        "[TLP:RED] Changed document: Route analysis, revised",
        &[reader_mail],
    );

    // Updates alike.
    let update = share(
        app,
        author,
        "updates",
        json!({ "title": "Border note", "body": "Text.", "tlp": "green" }),
    )
    .await;
    assert_told(
        app,
        &mut seen,
        "[TLP:GREEN] New update: Border note",
        &[colleague_mail, editor_mail, outsider_mail, reader_mail],
    );
    let update_path = format!("/api/v1/updates/{}", update["id"].as_str().expect("id"));
    app.edit(
        editor,
        &update_path,
        1,
        json!({ "body": "Corrected text." }),
    )
    .await;
    assert_told(
        app,
        &mut seen,
        "[TLP:GREEN] Changed update: Border note",
        &[colleague_mail, outsider_mail, reader_mail],
    );
    assert!(outbox_for(app, "author@unodc.example").is_empty());
}

/// Deactivated users and users of suspended organizations are told nothing: no notice of
/// items shared after they were cut off, and no digest of what was queued before.
#[tokio::test]
async fn deactivated_users_and_suspended_organizations_get_no_notice_and_no_digest() {
    let Newsroom {
        app,
        unodc: _,
        interpol,
        author,
    } = Newsroom::new().await;
    let wco = app.create_org("WCO", "compact_entity");
    let fatf = app.create_org("FATF", "compact_entity");
    // (e-mail, organization, delivery)
    let subscribers = [
        ("active@interpol.example", &interpol, "immediate"),
        ("gone@interpol.example", &interpol, "immediate"),
        ("member@wco.example", &wco, "immediate"),
        ("daily@interpol.example", &interpol, "daily"),
        ("daily-gone@interpol.example", &interpol, "daily"),
        ("daily@fatf.example", &fatf, "daily"),
    ];
    let mut ids = std::collections::BTreeMap::new();
    for (email, org, delivery) in subscribers {
        let (id, token) = app.signed_in(org, email, "member").await;
        ids.insert(email, id);
        follow_everything(&app, &token, delivery).await;
    }

    share(&app, &author, "updates", sahel_update("Before")).await;
    let mut seen = 0;
    let before = mail_since(&app, &mut seen);
    assert_eq!(before.len(), 3, "every immediate subscriber: {before:?}");
    for email in [
        "daily@interpol.example",
        "daily-gone@interpol.example",
        "daily@fatf.example",
    ] {
        assert_eq!(queued_for_digest(&app, &ids[email]), 1, "{email}");
    }

    app.cut_off(
        &[
            ids["gone@interpol.example"].clone(),
            ids["daily-gone@interpol.example"].clone(),
        ],
        &[wco, fatf],
    );
    share(&app, &author, "updates", sahel_update("After")).await;
    assert_eq!(
        mail_since(&app, &mut seen),
        [(
            "active@interpol.example".to_owned(),
            "[TLP:GREEN] New update: After".to_owned()
        )]
    );
    assert_eq!(queued_for_digest(&app, &ids["daily@interpol.example"]), 2);
    for email in ["daily-gone@interpol.example", "daily@fatf.example"] {
        assert_eq!(
            queued_for_digest(&app, &ids[email]),
            1,
            "{email}: nothing new queued"
        );
    }

    // Tomorrow's digests: only the active daily subscriber's.
    assert_eq!(
        send_digests_at(&app, hour_of_day(compact_db::now(), 1, 6)),
        1
    );
    let digests = mail_since(&app, &mut seen);
    assert_eq!(digests.len(), 1, "{digests:?}");
    assert_eq!(digests[0].0, "daily@interpol.example");
    assert_eq!(
        digests[0].1,
        "[TLP:GREEN] Your daily digest: 2 new or changed items"
    );
}

/// A creation that is refused sends nothing, and neither does a replay of an
/// `Idempotency-Key`: twenty parallel retries make one item and one notice each.
#[tokio::test]
async fn a_refused_or_replayed_creation_sends_no_mail() {
    let Newsroom {
        app,
        unodc,
        interpol,
        author,
    } = Newsroom::new().await;
    let suspended = app.create_org("SUSPENDED", "compact_entity");
    let (_, member) = app
        .signed_in(&unodc, "member@unodc.example", "member")
        .await;
    let (_, reader) = app
        .signed_in(&interpol, "reader@interpol.example", "member")
        .await;
    let (daily_id, daily) = app
        .signed_in(&interpol, "daily@interpol.example", "member")
        .await;
    app.cut_off(&[], std::slice::from_ref(&suspended));
    follow_everything(&app, &reader, "immediate").await;
    follow_everything(&app, &daily, "daily").await;
    let document = |title: &str, tlp: &str, recipients: Value| {
        json!({
            "title": title, "body": "Text.", "language": "en", "type": "report",
            "tlp": tlp, "recipients": recipients,
        })
    };

    for (token, body, status) in [
        (&author, document("  ", "green", json!({})), 422),
        (
            &author,
            document(
                "To a suspended organization",
                "amber",
                json!({ "organizations": [suspended] }),
            ),
            422,
        ),
        (&author, document("Red for nobody", "red", json!({})), 422),
        (&member, document("By a member", "green", json!({})), 403),
    ] {
        let answer = app.post_json("/api/v1/documents", Some(token), body).await;
        problem(answer, status).await;
    }
    assert!(outbox(&app).is_empty(), "{:?}", outbox(&app));
    assert_eq!(queued_for_digest(&app, &daily_id), 0);

    let post = |key: &'static str, body: Value| {
        let (app, author) = (&app, &author);
        async move {
            app.post_with_key("/api/v1/documents", author, key, &body)
                .await
        }
    };
    let first = post("key-1", document("Keyed report", "green", json!({}))).await;
    assert_eq!(first.status(), 201);
    let replay = post("key-1", document("Keyed report", "green", json!({}))).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let other = post("key-1", document("Another report", "green", json!({}))).await;
    problem(other, 422).await;
    assert_eq!(
        outbox(&app),
        [(
            "reader@interpol.example".to_owned(),
            "[TLP:GREEN] New document: Keyed report".to_owned()
        )]
    );
    assert_eq!(queued_for_digest(&app, &daily_id), 1);

    let answers = futures_util::future::join_all((0..20).map(|_| {
        post(
            "key-parallel",
            document("Parallel report", "green", json!({})),
        )
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.status(), 201);
    }
    let told: Vec<String> = outbox(&app).into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        told,
        [
            "[TLP:GREEN] New document: Keyed report",
            "[TLP:GREEN] New document: Parallel report"
        ]
    );
    assert_eq!(queued_for_digest(&app, &daily_id), 2);
}
