//! PostgreSQL: each branch of the search's text condition (one per text search configuration)
//! is answered by its own partial GIN index, whose predicate implies the branch. Otherwise
//! PostgreSQL re-tests the condition on every matching row, reading each row's tsvector
//! (migration `2026-11-29-000009_search_by_language`, bench/README.md). SQLite asks FTS5.

use std::sync::{Arc, Mutex};

use compact_db::DbConnection;
use compact_db::testing::TestDatabase;
use compact_registry::audience::Viewer;
use compact_registry::search::query::TextQuery;
use compact_registry::search::{self, SearchRequest, Sort};
use diesel::connection::{Connection, Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(Clone, Default)]
struct Statements(Arc<Mutex<Vec<String>>>);

impl Instrumentation for Statements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            self.0.lock().expect("log").push(query.to_string());
        }
    }
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The branches `(items.language … AND items.search_vector @@ websearch_to_tsquery(…, $n))`
/// of a statement, with their parameter given as a literal.
fn text_branches(sql: &str, literal: &str) -> Vec<String> {
    sql.match_indices("(items.language ")
        .map(|(start, _)| {
            let rest = &sql[start..];
            let end = rest.find("))").expect("end of a branch") + 2;
            let branch = &rest[..end];
            let dollar = branch.rfind('$').expect("the branch's parameter");
            let digits = branch[dollar + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .expect("after the parameter");
            format!(
                "{}{literal}{}",
                &branch[..dollar],
                &branch[dollar + 1 + digits..]
            )
        })
        .collect()
}

#[test]
fn each_language_branch_has_a_partial_index_that_implies_it() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    if !matches!(*conn, DbConnection::Pg(_)) {
        return;
    }
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    let request = SearchRequest {
        text: Some(TextQuery::parse("delta").expect("query")),
        sort: Sort::Newest,
        limit: 10,
        ..SearchRequest::default()
    };
    search::page(&mut conn, &Viewer::Anonymous, &request).expect("search");
    let sql = statements.0.lock().expect("log")[0].clone();
    let branches = text_branches(&sql, "'delta'");
    assert_eq!(branches.len(), 6, "one branch per configuration: {sql}");

    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .expect("set");
    let plan: Vec<String> = diesel::sql_query(format!(
        "EXPLAIN SELECT id FROM items WHERE {}",
        branches.join(" OR ")
    ))
    .load::<PlanLine>(&mut *conn)
    .expect("explain")
    .into_iter()
    .map(|l| l.line)
    .collect();
    let plan = plan.join("\n");
    for index in ["simple", "ar", "en", "fr", "ru", "es"] {
        assert!(
            plan.contains(&format!("Bitmap Index Scan on items_search_{index}")),
            "no scan of items_search_{index}:\n{plan}"
        );
    }
    assert!(
        !plan
            .lines()
            .any(|l| l.trim_start().starts_with("Filter:") && l.contains("search_vector")),
        "the text condition is tested again on the rows:\n{plan}"
    );
}
