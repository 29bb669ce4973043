//! `TestApp`: the whole platform on 127.0.0.1:0 with its own database (SQLite file, or a
//! PostgreSQL database when TEST_DATABASE_URL is set) and data directory, driven over real
//! HTTP with reqwest.

#![allow(dead_code)]

pub mod cli;
pub mod mail;
pub mod matrix_extra;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use compact_api::config::Settings;
use compact_api::server::Platform;
use compact_db::testing::TestDatabase;
use compact_db::{Database, DatabaseUrl};
use compact_mail::SmtpSecurity;

/// The password of users made by `create_user`.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub settings: Arc<Settings>,
    pub auth: Arc<compact_auth::Authenticator>,
    handle: ServerHandle,
    platform: Option<std::thread::JoinHandle<()>>,
    _test_db: Option<TestDatabase>,
    _data_dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct TestAppBuilder {
    smtp_port: Option<u16>,
    database_url: Option<DatabaseUrl>,
    login_burst: Option<u32>,
    rate_limit_burst: Option<u32>,
    address_limit_burst: Option<u32>,
    attachment_max_bytes: Option<u64>,
    cors_allowed_origins: Vec<String>,
    without_docs: bool,
    search_index_on_first_search: bool,
}

impl TestAppBuilder {
    /// Deliver mail to an SMTP server on this local port.
    pub fn smtp_port(mut self, port: u16) -> Self {
        self.smtp_port = Some(port);
        self
    }

    /// Use this database instead of a fresh one (e.g. one that cannot be reached).
    pub fn database_url(mut self, url: DatabaseUrl) -> Self {
        self.database_url = Some(url);
        self
    }

    /// Per-caller burst on every `/api/v1` route (tests default to a large one), refilled
    /// once a minute.
    pub fn address_limit_burst(mut self, burst: u32) -> Self {
        self.address_limit_burst = Some(burst);
        self
    }

    pub fn rate_limit_burst(mut self, burst: u32) -> Self {
        self.rate_limit_burst = Some(burst);
        self
    }

    /// Per-IP credential-route burst (tests default to a large one).
    pub fn login_burst(mut self, burst: u32) -> Self {
        self.login_burst = Some(burst);
        self
    }

    /// The search count index loaded by the first search, not as the server starts.
    pub fn search_index_on_first_search(mut self) -> Self {
        self.search_index_on_first_search = true;
        self
    }

    /// Neither `/docs` nor the OpenAPI document served.
    pub fn without_docs(mut self) -> Self {
        self.without_docs = true;
        self
    }

    /// Browser origins allowed by CORS (none by default).
    pub fn cors_allowed_origin(mut self, origin: &str) -> Self {
        self.cors_allowed_origins.push(origin.to_owned());
        self
    }

    /// The attachment size limit (tests default to 64 KiB, so 413 is cheap to reach).
    pub fn attachment_max_bytes(mut self, limit: u64) -> Self {
        self.attachment_max_bytes = Some(limit);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let data_dir = tempfile::tempdir().expect("data dir");
        let settings = Settings {
            data_dir: data_dir.path().to_path_buf(),
            workers: Some(1),
            database_timeout_secs: 1,
            smtp_host: self.smtp_port.map(|_| "127.0.0.1".to_owned()),
            smtp_port: self.smtp_port,
            smtp_security: SmtpSecurity::None,
            mail_from: "Compact Platform <no-reply@compact.test>".into(),
            mail_poll_interval_ms: 50,
            // Cheap hashing in tests; the production floor is tested in compact-auth.
            password_memory_kib: 64,
            password_iterations: 1,
            login_burst: self.login_burst.unwrap_or(10_000),
            login_replenish_ms: 60_000,
            rate_limit_burst: self.rate_limit_burst.unwrap_or(100_000),
            rate_limit_replenish_ms: if self.rate_limit_burst.is_some() {
                60_000
            } else {
                1
            },
            address_limit_burst: self.address_limit_burst.unwrap_or(100_000),
            address_limit_replenish_ms: if self.address_limit_burst.is_some() {
                60_000
            } else {
                1
            },
            lockout_base_secs: 1,
            lockout_max_secs: 2,
            attachment_max_bytes: self.attachment_max_bytes.unwrap_or(64 * 1024),
            cors_allowed_origins: self.cors_allowed_origins,
            body_timeout_secs: 1,
            header_timeout_secs: 1,
            docs_enabled: !self.without_docs,
            openapi_enabled: !self.without_docs,
            search_index_at_start: !self.search_index_on_first_search,
            ..Settings::default()
        };
        let (test_db, db) = match self.database_url {
            Some(url) => (None, Database::new(&url, &settings.pool_options())),
            None => {
                let (test_db, db) = TestDatabase::migrated();
                (Some(test_db), db)
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let settings = Arc::new(settings);
        let platform = run_platform(settings.clone(), db.clone(), listener);
        let (handle, auth) = platform.launched.recv().expect("platform launched");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            client,
            db,
            settings,
            auth,
            handle,
            platform: Some(platform.thread),
            _test_db: test_db,
            _data_dir: data_dir,
        }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        TestAppBuilder::default().spawn().await
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// A GET with a bearer token, answered 200, as JSON.
    pub async fn get_json(&self, token: &str, path: &str) -> serde_json::Value {
        let response = self.get_as(token, path).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("json")
    }

    /// Accepts an invitation with a password.
    pub async fn accept_invitation(&self, token: &str, password: &str) -> reqwest::Response {
        let path = format!("/api/v1/invitations/{token}/accept");
        self.post_json(&path, None, serde_json::json!({ "password": password }))
            .await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request")
    }

    pub async fn patch_json(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// A PATCH with a bearer token and, when given, an `If-Match` precondition.
    pub async fn patch_if_match(
        &self,
        path: &str,
        token: &str,
        if_match: Option<&str>,
        body: serde_json::Value,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body);
        if let Some(etag) = if_match {
            request = request.header("if-match", etag);
        }
        request.send().await.expect("request")
    }

    /// A POST with a bearer token and an `Idempotency-Key`, as a client retrying would send.
    pub async fn post_with_key(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// Edits an item as `token`, given the version it is at; asserts 200.
    pub async fn edit(&self, token: &str, path: &str, version: u32, body: serde_json::Value) {
        let etag = format!("\"v{version}\"");
        let response = self.patch_if_match(path, token, Some(&etag), body).await;
        assert_eq!(response.status(), 200, "edit of {path} at v{version}");
    }

    pub async fn delete_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    /// Makes the server see a key rotation now rather than at its next periodic reload.
    pub fn state_reload_keys(&self) {
        self.auth.keys().reload().expect("reload keys");
    }

    /// An active organization, straight into the database (the registry's routes come later).
    pub fn create_org(&self, acronym: &str, kind: &str) -> String {
        use compact_db::schema::organizations as o;
        use diesel::prelude::*;
        let org_id = uuid::Uuid::now_v7().to_string();
        let at = compact_db::now();
        let mut conn = self.db.get().expect("connection");
        diesel::insert_into(o::table)
            .values((
                o::id.eq(&org_id),
                o::name.eq(format!("{acronym} organization")),
                o::acronym.eq(acronym),
                o::acronym_normalized.eq(acronym.to_uppercase()),
                o::kind.eq(kind),
                o::un_system.eq(false),
                o::status.eq("active"),
                o::email_domains.eq(""),
                o::created_at.eq(at),
                o::updated_at.eq(at),
            ))
            .execute(&mut *conn)
            .expect("insert organization");
        org_id
    }

    /// An active user with `PASSWORD`.
    pub fn create_user(&self, org_id: &str, email: &str, role: &str) -> String {
        use compact_db::schema::users as u;
        use diesel::prelude::*;
        let user_id = uuid::Uuid::now_v7().to_string();
        let at = compact_db::now();
        let cost = compact_auth::password::PasswordCost::insecure_for_tests();
        let hash = compact_auth::password::hash_with(cost, PASSWORD).expect("hash");
        let mut conn = self.db.get().expect("connection");
        diesel::insert_into(u::table)
            .values((
                u::id.eq(&user_id),
                u::organization_id.eq(org_id),
                u::email.eq(email),
                u::email_normalized.eq(email.to_lowercase()),
                u::name.eq("Test Person"),
                u::role.eq(role),
                u::status.eq("active"),
                u::password_hash.eq(Some(hash)),
                u::created_at.eq(at),
                u::updated_at.eq(at),
            ))
            .execute(&mut *conn)
            .expect("insert user");
        user_id
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            None,
            serde_json::json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs in and returns (access token, refresh token).
    pub async fn tokens(&self, email: &str) -> (String, String) {
        let response = self.login(email, PASSWORD).await;
        assert_eq!(response.status(), 200, "login of {email}");
        let body: serde_json::Value = response.json().await.expect("json");
        (
            body["access_token"].as_str().expect("access").to_owned(),
            body["refresh_token"].as_str().expect("refresh").to_owned(),
        )
    }

    /// An active user with `PASSWORD`, signed in: (user id, access token).
    pub async fn signed_in(&self, org_id: &str, email: &str, role: &str) -> (String, String) {
        let user_id = self.create_user(org_id, email, role);
        let (token, _) = self.tokens(email).await;
        (user_id, token)
    }

    /// Asserts that `email` signs in with `password`.
    pub async fn assert_signs_in(&self, email: &str, password: &str) {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), 200, "sign-in of {email}");
    }

    /// Asserts that signing in as `email` with `password` is refused (401 problem).
    pub async fn assert_sign_in_refused(&self, email: &str, password: &str) {
        problem(self.login(email, password).await, 401).await;
    }

    /// An API key of the signed-in user with these scopes, valid for a day (asserting 201).
    pub async fn api_key(&self, token: &str, scopes: &[&str]) -> serde_json::Value {
        let expires = (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339();
        let body = serde_json::json!({ "name": "script", "scopes": scopes, "expires_at": expires });
        let response = self.post_json("/api/v1/api-keys", Some(token), body).await;
        assert_eq!(response.status(), 201, "create API key");
        response.json().await.expect("json")
    }

    /// Enrols TOTP for a signed-in user; returns the secret.
    pub async fn enrol_totp(&self, token: &str) -> String {
        let begin: serde_json::Value = self
            .post_json("/api/v1/me/mfa/totp", Some(token), serde_json::json!({}))
            .await
            .json()
            .await
            .expect("json");
        let secret = begin["secret"].as_str().expect("secret").to_owned();
        let code = compact_auth::mfa::current_code(&secret).expect("code");
        let confirm = self
            .post_json(
                "/api/v1/me/mfa/totp/confirm",
                Some(token),
                serde_json::json!({ "code": code }),
            )
            .await;
        assert_eq!(confirm.status(), 200);
        secret
    }

    /// An admin or secretariat user with TOTP enrolled, signed in: (user id, access token).
    pub async fn privileged(&self, org_id: &str, email: &str, role: &str) -> (String, String) {
        let (user_id, token) = self.signed_in(org_id, email, role).await;
        let secret = self.enrol_totp(&token).await;
        let code = compact_auth::mfa::next_code(&secret).expect("code");
        let body = serde_json::json!({ "email": email, "password": PASSWORD, "totp": code });
        let response = self.post_json("/api/v1/auth/login", None, body).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("json");
        (
            user_id,
            body["access_token"].as_str().expect("token").to_owned(),
        )
    }

    /// A group of organizations, straight into the database.
    pub fn create_group(&self, name: &str, members: &[&str]) -> String {
        use compact_db::schema::{group_members as m, groups as g};
        use diesel::prelude::*;
        let group_id = uuid::Uuid::now_v7().to_string();
        let at = compact_db::now();
        let mut conn = self.db.get().expect("connection");
        diesel::insert_into(g::table)
            .values((
                g::id.eq(&group_id),
                g::name.eq(name),
                g::name_normalized.eq(name.to_lowercase()),
                g::kind.eq("working_group"),
                g::description.eq(""),
                g::created_at.eq(at),
                g::updated_at.eq(at),
            ))
            .execute(&mut *conn)
            .expect("insert group");
        for org in members {
            diesel::insert_into(m::table)
                .values((
                    m::group_id.eq(&group_id),
                    m::organization_id.eq(*org),
                    m::added_at.eq(at),
                ))
                .execute(&mut *conn)
                .expect("insert member");
        }
        group_id
    }

    /// Shares a document and returns its JSON (asserting 201).
    pub async fn share_document(&self, token: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self.post_json("/api/v1/documents", Some(token), body).await;
        assert_eq!(response.status(), 201, "share document");
        response.json().await.expect("json")
    }

    /// GET with an optional bearer token; returns the status.
    pub async fn status_of(&self, token: Option<&str>, path: &str) -> u16 {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request").status().as_u16()
    }

    /// Deactivates users and suspends organizations behind the API's back, as another node
    /// would, then drops the cached access decisions.
    pub fn cut_off(&self, user_ids: &[String], org_ids: &[String]) {
        use compact_db::schema::{organizations, users};
        use diesel::prelude::*;
        let mut conn = self.db.get().expect("connection");
        diesel::update(users::table.filter(users::id.eq_any(user_ids)))
            .set((
                users::status.eq("deactivated"),
                users::token_version.eq(users::token_version + 1),
            ))
            .execute(&mut *conn)
            .expect("deactivate");
        diesel::update(organizations::table.filter(organizations::id.eq_any(org_ids)))
            .set(organizations::status.eq("suspended"))
            .execute(&mut *conn)
            .expect("suspend");
        self.auth.forget_all();
    }

    /// Audit actions recorded so far, in order.
    pub fn audit_actions(&self) -> Vec<String> {
        use compact_db::schema::audit_events::dsl::*;
        use diesel::prelude::*;
        let mut conn = self.db.get().expect("connection");
        audit_events
            .order(seq.asc())
            .select(action)
            .load(&mut *conn)
            .expect("audit")
    }

    /// How many audit events of this action were recorded so far.
    pub fn audit_count(&self, action: &str) -> usize {
        self.audit_actions().iter().filter(|a| *a == action).count()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server, the mail worker and the scheduler and wait for them, so nothing
        // reconnects to the test database while it is dropped, or while the process exits.
        drop(self.handle.stop(false));
        if let Some(thread) = self.platform.take() {
            let _ = thread.join();
        }
    }
}

struct RunningPlatform {
    thread: std::thread::JoinHandle<()>,
    launched: std::sync::mpsc::Receiver<(ServerHandle, Arc<compact_auth::Authenticator>)>,
}

/// Runs the platform on a thread and runtime of its own: the test's runtime is gone by the
/// time `TestApp` is dropped, so background work spawned on it could not be waited for.
fn run_platform(settings: Arc<Settings>, db: Database, listener: TcpListener) -> RunningPlatform {
    let (launched_tx, launched) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("test-platform".into())
        .spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let platform = Platform::launch(settings, db, listener).expect("launch");
                let _ = launched_tx.send((platform.handle(), platform.auth()));
                if let Err(error) = platform.run().await {
                    eprintln!("platform stopped with an error: {error:#}");
                }
            })
        })
        .expect("platform thread");
    RunningPlatform { thread, launched }
}

/// Reads a problem+json answer, checking its content type and status field.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = header(&response, "content-type");
    assert!(
        content_type.starts_with("application/problem+json"),
        "content type {content_type}"
    );
    let body: serde_json::Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string());
    assert!(body["type"].is_string());
    body
}

/// A response header as text ("" when absent or not text).
pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The token that follows `marker` (e.g. `/invitations/`) in a mailed link.
pub fn link_token(mail: &compact_mail::testing::ReceivedMail, marker: &str) -> String {
    token_after(&mail.body(), marker)
}

/// The token that follows `marker` in a text: the characters a token may hold.
pub fn token_after(text: &str, marker: &str) -> String {
    text.split(marker)
        .nth(1)
        .expect("link")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Live items without a single `item_access` grant: there must never be any, since the
/// grants are written in the item's own transaction.
pub fn items_without_grants(conn: &mut compact_db::DbConnection) -> i64 {
    use compact_db::schema::{item_access, items};
    use diesel::prelude::*;
    items::table
        .filter(items::deleted_at.is_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(
            item_access::table.filter(item_access::item_id.eq(items::id)),
        )))
        .count()
        .get_result(conn)
        .expect("count")
}

/// The `id` of every line of a JSON Lines export, in order.
pub fn jsonl_ids(export: &str) -> Vec<String> {
    export
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).expect("JSON line")["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect()
}
