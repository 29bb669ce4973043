//! SQLite gets the planner's statistics from the platform itself, without STAT4's samples
//! (see `compact_db::refresh_statistics`); PostgreSQL is left to autovacuum.

use compact_db::testing::TestDatabase;
use compact_db::{DbConnection, refresh_statistics};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .expect("count")
        .n
}

#[test]
fn sqlite_is_analysed_and_keeps_no_stat4_samples() {
    let test_db = TestDatabase::empty();
    let mut conn = test_db.connect();
    if !matches!(conn, DbConnection::Sqlite(_)) {
        refresh_statistics(&mut conn).expect("nothing to do on PostgreSQL");
        return;
    }
    let rows: Vec<String> = (0..500)
        .map(|i| format!("({i}, 'key {}')", i % 7))
        .collect();
    conn.batch_execute(&format!(
        "CREATE TABLE sample (id INTEGER PRIMARY KEY, key TEXT NOT NULL);
         CREATE INDEX sample_key ON sample (key);
         INSERT INTO sample VALUES {};",
        rows.join(", ")
    ))
    .expect("table");

    // Never analysed: statistics appear.
    refresh_statistics(&mut conn).expect("refresh");
    let analysed = "SELECT count(*) AS n FROM sqlite_stat1 WHERE idx = 'sample_key'";
    assert_eq!(count(&mut conn, analysed), 1);

    // A full ANALYZE (an operator's, say) leaves STAT4 samples; the next refresh drops them.
    // (Another connection: ours has the refresh's `analysis_limit`, which skips STAT4.)
    let mut operator = test_db.connect();
    operator.batch_execute("ANALYZE").expect("analyze");
    let samples = "SELECT count(*) AS n FROM sqlite_stat4";
    assert!(
        count(&mut conn, samples) > 0,
        "the bundled SQLite has STAT4"
    );
    refresh_statistics(&mut conn).expect("refresh");
    assert_eq!(count(&mut conn, samples), 0);
    assert_eq!(count(&mut conn, analysed), 1);
}

#[derive(QueryableByName)]
struct CompileOption {
    #[diesel(sql_type = diesel::sql_types::Text)]
    compile_options: String,
}

/// The bundled SQLite's compile options, or None on PostgreSQL.
fn sqlite_compile_options() -> Option<Vec<String>> {
    let test_db = TestDatabase::empty();
    let mut conn = test_db.connect();
    if !matches!(conn, DbConnection::Sqlite(_)) {
        return None;
    }
    let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options")
        .load(&mut conn)
        .expect("compile options");
    Some(options.into_iter().map(|o| o.compile_options).collect())
}

/// The bundled SQLite is built with the query planner stability guarantee
/// (`.cargo/config.toml`): otherwise a statement whose bound LIMIT is bound anew (every
/// `.first()` and page diesel runs) is planned again on every execution.
#[test]
fn sqlite_plans_never_depend_on_bound_values() {
    let Some(options) = sqlite_compile_options() else {
        return;
    };
    assert!(
        options.iter().any(|o| o == "ENABLE_QPSG"),
        "built without SQLITE_ENABLE_QPSG: is .cargo/config.toml read?"
    );
}

/// ...and without `SQLITE_ENABLE_MEMORY_MANAGEMENT`, which libsqlite3-sys turns on: with it
/// all connections share one page cache behind one mutex taken on every page read, and
/// concurrent readers run no faster than one.
#[test]
fn sqlite_connections_keep_page_caches_of_their_own() {
    let Some(options) = sqlite_compile_options() else {
        return;
    };
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "built with SQLITE_ENABLE_MEMORY_MANAGEMENT: is .cargo/config.toml read?"
    );
}
