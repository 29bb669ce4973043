//! The real `compact` binary, as a user runs it: serve on the test database, the maintenance
//! commands, and the OpenAPI command.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use compact_db::testing::TestDatabase;

mod support;

use support::cli::{BIN, admin_create, compact};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn the_binary_serves_the_platform_on_the_configured_database() {
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let _server = Server(
        compact(&test_db, data_dir.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("start compact serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status() == 200
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "compact serve did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .expect("readyz")
            .status(),
        200
    );
    let served = client
        .get(format!("{base}/api/v1/openapi.json"))
        .send()
        .await
        .expect("spec")
        .text()
        .await
        .expect("text");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/openapi.json"
    ))
    .expect("file");
    assert!(
        served == committed,
        "served spec differs from openapi/openapi.json"
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(metrics.contains("# TYPE compact_http_requests_total counter"));
    let missing = client
        .get(format!("{base}/api/v1/missing"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}

#[test]
fn without_a_database_url_the_binary_uses_sqlite_in_the_data_directory() {
    let data_dir = tempfile::tempdir().expect("data dir");
    let output = Command::new(BIN)
        .env_clear()
        .env("COMPACT_DATA_DIR", data_dir.path())
        .args(["migrate"])
        .output()
        .expect("run compact migrate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(data_dir.path().join("compact.db").is_file());
}

#[test]
fn maintenance_commands_work_on_the_configured_database() {
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let run = |args: &[&str]| {
        let output = compact(&test_db, data_dir.path())
            .args(args)
            .output()
            .expect("run compact");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&["migrate", "--status"]);
    assert!(ok, "{err}");
    assert!(
        out.starts_with("1 migration(s) pending") || out.contains("pending"),
        "{out}"
    );
    let (ok, out, err) = run(&["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("applied"), "{out}");
    let (ok, out, err) = run(&["audit", "verify"]);
    assert!(ok, "{err}");
    assert!(out.contains("audit chain intact: 0 event(s)"), "{out}");
    let (ok, out, _) = run(&["outbox", "list"]);
    assert!(ok);
    assert!(out.is_empty());
    let (ok, _, err) = run(&["outbox", "retry", "no-such-id"]);
    assert!(!ok);
    assert!(err.contains("no failed message"), "{err}");
    let (ok, out, _) = run(&["config"]);
    assert!(ok);
    assert!(out.contains("bind"));
}

#[test]
fn a_tampered_audit_chain_fails_verification() {
    use compact_db::audit::{self, NewAuditEvent, Outcome};
    use diesel::connection::SimpleConnection;
    let (test_db, db) = TestDatabase::migrated();
    {
        let mut conn = db.get().expect("connection");
        for _ in 0..3 {
            audit::append(
                &mut conn,
                NewAuditEvent::new("test.event", Outcome::Success),
            )
            .expect("append");
        }
        let untrigger = match test_db.backend() {
            compact_db::Backend::Postgres => {
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;"
            }
            compact_db::Backend::Sqlite => "DROP TRIGGER audit_events_no_update;",
        };
        conn.batch_execute(untrigger).expect("untrigger");
        conn.batch_execute("UPDATE audit_events SET outcome = 'denied' WHERE seq = 2")
            .expect("tamper");
    }
    let data_dir = tempfile::tempdir().expect("data dir");
    let output = compact(&test_db, data_dir.path())
        .args(["audit", "verify"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("BROKEN at event 2"), "{out}");
}

#[test]
fn the_openapi_command_prints_the_committed_document() {
    let output = Command::new(BIN).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/openapi.json"
    ))
    .expect("file");
    assert!(output.stdout == committed);
}

#[test]
fn help_explains_every_command_and_setting() {
    let output = Command::new(BIN).arg("--help").output().expect("run");
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "serve",
        "migrate",
        "openapi",
        "audit",
        "outbox",
        "COMPACT_BIND",
        "DATABASE_URL",
        "COMPACT_SMTP_HOST",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    for sub in ["serve", "migrate", "openapi", "audit", "outbox", "config"] {
        let output = Command::new(BIN)
            .args([sub, "--help"])
            .output()
            .expect("run");
        assert!(output.status.success(), "{sub} --help");
    }
}

#[tokio::test]
async fn admin_create_makes_a_first_administrator_without_a_default_password() {
    use std::io::Write;
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let mut child = admin_create(
        &test_db,
        data_dir.path(),
        "chief@unoct.example",
        "Chief Admin",
    )
    .arg("--password-stdin")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .expect("run");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"a sturdy lantern over quiet meadows\n")
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    // Weak passwords are refused; without --password-stdin a single-use link is printed.
    let mut weak = admin_create(&test_db, data_dir.path(), "second@unoct.example", "Second")
        .arg("--password-stdin")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    weak.stdin
        .take()
        .expect("stdin")
        .write_all(b"password123\n")
        .expect("write");
    let weak = weak.wait_with_output().expect("wait");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("password refused"));
    let link = admin_create(&test_db, data_dir.path(), "third@unoct.example", "Third")
        .output()
        .expect("run");
    let printed = String::from_utf8_lossy(&link.stdout);
    assert!(printed.contains("/invitations/"), "{printed}");

    // The admin signs in over HTTP on the same database.
    let port = free_port();
    let _server = Server(
        compact(&test_db, data_dir.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let client = reqwest::Client::new();
    let login = format!("http://127.0.0.1:{port}/api/v1/auth/login");
    let started = Instant::now();
    let response = loop {
        let body = serde_json::json!({ "email": "chief@unoct.example", "password": "a sturdy lantern over quiet meadows" });
        if let Ok(response) = client.post(&login).json(&body).send().await {
            break response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn the_demo_loads_once_and_serves_a_realistic_compact() {
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let first = compact(&test_db, data_dir.path())
        .args(["seed", "--demo"])
        .output()
        .expect("seed");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("demo loaded"));
    let second = compact(&test_db, data_dir.path())
        .args(["seed", "--demo"])
        .output()
        .expect("seed");
    assert!(String::from_utf8_lossy(&second.stdout).contains("already loaded"));

    let port = free_port();
    let _server = Server(
        compact(&test_db, data_dir.path())
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    let login = loop {
        let body = serde_json::json!({ "email": "coordinator@oic.demo", "password": compact_registry::demo::DEMO_PASSWORD });
        if let Ok(response) = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&body)
            .send()
            .await
        {
            break response;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(login.status(), 200);
    let token = login.json::<serde_json::Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let stats: serde_json::Value = client
        .get(format!("{base}/api/v1/stats"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["regional_organizations_with_focal_points"], 1);
    assert_eq!(stats["pending_nominations"], 1);
    assert_eq!(stats["organizations_by_kind"]["regional_organization"], 4);
    let groups: serde_json::Value = client
        .get(format!("{base}/api/v1/groups"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("groups")
        .json()
        .await
        .expect("json");
    assert!(
        groups.as_array().expect("list").is_empty(),
        "the OIC is in none of the demo groups"
    );
    let nominations: serde_json::Value = client
        .get(format!("{base}/api/v1/nominations"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("nominations")
        .json()
        .await
        .expect("json");
    assert_eq!(nominations.as_array().expect("list").len(), 2);

    // Documents and updates in the six languages, each under its audience.
    let get = |path: String| {
        let request = client.get(format!("{base}{path}")).bearer_auth(&token);
        async move {
            request
                .send()
                .await
                .expect("request")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };
    let documents = get("/api/v1/documents".into()).await;
    assert_eq!(
        documents["items"].as_array().expect("items").len(),
        5,
        "the OIC coordinator sees green, own and clear documents only"
    );
    let other = get("/api/v1/search?language=other".into()).await;
    assert_eq!(other["total"], 1, "{other}");
    assert!(
        other["hits"][0]["title"]
            .as_str()
            .expect("title")
            .starts_with("Relatório"),
        "{other}"
    );
    let arabic = get("/api/v1/search?q=%D8%A7%D9%84%D8%A5%D8%B1%D9%87%D8%A7%D8%A8".into()).await;
    assert_eq!(arabic["total"], 2, "{arabic}");
    let feed = get("/api/v1/updates".into()).await;
    assert_eq!(feed["items"].as_array().expect("items").len(), 4);
    let public: serde_json::Value = client
        .get(format!("{base}/api/v1/documents"))
        .send()
        .await
        .expect("public list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        public["items"].as_array().expect("items").len(),
        2,
        "TLP:CLEAR only"
    );
    assert_demo_items_cover_every_language_marking_and_recipient(&test_db);
}

/// Read from the database, since no one user sees every item: documents and updates each in
/// the six UN languages and under every marking, one item in another language, addressed to
/// organizations, groups (a working group and the Central Asia Joint Plan of Action) and
/// named users, and one edited document.
fn assert_demo_items_cover_every_language_marking_and_recipient(test_db: &TestDatabase) {
    use compact_db::schema::{groups, item_versions, items};
    use diesel::prelude::*;
    use std::collections::BTreeSet;

    let mut conn = test_db.connect();
    let rows: Vec<(String, String, String, String)> = items::table
        .filter(items::deleted_at.is_null())
        .select((items::kind, items::language, items::tlp, items::recipients))
        .load(&mut conn)
        .expect("items");
    let un_languages = BTreeSet::from(["ar", "zh", "en", "fr", "ru", "es"]);
    let markings = BTreeSet::from(["clear", "green", "amber", "amber_strict", "red"]);
    for kind in ["document", "update"] {
        let of_kind = || rows.iter().filter(|r| r.0 == kind);
        let languages: BTreeSet<&str> = of_kind().map(|r| r.1.as_str()).collect();
        assert!(
            languages.is_superset(&un_languages),
            "{kind}s in {languages:?}"
        );
        let tlps: BTreeSet<&str> = of_kind().map(|r| r.2.as_str()).collect();
        assert_eq!(tlps, markings, "{kind}s");
    }
    assert!(rows.iter().any(|r| r.1 == "other"), "an item in `other`");

    let recipients: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| serde_json::from_str(&r.3).expect("recipients"))
        .collect();
    let named = |field: &str| -> BTreeSet<String> {
        recipients
            .iter()
            .flat_map(|r| r[field].as_array().cloned().unwrap_or_default())
            .map(|id| id.as_str().expect("id").to_owned())
            .collect()
    };
    assert!(!named("organizations").is_empty(), "organizations named");
    assert!(!named("users").is_empty(), "users named");
    let group_kinds: BTreeSet<(String, String)> = groups::table
        .filter(groups::id.eq_any(named("groups")))
        .select((groups::kind, groups::name))
        .load::<(String, String)>(&mut conn)
        .expect("groups")
        .into_iter()
        .collect();
    assert!(
        group_kinds.iter().any(|(kind, _)| kind == "working_group"),
        "{group_kinds:?}"
    );
    assert!(
        group_kinds.contains(&(
            "regional_plan".to_owned(),
            "Central Asia Joint Plan of Action".to_owned()
        )),
        "{group_kinds:?}"
    );
    let versions: i64 = item_versions::table
        .count()
        .get_result(&mut conn)
        .expect("versions");
    assert!(versions >= 1, "an edited document");
}

async fn wait_until_up(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "compact serve did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Killed with SIGKILL in the middle of a stream of writes, the server comes back with every
/// acknowledged item readable, no item without its audience, the audit chain intact and the
/// mail outbox draining.
#[tokio::test]
async fn a_server_killed_mid_traffic_restarts_with_nothing_half_written() {
    use compact_db::schema::outbox;
    use diesel::prelude::*;

    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let seeded = compact(&test_db, data_dir.path())
        .args(["seed", "--demo"])
        .output()
        .expect("seed");
    assert!(seeded.status.success());
    let port = free_port();
    let serve = || {
        compact(&test_db, data_dir.path())
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .spawn()
            .expect("serve")
    };
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = Server(serve());
    wait_until_up(&client, &base).await;
    let login = serde_json::json!({ "email": "focal.point@oic.demo", "password": compact_registry::demo::DEMO_PASSWORD });
    let token: String = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .expect("login")
        .json::<serde_json::Value>()
        .await
        .expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    let landed = std::sync::atomic::AtomicUsize::new(0);
    let post = |i: usize| {
        let landed = &landed;
        let request = client
            .post(format!("{base}/api/v1/updates"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("crash-{i}"))
            .json(&serde_json::json!({ "title": format!("Crash {i}"), "body": "x", "tlp": "green", "tags": ["crash"] }));
        async move {
            let response = request.send().await.ok()?;
            if response.status() != 201 {
                return None;
            }
            let body: serde_json::Value = response.json().await.ok()?;
            landed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some((i, body["id"].as_str()?.to_owned()))
        }
    };
    const WRITES: usize = 1000;
    let writes = futures_util::future::join_all((0..WRITES).map(post));
    let kill = async {
        // Kill once some writes have been acknowledged and while others are in flight.
        let waiting = Instant::now();
        while landed.load(std::sync::atomic::Ordering::SeqCst) < 20
            && waiting.elapsed() < Duration::from_secs(20)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = server.0.kill(); // SIGKILL
        let _ = server.0.wait();
    };
    let (acknowledged, ()) = tokio::join!(writes, kill);
    let acknowledged: Vec<(usize, String)> = acknowledged.into_iter().flatten().collect();
    assert!(
        !acknowledged.is_empty(),
        "some writes landed before the kill"
    );
    assert!(
        acknowledged.len() < WRITES,
        "the kill interrupted the stream"
    );

    server = Server(serve());
    wait_until_up(&client, &base).await;
    // Every acknowledged write is there, and a retry with its key finds the same item.
    for (i, id) in &acknowledged {
        let status = client
            .get(format!("{base}/api/v1/updates/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get")
            .status();
        assert_eq!(status, 200, "acknowledged update {i} lost");
        let replay: serde_json::Value = post(*i)
            .await
            .map(|(_, id)| serde_json::json!(id))
            .expect("replay");
        assert_eq!(
            replay,
            serde_json::json!(id),
            "retry of {i} made a second item"
        );
    }
    // No item without its audience: the grants were written in the item's transaction.
    let url = test_db.url().clone();
    let db = compact_db::Database::new(&url, &compact_db::PoolOptions::default());
    let mut conn = db.get().expect("connection");
    let without_grants = support::items_without_grants(&mut conn);
    assert_eq!(without_grants, 0);
    let audit = compact(&test_db, data_dir.path())
        .args(["audit", "verify"])
        .output()
        .expect("audit verify");
    assert!(
        audit.status.success(),
        "{}",
        String::from_utf8_lossy(&audit.stdout)
    );
    // The outbox drains after the restart.
    let started = Instant::now();
    loop {
        let pending: i64 = outbox::table
            .filter(outbox::status.eq("pending"))
            .count()
            .get_result(&mut *conn)
            .expect("outbox");
        if pending == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{pending} mails stuck"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(server);
}

/// Whatever a request carries — passwords, access and refresh tokens, API keys, tokens in
/// paths, TOTP secrets — never reaches a log line, even at `debug`; nor does SQL or a panic.
#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let log_path = data_dir.path().join("server.log");
    let port = free_port();
    let server = Server(
        compact(&test_db, data_dir.path())
            .env("COMPACT_LOG_LEVEL", "debug")
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).expect("log file"))
            .spawn()
            .expect("start compact serve"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_until_up(&client, &base).await;

    const PASSWORD: &str = "compact demo passphrase 2026";
    let post = |path: &str, body: serde_json::Value| {
        client.post(format!("{base}{path}")).json(&body).send()
    };
    let tokens: serde_json::Value = post(
        "/api/v1/auth/login",
        serde_json::json!({"email": "coordinator@oic.demo", "password": PASSWORD}),
    )
    .await
    .expect("login")
    .json()
    .await
    .expect("tokens");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let key: serde_json::Value = client
        .post(format!("{base}/api/v1/api-keys"))
        .bearer_auth(&access)
        .json(&serde_json::json!({
            "name": "log check",
            "scopes": ["documents:read"],
            "expires_at": (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
        }))
        .send()
        .await
        .expect("api key")
        .json()
        .await
        .expect("key");
    let api_key = key["secret"].as_str().expect("secret").to_owned();
    let totp: serde_json::Value = client
        .post(format!("{base}/api/v1/me/mfa/totp"))
        .bearer_auth(&access)
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("totp")
        .json()
        .await
        .expect("enrolment");
    let totp_secret = totp["secret"].as_str().expect("totp secret").to_owned();
    client
        .get(format!("{base}/api/v1/documents"))
        .header("x-api-key", &api_key)
        .send()
        .await
        .expect("read with the key");
    post(
        "/api/v1/auth/refresh",
        serde_json::json!({"refresh_token": refresh}),
    )
    .await
    .expect("refresh");
    // Failures log too: a wrong password, a made-up token in a path and in a header.
    let wrong_password = "a wrong but memorable passphrase";
    post(
        "/api/v1/auth/login",
        serde_json::json!({"email": "member@oic.demo", "password": wrong_password}),
    )
    .await
    .expect("failed login");
    let path_token = "pathtokenXq7Lw2mN9pR4sT6vY8zA1bC3dE5fG";
    post(
        &format!("/api/v1/invitations/{path_token}/accept"),
        serde_json::json!({"password": PASSWORD}),
    )
    .await
    .expect("accept");
    let made_up_bearer = "madeupbearerKk2Jj4Hh6Gg8Ff0Dd";
    client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(made_up_bearer)
        .send()
        .await
        .expect("made-up bearer");
    drop(server);

    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(
        log.contains("/api/v1/invitations/{token}/accept"),
        "requests are logged by route pattern: {log}"
    );
    for secret in [
        PASSWORD,
        wrong_password,
        &access,
        &refresh,
        &api_key,
        &totp_secret,
        path_token,
        made_up_bearer,
    ] {
        assert!(!log.contains(secret), "a secret reached the log: {secret}");
    }
    for leak in ["SELECT ", "INSERT ", "panicked", "stack backtrace"] {
        assert!(!log.contains(leak), "{leak:?} reached the log");
    }
}
