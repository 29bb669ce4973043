//! Pool options that reach each connection.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use compact_db::testing::TestDatabase;
use compact_db::{Backend, Database, PoolOptions};

#[derive(QueryableByName)]
struct HeapLimit {
    #[diesel(sql_type = BigInt)]
    soft_heap_limit: i64,
}

#[test]
fn sqlite_connections_get_the_memory_budget_and_postgres_ignores_it() {
    let test = TestDatabase::empty();
    let budget = 48 * 1024 * 1024;
    let options = PoolOptions {
        sqlite_memory_budget: Some(budget),
        ..PoolOptions::default()
    };
    let db = Database::new(test.url(), &options);
    let mut conn = db.get().expect("a connection with the budget");
    match test.backend() {
        Backend::Sqlite => {
            let limit = diesel::sql_query("PRAGMA soft_heap_limit")
                .get_result::<HeapLimit>(&mut *conn)
                .expect("the limit");
            assert_eq!(limit.soft_heap_limit as u64, budget);
        }
        Backend::Postgres => conn
            .batch_execute("SELECT 1")
            .expect("a working connection"),
    }
}
