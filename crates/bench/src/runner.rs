//! `compact-bench sql`: replays a captured script from several threads, each with its own
//! connection (as the server's pool gives each request one), for a fixed time; reports
//! executions per second and latency percentiles as one JSON line. The SQLite baseline
//! (pgbench plays this part on PostgreSQL). Statements without placeholders are prepared
//! once and cached by diesel; those with placeholders are sent as text each time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::backend::Backend;
use diesel::connection::SimpleConnection;
use diesel::deserialize::{self, QueryableByName};
use diesel::prelude::*;
use diesel::row::NamedRow;
use serde_json::json;

use compact_db::DatabaseUrl;

/// A row read and thrown away: the statement is stepped through, nothing converted.
struct Ignored;

impl<DB: Backend> QueryableByName<DB> for Ignored {
    fn build<'a>(_: &impl NamedRow<'a, DB>) -> deserialize::Result<Self> {
        Ok(Ignored)
    }
}

/// The statements of a script, one per line ending in `;`.
pub fn statements(script: &str) -> Vec<String> {
    script
        .lines()
        .map(|l| l.trim().trim_end_matches(';').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The placeholders of a captured POST filled in for execution number `n` of `thread`.
/// The process id keeps ids apart across rounds (each round is a new process).
pub fn fill(statement: &str, thread: usize, n: u64) -> String {
    let run = std::process::id();
    statement
        .replace("{{ITEM_ID}}", &format!("'bench-{run}-{thread}-{n}'"))
        .replace("{{AUDIT_ID}}", &format!("'bench-audit-{run}-{thread}-{n}'"))
        .replace(
            "{{AUDIT_SEQ}}",
            "(SELECT coalesce(max(seq), 0) + 1 FROM audit_events)",
        )
        .replace(
            "{{SEARCH_SEQ}}",
            &format!(
                "(SELECT seq FROM item_search_map WHERE item_id = 'bench-{run}-{thread}-{n}')"
            ),
        )
}

macro_rules! execute_script {
    ($conn:expr, $statements:expr, $thread:expr, $n:expr) => {{
        for s in $statements {
            if s.contains("{{") {
                $conn.batch_execute(&fill(s, $thread, $n))?;
            } else if s.starts_with("SELECT") || s.starts_with("WITH") {
                diesel::sql_query(s.as_str()).load::<Ignored>($conn)?;
            } else {
                diesel::sql_query(s.as_str()).execute($conn)?;
            }
        }
        Ok::<(), anyhow::Error>(())
    }};
}

fn worker(
    url: DatabaseUrl,
    statements: Vec<String>,
    thread: usize,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Vec<u32>> {
    let mut latencies = Vec::new();
    let mut n = 0u64;
    match url.backend() {
        compact_db::Backend::Postgres => {
            let conn = &mut diesel::PgConnection::establish(url.expose())?;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                execute_script!(conn, &statements, thread, n)?;
                latencies.push(t.elapsed().as_micros() as u32);
                n += 1;
            }
        }
        compact_db::Backend::Sqlite => {
            let conn =
                &mut diesel::SqliteConnection::establish(url.sqlite_path().unwrap_or_default())?;
            // The server's connection settings, its page cache size included.
            conn.batch_execute(compact_db::SQLITE_CONNECTION_PRAGMAS)?;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                execute_script!(conn, &statements, thread, n)?;
                latencies.push(t.elapsed().as_micros() as u32);
                n += 1;
            }
        }
    }
    Ok(latencies)
}

/// The value at quantile `q` of sorted `values`.
pub fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

pub fn run(url: &str, script: &str, clients: usize, seconds: f64) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(url)?;
    let statements = statements(script);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|t| {
            let (url, statements, stop) = (url.clone(), statements.clone(), stop.clone());
            std::thread::spawn(move || worker(url, statements, t, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(l)) => all.extend(l),
            Ok(Err(e)) => {
                eprintln!("compact-bench sql: {e:#}");
                errors += 1;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "{}",
        json!({
            "rps": all.len() as f64 / elapsed,
            "p50_ms": f64::from(percentile(&all, 0.5)) / 1000.0,
            "p99_ms": f64::from(percentile(&all, 0.99)) / 1000.0,
            "requests": all.len(),
            "errors": errors,
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_hundred() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&[], 0.5), 0);
    }

    #[test]
    fn placeholders_are_unique_per_execution() {
        let s = "INSERT INTO items VALUES ({{ITEM_ID}}, {{AUDIT_SEQ}})";
        assert_ne!(fill(s, 0, 1), fill(s, 0, 2));
        assert_ne!(fill(s, 1, 1), fill(s, 0, 1));
        assert!(!fill(s, 0, 1).contains("{{"));
    }
}
