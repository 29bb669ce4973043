//! The authorization matrix of shared items (DESIGN §2, §4): every document, update, search,
//! feed and export route × every role × every relation to an item → the expected status
//! and the expected visible set. Writes are probed with a stale `If-Match` or an invalid
//! body, so an authorized caller gets 412/422 and nothing changes between probes.

mod support;

use serde_json::{Value, json};
use support::TestApp;

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
    fn label(&self) -> String {
        format!("{} {:?}", self.role, self.relation)
    }
}

struct Items {
    amber_doc: String,
    red_doc: String,
    amber_update: String,
}

async fn status(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> u16 {
    let mut request = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header("if-match", "\"v999\"");
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("request").status().as_u16()
}

async fn json_of(app: &TestApp, token: &str, path: &str) -> Value {
    app.get_as(token, path).await.json().await.expect("json")
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .expect("list")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
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
    let mut named_ids = Vec::new();
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
            let user_id = user_id_of(&app, &email);
            if relation == Relation::Named {
                named_ids.push(user_id.clone());
            }
            if relation == Relation::Deactivated {
                to_deactivate.push(user_id);
            }
            callers.push(Caller {
                role,
                relation,
                token,
            });
        }
    }
    let share = |path: &'static str, body: Value| {
        let app = &app;
        let author = author.clone();
        async move {
            let response = app.post_json(path, Some(&author), body).await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        }
    };
    let amber_recipients = json!({ "organizations": [recipient, suspended], "groups": [group] });
    let items = Items {
        amber_doc: share("/api/v1/documents", json!({
            "title": "Matrix amber", "body": "needle", "language": "en", "type": "report",
            "tlp": "amber_strict", "recipients": amber_recipients,
        })).await,
        red_doc: share("/api/v1/documents", json!({
            "title": "Matrix red", "body": "needle", "language": "en", "type": "report",
            "tlp": "red", "recipients": { "users": named_ids },
        })).await,
        amber_update: share("/api/v1/updates", json!({
            "title": "Matrix update", "body": "needle", "tlp": "amber", "recipients": amber_recipients,
        })).await,
    };
    let attachment: Value = app
        .client
        .post(app.url(&format!(
            "/api/v1/documents/{}/attachments?filename=notes.txt",
            items.amber_doc
        )))
        .bearer_auth(&author)
        .body("plain notes")
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    let attachment_id = attachment["id"].as_str().expect("attachment id").to_owned();
    app.cut_off(&to_deactivate, std::slice::from_ref(&suspended));

    use reqwest::Method;
    for caller in &callers {
        let label = caller.label();
        let token = caller.token.as_str();
        let read = |visible: bool| {
            if caller.signed_out() {
                401
            } else if visible {
                200
            } else {
                404
            }
        };
        // Reads by id.
        let amber_path = format!("/api/v1/documents/{}", items.amber_doc);
        let red_path = format!("/api/v1/documents/{}", items.red_doc);
        let update_path = format!("/api/v1/updates/{}", items.amber_update);
        assert_eq!(
            status(&app, Method::GET, token, &amber_path, None).await,
            read(caller.sees_amber()),
            "GET amber doc: {label}"
        );
        assert_eq!(
            status(&app, Method::GET, token, &red_path, None).await,
            read(caller.sees_red()),
            "GET red doc: {label}"
        );
        assert_eq!(
            status(&app, Method::GET, token, &update_path, None).await,
            read(caller.sees_amber()),
            "GET update: {label}"
        );
        assert_eq!(
            status(
                &app,
                Method::GET,
                token,
                &format!("{amber_path}/versions"),
                None
            )
            .await,
            read(caller.sees_amber()),
            "GET versions: {label}"
        );

        let files = format!("{amber_path}/attachments");
        assert_eq!(
            status(&app, Method::GET, token, &files, None).await,
            read(caller.sees_amber()),
            "GET attachments: {label}"
        );
        assert_eq!(
            status(
                &app,
                Method::GET,
                token,
                &format!("{files}/{attachment_id}"),
                None
            )
            .await,
            read(caller.sees_amber()),
            "download: {label}"
        );

        // Writes: member role 403 first; then invisible 404, visible non-owner 403, owner 412/422.
        let write = |visible: bool, owner: bool, authorized: u16| {
            if caller.signed_out() {
                401
            } else if !caller.writes() {
                403
            } else if !visible {
                404
            } else if !owner {
                403
            } else {
                authorized
            }
        };
        let is_owner = caller.relation == Relation::Owner;
        assert_eq!(
            status(
                &app,
                Method::PATCH,
                token,
                &amber_path,
                Some(json!({ "title": "x" }))
            )
            .await,
            write(caller.sees_amber(), is_owner, 412),
            "PATCH doc: {label}"
        );
        assert_eq!(
            status(&app, Method::DELETE, token, &amber_path, None).await,
            write(caller.sees_amber(), is_owner, 412),
            "DELETE doc: {label}"
        );
        assert_eq!(
            status(
                &app,
                Method::PATCH,
                token,
                &update_path,
                Some(json!({ "title": "x" }))
            )
            .await,
            write(caller.sees_amber(), is_owner, 412),
            "PATCH update: {label}"
        );
        assert_eq!(
            status(&app, Method::DELETE, token, &update_path, None).await,
            write(caller.sees_amber(), is_owner, 412),
            "DELETE update: {label}"
        );
        // Uploads are probed with bytes of a refused type (415 once authorized), deletions
        // with an attachment id that does not exist (404 once authorized).
        let upload = app
            .client
            .post(app.url(&format!("{files}?filename=x.pdf")))
            .bearer_auth(token)
            .body(vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0])
            .send()
            .await
            .expect("upload")
            .status()
            .as_u16();
        assert_eq!(
            upload,
            write(caller.sees_amber(), is_owner, 415),
            "upload: {label}"
        );
        assert_eq!(
            status(
                &app,
                Method::DELETE,
                token,
                &format!("{files}/no-such-file"),
                None
            )
            .await,
            write(caller.sees_amber(), is_owner, 404),
            "DELETE attachment: {label}"
        );
        // Re-sharing TLP:AMBER+STRICT: only the owner (who then meets the 422 of a bad org).
        assert_eq!(
            status(
                &app,
                Method::POST,
                token,
                &format!("{amber_path}/recipients"),
                Some(json!({ "organizations": ["no-such-org"] }))
            )
            .await,
            write(caller.sees_amber(), is_owner, 422),
            "POST recipients: {label}"
        );

        // Lists, feed, search and export hold exactly the visible items.
        if caller.signed_out() {
            for path in [
                "/api/v1/documents",
                "/api/v1/updates",
                "/api/v1/search?q=needle",
                "/api/v1/search/export?format=jsonl&q=needle",
            ] {
                assert_eq!(
                    status(&app, Method::GET, token, path, None).await,
                    401,
                    "{path}: {label}"
                );
            }
            continue;
        }
        let mut expected_docs = Vec::new();
        if caller.sees_red() {
            expected_docs.push(items.red_doc.clone());
        }
        if caller.sees_amber() {
            expected_docs.push(items.amber_doc.clone());
        }
        let expected_updates: Vec<String> = if caller.sees_amber() {
            vec![items.amber_update.clone()]
        } else {
            vec![]
        };
        assert_eq!(
            ids(&json_of(&app, token, "/api/v1/documents").await, "items"),
            expected_docs,
            "list: {label}"
        );
        assert_eq!(
            ids(&json_of(&app, token, "/api/v1/updates").await, "items"),
            expected_updates,
            "feed: {label}"
        );
        let results = json_of(&app, token, "/api/v1/search?q=needle&sort=newest").await;
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
        let exported = support::jsonl_ids(&export);
        assert_eq!(exported, expected_hits, "export: {label}");
    }
}

fn user_id_of(app: &TestApp, email: &str) -> String {
    use compact_db::schema::users;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    users::table
        .filter(users::email_normalized.eq(email))
        .select(users::id)
        .first(&mut *conn)
        .expect("user")
}
