//! Fault tests (issue 7): PostgreSQL stopped and started again under load. They start a
//! private PostgreSQL (initdb + pg_ctl, as the `postgres` user when run as root), so the
//! machine's shared server is never restarted under other tests. They need PostgreSQL's
//! server binaries, which a fresh machine with only Rust does not have, so they are
//! `#[ignore]`d in `cargo test` and run as their own stage of `.ci/run`:
//!
//!     cargo test -p compact-api --test faults -- --ignored

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use compact_db::{Database, DatabaseUrl, PoolOptions};
use serde_json::json;
use support::TestApp;

/// A throw-away PostgreSQL server in a temporary directory.
struct PrivatePostgres {
    bin: PathBuf,
    data: tempfile::TempDir,
    port: u16,
}

fn as_postgres(program: &Path) -> Command {
    // PostgreSQL refuses to run as root.
    let root = std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| {
                versions
                    .filter_map(Result::ok)
                    .map(|v| v.path().join("bin"))
                    .find(|b| b.join("initdb").exists())
            })
            .expect("PostgreSQL server binaries (initdb, pg_ctl) are required for the fault tests");
        let data = tempfile::tempdir().expect("data dir");
        Command::new("chown")
            .args(["-R", "postgres"])
            .arg(data.path())
            .status()
            .expect("chown");
        let port = compact_mail::testing::unused_port();
        let init = as_postgres(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(data.path().join("db"))
            .output()
            .expect("initdb");
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let server = Self { bin, data, port };
        server.ctl("start");
        server
    }

    fn ctl(&self, action: &str) {
        let mut command = as_postgres(&self.bin.join("pg_ctl"));
        command
            .args([action, "-w", "-m", "fast", "-D"])
            .arg(self.data.path().join("db"))
            .arg("-l")
            .arg(self.data.path().join("log"));
        if action == "start" {
            command.args([
                "-o",
                &format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1",
                    self.port,
                    self.data.path().display()
                ),
            ]);
        }
        let out = command.output().expect("pg_ctl");
        assert!(
            out.status.success(),
            "pg_ctl {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
        .expect("url")
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = as_postgres(&self.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(self.data.path().join("db"))
            .output();
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL server binaries; run by .ci/run's fault stage"]
async fn postgres_stopped_under_load_gives_503_then_recovers_without_losing_writes() {
    let postgres = PrivatePostgres::start();
    Database::connect_and_migrate(&postgres.url(), &PoolOptions::default()).expect("migrate");
    let app = TestApp::builder()
        .database_url(postgres.url())
        .spawn()
        .await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "fp@unodc.example", "focal_point");
    let (token, _) = app.tokens("fp@unodc.example").await;

    let post = |i: usize| {
        app.client
            .post(app.url("/api/v1/updates"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("fault-{i}"))
            .json(&json!({ "title": format!("Fault {i}"), "body": "x", "tlp": "green" }))
            .send()
    };
    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    let mut i = 0;
    let mut outage_started = None;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if i == 30 {
            postgres.ctl("stop");
            outage_started = Some(Instant::now());
        }
        if outage_started.is_some_and(|t| t.elapsed() > Duration::from_secs(3)) && unavailable > 0 {
            postgres.ctl("start");
            outage_started = None;
        }
        let response = post(i).await.expect("the server answers during the outage");
        match response.status().as_u16() {
            201 => {
                let body: serde_json::Value = response.json().await.expect("json");
                acknowledged.push((i, body["id"].as_str().expect("id").to_owned()));
            }
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                let problem = support::problem(response, 503).await;
                assert!(problem["detail"].is_string());
                unavailable += 1;
            }
            other => panic!("write {i} got {other} during the fault"),
        }
        i += 1;
        if unavailable > 0
            && outage_started.is_none()
            && acknowledged.iter().any(|(n, _)| *n > 30)
            && i > 60
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(unavailable > 0, "the outage was seen as 503s");
    assert!(
        acknowledged.iter().any(|(n, _)| *n > 30),
        "writes succeed again after recovery"
    );
    // Nothing acknowledged was lost, and every refused write can be retried once.
    for (n, id) in &acknowledged {
        let status = app
            .get_as(&token, &format!("/api/v1/updates/{id}"))
            .await
            .status();
        assert_eq!(status, 200, "acknowledged write {n} lost");
    }
    for n in 0..i {
        let response = post(n).await.expect("retry");
        assert_eq!(response.status(), 201, "retry of {n}");
    }
    // One item per key, none twice, none without its audience.
    use compact_db::schema::items;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    let count: i64 = items::table
        .filter(items::kind.eq("update"))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(count as usize, i);
    let without_grants = support::items_without_grants(&mut conn);
    assert_eq!(without_grants, 0);
}
