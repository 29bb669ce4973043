//! Statements slower than a threshold are logged with their SQL and duration.
//!
//! Tail latency usually comes from a few statements: an FTS5 merge inside a write, a WAL
//! checkpoint, a plan gone wrong. The log names them in production, where no profiler runs.
//! It costs two clock reads per statement; the SQL is only formatted for a slow one.

use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// At most this many characters of a statement are logged: search statements run to tens of
/// kilobytes, and the start tells which one it was.
const SQL_SHOWN: usize = 300;

/// Watches one connection's statements.
pub(crate) struct SlowStatements {
    threshold: Duration,
    started: Option<Instant>,
}

impl SlowStatements {
    pub(crate) fn new(threshold: Duration) -> Self {
        Self {
            threshold,
            started: None,
        }
    }
}

impl Instrumentation for SlowStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { query, error, .. } => {
                let Some(started) = self.started.take() else {
                    return;
                };
                let elapsed = started.elapsed();
                if elapsed < self.threshold {
                    return;
                }
                let sql = shown(&query.to_string());
                tracing::warn!(
                    elapsed_ms = elapsed.as_millis() as u64,
                    failed = error.is_some(),
                    %sql,
                    "slow database statement"
                );
            }
            _ => {}
        }
    }
}

/// The statement as logged: without its bound values (diesel's debug form appends them,
/// and they hold secrets such as TOTP seeds and token hashes), cut to [`SQL_SHOWN`].
fn shown(debug_form: &str) -> String {
    let sql = debug_form
        .rsplit_once(" -- binds: ")
        .map_or(debug_form, |(sql, _)| sql);
    match sql.char_indices().nth(SQL_SHOWN) {
        Some((end, _)) => format!("{}…", &sql[..end]),
        None => sql.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;
    use crate::testing::CapturedLog;

    /// Runs `run` on a connection with the given threshold and returns what was logged.
    fn log_of(threshold: Duration, sql: &str) -> String {
        log_of_run(threshold, |conn| {
            conn.batch_execute(sql).expect("statement")
        })
    }

    fn log_of_run(threshold: Duration, run: impl FnOnce(&mut SqliteConnection)) -> String {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let mut conn = SqliteConnection::establish(":memory:").expect("open");
            conn.set_instrumentation(SlowStatements::new(threshold));
            run(&mut conn);
        });
        captured.text()
    }

    const STATEMENT: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                             WHERE i < 1000) SELECT count(*) FROM n";

    #[test]
    fn a_statement_over_the_threshold_is_logged_with_its_sql() {
        let log = log_of(Duration::ZERO, STATEMENT);
        assert!(log.contains("slow database statement"), "{log}");
        assert!(log.contains("WITH RECURSIVE n(i)"), "{log}");
        assert!(log.contains("elapsed_ms="), "{log}");
    }

    #[test]
    fn a_statement_under_the_threshold_is_not_logged() {
        let log = log_of(Duration::from_secs(3600), STATEMENT);
        assert!(log.is_empty(), "{log}");
    }

    #[test]
    fn long_statements_are_cut() {
        let long = format!("SELECT '{}'", "x".repeat(5000));
        let log = log_of(Duration::ZERO, &long);
        assert!(log.contains("xxx…"), "{log}");
        assert!(log.len() < 1000, "{} bytes logged", log.len());
    }

    #[derive(QueryableByName)]
    struct Echo {
        #[diesel(sql_type = diesel::sql_types::Text)]
        x: String,
    }

    #[test]
    fn bound_values_are_never_logged() {
        let log = log_of_run(Duration::ZERO, |conn| {
            let echo = diesel::sql_query("SELECT ? AS x")
                .bind::<diesel::sql_types::Text, _>("TOTP-SECRET-XYZ")
                .get_result::<Echo>(conn)
                .expect("statement");
            assert_eq!(echo.x, "TOTP-SECRET-XYZ");
        });
        assert!(log.contains("SELECT ? AS x"), "{log}");
        assert!(!log.contains("TOTP-SECRET-XYZ"), "{log}");
    }
}
