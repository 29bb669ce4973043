//! The `compact` command.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use compact_db::{Database, audit, migrations, outbox};

use crate::config::{Overrides, Settings};
use crate::{app, server, telemetry};

const SETTINGS_HELP: &str = "\
Settings come from built-in defaults, then the --config file (TOML), then environment
variables, then these flags. Every setting has an environment variable COMPACT_<NAME>:
  COMPACT_BIND                 address to listen on            [127.0.0.1:8080]
  COMPACT_DATA_DIR             data directory                  [./compact-data]
  DATABASE_URL                 postgres://… or sqlite://path   [sqlite in the data directory]
  COMPACT_DATABASE_POOL_SIZE   database connections            [10]
  COMPACT_DATABASE_TIMEOUT_SECS  wait for a connection before 503 [5]
  COMPACT_PUBLIC_URL           base URL for links in mail      [http://localhost:8080]
  COMPACT_LOG_FORMAT           text | json                     [text]
  COMPACT_LOG_LEVEL            tracing filter (RUST_LOG wins)  [info]
  COMPACT_DOCS_ENABLED         serve /docs                     [true]
  COMPACT_WORKERS              HTTP worker threads             [one per core]
  COMPACT_SMTP_HOST            SMTP server; unset writes mail to <data dir>/mail/*.eml
  COMPACT_SMTP_PORT            [25 none, 587 starttls, 465 tls]
  COMPACT_SMTP_SECURITY        none | starttls | tls           [starttls]
  COMPACT_SMTP_USERNAME, COMPACT_SMTP_PASSWORD   optional credentials
  COMPACT_SMTP_TIMEOUT_SECS    [20]
  COMPACT_SMTP_CA_FILE         PEM of a private CA that signed the relay's certificate
  COMPACT_MAIL_FROM            From of every mail  [Compact Platform <no-reply@localhost>]
  COMPACT_MAIL_MAX_ATTEMPTS    attempts before mail is kept as failed [8]
  COMPACT_MAIL_POLL_INTERVAL_MS  outbox check interval         [2000]
  COMPACT_PASSWORD_THREADS     threads hashing passwords       [one per core]
  (more: see the README's configuration table)
The config file uses the same names in lower case without the prefix (bind = \"…\").";

/// Compact Platform: coordination, shared documents and focal points for a
/// multi-organization compact.
#[derive(Debug, Parser)]
#[command(name = "compact", version, after_long_help = SETTINGS_HELP)]
pub struct Cli {
    /// TOML configuration file (also COMPACT_CONFIG).
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: SQLite database, mail files, keys, attachments.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: postgres://user@host/db or sqlite://path (also DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform: migrate the database, then serve the HTTP API and send mail.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 or 0.0.0.0:8080.
        #[arg(long, value_name = "ADDR")]
        bind: Option<String>,
        /// Load the demo Compact first (as `compact seed --demo`; once only).
        #[arg(long)]
        demo: bool,
    },
    /// Load data.
    Seed {
        /// A realistic demo Compact: organizations, groups, users of every role (password in
        /// the README) and nominations in every state. Loaded once; a second run does nothing.
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Apply pending database migrations (also done by `serve` at start).
    Migrate {
        /// Only list the migrations not applied yet.
        #[arg(long)]
        status: bool,
    },
    /// Print the OpenAPI document of the HTTP API.
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Mail outbox tools.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Print the effective settings, secrets masked.
    Config,
    /// Administrators.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Password hashing.
    Passwords {
        #[command(subcommand)]
        command: PasswordsCommand,
    },
    /// Token signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator in the secretariat organization (created if missing). With
    /// --password-stdin the password is read from standard input; otherwise a single-use
    /// set-password link, valid 72 hours, is printed. There is no default password.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Read the password from standard input (first line).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PasswordsCommand {
    /// Time argon2id at the configured cost, and the sign-ins per second it allows on this
    /// machine (cores ÷ time per hash): the bound a login benchmark is measured against.
    Benchmark {
        #[arg(long, default_value_t = 10)]
        rounds: u32,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key. Tokens signed by the old one keep verifying until they expire,
    /// so nobody is signed out.
    Rotate,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain and report the first row that was altered, removed or reordered.
    /// Exits with status 1 when the chain is broken.
    Verify,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// Only messages in this state: pending, sent or failed.
        #[arg(long, value_parser = ["pending", "sent", "failed"])]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Put a failed message back in the queue.
    Retry { id: String },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_file = cli
        .config
        .clone()
        .or_else(|| std::env::var_os("COMPACT_CONFIG").map(PathBuf::from));
    let mut overrides = Overrides {
        bind: None,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
    };
    if let Command::Serve { bind, .. } = &cli.command {
        overrides.bind.clone_from(bind);
    }
    if let Command::Openapi { output } = &cli.command {
        // Needs no settings or database.
        let json = app::openapi_pretty_json(&app::openapi());
        match output {
            Some(path) => {
                std::fs::write(path, json).with_context(|| format!("write {}", path.display()))?
            }
            None => print!("{json}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let settings = Settings::load(config_file.as_deref(), &overrides)?;
    telemetry::init(settings.log_format, &settings.log_level);
    match cli.command {
        Command::Seed { .. } => seed_demo(&settings)?,
        Command::Serve { demo, .. } => {
            if demo {
                seed_demo(&settings)?;
            }
            actix_web::rt::System::new().block_on(server::serve(settings))?;
        }
        Command::Migrate { status } => {
            let url = settings.database_url()?;
            let db = Database::new(&url, &settings.pool_options());
            let mut conn = db.get().context("connect to the database")?;
            let names = if status {
                migrations::pending(&mut conn)?
            } else {
                migrations::run_pending(&mut conn)?
            };
            let verb = if status { "pending" } else { "applied" };
            println!("{} migration(s) {verb}", names.len());
            for name in names {
                println!("  {name}");
            }
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let mut conn = connect(&settings)?;
            let report = audit::verify(&mut conn)?;
            match report.first_broken {
                None => println!(
                    "audit chain intact: {} event(s) verified",
                    report.rows_checked
                ),
                Some(broken) => {
                    println!(
                        "audit chain BROKEN at event {}: {} ({} event(s) before it verified)",
                        broken.seq, broken.reason, report.rows_checked
                    );
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Outbox { command } => {
            let mut conn = connect(&settings)?;
            match command {
                OutboxCommand::List { status, limit } => {
                    for m in outbox::list(&mut conn, status.as_deref(), limit.clamp(1, 10_000))? {
                        println!(
                            "{}  {:7}  attempts={}  to={}  subject={:?}  error={}",
                            m.id,
                            m.status,
                            m.attempts,
                            m.recipient,
                            m.subject,
                            m.last_error.as_deref().unwrap_or("-")
                        );
                    }
                }
                OutboxCommand::Retry { id } => {
                    anyhow::ensure!(
                        outbox::requeue_failed(&mut conn, &id)?,
                        "no failed message with id {id}"
                    );
                    println!("message {id} queued again");
                }
            }
        }
        Command::Config => println!("{settings:#?}"),
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    name,
                    password_stdin,
                },
        } => {
            let mut conn = connect(&settings)?;
            let password_hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("read the password from standard input")?;
                let password = line.trim_end_matches(['\r', '\n']).to_owned();
                let context =
                    compact_auth::accounts::admin_password_context(&mut conn, &email, &name)?;
                let context: Vec<&str> = context.iter().map(String::as_str).collect();
                compact_auth::password::check_strength(&password, &context)
                    .map_err(|weak| anyhow::anyhow!("password refused: it {}", weak.0))?;
                Some(compact_auth::password::hash_with(
                    settings.auth().password_cost,
                    &password,
                )?)
            } else {
                None
            };
            let (user, token) = compact_db::write_transaction(&mut conn, |conn| {
                compact_auth::accounts::create_admin(conn, &email, &name, password_hash)
            })?;
            println!("administrator {} created (id {})", user.email, user.id);
            if let Some(token) = token {
                let base = settings.public_url.trim_end_matches('/');
                println!(
                    "open this link in a browser to set the password (once, within 72 hours):"
                );
                println!("  {base}/invitations/{token}");
                println!(
                    "  or: curl -X POST {base}/api/v1/invitations/{token}/accept -H 'content-type: application/json' -d '{{\"password\":\"…\"}}'"
                );
            }
            println!(
                "then sign in and enrol a second factor (POST /api/v1/me/mfa/totp): admins need one."
            );
        }
        Command::Passwords {
            command: PasswordsCommand::Benchmark { rounds },
        } => {
            let cost = settings.auth().password_cost;
            let rounds = rounds.max(1);
            let started = std::time::Instant::now();
            for _ in 0..rounds {
                compact_auth::password::hash_with(cost, "benchmark password of fair length")?;
            }
            let per_hash = started.elapsed().as_secs_f64() / f64::from(rounds);
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let report = serde_json::json!({
                "memory_kib": cost.memory_kib,
                "iterations": cost.iterations,
                "parallelism": cost.parallelism,
                "ms_per_hash": (per_hash * 100_000.0).round() / 100.0,
                "cores": cores,
                "bound_per_second": (cores as f64 / per_hash * 10.0).round() / 10.0,
            });
            println!("{report}");
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let mut conn = connect(&settings)?;
            let kid = compact_auth::keys::rotate(&mut conn)?;
            println!("new signing key {kid}; running servers pick it up within 30 seconds");
        }
        Command::Openapi { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A migrated database connection for the maintenance commands.
fn connect(settings: &Settings) -> anyhow::Result<compact_db::PooledConnection> {
    let url = settings.database_url()?;
    let db = Database::connect_and_migrate(&url, &settings.pool_options()).context("database")?;
    Ok(db.get()?)
}

/// Loads the demo Compact (idempotent) and says what happened.
fn seed_demo(settings: &Settings) -> anyhow::Result<()> {
    use compact_registry::demo;
    let mut conn = connect(settings)?;
    let hash =
        compact_auth::password::hash_with(settings.auth().password_cost, demo::DEMO_PASSWORD)?;
    let mail = compact_auth::accounts::MailContext {
        public_url: settings.public_url.clone(),
        message_domain: settings.message_domain(),
    };
    match compact_db::write_transaction(&mut conn, |conn| demo::seed(conn, &hash, &mail))? {
        Some(seeded) => println!(
            "demo loaded: {} organizations, {} groups, {} users, {} nominations, {} documents, {} updates; every demo user's password is {:?}",
            seeded.organizations,
            seeded.groups,
            seeded.users,
            seeded.nominations,
            seeded.documents,
            seeded.updates,
            demo::DEMO_PASSWORD
        ),
        None => println!("demo already loaded; nothing changed"),
    }
    Ok(())
}
