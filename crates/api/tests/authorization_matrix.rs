//! The authorization matrix of shared items (DESIGN §2, §4): every document, update,
//! attachment, version, search, feed and export route × every role × every relation to an
//! item → the expected status and the expected visible set. Writes are probed with a stale
//! `If-Match`, bytes of a refused type or an organization that does not exist, so an
//! authorized caller gets 412/415/422 and nothing changes between probes; creation and
//! real re-sharing come after every probe.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;
use support::matrix_extra::{self as extra, REFUSED_BYTES};

const ROLES: [&str; 5] = [
    "admin",
    "secretariat",
    "coordinator",
    "focal_point",
    "member",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// In the owner organization.
    Owner,
    /// In an organization the item is addressed to.
    Recipient,
    /// In an organization of a group the item is addressed to.
    GroupMember,
    /// In an organization the item is not for.
    Other,
    /// Named on the TLP:RED item (in an organization the amber item is not for).
    Named,
    /// Deactivated after signing in.
    Deactivated,
    /// Of a recipient organization suspended after signing in.
    Suspended,
}

const RELATIONS: [Relation; 7] = [
    Relation::Owner,
    Relation::Recipient,
    Relation::GroupMember,
    Relation::Other,
    Relation::Named,
    Relation::Deactivated,
    Relation::Suspended,
];

struct Caller {
    role: &'static str,
    relation: Relation,
    token: String,
    user_id: String,
    org_id: String,
}

impl Caller {
    fn signed_out(&self) -> bool {
        matches!(self.relation, Relation::Deactivated | Relation::Suspended)
    }
    fn sees_amber(&self) -> bool {
        matches!(
            self.relation,
            Relation::Owner | Relation::Recipient | Relation::GroupMember
        )
    }
    fn sees_red(&self) -> bool {
        self.relation == Relation::Named
    }
    fn writes(&self) -> bool {
        self.role != "member"
    }
    fn is_owner(&self) -> bool {
        self.relation == Relation::Owner
    }
    fn label(&self) -> String {
        format!("{} {:?}", self.role, self.relation)
    }
    /// A read: 401 for a refused credential, else 200 or 404.
    fn read(&self, visible: bool) -> u16 {
        if self.signed_out() {
            401
        } else if visible {
            200
        } else {
            404
        }
    }
    /// A write: members 403 first; then invisible 404, visible non-owner 403, owner
    /// `authorized`.
    fn write(&self, visible: bool, owner: bool, authorized: u16) -> u16 {
        if self.signed_out() {
            401
        } else if !self.writes() {
            403
        } else if !visible {
            404
        } else if !owner {
            403
        } else {
            authorized
        }
    }
}

/// The shared items, oldest first, and what their histories hold.
///
/// - `amber_doc`: TLP:AMBER+STRICT. v1 for RECIPIENT and SUSPENDED; v2 adds the group;
///   v3 (current) retitles it. So the group member sees v2 but not v1.
/// - `red_doc`: TLP:RED. v1 names the first NAMED caller (the admin) only; v2 names every
///   NAMED caller; v3 (current) retitles it. So only that admin (and the author) sees v1.
/// - `amber_update`: TLP:AMBER for RECIPIENT, SUSPENDED and the group.
/// - `strict_update`: TLP:AMBER+STRICT, the same audience.
struct Items {
    amber_doc: String,
    red_doc: String,
    amber_update: String,
    amber_update_created_at: String,
    strict_update: String,
    amber_attachment: String,
    red_attachment: String,
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Value {
    let response = app.get_as(token, path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("json")
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    extra::ids_in(&list[key])
}

async fn status(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> u16 {
    extra::send(app, method, Some(token), path, Some("\"v999\""), body)
        .await
        .status()
        .as_u16()
}

async fn attach(app: &TestApp, author: &str, document: &str, text: &str) -> String {
    let response = extra::upload(
        app,
        Some(author),
        document,
        "notes.txt",
        text.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(response.status(), 201, "upload");
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("attachment id").to_owned()
}

#[tokio::test]
async fn every_route_role_and_relation_answers_as_design_section_4_says() {
    let app = TestApp::spawn().await;
    let owner = app.create_org("OWNER", "compact_entity");
    let recipient = app.create_org("RECIPIENT", "compact_entity");
    let grouped = app.create_org("GROUPED", "regional_organization");
    let other = app.create_org("OTHER", "member_state");
    let suspended = app.create_org("SUSPENDED", "compact_entity");
    let group = app.create_group("Matrix group", &[&grouped]);
    app.create_user(&owner, "author@owner.example", "focal_point");
    let author = app.tokens("author@owner.example").await.0;

    let mut callers = Vec::new();
    let mut to_deactivate = Vec::new();
    for role in ROLES {
        for relation in RELATIONS {
            let org = match relation {
                Relation::Owner => &owner,
                Relation::Recipient | Relation::Deactivated => &recipient,
                Relation::GroupMember => &grouped,
                Relation::Other | Relation::Named => &other,
                Relation::Suspended => &suspended,
            };
            let email = format!("{role}.{relation:?}@matrix.example").to_lowercase();
            let token = if matches!(role, "admin" | "secretariat") {
                app.privileged(org, &email, role).await.1
            } else {
                app.create_user(org, &email, role);
                app.tokens(&email).await.0
            };
            let user_id = extra::user_id_of(&app, &email);
            if relation == Relation::Deactivated {
                to_deactivate.push(user_id.clone());
            }
            callers.push(Caller {
                role,
                relation,
                token,
                user_id,
                org_id: org.clone(),
            });
        }
    }
    let named_ids: Vec<&String> = callers
        .iter()
        .filter(|c| c.relation == Relation::Named)
        .map(|c| &c.user_id)
        .collect();
    let first_named = named_ids[0].clone();

    let share = |path: &'static str, body: Value| {
        let app = &app;
        let author = author.clone();
        async move {
            let response = app.post_json(path, Some(&author), body).await;
            assert_eq!(response.status(), 201, "share {path}");
            response.json::<Value>().await.expect("json")
        }
    };
    let id_of = |created: &Value| created["id"].as_str().expect("id").to_owned();
    let amber_recipients = json!({ "organizations": [recipient, suspended], "groups": [group] });
    let amber_doc = id_of(
        &share(
            "/api/v1/documents",
            json!({
                "title": "Matrix amber", "body": "needle", "language": "en", "type": "report",
                "tlp": "amber_strict", "recipients": { "organizations": [recipient, suspended] },
            }),
        )
        .await,
    );
    let red_doc = id_of(
        &share(
            "/api/v1/documents",
            json!({
                "title": "Matrix red", "body": "needle", "language": "en", "type": "report",
                "tlp": "red", "recipients": { "users": [first_named] },
            }),
        )
        .await,
    );
    let amber_update = share(
        "/api/v1/updates",
        json!({
            "title": "Matrix update", "body": "needle", "tlp": "amber", "recipients": amber_recipients,
        }),
    )
    .await;
    let strict_update = id_of(
        &share(
            "/api/v1/updates",
            json!({
                "title": "Matrix strict update", "body": "needle", "tlp": "amber_strict",
                "recipients": amber_recipients,
            }),
        )
        .await,
    );

    let amber_path = format!("/api/v1/documents/{amber_doc}");
    let red_path = format!("/api/v1/documents/{red_doc}");
    // The histories `Items` describes: each document edited at v1, then at v2.
    for (path, version, body) in [
        (&amber_path, 1, json!({ "recipients": amber_recipients })),
        (&amber_path, 2, json!({ "title": "Matrix amber, retitled" })),
        (
            &red_path,
            1,
            json!({ "recipients": { "users": named_ids } }),
        ),
        (&red_path, 2, json!({ "title": "Matrix red, retitled" })),
    ] {
        app.edit(&author, path, version, body).await;
    }
    let items = Items {
        amber_attachment: attach(&app, &author, &amber_doc, "plain notes").await,
        red_attachment: attach(&app, &author, &red_doc, "red notes").await,
        amber_doc,
        red_doc,
        amber_update: id_of(&amber_update),
        amber_update_created_at: amber_update["created_at"]
            .as_str()
            .expect("created_at")
            .to_owned(),
        strict_update,
    };
    app.cut_off(&to_deactivate, std::slice::from_ref(&suspended));

    for caller in &callers {
        check_caller(&app, &items, caller, &first_named).await;
    }
    check_the_author(&app, &items, &author).await;
    check_resharing(&app, &items, &callers, &other).await;
    check_creation(&app, &callers).await;
}

/// Every probe of one caller: reads by id, versions, attachments, writes, re-sharing, and
/// the lists, feed, search and exports.
async fn check_caller(app: &TestApp, items: &Items, caller: &Caller, first_named: &str) {
    let label = caller.label();
    let token = caller.token.as_str();
    let amber_path = format!("/api/v1/documents/{}", items.amber_doc);
    let red_path = format!("/api/v1/documents/{}", items.red_doc);
    let update_path = format!("/api/v1/updates/{}", items.amber_update);
    let strict_path = format!("/api/v1/updates/{}", items.strict_update);

    // Reads by id.
    for (path, visible, what) in [
        (&amber_path, caller.sees_amber(), "amber doc"),
        (&red_path, caller.sees_red(), "red doc"),
        (&update_path, caller.sees_amber(), "update"),
        (&strict_path, caller.sees_amber(), "strict update"),
    ] {
        assert_eq!(
            status(app, Method::GET, token, path, None).await,
            caller.read(visible),
            "GET {what}: {label}"
        );
    }

    // Versions: the status, and which versions come back.
    let amber_versions: &[i64] = match caller.relation {
        Relation::Owner | Relation::Recipient => &[2, 1],
        Relation::GroupMember => &[2],
        _ => &[],
    };
    let red_versions: &[i64] = if caller.user_id == first_named {
        &[2, 1]
    } else {
        &[2]
    };
    for (path, visible, want, tlp) in [
        (
            &amber_path,
            caller.sees_amber(),
            amber_versions,
            "amber_strict",
        ),
        (&red_path, caller.sees_red(), red_versions, "red"),
    ] {
        let versions = format!("{path}/versions");
        let response = app.get_as(token, &versions).await;
        assert_eq!(
            response.status(),
            caller.read(visible),
            "GET {versions}: {label}"
        );
        if caller.read(visible) == 200 {
            let got = extra::versions_in(&response.json().await.expect("json"));
            let want: Vec<(i64, String)> = want.iter().map(|v| (*v, tlp.to_owned())).collect();
            assert_eq!(got, want, "versions of {path}: {label}");
        }
    }

    // Attachments of both documents: listed and downloaded as the document is read.
    for (path, visible, attachment, bytes) in [
        (
            &amber_path,
            caller.sees_amber(),
            &items.amber_attachment,
            "plain notes",
        ),
        (
            &red_path,
            caller.sees_red(),
            &items.red_attachment,
            "red notes",
        ),
    ] {
        let files = format!("{path}/attachments");
        let response = app.get_as(token, &files).await;
        assert_eq!(
            response.status(),
            caller.read(visible),
            "GET {files}: {label}"
        );
        if caller.read(visible) == 200 {
            let listed = extra::ids_in(&response.json().await.expect("json"));
            assert_eq!(listed, vec![attachment.clone()], "{files}: {label}");
        }
        let response = app.get_as(token, &format!("{files}/{attachment}")).await;
        assert_eq!(
            response.status(),
            caller.read(visible),
            "download from {files}: {label}"
        );
        if caller.read(visible) == 200 {
            let body = response.text().await.expect("text");
            assert_eq!(body, bytes, "download from {files}: {label}");
        }
    }

    // Writes on both documents and on the update: nobody but the owner organization,
    // and nobody at all on TLP:RED but its author (who is not among the callers).
    // (path, visible, owner, what): who may see and who owns each item here.
    let amber = (
        &amber_path,
        caller.sees_amber(),
        caller.is_owner(),
        "amber doc",
    );
    let red = (&red_path, caller.sees_red(), false, "red doc");
    let update = (
        &update_path,
        caller.sees_amber(),
        caller.is_owner(),
        "update",
    );
    for (path, visible, owner, what) in [amber, red, update] {
        assert_eq!(
            status(
                app,
                Method::PATCH,
                token,
                path,
                Some(json!({ "title": "x" }))
            )
            .await,
            caller.write(visible, owner, 412),
            "PATCH {what}: {label}"
        );
        assert_eq!(
            status(app, Method::DELETE, token, path, None).await,
            caller.write(visible, owner, 412),
            "DELETE {what}: {label}"
        );
    }
    for (path, visible, owner, what) in [amber, red] {
        let files = format!("{path}/attachments");
        let upload = app
            .client
            .post(app.url(&format!("{files}?filename=x.pdf")))
            .bearer_auth(token)
            .body(REFUSED_BYTES.to_vec())
            .send()
            .await
            .expect("upload")
            .status()
            .as_u16();
        assert_eq!(
            upload,
            caller.write(visible, owner, 415),
            "upload to {what}: {label}"
        );
        assert_eq!(
            status(
                app,
                Method::DELETE,
                token,
                &format!("{files}/no-such-file"),
                None
            )
            .await,
            caller.write(visible, owner, 404),
            "DELETE attachment of {what}: {label}"
        );
    }

    // Sharing further, with an organization that does not exist (422 once allowed):
    // TLP:AMBER by any recipient, TLP:AMBER+STRICT by the owner only, TLP:RED by nobody.
    let nobody = Some(json!({ "organizations": ["no-such-org"] }));
    for (path, visible, allowed, what) in [
        (
            &amber_path,
            caller.sees_amber(),
            caller.is_owner(),
            "amber_strict doc",
        ),
        (&red_path, caller.sees_red(), false, "red doc"),
        (&update_path, caller.sees_amber(), true, "amber update"),
        (
            &strict_path,
            caller.sees_amber(),
            caller.is_owner(),
            "amber_strict update",
        ),
    ] {
        assert_eq!(
            status(
                app,
                Method::POST,
                token,
                &format!("{path}/recipients"),
                nobody.clone()
            )
            .await,
            caller.write(visible, allowed, 422),
            "POST recipients of {what}: {label}"
        );
    }

    // Lists, feed, search and exports hold exactly the visible items.
    let since = format!(
        "/api/v1/updates?since={}",
        extra::query_value(&items.amber_update_created_at)
    );
    if caller.signed_out() {
        for path in [
            "/api/v1/documents",
            "/api/v1/updates",
            since.as_str(),
            "/api/v1/search?q=needle",
            "/api/v1/search/export?format=jsonl&q=needle",
            "/api/v1/search/export?format=csv&q=needle",
        ] {
            assert_eq!(
                status(app, Method::GET, token, path, None).await,
                401,
                "{path}: {label}"
            );
        }
        return;
    }
    let mut expected_docs = Vec::new();
    if caller.sees_red() {
        expected_docs.push(items.red_doc.clone());
    }
    if caller.sees_amber() {
        expected_docs.push(items.amber_doc.clone());
    }
    let expected_updates: Vec<String> = if caller.sees_amber() {
        vec![items.strict_update.clone(), items.amber_update.clone()]
    } else {
        vec![]
    };
    assert_eq!(
        ids(&json_of(app, token, "/api/v1/documents").await, "items"),
        expected_docs,
        "list: {label}"
    );
    assert_eq!(
        ids(&json_of(app, token, "/api/v1/updates").await, "items"),
        expected_updates,
        "feed: {label}"
    );
    assert_eq!(
        ids(&json_of(app, token, &since).await, "items"),
        expected_updates[..expected_updates.len().min(1)].to_vec(),
        "feed since the amber update: {label}"
    );
    let results = json_of(app, token, "/api/v1/search?q=needle&sort=newest").await;
    let mut expected_hits = expected_updates.clone();
    expected_hits.extend(expected_docs.iter().cloned());
    assert_eq!(ids(&results, "hits"), expected_hits, "search: {label}");
    assert_eq!(results["total"], expected_hits.len(), "total: {label}");
    let facet_total: i64 = results["facets"]["kind"]
        .as_array()
        .expect("facet")
        .iter()
        .map(|c| c["count"].as_i64().expect("n"))
        .sum();
    assert_eq!(facet_total as usize, expected_hits.len(), "facets: {label}");
    let export = app
        .get_as(
            token,
            "/api/v1/search/export?format=jsonl&q=needle&sort=newest",
        )
        .await
        .text()
        .await
        .expect("export");
    assert_eq!(
        support::jsonl_ids(&export),
        expected_hits,
        "JSON Lines export: {label}"
    );
    let response = app
        .get_as(
            token,
            "/api/v1/search/export?format=csv&q=needle&sort=newest",
        )
        .await;
    assert_eq!(response.status(), 200, "CSV export: {label}");
    let csv = response.text().await.expect("CSV");
    assert_eq!(extra::csv_ids(&csv), expected_hits, "CSV export: {label}");
}

/// The TLP:RED document's author: the one member of the owner organization who sees it,
/// and so the one who may change it; even they may not share it further.
async fn check_the_author(app: &TestApp, items: &Items, author: &str) {
    let red_path = format!("/api/v1/documents/{}", items.red_doc);
    let versions = json_of(app, author, &format!("{red_path}/versions")).await;
    assert_eq!(
        extra::versions_in(&versions),
        vec![(2, "red".to_owned()), (1, "red".to_owned())],
        "the author sees every version"
    );
    let files = json_of(app, author, &format!("{red_path}/attachments")).await;
    assert_eq!(extra::ids_in(&files), vec![items.red_attachment.clone()]);
    for method in [Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({ "title": "x" }));
        assert_eq!(
            status(app, method.clone(), author, &red_path, body).await,
            412,
            "{method} red doc: the author"
        );
    }
    let upload = extra::upload(
        app,
        Some(author),
        &items.red_doc,
        "x.pdf",
        REFUSED_BYTES.to_vec(),
    )
    .await;
    assert_eq!(upload.status(), 415, "upload to the red doc: the author");
    assert_eq!(
        status(
            app,
            Method::POST,
            author,
            &format!("{red_path}/recipients"),
            Some(json!({ "organizations": ["no-such-org"] }))
        )
        .await,
        403,
        "TLP:RED is not shared further, even by its author"
    );
}

/// Real re-sharing: a recipient widens TLP:AMBER, but not TLP:AMBER+STRICT, which only the
/// owner organization widens; the new organization then sees what it was given.
async fn check_resharing(app: &TestApp, items: &Items, callers: &[Caller], other: &str) {
    let pick = |role: &str, relation: Relation| {
        callers
            .iter()
            .find(|c| c.role == role && c.relation == relation)
            .expect("caller")
            .token
            .as_str()
    };
    let to_other = json!({ "organizations": [other] });
    let outsider = pick("member", Relation::Other);
    let update_path = format!("/api/v1/updates/{}", items.amber_update);
    let strict_path = format!("/api/v1/updates/{}", items.strict_update);
    for (path, by, want, label) in [
        (
            &strict_path,
            pick("focal_point", Relation::Recipient),
            403,
            "a recipient widens AMBER+STRICT",
        ),
        (
            &strict_path,
            pick("coordinator", Relation::GroupMember),
            403,
            "a group member widens AMBER+STRICT",
        ),
        (
            &update_path,
            pick("focal_point", Relation::GroupMember),
            200,
            "a group member widens AMBER",
        ),
    ] {
        assert_eq!(
            app.status_of(Some(outsider), path).await,
            404,
            "before: {label}"
        );
        let response = app
            .post_json(&format!("{path}/recipients"), Some(by), to_other.clone())
            .await;
        assert_eq!(response.status(), want, "{label}");
        let after = if want == 200 { 200 } else { 404 };
        assert_eq!(
            app.status_of(Some(outsider), path).await,
            after,
            "after: {label}"
        );
    }
    let owner = pick("coordinator", Relation::Owner);
    let response = app
        .post_json(
            &format!("{strict_path}/recipients"),
            Some(owner),
            to_other.clone(),
        )
        .await;
    assert_eq!(response.status(), 200, "the owner widens AMBER+STRICT");
    assert_eq!(app.status_of(Some(outsider), &strict_path).await, 200);
    // Naming nobody new is refused, so a recipient cannot mint versions in a loop.
    let again = app
        .post_json(
            &format!("{update_path}/recipients"),
            Some(pick("focal_point", Relation::Recipient)),
            to_other,
        )
        .await;
    assert_eq!(again.status(), 422, "re-sharing with nobody new");
}

/// Creation by every role of every relation (DESIGN §2): documents and updates are shared
/// by every role but `member`, always for the caller's own organization.
async fn check_creation(app: &TestApp, callers: &[Caller]) {
    for caller in callers {
        let label = caller.label();
        for (path, body) in [
            (
                "/api/v1/documents",
                json!({
                    "title": format!("By {label}"), "body": "text", "language": "en",
                    "type": "report", "tlp": "amber",
                }),
            ),
            (
                "/api/v1/updates",
                json!({ "title": format!("By {label}"), "body": "text", "tlp": "amber" }),
            ),
        ] {
            let response = app.post_json(path, Some(&caller.token), body).await;
            let want = if caller.signed_out() {
                401
            } else if caller.writes() {
                201
            } else {
                403
            };
            assert_eq!(response.status(), want, "POST {path}: {label}");
            if want != 201 {
                continue;
            }
            let created: Value = response.json().await.expect("json");
            assert_eq!(
                created["owner_organization_id"], caller.org_id,
                "POST {path}: {label}"
            );
            assert_eq!(created["author_id"], caller.user_id, "POST {path}: {label}");
            let id = created["id"].as_str().expect("id");
            let own = format!("{path}/{id}");
            assert_eq!(
                app.status_of(Some(&caller.token), &own).await,
                200,
                "the creator reads it: {label}"
            );
        }
    }
}
