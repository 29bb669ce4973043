//! Documents and updates over HTTP (DESIGN §4): audiences, edits with If-Match, versions,
//! idempotent creation, deletion, the feed.

mod support;

use serde_json::{Value, json};
use support::matrix_extra::send;
use support::{TestApp, problem};

/// Owner UNODC, recipient INTERPOL, group member OSCE, outsider FATF.
struct World {
    app: TestApp,
    unodc: String,
    interpol: String,
    group: String,
    author: String,
    author_id: String,
    colleague: String,
    recipient: String,
    recipient_id: String,
    group_member: String,
    outsider: String,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    let osce = app.create_org("OSCE", "regional_organization");
    let fatf = app.create_org("FATF", "compact_entity");
    let group = app.create_group("Central Asia JPoA", &[&osce]);
    let author_id = app.create_user(&unodc, "fp@unodc.example", "focal_point");
    app.create_user(&unodc, "member@unodc.example", "member");
    let recipient_id = app.create_user(&interpol, "fp@interpol.example", "focal_point");
    app.create_user(&osce, "member@osce.example", "member");
    app.create_user(&fatf, "coordinator@fatf.example", "coordinator");
    let author = app.tokens("fp@unodc.example").await.0;
    let colleague = app.tokens("member@unodc.example").await.0;
    let recipient = app.tokens("fp@interpol.example").await.0;
    let group_member = app.tokens("member@osce.example").await.0;
    let outsider = app.tokens("coordinator@fatf.example").await.0;
    World {
        app,
        unodc,
        interpol,
        group,
        author,
        author_id,
        colleague,
        recipient,
        recipient_id,
        group_member,
        outsider,
    }
}

impl World {
    /// A TLP:AMBER document of UNODC's for INTERPOL, and its path.
    async fn amber_for_interpol(&self) -> (Value, String) {
        let doc = self
            .app
            .share_document(
                &self.author,
                document("amber", json!({ "organizations": [self.interpol] })),
            )
            .await;
        let path = document_path(&doc);
        (doc, path)
    }
}

fn document_path(doc: &Value) -> String {
    format!("/api/v1/documents/{}", doc["id"].as_str().expect("id"))
}

fn document(tlp: &str, recipients: Value) -> Value {
    json!({
        "title": "Assessment of financing channels",
        "summary": "Findings for the region",
        "body": "## Findings\nCash couriers remain the main channel.",
        "language": "en",
        "type": "assessment",
        "tags": ["Financing", "cash"],
        "tlp": tlp,
        "recipients": recipients,
    })
}

#[tokio::test]
async fn each_tlp_reaches_exactly_its_audience_and_others_get_404() {
    let w = world().await;
    let app = &w.app;
    let amber = w
        .app
        .share_document(
            &w.author,
            document(
                "amber",
                json!({ "organizations": [w.interpol], "groups": [w.group] }),
            ),
        )
        .await;
    assert_eq!(amber["tags"], json!(["financing", "cash"]));
    assert_eq!(amber["owner_organization_id"], w.unodc.as_str());
    let red = app
        .share_document(
            &w.author,
            document("red", json!({ "users": [w.recipient_id] })),
        )
        .await;
    let clear = app
        .share_document(&w.author, document("clear", json!({})))
        .await;
    let green = app
        .share_document(&w.author, document("green", json!({})))
        .await;

    let path = |d: &Value| format!("/api/v1/documents/{}", d["id"].as_str().expect("id"));
    let expectations: [(&Value, [u16; 6]); 4] = [
        // anonymous, author, colleague, recipient, group member, outsider
        (&amber, [404, 200, 200, 200, 200, 404]),
        (&red, [404, 200, 404, 200, 404, 404]),
        (&clear, [200, 200, 200, 200, 200, 200]),
        (&green, [404, 200, 200, 200, 200, 200]),
    ];
    let readers = [
        None,
        Some(w.author.as_str()),
        Some(w.colleague.as_str()),
        Some(w.recipient.as_str()),
        Some(w.group_member.as_str()),
        Some(w.outsider.as_str()),
    ];
    for (doc, statuses) in expectations {
        for (reader, expected) in readers.iter().zip(statuses) {
            assert_eq!(
                app.status_of(*reader, &path(doc)).await,
                expected,
                "{} for reader {:?}",
                doc["tlp"],
                readers.iter().position(|r| r == reader)
            );
        }
    }

    // Lists hold exactly what each may see.
    let titles_for = |token: Option<&str>| {
        let token = token.map(str::to_owned);
        async move {
            let mut request = app.client.get(app.url("/api/v1/documents"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let page: Value = request
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|d| d["tlp"].as_str().expect("tlp").to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(titles_for(None).await, ["clear"]);
    assert_eq!(titles_for(Some(&w.outsider)).await, ["green", "clear"]);
    assert_eq!(
        titles_for(Some(&w.recipient)).await,
        ["green", "clear", "red", "amber"]
    );
    assert_eq!(
        titles_for(Some(&w.colleague)).await,
        ["green", "clear", "amber"]
    );

    // A bad credential is not treated as anonymous.
    let bad = app
        .client
        .get(app.url(&path(&clear)))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    problem(bad, 401).await;
}

#[tokio::test]
async fn nonsense_audiences_and_fields_are_422_and_members_cannot_share() {
    let w = world().await;
    let app = &w.app;
    for (body, field) in [
        (document("red", json!({})), "recipients"),
        (
            document("red", json!({ "organizations": [w.interpol] })),
            "recipients",
        ),
        (
            document("clear", json!({ "organizations": [w.interpol] })),
            "recipients",
        ),
        (
            document("amber", json!({ "users": [w.recipient_id] })),
            "recipients",
        ),
        (
            document("amber", json!({ "organizations": ["no-such-org"] })),
            "recipients.organizations",
        ),
        (
            document("amber", json!({ "groups": ["no-such-group"] })),
            "recipients.groups",
        ),
        (
            document("red", json!({ "users": ["no-such-user"] })),
            "recipients.users",
        ),
    ] {
        let answer = problem(
            app.post_json("/api/v1/documents", Some(&w.author), body)
                .await,
            422,
        )
        .await;
        assert_eq!(answer["errors"][0]["field"], field, "{answer}");
    }
    let mut no_title = document("green", json!({}));
    no_title["title"] = json!("  ");
    problem(
        app.post_json("/api/v1/documents", Some(&w.author), no_title)
            .await,
        422,
    )
    .await;
    let mut bad_tag = document("green", json!({}));
    bad_tag["tags"] = json!(["no spaces allowed"]);
    problem(
        app.post_json("/api/v1/documents", Some(&w.author), bad_tag)
            .await,
        422,
    )
    .await;
    let mut owner_field = document("green", json!({}));
    owner_field["owner_organization_id"] = json!(w.interpol);
    problem(
        app.post_json("/api/v1/documents", Some(&w.author), owner_field)
            .await,
        422,
    )
    .await;
    // Members read but do not share.
    problem(
        app.post_json(
            "/api/v1/documents",
            Some(&w.colleague),
            document("green", json!({})),
        )
        .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn edits_need_the_current_etag_keep_versions_and_only_the_owner_edits() {
    let w = world().await;
    let app = &w.app;
    let (_, path) = w.amber_for_interpol().await;
    let got = app.get_as(&w.author, &path).await;
    assert_eq!(got.headers()["etag"], "\"v1\"");

    for (token, if_match, status) in [
        // No If-Match, then a stale one.
        (&w.author, None, 428),
        (&w.author, Some("\"v7\""), 412),
        // A recipient sees it but does not own it.
        (&w.recipient, Some("\"v1\""), 403),
        // An outsider does not even learn it exists.
        (&w.outsider, Some("\"v1\""), 404),
    ] {
        let patched = app
            .patch_if_match(&path, token, if_match, json!({ "title": "New" }))
            .await;
        problem(patched, status).await;
    }

    let edited = app
        .patch_if_match(
            &path,
            &w.author,
            Some("\"v1\""),
            json!({ "title": "Revised assessment" }),
        )
        .await;
    assert_eq!(edited.status(), 200);
    assert_eq!(edited.headers()["etag"], "\"v2\"");
    let edited: Value = edited.json().await.expect("json");
    assert_eq!(edited["title"], "Revised assessment");
    assert_eq!(edited["version"], 2);
    // The same stale ETag again: 412, nothing lost.
    problem(
        app.patch_if_match(&path, &w.author, Some("\"v1\""), json!({ "title": "Lost" }))
            .await,
        412,
    )
    .await;

    // Narrow to TLP:RED for the author only... with a named user: v2 was amber for INTERPOL.
    let narrowed = app
        .patch_if_match(
            &path,
            &w.author,
            Some("\"v2\""),
            json!({ "tlp": "red", "recipients": { "users": [w.author_id] } }),
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    assert_eq!(app.status_of(Some(&w.recipient), &path).await, 404);
    assert_eq!(app.status_of(Some(&w.colleague), &path).await, 404);

    // Widen to green: the colleague sees v3's content, but not the versions they were never
    // in the audience of... v1 and v2 (amber) included the colleague's org, so they show.
    let widened = app
        .patch_if_match(
            &path,
            &w.author,
            Some("\"v3\""),
            json!({ "tlp": "green", "recipients": {} }),
        )
        .await;
    assert_eq!(widened.status(), 200);
    let versions: Value = app
        .get_json(&w.colleague, &format!("{path}/versions"))
        .await;
    let numbers: Vec<i64> = versions
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| v["version"].as_i64().expect("n"))
        .collect();
    assert_eq!(numbers, [2, 1], "v3 (red) is not for the colleague");
    let versions: Value = app.get_json(&w.author, &format!("{path}/versions")).await;
    assert_eq!(versions.as_array().expect("versions").len(), 3);
    let versions: Value = app.get_json(&w.outsider, &format!("{path}/versions")).await;
    assert_eq!(
        versions.as_array().expect("versions").len(),
        0,
        "the outsider was never in an audience"
    );
    assert_eq!(versions, json!([]));

    let actions = app.audit_actions();
    assert_eq!(
        actions.iter().filter(|a| *a == "document.updated").count(),
        3
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "document.audience_widened")
            .count(),
        1,
        "red → green widens; amber → red does not: {actions:?}"
    );

    // Deletion: the owner organization's writers only (it is green now: all others see it),
    // then gone for everyone.
    problem(app.delete_as(&w.recipient, &path).await, 403).await;
    problem(app.delete_as(&w.colleague, &path).await, 403).await;
    assert_eq!(app.delete_as(&w.author, &path).await.status(), 204);
    for reader in [&w.author, &w.colleague, &w.outsider] {
        assert_eq!(app.status_of(Some(reader), &path).await, 404);
        assert_eq!(
            app.status_of(Some(reader), &format!("{path}/versions"))
                .await,
            404
        );
    }
    assert!(app.audit_actions().contains(&"document.deleted".to_owned()));
}

#[tokio::test]
async fn recipients_widen_amber_but_not_amber_strict() {
    let w = world().await;
    let app = &w.app;
    let fatf = app.create_org("MONEYVAL", "regional_organization");
    for (tlp, expected) in [("amber", 200), ("amber_strict", 403)] {
        let doc = app
            .share_document(
                &w.author,
                document(tlp, json!({ "organizations": [w.interpol] })),
            )
            .await;
        let path = format!(
            "/api/v1/documents/{}/recipients",
            doc["id"].as_str().expect("id")
        );
        let answer = app
            .post_json(
                &path,
                Some(&w.recipient),
                json!({ "organizations": [fatf] }),
            )
            .await;
        assert_eq!(answer.status(), expected, "{tlp}");
        if expected == 200 {
            // Naming someone already there is not a change (no version, no mail).
            let again = app
                .post_json(
                    &path,
                    Some(&w.recipient),
                    json!({ "organizations": [fatf] }),
                )
                .await;
            problem(again, 422).await;
        }
        // The outsider cannot share what it cannot see.
        problem(
            app.post_json(&path, Some(&w.outsider), json!({ "organizations": [fatf] }))
                .await,
            404,
        )
        .await;
    }
    assert!(
        app.audit_actions()
            .contains(&"document.audience_widened".to_owned())
    );

    // A new member of a group sees the group's items from now on: audited as a widening.
    let secretariat = app.create_org("UNOCT", "secretariat");
    let (_, manager) = app
        .privileged(&secretariat, "sec@unoct.example", "secretariat")
        .await;
    app.share_document(&w.author, document("amber", json!({ "groups": [w.group] })))
        .await;
    let newcomer = app.create_org("NEWCOMER", "member_state");
    let current: Value = app
        .get_json(&manager, &format!("/api/v1/groups/{}", w.group))
        .await;
    let mut members: Vec<Value> = current["members"].as_array().expect("members").clone();
    members.push(json!(newcomer));
    let changed = app
        .patch_json(
            &format!("/api/v1/groups/{}", w.group),
            &manager,
            json!({ "members": members }),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert!(
        app.audit_actions()
            .contains(&"group.audience_widened".to_owned())
    );
}

/// Creates an update with an `Idempotency-Key`.
async fn create_with_key(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.post_with_key("/api/v1/updates", token, key, body).await
}

#[tokio::test]
async fn an_idempotency_key_makes_retries_return_the_first_item() {
    let w = world().await;
    let app = &w.app;
    let body = json!({ "title": "Listing", "body": "A new listing.", "tlp": "green" });
    let first = create_with_key(app, &w.author, "key-1", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    let again = create_with_key(app, &w.author, "key-1", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    let other = json!({ "title": "Other", "body": "Different.", "tlp": "green" });
    let answer = problem(create_with_key(app, &w.author, "key-1", &other).await, 422).await;
    assert_eq!(answer["errors"][0]["field"], "Idempotency-Key");
    // Keys belong to their user.
    let colleague_fp = app.create_user(&w.unodc, "fp2@unodc.example", "focal_point");
    let _ = colleague_fp;
    let (other_user, _) = app.tokens("fp2@unodc.example").await;
    let theirs: Value = create_with_key(app, &other_user, "key-1", &body)
        .await
        .json()
        .await
        .expect("json");
    assert_ne!(theirs["id"], first["id"]);

    // Twenty parallel retries with one new key: one item.
    let body = json!({ "title": "Parallel", "body": "Once only.", "tlp": "green" });
    let answers = futures_util::future::join_all(
        (0..20).map(|_| create_with_key(app, &w.author, "key-parallel", &body)),
    )
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for answer in answers {
        assert_eq!(answer.status(), 201);
        let v: Value = answer.json().await.expect("json");
        ids.insert(v["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(ids.len(), 1);
    let feed: Value = app.get_json(&w.author, "/api/v1/updates?limit=100").await;
    let parallel = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|u| u["title"] == "Parallel")
        .count();
    assert_eq!(parallel, 1);
}

#[tokio::test]
async fn the_feed_pages_newest_first_and_polls_with_since() {
    let w = world().await;
    let app = &w.app;
    let mut created = Vec::new();
    for i in 0..5 {
        let body = json!({ "title": format!("Update {i}"), "body": "Text.", "tlp": "green" });
        let v: Value = app
            .post_json("/api/v1/updates", Some(&w.author), body)
            .await
            .json()
            .await
            .expect("json");
        created.push(v);
    }
    // One the reader may not see, in the middle of the stream.
    let hidden = json!({ "title": "Hidden", "body": "Amber.", "tlp": "amber" });
    assert_eq!(
        app.post_json("/api/v1/updates", Some(&w.author), hidden)
            .await
            .status(),
        201
    );

    let mut titles = Vec::new();
    let mut path = "/api/v1/updates?limit=2".to_owned();
    loop {
        let page: Value = app.get_json(&w.outsider, &path).await;
        for item in page["items"].as_array().expect("items") {
            titles.push(item["title"].as_str().expect("title").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/updates?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        titles,
        ["Update 4", "Update 3", "Update 2", "Update 1", "Update 0"]
    );

    let since = created[2]["created_at"].as_str().expect("created_at");
    let page: Value = app
        .get_json(
            &w.outsider,
            &format!("/api/v1/updates?since={}", urlencode(since)),
        )
        .await;
    let titles: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().expect("t"))
        .collect();
    assert_eq!(titles, ["Update 4", "Update 3"]);

    for bad in [
        "limit=0",
        "limit=101",
        "cursor=garbage",
        "since=yesterday",
        "colour=blue",
    ] {
        let status = app
            .status_of(Some(&w.outsider), &format!("/api/v1/updates?{bad}"))
            .await;
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

/// Creates a document with an `Idempotency-Key`.
async fn create_document_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
) -> reqwest::Response {
    app.post_with_key("/api/v1/documents", token, key, body)
        .await
}

/// The ids of the documents `token` lists.
async fn listed_documents(app: &TestApp, token: &str) -> Vec<String> {
    let page: Value = app.get_json(token, "/api/v1/documents?limit=100").await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn an_idempotency_key_on_a_document_replays_it_and_refuses_another_request() {
    let w = world().await;
    let app = &w.app;
    let body = document("amber", json!({ "organizations": [w.interpol] }));
    let first = create_document_with_key(app, &w.author, "doc-key", &body).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first: Value = first.json().await.expect("json");

    let again = create_document_with_key(app, &w.author, "doc-key", &body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    let again: Value = again.json().await.expect("json");
    assert_eq!(again, first, "the first document, as it was");

    // The same key with another request: refused, whichever field differs.
    let mut other_title = body.clone();
    other_title["title"] = json!("Another assessment");
    let mut other_audience = body.clone();
    other_audience["tlp"] = json!("green");
    other_audience["recipients"] = json!({});
    for other in [other_title, other_audience] {
        let answer = problem(
            create_document_with_key(app, &w.author, "doc-key", &other).await,
            422,
        )
        .await;
        assert_eq!(answer["errors"][0]["field"], "Idempotency-Key", "{answer}");
    }
    assert_eq!(
        listed_documents(app, &w.author).await,
        [first["id"].as_str().expect("id")]
    );
    let created = app.audit_count("document.created");
    assert_eq!(created, 1);
}

#[tokio::test]
async fn recipients_who_are_deactivated_or_suspended_are_refused_and_told_why() {
    let w = world().await;
    let app = &w.app;
    let wco = app.create_org("WCO", "compact_entity");
    let gone_id = app.create_user(&w.interpol, "gone@interpol.example", "member");
    let wco_user_id = app.create_user(&wco, "member@wco.example", "member");
    app.cut_off(std::slice::from_ref(&gone_id), std::slice::from_ref(&wco));

    let refusals = [
        (
            document("red", json!({ "users": [w.recipient_id, gone_id] })),
            "recipients.users",
            format!("{gone_id:?} is not an active user"),
        ),
        (
            document("red", json!({ "users": [wco_user_id] })),
            "recipients.users",
            format!("{wco_user_id:?} is not an active user"),
        ),
        (
            document("amber", json!({ "organizations": [w.interpol, wco] })),
            "recipients.organizations",
            format!("{wco:?} is not an active organization"),
        ),
    ];
    for (body, field, message) in &refusals {
        let answer = problem(
            app.post_json("/api/v1/documents", Some(&w.author), body.clone())
                .await,
            422,
        )
        .await;
        assert_eq!(answer["errors"][0]["field"], *field, "{answer}");
        assert_eq!(answer["errors"][0]["message"], message.as_str(), "{answer}");
    }
    assert!(listed_documents(app, &w.author).await.is_empty());

    // Named in an edit, or in sharing further: refused alike, and nothing changes.
    let doc = app
        .share_document(
            &w.author,
            document("red", json!({ "users": [w.recipient_id] })),
        )
        .await;
    let path = document_path(&doc);
    let edit = app
        .patch_if_match(
            &path,
            &w.author,
            Some("\"v1\""),
            json!({ "recipients": { "users": [w.recipient_id, gone_id] } }),
        )
        .await;
    let answer = problem(edit, 422).await;
    assert_eq!(answer["errors"][0]["field"], "recipients.users");
    let (amber, amber_path) = w.amber_for_interpol().await;
    let shared = app
        .post_json(
            &format!("{amber_path}/recipients"),
            Some(&w.recipient),
            json!({ "organizations": [wco] }),
        )
        .await;
    let answer = problem(shared, 422).await;
    assert_eq!(answer["errors"][0]["field"], "recipients.organizations");
    for (id, version) in [(&doc["id"], 1), (&amber["id"], 1)] {
        let current: Value = app
            .get_json(
                &w.author,
                &format!("/api/v1/documents/{}", id.as_str().expect("id")),
            )
            .await;
        assert_eq!(current["version"], version);
    }
}

/// Uploads `text` as an attachment of the document `id`.
async fn upload(
    app: &TestApp,
    token: &str,
    id: &str,
    filename: &str,
    text: &str,
) -> reqwest::Response {
    let bytes = text.as_bytes().to_vec();
    support::matrix_extra::upload(app, Some(token), id, filename, bytes).await
}

/// Every route of a document: (method, path, body, the status without credentials when the
/// document is not TLP:CLEAR — 404 on the public read routes, else 401).
fn routes_of(
    path: &str,
    attachment: &str,
    group: &str,
) -> Vec<(reqwest::Method, String, Option<Value>, u16)> {
    use reqwest::Method;
    vec![
        (Method::GET, path.to_owned(), None, 404),
        (Method::GET, format!("{path}/versions"), None, 401),
        (
            Method::PATCH,
            path.to_owned(),
            Some(json!({ "title": "Revived" })),
            401,
        ),
        (Method::DELETE, path.to_owned(), None, 401),
        (
            Method::POST,
            format!("{path}/recipients"),
            Some(json!({ "groups": [group] })),
            401,
        ),
        (Method::GET, format!("{path}/attachments"), None, 404),
        (
            Method::GET,
            format!("{path}/attachments/{attachment}"),
            None,
            404,
        ),
        (
            Method::DELETE,
            format!("{path}/attachments/{attachment}"),
            None,
            401,
        ),
    ]
}

#[tokio::test]
async fn a_deleted_document_stays_in_the_database_and_every_route_answers_404() {
    use compact_db::schema::{item_access, item_versions, items};
    use diesel::prelude::*;

    let w = world().await;
    let app = &w.app;
    let (doc, path) = w.amber_for_interpol().await;
    let id = doc["id"].as_str().expect("id").to_owned();
    let edited = app
        .patch_if_match(
            &path,
            &w.author,
            Some("\"v1\""),
            json!({ "title": "Assessment, revised" }),
        )
        .await;
    assert_eq!(edited.status(), 200);
    let attached = upload(app, &w.author, &id, "notes.txt", "Field notes.").await;
    assert_eq!(attached.status(), 201);
    let attachment: Value = attached.json().await.expect("json");
    let attachment = attachment["id"].as_str().expect("id").to_owned();

    // Readable before: the 404s below are the deletion's.
    for token in [&w.author, &w.recipient] {
        for route in [
            path.clone(),
            format!("{path}/versions"),
            format!("{path}/attachments"),
            format!("{path}/attachments/{attachment}"),
        ] {
            assert_eq!(app.status_of(Some(token), &route).await, 200, "{route}");
        }
    }

    let deleted = app.delete_as(&w.author, &path).await;
    assert_eq!(deleted.status(), 204);

    // Kept for the record: the row, as last edited, and its earlier version.
    let mut conn = app.db.get().expect("connection");
    let (title, version, deleted_at): (String, i32, Option<chrono::NaiveDateTime>) = items::table
        .find(&id)
        .select((items::title, items::version, items::deleted_at))
        .first(&mut *conn)
        .expect("the row is still there");
    assert_eq!((title.as_str(), version), ("Assessment, revised", 2));
    assert!(deleted_at.is_some());
    let versions: Vec<(i32, String)> = item_versions::table
        .filter(item_versions::item_id.eq(&id))
        .select((item_versions::version, item_versions::title))
        .load(&mut *conn)
        .expect("versions");
    assert_eq!(
        versions,
        [(1, "Assessment of financing channels".to_owned())]
    );
    // ... but nobody holds a grant to it or to its versions.
    let grants: i64 = item_access::table
        .filter(
            item_access::item_id
                .eq(&id)
                .or(item_access::item_id.like(format!("{id}/%"))),
        )
        .count()
        .get_result(&mut *conn)
        .expect("grants");
    assert_eq!(grants, 0);
    drop(conn);

    for (who, token) in [
        ("author", Some(&w.author)),
        ("recipient", Some(&w.recipient)),
        ("public", None),
    ] {
        for (method, route, body, anonymous) in routes_of(&path, &attachment, &w.group) {
            let token = token.map(String::as_str);
            let if_match = Some("\"v2\"");
            let status = send(app, method.clone(), token, &route, if_match, body)
                .await
                .status();
            let expected = if token.is_none() { anonymous } else { 404 };
            assert_eq!(status, expected, "{who}: {method} {route}");
        }
        if let Some(token) = token {
            assert!(!listed_documents(app, token).await.contains(&id), "{who}");
            let found: Value = app
                .get_json(token, "/api/v1/search?q=assessment&limit=100")
                .await;
            assert_eq!(found["total"], 0, "{who}: {found}");
            let export = app
                .get_as(token, "/api/v1/search/export?format=jsonl&q=assessment")
                .await;
            assert_eq!(export.status(), 200);
            assert_eq!(export.text().await.expect("body"), "", "{who}");
        }
    }
    let more = upload(app, &w.author, &id, "more.txt", "More notes.").await;
    assert_eq!(more.status(), 404);
}
