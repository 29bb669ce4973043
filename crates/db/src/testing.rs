//! A fresh database per test: a SQLite file in a temporary directory, or, when
//! `TEST_DATABASE_URL` points at a PostgreSQL server, a new database on it that is dropped
//! (with any connection still open) when the test ends.

use diesel::connection::SimpleConnection;

use crate::{Backend, Database, DatabaseUrl, DbConnection, PoolOptions};

pub struct TestDatabase {
    url: DatabaseUrl,
    /// For PostgreSQL: the server's URL and the database to drop.
    postgres: Option<(DatabaseUrl, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// An empty database, not migrated.
    pub fn empty() -> Self {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(server) if !server.trim().is_empty() => Self::postgres(&server),
            _ => Self::sqlite(),
        }
    }

    /// A migrated database and a pool on it.
    pub fn migrated() -> (Self, Database) {
        let test_db = Self::empty();
        let db = Database::connect_and_migrate(&test_db.url, &PoolOptions::default())
            .expect("migrate the test database");
        (test_db, db)
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = DatabaseUrl::sqlite_file(dir.path().join("test.db"));
        Self {
            url,
            postgres: None,
            _dir: Some(dir),
        }
    }

    fn postgres(server: &str) -> Self {
        let server = DatabaseUrl::parse(&without_tls_unless_asked(server))
            .expect("TEST_DATABASE_URL is a database URL");
        assert_eq!(
            server.backend(),
            Backend::Postgres,
            "TEST_DATABASE_URL must be postgres://"
        );
        let name = format!("compact_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = server.establish().expect("connect to TEST_DATABASE_URL");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let mut url = url::Url::parse(server.expose()).expect("valid URL");
        url.set_path(&name);
        let url = DatabaseUrl::parse(url.as_str()).expect("valid URL");
        Self {
            url,
            postgres: Some((server, name)),
            _dir: None,
        }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.url.backend()
    }

    /// A connection outside any pool.
    pub fn connect(&self) -> DbConnection {
        self.url.establish().expect("connect to the test database")
    }
}

/// Tests talk to a local server: TLS adds nothing there, and a connection still negotiating
/// it while the test process exits races OpenSSL's exit-time cleanup (a SIGSEGV after every
/// test passed). A URL that names an `sslmode` keeps it.
fn without_tls_unless_asked(server: &str) -> String {
    let mut url = url::Url::parse(server.trim()).expect("TEST_DATABASE_URL is a URL");
    if !url.query_pairs().any(|(key, _)| key == "sslmode") {
        url.query_pairs_mut().append_pair("sslmode", "disable");
    }
    url.into()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((server, name)) = &self.postgres
            && let Ok(mut admin) = server.establish()
            && let Err(e) =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        {
            eprintln!("could not drop test database {name}: {e}");
        }
    }
}

/// What a log writer was given, for tests of what is logged: a clone goes to the subscriber
/// (`tracing_subscriber::fmt().with_writer(move || log.clone())`), [`CapturedLog::text`]
/// reads it back.
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLog {
    pub fn text(&self) -> String {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes).expect("UTF-8 log")
    }
}

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
