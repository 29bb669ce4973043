//! The benchmark harness of the Compact Platform (issue 6); `bench/run.sh` drives it.
//!
//! - `generate`: a synthetic Compact loaded into PostgreSQL or SQLite, plus a manifest;
//! - `capture`: the SQL the registry runs for each benchmarked operation, values inlined;
//! - `sql`: replays a captured script natively from several threads (the SQLite baseline);
//! - `bare`: a bare actix-web JSON server (the baseline of the trivial authenticated GET);
//! - `load-summary`: one round's figures from oha's JSON report;
//! - `report`: medians, ratios to baselines and targets, as Markdown and JSON.

// The workspace denies unsafe code; only compact-api `memory` may allow it.
#![forbid(unsafe_code)]

mod bare;
mod capture;
mod dataset;
mod generate;
mod inline;
mod load;
mod oha;
mod report;
mod runner;
mod words;
mod zipf;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "compact-bench",
    about = "Benchmark harness of the Compact Platform"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate a database and load a synthetic Compact into it.
    Generate {
        #[arg(long)]
        database_url: String,
        /// Documents and updates together.
        #[arg(long, default_value_t = 10_000)]
        items: usize,
        #[arg(long, default_value_t = 2_000)]
        users: usize,
        #[arg(long, default_value_t = 6)]
        seed: u64,
        #[arg(long)]
        manifest: PathBuf,
    },
    /// Record the SQL of each benchmarked operation into `<out>/<operation>.sql`.
    Capture {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        manifest: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Replay a captured script from `clients` threads for `seconds`; prints one JSON line.
    Sql {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        script: PathBuf,
        #[arg(long, default_value_t = 2)]
        clients: usize,
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
    /// Serve `GET /me` with a fixed JSON body and nothing else.
    Bare {
        #[arg(long, default_value = "127.0.0.1:18190")]
        bind: String,
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// Read `oha --output-format json` from stdin; print the round's req/s, p50, p99,
    /// requests and errors as one JSON line.
    LoadSummary,
    /// Summarise a run's measurements.
    Report {
        #[arg(long)]
        measurements: PathBuf,
        #[arg(long)]
        memory: Option<PathBuf>,
        /// JSON object with date, commit, machine, mode, items, rounds.
        #[arg(long)]
        meta: String,
        #[arg(long)]
        markdown: PathBuf,
        #[arg(long)]
        json: PathBuf,
    },
    /// Print a value of the manifest for the shell script: `reader-email`, `password`,
    /// `terms` (class<TAB>term lines), `documents`, `logins`.
    Manifest {
        #[arg(long)]
        manifest: PathBuf,
        field: String,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate {
            database_url,
            items,
            users,
            seed,
            manifest,
        } => generate::run(&database_url, items, users, seed, &manifest),
        Command::Capture {
            database_url,
            manifest,
            out,
        } => capture::run(&database_url, &generate::read_manifest(&manifest)?, &out),
        Command::Sql {
            database_url,
            script,
            clients,
            seconds,
        } => runner::run(
            &database_url,
            &std::fs::read_to_string(script)?,
            clients,
            seconds,
        ),
        Command::Bare { bind, workers } => Ok(bare::serve(&bind, workers)?),
        Command::LoadSummary => {
            let json = std::io::read_to_string(std::io::stdin())?;
            println!("{}", serde_json::to_string(&oha::summarise(&json)?)?);
            Ok(())
        }
        Command::Report {
            measurements,
            memory,
            meta,
            markdown,
            json,
        } => report::run(
            &measurements,
            memory.as_deref(),
            serde_json::from_str(&meta)?,
            &markdown,
            &json,
        ),
        Command::Manifest { manifest, field } => {
            let m = generate::read_manifest(&manifest)?;
            match field.as_str() {
                "reader-email" => println!("{}", m.reader.email),
                "password" => println!("{}", m.password),
                "searches" => {
                    for (name, q, sort) in capture::searches(&m) {
                        let sort = match sort {
                            compact_registry::search::Sort::Newest => "newest",
                            compact_registry::search::Sort::Relevance => "relevance",
                        };
                        println!("{name}\t{q}\t{sort}");
                    }
                }
                "documents" => m.visible_documents.iter().for_each(|d| println!("{d}")),
                "logins" => m.logins.iter().for_each(|u| println!("{}", u.email)),
                other => anyhow::bail!("unknown manifest field {other:?}"),
            }
            Ok(())
        }
    }
}
