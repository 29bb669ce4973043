//! The reads every request makes stay prepared: diesel keeps a statement in its cache only
//! when its SQL has a fixed shape, and otherwise SQLite parses and plans it again on every
//! request (most of a GET's database time on SQLite; bench/README.md).

use std::sync::{Arc, Mutex};

use compact_auth::accounts::MailContext;
use compact_db::DbConnection;
use compact_db::testing::TestDatabase;
use compact_registry::audience::Viewer;
use compact_registry::items::{self, ItemKind, ItemRow, ListQuery};
use compact_registry::search::index::{index_item, unindex_item};
use diesel::connection::{Connection, Instrumentation, InstrumentationEvent};
use diesel::prelude::*;

/// The SQL of every statement run, and of every statement added to the cache.
#[derive(Clone, Default)]
struct Statements {
    run: Arc<Mutex<Vec<String>>>,
    cached: Arc<Mutex<Vec<String>>>,
}

impl Instrumentation for Statements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let (log, sql) = match event {
            InstrumentationEvent::StartQuery { query, .. } => (&self.run, query.to_string()),
            InstrumentationEvent::CacheQuery { sql, .. } => (&self.cached, sql.to_owned()),
            _ => return,
        };
        log.lock().expect("log").push(sql);
    }
}

impl Statements {
    /// The statements run, and those added to the cache.
    fn taken(&self) -> (Vec<String>, Vec<String>) {
        let run = self.run.lock().expect("log").clone();
        let cached = self.cached.lock().expect("log").clone();
        (run, cached)
    }
}

fn assert_all_prepared(run: &[String], cached: &[String]) {
    for sql in run {
        assert!(
            cached.iter().any(|c| sql.starts_with(c.as_str())),
            "not kept prepared: {sql}"
        );
    }
}

/// A database with the demo loaded, and the connection that loaded it (statements it ran
/// are in its cache: hold it, and test on another connection).
fn demo_database() -> (
    TestDatabase,
    compact_db::Database,
    compact_db::PooledConnection,
    MailContext,
) {
    let (test_db, db) = TestDatabase::migrated();
    let mut seeding = db.get().expect("connection");
    let mail = MailContext {
        public_url: "https://compact.test".into(),
        message_domain: "compact.test".into(),
    };
    compact_registry::demo::seed(&mut seeding, "not-a-real-hash", &mail)
        .expect("demo")
        .expect("seeded");
    (test_db, db, seeding, mail)
}

fn read_items(conn: &mut DbConnection, viewer: &Viewer) {
    let missing = items::get(conn, viewer, ItemKind::Document, "no-such-item");
    assert!(missing.is_err(), "an empty database has no items");
    let query = ListQuery {
        limit: 20,
        ..ListQuery::default()
    };
    items::list(conn, viewer, ItemKind::Update, &query).expect("feed page");
}

#[test]
fn item_reads_are_prepared_once_for_every_viewer() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    let viewers = [
        Viewer::Anonymous,
        Viewer::User {
            user_id: "u1".into(),
            org_id: "o1".into(),
        },
    ];
    for _ in 0..2 {
        for viewer in &viewers {
            read_items(&mut conn, viewer);
        }
    }
    let (run, cached) = statements.taken();
    assert_eq!(run.len(), 8, "{run:#?}");
    assert_all_prepared(&run, &cached);
    // Anonymous and signed-in viewers share the statements' shapes.
    assert_eq!(cached.len(), 2, "{cached:#?}");
}

/// What a write adds to the full-text index on SQLite runs under the single write lock, so
/// it must not be parsed again on every item (on PostgreSQL a trigger does it).
#[test]
fn index_writes_are_prepared_once() {
    let (_test_db, db, _seeding, _mail) = demo_database();
    let mut conn = db.get().expect("connection");
    let rows: Vec<ItemRow> = compact_db::schema::items::table
        .select(ItemRow::as_select())
        .order(compact_db::schema::items::id)
        .limit(2)
        .load(&mut *conn)
        .expect("items");
    assert_eq!(rows.len(), 2);
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    for row in rows.iter().chain(&rows) {
        index_item(&mut conn, row).expect("index");
    }
    for row in &rows {
        unindex_item(&mut conn, &row.id).expect("unindex");
    }
    let (run, cached) = statements.taken();
    if matches!(*conn, DbConnection::Pg(_)) {
        assert!(run.is_empty(), "PostgreSQL indexes in a trigger: {run:#?}");
        return;
    }
    // Each index write: the map (2), the main table (2), the recent range and table (3);
    // each removal: both tables.
    assert_eq!(run.len(), 4 * 7 + 2 * 2, "{run:#?}");
    assert_all_prepared(&run, &cached);
    assert_eq!(cached.len(), 9, "{cached:#?}");
}

/// Telling subscribers runs in every item's write transaction, so it must not be parsed
/// again for each item either, whatever its tags and recipients.
#[test]
fn notifying_subscribers_is_prepared_once() {
    use compact_db::schema::items;
    use compact_registry::items::Item;
    use compact_registry::subscriptions::{Change, notify};

    let (_test_db, db, mut seeding, mail) = demo_database();
    // Items of different shapes: with more and fewer tags, for everyone and for a group.
    let rows: Vec<ItemRow> = items::table
        .select(ItemRow::as_select())
        .order(items::id)
        .load(&mut *seeding)
        .expect("items");
    let tagged = rows.iter().find(|r| r.tags != "[]").expect("a tagged item");
    let tag_count = |r: &ItemRow| r.tags.matches(',').count();
    let other = rows
        .iter()
        .find(|r| tag_count(r) != tag_count(tagged))
        .expect("an item with another number of tags");
    let addressed = rows
        .iter()
        .find(|r| r.recipients.contains("\"groups\":[\""))
        .expect("an item for a group");
    let mut conn = db.get().expect("connection");
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    for row in [tagged, other, addressed] {
        notify(
            &mut conn,
            &mail,
            &Item::from_row(row.clone()),
            Change::Changed,
        )
        .expect("notify");
    }
    let (run, cached) = statements.taken();
    assert!(run.len() >= 6, "{run:#?}");
    assert_all_prepared(&run, &cached);
}

/// A search runs five or so statements (the ranked window's index rows and scores, the
/// page, its counts); on SQLite, each was parsed and planned again on every search, a sixth
/// of its instructions. Whatever the words, the sort and the filters, they stay prepared.
#[test]
fn searches_are_prepared_once_on_sqlite() {
    use compact_auth::{Principal, Role};
    use compact_db::schema::{groups, users};
    use compact_registry::search::counts::CountIndex;
    use compact_registry::search::query::TextQuery;
    use compact_registry::search::{self, Filters, SearchRequest, Sort};

    let (_test_db, db, mut seeding, _mail) = demo_database();
    if matches!(*seeding, DbConnection::Pg(_)) {
        // PostgreSQL plans `= ANY` lists fine per execution; its statements are not
        // checked here.
        return;
    }
    let (user_id, org_id): (String, String) = users::table
        .filter(users::role.eq("coordinator"))
        .select((users::id, users::organization_id))
        .order(users::id)
        .first(&mut *seeding)
        .expect("a coordinator");
    let principal = Principal {
        user_id,
        org_id,
        role: Role::Coordinator,
        api_key: None,
        mfa_satisfied: true,
    };
    let rows: Vec<ItemRow> = compact_db::schema::items::table
        .select(ItemRow::as_select())
        .order(compact_db::schema::items::id)
        .load(&mut *seeding)
        .expect("items");
    let tagged = rows.iter().find(|r| r.tags != "[]").expect("a tagged item");
    let tag: Vec<String> = serde_json::from_str(&tagged.tags).expect("tags");
    let group: String = groups::table
        .select(groups::id)
        .first(&mut *seeding)
        .expect("a group");
    let words: Vec<&str> = rows
        .iter()
        .take(3)
        .filter_map(|r| r.title.split_whitespace().find(|w| w.len() > 4))
        .collect();
    assert!(words.len() >= 2, "{words:?}");
    let index = CountIndex::default();
    index.warm(&mut seeding).expect("warm");

    let mut requests = Vec::new();
    for word in &words {
        for sort in [Sort::Relevance, Sort::Newest] {
            for filters in [
                Filters::default(),
                Filters {
                    tag: Some(tag[0].clone()),
                    ..Filters::default()
                },
                Filters {
                    group: Some(group.clone()),
                    ..Filters::default()
                },
            ] {
                requests.push(SearchRequest {
                    text: Some(TextQuery::parse(word).expect("a word parses")),
                    filters,
                    sort,
                    limit: 2,
                    ..SearchRequest::default()
                });
            }
        }
    }
    let mut conn = db.get().expect("connection");
    let statements = Statements::default();
    conn.set_instrumentation(statements.clone());
    let mut found = 0;
    for request in &requests {
        found += search::search(&mut conn, &index, &principal, request)
            .expect("search")
            .total;
    }
    assert!(found > 0, "the searches found something");
    let (run, cached) = statements.taken();
    // Transactions are begun and ended by name, with nothing to prepare.
    let run: Vec<String> = run
        .into_iter()
        .filter(|sql| !matches!(sql.as_str(), "BEGIN" | "COMMIT" | "ROLLBACK"))
        .collect();
    assert!(run.len() >= requests.len(), "{run:#?}");
    assert_all_prepared(&run, &cached);
    // Words of every length share the statements' shapes.
    assert!(cached.len() < run.len() / 2, "{cached:#?}");
}
