//! `TestApp`: the whole platform on 127.0.0.1:0 with its own database (SQLite file, or a
//! PostgreSQL database when TEST_DATABASE_URL is set) and data directory, driven over real
//! HTTP with reqwest.

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use compact_api::config::Settings;
use compact_api::server::Platform;
use compact_db::testing::TestDatabase;
use compact_db::{Database, DatabaseUrl, PoolOptions};
use compact_mail::SmtpSecurity;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Database,
    pub settings: Arc<Settings>,
    handle: ServerHandle,
    _test_db: Option<TestDatabase>,
    _data_dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct TestAppBuilder {
    smtp_port: Option<u16>,
    database_url: Option<DatabaseUrl>,
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
            ..Settings::default()
        };
        let (test_db, db) = match self.database_url {
            Some(url) => (None, Database::new(&url, &settings.pool_options())),
            None => {
                let (test_db, db) = TestDatabase::migrated();
                (Some(test_db), db)
            }
        };
        let _ = PoolOptions::default();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let settings = Arc::new(settings);
        let platform = Platform::launch(settings.clone(), db.clone(), listener).expect("launch");
        let handle = platform.handle();
        tokio::spawn(platform.run());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        TestApp {
            address,
            client,
            db,
            settings,
            handle,
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
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and drop connections so the database can be removed.
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// Reads a problem+json answer, checking its content type and status field.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
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
