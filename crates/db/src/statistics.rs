//! The query planner's statistics. PostgreSQL keeps its own (autovacuum). SQLite has none
//! until someone runs `ANALYZE`, and without them it searches badly: at 100,000 items a
//! search for a rare term took 179 ms instead of 2.7 ms (bench/README.md).
//!
//! The bundled SQLite is built with STAT4, whose per-index samples made SQLite plan a
//! statement again on every execution whose bound values touch a sampled index. That cost
//! a quarter of an item write's CPU, under the write lock. So the samples are dropped and
//! only `sqlite_stat1` (rows per index key) is kept. Since SQLite is also built with the
//! query planner stability guarantee (`.cargo/config.toml`), plans ignore bound values, so
//! samples could no longer cause re-planning; they would only be dead weight.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::{DbConnection, DbError, write_transaction};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Analyses what `PRAGMA optimize` finds stale (tables never analysed included) and drops
/// STAT4's samples. Cheap when nothing changed; run at start and now and then.
pub fn refresh_statistics(conn: &mut DbConnection) -> Result<(), DbError> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    // Approximate statistics from a bounded number of rows per index: fast at any size.
    sqlite.batch_execute("PRAGMA analysis_limit = 1000")?;
    write_transaction(conn, |conn| {
        let DbConnection::Sqlite(sqlite) = conn else {
            unreachable!("matched above");
        };
        sqlite.batch_execute("PRAGMA optimize = 0x10002")?;
        let Count { n } = diesel::sql_query(
            "SELECT count(*) AS n FROM sqlite_schema WHERE name = 'sqlite_stat4'",
        )
        .get_result(sqlite)?;
        if n > 0 {
            sqlite.batch_execute("DELETE FROM sqlite_stat4")?;
        }
        Ok::<_, DbError>(())
    })
}
