//! Settings: built-in defaults, then an optional TOML file, then `COMPACT_*` environment
//! variables (and `DATABASE_URL`), then command-line flags. Secrets are `SecretString`s:
//! their `Debug` prints `[REDACTED]`, so settings can be logged whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use compact_auth::AuthSettings;
use compact_auth::password::{MAX_MEMORY_KIB, PasswordCost};
use compact_db::{DatabaseUrl, PoolOptions};
use compact_mail::{SmtpSecurity, SmtpSettings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub bind: String,
    /// Where the SQLite database (by default), mail files, keys and attachments live.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://path`; unset means SQLite in the data directory.
    pub database_url: Option<SecretString>,
    pub database_pool_size: u32,
    /// Seconds a request waits for a database connection before answering 503.
    pub database_timeout_secs: u64,
    /// Statements taking at least this many milliseconds are logged with their SQL; 0 logs none.
    pub database_slow_statement_ms: u64,
    /// SQLite: MiB all connections' page caches may use together before they recycle pages;
    /// 0 sets no budget (each connection then caches up to 16 MiB). 64 is four connections'
    /// worth, the concurrency the benchmarks run at (bench/README.md, 2026-11-30).
    pub sqlite_memory_mib: u64,
    /// The platform's public base URL, used in links sent by mail.
    pub public_url: String,
    pub log_format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `compact_api=debug,info`; `RUST_LOG` wins if set.
    pub log_level: String,
    /// Serve `/docs` (the interactive API documentation).
    pub docs_enabled: bool,
    /// Serve `/api/v1/openapi.json`; `/docs` needs it.
    pub openapi_enabled: bool,
    /// HTTP worker threads; unset means one per core.
    pub workers: Option<usize>,
    /// SMTP server; unset means mail is written as `.eml` files under `<data_dir>/mail/`.
    pub smtp_host: Option<String>,
    /// Unset means 25 for `none`, 587 for `starttls`, 465 for `tls`.
    pub smtp_port: Option<u16>,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<SecretString>,
    pub smtp_timeout_secs: u64,
    /// PEM file of a private certificate authority that signed the SMTP relay's certificate.
    pub smtp_ca_file: Option<PathBuf>,
    /// The `From` of every mail.
    pub mail_from: String,
    /// argon2id memory in KiB, iterations and lanes: at least 19456 (19 MiB), 2 and 1 (the
    /// design's floor; lower is refused at start), memory at most 1048576 (1 GiB).
    pub password_memory_kib: u32,
    pub password_iterations: u32,
    pub password_parallelism: u32,
    /// Threads hashing passwords at once; unset means one per core.
    pub password_threads: Option<usize>,
    /// Per-IP limit on sign-in and the other credential routes: a burst, then one more
    /// every `login_replenish_ms`.
    pub login_burst: u32,
    pub login_replenish_ms: u64,
    /// Every `/api/v1` route: `rate_limit_burst` requests at once per caller (access token,
    /// API key, or address when anonymous), then one more every `rate_limit_replenish_ms`.
    pub rate_limit_burst: u32,
    pub rate_limit_replenish_ms: u64,
    /// Every route, all callers of one address together: so that a client cannot
    /// escape its limit by sending a new (made-up) credential with each request. Behind a
    /// reverse proxy every request has the proxy's address: raise it there.
    pub address_limit_burst: u32,
    pub address_limit_replenish_ms: u64,
    /// Failed sign-ins in a row before an account locks; the lock starts at
    /// `lockout_base_secs`, doubles with each further failure, up to `lockout_max_secs`.
    pub lockout_threshold: i32,
    pub lockout_base_secs: u64,
    pub lockout_max_secs: u64,
    /// Alternate focal points an organization may have at once (one primary).
    pub max_alternates: u32,
    /// The largest attachment accepted, in bytes; a larger upload is refused (413) as soon
    /// as it is seen to be larger.
    pub attachment_max_bytes: u64,
    /// Browser origins (e.g. `https://portal.example.org`) allowed to call the API from
    /// JavaScript. Empty: no CORS headers at all, so browsers refuse cross-origin calls.
    pub cors_allowed_origins: Vec<String>,
    /// Seconds a client may take to send a JSON body, or between two pieces of an upload;
    /// a slower client gets 408 and its connection back.
    pub body_timeout_secs: u64,
    /// Seconds a client may take to send a request's line and headers; a slower client gets
    /// 408 and its connection closed.
    pub header_timeout_secs: u64,
    /// How often scheduled work (term expiry, activating approved focal points) runs.
    pub scheduler_interval_secs: u64,
    /// Load the search count index as the server starts (about 40 MB and 5 s at a million
    /// items), rather than on the first search, which would then wait for it.
    pub search_index_at_start: bool,
    /// Delivery attempts before a message is kept as `failed`.
    pub mail_max_attempts: u32,
    /// How often the outbox is checked, in milliseconds.
    pub mail_poll_interval_ms: u64,
}

/// The largest SQLite memory budget accepted, in MiB.
const MAX_SQLITE_MEMORY_MIB: u64 = 1 << 20;

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./compact-data"),
            database_url: None,
            database_pool_size: 10,
            database_timeout_secs: 5,
            database_slow_statement_ms: 1000,
            sqlite_memory_mib: 64,
            public_url: "http://localhost:8080".into(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            docs_enabled: true,
            openapi_enabled: true,
            workers: None,
            smtp_host: None,
            smtp_port: None,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: None,
            smtp_password: None,
            smtp_timeout_secs: 20,
            smtp_ca_file: None,
            mail_from: "Compact Platform <no-reply@localhost>".into(),
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
            password_parallelism: 1,
            password_threads: None,
            login_burst: 10,
            login_replenish_ms: 3000,
            rate_limit_burst: 100,
            rate_limit_replenish_ms: 50,
            address_limit_burst: 1000,
            address_limit_replenish_ms: 5,
            lockout_threshold: 5,
            lockout_base_secs: 60,
            lockout_max_secs: 3600,
            max_alternates: 2,
            attachment_max_bytes: 25 * 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            body_timeout_secs: 30,
            header_timeout_secs: 10,
            scheduler_interval_secs: 60,
            search_index_at_start: true,
            mail_max_attempts: 8,
            mail_poll_interval_ms: 2000,
        }
    }
}

/// Values given on the command line, which override every other source.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub bind: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

impl Settings {
    /// Loads settings from `file` (if given), the environment and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::new();
        if let Some(file) = file {
            anyhow::ensure!(
                file.is_file(),
                "configuration file {} does not exist",
                file.display()
            );
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment
            .merge(Env::prefixed("COMPACT_").ignore(&["config"]))
            .merge(Env::raw().only(&["database_url"]));
        if let Some(bind) = &overrides.bind {
            figment = figment.merge(Serialized::default("bind", bind));
        }
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        let settings: Settings = figment.extract().context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.database_url()?;
        self.mail_from
            .parse::<lettre::message::Mailbox>()
            .context("mail_from is not a valid mailbox")?;
        url::Url::parse(&self.public_url).context("public_url is not a URL")?;
        anyhow::ensure!(
            self.database_pool_size > 0,
            "database_pool_size must be at least 1"
        );
        anyhow::ensure!(
            self.openapi_enabled || !self.docs_enabled,
            "docs_enabled needs openapi_enabled (the docs page reads the spec)"
        );
        for origin in &self.cors_allowed_origins {
            let url = url::Url::parse(origin)
                .with_context(|| format!("cors_allowed_origins: {origin:?} is not a URL"))?;
            anyhow::ensure!(
                matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.path() == "/"
                    && !origin.ends_with('/')
                    && url.query().is_none(),
                "cors_allowed_origins: {origin:?} must be an origin like https://portal.example.org"
            );
        }
        anyhow::ensure!(
            self.body_timeout_secs > 0 && self.header_timeout_secs > 0,
            "body_timeout_secs and header_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            self.attachment_max_bytes > 0,
            "attachment_max_bytes must be at least 1"
        );
        anyhow::ensure!(
            self.mail_max_attempts > 0,
            "mail_max_attempts must be at least 1"
        );
        self.check_password_cost()?;
        // SQLite takes the budget as a signed 64-bit byte count.
        anyhow::ensure!(
            self.sqlite_memory_mib <= MAX_SQLITE_MEMORY_MIB,
            "sqlite_memory_mib must be at most {MAX_SQLITE_MEMORY_MIB} (1 TiB); 0 sets no budget"
        );
        Ok(())
    }

    /// The argon2id cost must meet the design's floor. Every configuration source (file,
    /// environment, flags) passes here; only Rust code building `Settings` itself — the
    /// tests' `TestApp`, for cheap hashing — can run below it.
    fn check_password_cost(&self) -> anyhow::Result<()> {
        let floor = PasswordCost::FLOOR;
        for (setting, value, least) in [
            (
                "password_memory_kib",
                self.password_memory_kib,
                floor.memory_kib,
            ),
            (
                "password_iterations",
                self.password_iterations,
                floor.iterations,
            ),
            (
                "password_parallelism",
                self.password_parallelism,
                floor.parallelism,
            ),
        ] {
            anyhow::ensure!(
                value >= least,
                "{setting} (COMPACT_{}) is {value}; it must be at least {least}: argon2id costs \
                 below m = 19456 KiB, t = 2, p = 1 are refused",
                setting.to_uppercase()
            );
        }
        anyhow::ensure!(
            self.password_memory_kib <= MAX_MEMORY_KIB,
            "password_memory_kib (COMPACT_PASSWORD_MEMORY_KIB) is {}; it must be at most \
             {MAX_MEMORY_KIB} (1 GiB), the most a stored hash may ask of a sign-in",
            self.password_memory_kib
        );
        Ok(())
    }

    /// The database to use: `database_url`, or a SQLite file in the data directory.
    pub fn database_url(&self) -> anyhow::Result<DatabaseUrl> {
        match &self.database_url {
            Some(url) => DatabaseUrl::parse(url.expose_secret()).context("database_url"),
            None => Ok(DatabaseUrl::sqlite_file(self.data_dir.join("compact.db"))),
        }
    }

    /// Assumes [`Settings::validate`] passed (the memory budget fits in bytes).
    pub fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_size: self.database_pool_size,
            connect_timeout: Duration::from_secs(self.database_timeout_secs.max(1)),
            slow_statement: (self.database_slow_statement_ms > 0)
                .then(|| Duration::from_millis(self.database_slow_statement_ms)),
            sqlite_memory_budget: (self.sqlite_memory_mib > 0)
                .then(|| self.sqlite_memory_mib * 1024 * 1024),
        }
    }

    pub fn smtp(&self) -> Option<SmtpSettings> {
        let host = self.smtp_host.clone().filter(|h| !h.trim().is_empty())?;
        let port = self.smtp_port.unwrap_or(match self.smtp_security {
            SmtpSecurity::None => 25,
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
        });
        Some(SmtpSettings {
            host,
            port,
            security: self.smtp_security,
            username: self.smtp_username.clone(),
            password: self.smtp_password.clone(),
            timeout: Duration::from_secs(self.smtp_timeout_secs.max(1)),
            ca_file: self.smtp_ca_file.clone(),
        })
    }

    /// Identity settings: tokens issued by (and for) this platform's public URL.
    pub fn auth(&self) -> AuthSettings {
        let mut auth = AuthSettings::new(self.public_url.trim_end_matches('/'));
        auth.password_cost = PasswordCost {
            memory_kib: self.password_memory_kib,
            iterations: self.password_iterations,
            parallelism: self.password_parallelism,
        };
        if let Some(threads) = self.password_threads {
            auth.hash_concurrency = threads.max(1);
        }
        auth.lockout_threshold = self.lockout_threshold.max(1);
        auth.lockout_base = Duration::from_secs(self.lockout_base_secs.max(1));
        auth.lockout_max =
            Duration::from_secs(self.lockout_max_secs.max(self.lockout_base_secs).max(1));
        auth
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// The domain of `Message-ID`s: the public URL's host.
    pub fn message_domain(&self) -> String {
        url::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned())
    }
}

#[cfg(test)]
// figment's Jail closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn a_sqlite_memory_budget_past_a_tebibyte_is_refused() {
        let settings = Settings {
            sqlite_memory_mib: u64::MAX,
            ..Settings::default()
        };
        let error = settings.validate().expect_err("refused").to_string();
        assert!(error.contains("sqlite_memory_mib"), "{error}");
        let settings = Settings {
            sqlite_memory_mib: MAX_SQLITE_MEMORY_MIB,
            ..Settings::default()
        };
        settings.validate().expect("a tebibyte is accepted");
    }

    #[test]
    fn an_argon2_cost_below_the_floor_is_refused_naming_the_setting() {
        let floor = Settings::default();
        floor.validate().expect("the floor itself is accepted");
        let cases = [
            (
                "password_memory_kib",
                Settings {
                    password_memory_kib: 19455,
                    ..Settings::default()
                },
            ),
            (
                "password_iterations",
                Settings {
                    password_iterations: 1,
                    ..Settings::default()
                },
            ),
            (
                "password_parallelism",
                Settings {
                    password_parallelism: 0,
                    ..Settings::default()
                },
            ),
            (
                "password_memory_kib",
                Settings {
                    password_memory_kib: MAX_MEMORY_KIB + 1,
                    ..Settings::default()
                },
            ),
        ];
        for (setting, settings) in cases {
            let error = settings.validate().expect_err("refused").to_string();
            assert!(error.contains(setting), "{setting}: {error}");
        }
        let stronger = Settings {
            password_memory_kib: 64 * 1024,
            password_iterations: 3,
            password_parallelism: 2,
            ..Settings::default()
        };
        stronger.validate().expect("above the floor is accepted");
        // The environment goes through the same check.
        figment::Jail::expect_with(|jail| {
            jail.set_env("COMPACT_PASSWORD_MEMORY_KIB", "64");
            let error = Settings::load(None, &Overrides::default()).expect_err("refused");
            assert!(
                format!("{error:#}").contains("COMPACT_PASSWORD_MEMORY_KIB"),
                "{error:#}"
            );
            Ok(())
        });
    }

    #[test]
    fn defaults_need_no_configuration() {
        let settings = Settings::default();
        settings.validate().expect("defaults are valid");
        let url = settings.database_url().expect("url");
        assert_eq!(url.backend(), compact_db::Backend::Sqlite);
        assert!(settings.smtp().is_none());
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let settings = Settings {
            smtp_password: Some("hunter2-very-secret".into()),
            database_url: Some("postgres://u:pw-very-secret@db/x".into()),
            ..Settings::default()
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("very-secret"), "{printed}");
    }

    #[test]
    fn file_environment_and_flags_layer_in_that_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("compact.toml", "bind = \"127.0.0.1:9000\"\nlog_level = \"debug\"\nsmtp_host = \"mail.example.org\"")?;
            jail.set_env("COMPACT_LOG_LEVEL", "warn");
            jail.set_env("COMPACT_ATTACHMENT_MAX_BYTES", "1048576");
            jail.set_env("DATABASE_URL", "postgres://postgres@127.0.0.1/test");
            let file = Path::new("compact.toml");
            let settings = Settings::load(Some(file), &Overrides::default()).expect("load");
            assert_eq!(settings.bind, "127.0.0.1:9000");
            assert_eq!(settings.log_level, "warn");
            assert_eq!(settings.attachment_max_bytes, 1024 * 1024);
            assert_eq!(
                settings.database_url().expect("url").backend(),
                compact_db::Backend::Postgres
            );
            assert_eq!(settings.smtp().expect("smtp").port, 587);

            let flags = Overrides {
                bind: Some("0.0.0.0:1".into()),
                ..Overrides::default()
            };
            assert_eq!(
                Settings::load(Some(file), &flags).expect("load").bind,
                "0.0.0.0:1"
            );
            Ok(())
        });
    }

    #[test]
    fn cors_origins_come_from_the_environment_and_must_be_origins() {
        figment::Jail::expect_with(|jail| {
            jail.set_env(
                "COMPACT_CORS_ALLOWED_ORIGINS",
                r#"["https://portal.example.org", "http://localhost:3000"]"#,
            );
            let settings = Settings::load(None, &Overrides::default()).expect("load");
            assert_eq!(settings.cors_allowed_origins.len(), 2);
            Ok(())
        });
        for bad in [
            "*",
            "portal.example.org",
            "https://portal.example.org/app",
            "ftp://x.org",
        ] {
            let settings = Settings {
                cors_allowed_origins: vec![bad.to_owned()],
                ..Settings::default()
            };
            assert!(settings.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "mysql://x");
            let error = Settings::load(None, &Overrides::default()).expect_err("refused");
            assert!(format!("{error:#}").contains("postgres://"), "{error:#}");
            jail.set_env("DATABASE_URL", "sqlite://./x.db");
            jail.set_env("COMPACT_SMTP_SECURITY", "ssl");
            assert!(Settings::load(None, &Overrides::default()).is_err());
            jail.set_env("COMPACT_SMTP_SECURITY", "starttls");
            jail.set_env("COMPACT_ATTACHMENT_MAX_BYTES", "0");
            let error = Settings::load(None, &Overrides::default()).expect_err("refused");
            assert!(
                format!("{error:#}").contains("attachment_max_bytes"),
                "{error:#}"
            );
            Ok(())
        });
    }
}
