//! SQLite keeps the newest index rows twice: `item_search_recent` must hold exactly the rows
//! of `item_search` from its range's `low` up, through creation, edits and deletion, and a
//! ranked search must weigh words there only when that table holds its whole window.
//! (PostgreSQL ranks from each row's tsvector: nothing to check there.)

mod support;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Text};

use compact_auth::{Principal, Role};
use compact_db::schema::{item_search_map, item_search_recent_range, items, users};
use compact_db::testing::TestDatabase;
use compact_db::{Backend, DbConnection};
use compact_registry::audience::{Recipients, Tlp};
use compact_registry::items as shared;
use compact_registry::items::edit::{self, ItemPatch};
use compact_registry::items::{ItemInput, ItemKind};
use compact_registry::search::counts::CountIndex;
use compact_registry::search::index::RecentRange;
use compact_registry::search::query::TextQuery;
use compact_registry::search::text::Language;
use compact_registry::search::{self, SearchRequest};

/// Room for this many rows only, so a handful of items walks the range along.
const SIZE: i64 = 4;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    rowid: i64,
}

#[derive(QueryableByName)]
struct Scored {
    #[diesel(sql_type = Double)]
    score: f64,
}

fn rowids(conn: &mut DbConnection, sql: &str, word: Option<&str>) -> Vec<i64> {
    let DbConnection::Sqlite(c) = conn else {
        unreachable!("SQLite only")
    };
    let rows: Vec<Row> = match word {
        Some(w) => diesel::sql_query(sql).bind::<Text, _>(w).load(c),
        None => diesel::sql_query(sql).load(c),
    }
    .expect("rowids");
    rows.into_iter().map(|r| r.rowid).collect()
}

fn range(conn: &mut DbConnection) -> (i64, i64) {
    let DbConnection::Sqlite(c) = conn else {
        unreachable!("SQLite only")
    };
    let range = RecentRange::read(c).expect("the range row");
    (range.low, range.size)
}

/// The recent table holds the main table's rows from `low` up, no more and no fewer, with
/// the same words, and `low` keeps `size` rows at most.
fn assert_in_step(conn: &mut DbConnection, words: &[&str], when: &str) {
    let (low, size) = range(conn);
    let highest: i64 = item_search_map::table
        .select(diesel::dsl::max(item_search_map::seq))
        .first::<Option<i64>>(conn)
        .expect("max")
        .unwrap_or(0);
    assert_eq!(low, (highest - size + 1).max(1), "{when}: low");
    let held = rowids(
        conn,
        "SELECT rowid FROM item_search_recent ORDER BY rowid",
        None,
    );
    let expected = rowids(
        conn,
        &format!("SELECT rowid FROM item_search WHERE rowid >= {low} ORDER BY rowid"),
        None,
    );
    assert_eq!(held, expected, "{when}: rows held");
    assert!(!held.is_empty(), "{when}: nothing held");
    for word in words {
        let found = rowids(
            conn,
            "SELECT rowid FROM item_search_recent WHERE item_search_recent MATCH ? ORDER BY rowid",
            Some(word),
        );
        let expected = rowids(
            conn,
            &format!(
                "SELECT rowid FROM item_search WHERE item_search MATCH ? AND rowid >= {low} \
                 ORDER BY rowid"
            ),
            Some(word),
        );
        assert_eq!(found, expected, "{when}: rows matching {word}");
    }
}

/// Every item is in the map once, under its own `seq` (ranking reads the window's index
/// rows by it).
fn assert_map_in_step(conn: &mut DbConnection, when: &str) {
    let mapped: Vec<(String, i64)> = item_search_map::table
        .select((item_search_map::item_id, item_search_map::item_seq))
        .order(item_search_map::item_id)
        .load(conn)
        .expect("map");
    let items: Vec<(String, i64)> = items::table
        .select((items::id, items::seq))
        .order(items::id)
        .load(conn)
        .expect("items");
    assert!(!items.is_empty(), "{when}: no items");
    assert_eq!(mapped, items, "{when}: the map's item numbers");
}

/// Moves the index map's AUTOINCREMENT counter `by` numbers on.
fn skip_index_numbers(conn: &mut DbConnection, by: i64) {
    let DbConnection::Sqlite(c) = conn else {
        unreachable!("SQLite only")
    };
    diesel::sql_query("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'item_search_map'")
        .bind::<BigInt, _>(by)
        .execute(c)
        .expect("counter moved");
}

/// The scores a ranked search gives its hits, and those `table`'s bm25 gives them.
fn scores(
    conn: &mut DbConnection,
    viewer: &Principal,
    text: &str,
    table: &str,
) -> (Vec<f64>, Vec<f64>) {
    let query = TextQuery::parse(text).expect("parses");
    let request = SearchRequest {
        text: Some(query.clone()),
        limit: 50,
        ..SearchRequest::default()
    };
    let found = search::search(conn, &CountIndex::default(), viewer, &request).expect("search");
    assert!(!found.hits.is_empty(), "{text} finds something");
    let mut given = Vec::new();
    let mut expected = Vec::new();
    for hit in &found.hits {
        given.push(hit.score.expect("ranked"));
        let seq: i64 = item_search_map::table
            .filter(item_search_map::item_id.eq(&hit.item.row.id))
            .select(item_search_map::seq)
            .first(conn)
            .expect("indexed");
        let DbConnection::Sqlite(c) = conn else {
            unreachable!("SQLite only")
        };
        let scored: Scored = diesel::sql_query(format!(
            "SELECT -bm25({table}, 10.0, 4.0, 1.0) AS score FROM {table} \
             WHERE {table} MATCH ? AND rowid = ?"
        ))
        .bind::<Text, _>(query.to_fts5())
        .bind::<BigInt, _>(seq)
        .get_result(c)
        .expect("scored");
        expected.push(scored.score);
    }
    (given, expected)
}

/// An update titled `title` by `author`, for everyone.
fn create_titled(
    conn: &mut DbConnection,
    mail: &compact_auth::accounts::MailContext,
    author: &Principal,
    title: &str,
) -> shared::Created {
    shared::create(
        conn,
        author,
        ItemKind::Update,
        &input(title),
        None,
        mail,
        &author.audit_actor(None, None),
    )
    .expect("created")
}

fn input(title: &str) -> ItemInput {
    ItemInput {
        title: title.into(),
        summary: "Sightings across the region".into(),
        body: "The zebrafinch was seen again, and the kestrel too.".into(),
        language: Language::En,
        doc_type: None,
        tags: vec![],
        tlp: Tlp::Clear,
        recipients: Recipients::default(),
    }
}

/// A migrated SQLite database; `None` on PostgreSQL, which has nothing of this to check.
fn sqlite_database() -> Option<(TestDatabase, compact_db::Database)> {
    let test_db = TestDatabase::empty();
    if test_db.backend() != Backend::Sqlite {
        return None;
    }
    let db = compact_db::Database::connect_and_migrate(test_db.url(), &Default::default())
        .expect("migrated");
    Some((test_db, db))
}

/// The first active coordinator of the demo data.
fn a_coordinator(conn: &mut DbConnection) -> Principal {
    let (user, org): (String, String) = users::table
        .filter(users::status.eq("active"))
        .filter(users::role.eq("coordinator"))
        .select((users::id, users::organization_id))
        .order(users::id)
        .first(conn)
        .expect("a coordinator");
    Principal {
        user_id: user,
        org_id: org,
        role: Role::Coordinator,
        api_key: None,
        mfa_satisfied: true,
    }
}

#[test]
fn the_recent_index_holds_the_newest_rows_and_ranks_windows_inside_it() {
    let Some((_test_db, db)) = sqlite_database() else {
        return;
    };
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    diesel::update(item_search_recent_range::table)
        .set(item_search_recent_range::size.eq(SIZE))
        .execute(conn)
        .expect("a small range");
    let mail = support::seed_demo(conn);
    let words = ["zebrafinch", "kestrel", "report", "sanction"];
    assert_in_step(conn, &words, "demo data");

    let author = a_coordinator(conn);
    let actor = author.audit_actor(None, None);
    let mut created = Vec::new();
    for n in 0..6 {
        // The last three also say "ptarmigan".
        let title = if n < 3 {
            "Zebrafinch report"
        } else {
            "Zebrafinch and ptarmigan report"
        };
        let item = create_titled(conn, &mail, &author, title);
        created.push(item.item);
        assert_in_step(conn, &words, &format!("after creating item {n}"));
    }

    // An edit inside the range changes both tables; one below it only the main table.
    let newest = created.last().expect("created");
    edit::update(
        conn,
        &author,
        ItemKind::Update,
        &newest.row.id,
        &newest.etag(),
        ItemPatch {
            body: Some("Only a kestrel now.".into()),
            ..ItemPatch::default()
        },
        &mail,
        &actor,
    )
    .expect("edited");
    assert_in_step(conn, &words, "after editing the newest item");
    let first = &created[0];
    edit::update(
        conn,
        &author,
        ItemKind::Update,
        &first.row.id,
        &first.etag(),
        ItemPatch {
            summary: Some("A kestrel, once.".into()),
            ..ItemPatch::default()
        },
        &mail,
        &actor,
    )
    .expect("edited");
    assert_in_step(conn, &words, "after editing an item below the range");

    // A deletion inside the range leaves a gap in both.
    edit::delete(
        conn,
        &author,
        ItemKind::Update,
        &created[4].row.id,
        None,
        &actor,
    )
    .expect("deleted");
    assert_in_step(conn, &words, "after deleting");
    assert_map_in_step(conn, "after creating, editing and deleting");

    // "ptarmigan" matches only rows the recent table holds, so its bm25 scores them;
    // "zebrafinch" matches older rows too, so the main table's does.
    let (given, recent) = scores(conn, &author, "ptarmigan", "item_search_recent");
    assert_eq!(given.len(), 2, "the last three but the deleted one");
    assert_eq!(given, recent, "scored in the recent table");
    let (given, main) = scores(conn, &author, "zebrafinch", "item_search");
    assert_eq!(given.len(), 5, "all six but the deleted one");
    assert_eq!(given, main, "scored in the main table");
}

/// FTS5 merges no segments inside the writes (its automerge is off on both tables); the
/// server's merger does it apart, step by step, until nothing is left, and merging changes
/// no search's rows.
#[test]
fn index_segments_are_merged_apart_from_the_writes() {
    let Some((_test_db, db)) = sqlite_database() else {
        return;
    };
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    for table in ["item_search", "item_search_recent"] {
        let automerge = rowids(
            conn,
            &format!("SELECT v AS rowid FROM {table}_config WHERE k = 'automerge'"),
            None,
        );
        assert_eq!(automerge, [0], "{table}");
        let merge_widths = rowids(
            conn,
            &format!(
                "SELECT v AS rowid FROM {table}_config \
                 WHERE k IN ('usermerge', 'crisismerge') ORDER BY k"
            ),
            None,
        );
        assert_eq!(merge_widths, [64, 16], "{table}: crisismerge, usermerge");
    }
    // Each item is written in a transaction of its own: a segment each, and more than the
    // 16 on a level that the merger waits for.
    let mail = support::seed_demo(conn);
    assert!(
        !search::index::merge_step(conn, 64).expect("merge step"),
        "the demo's 15 segments a table are fewer than a merge waits for"
    );
    let author = a_coordinator(conn);
    for _ in 0..20 {
        create_titled(conn, &mail, &author, "Border security report");
    }
    let matching = |conn: &mut DbConnection, table: &str| {
        let sql = format!("SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid");
        ["secur", "border OR cooper", "financ"]
            .map(|word| rowids(conn, &sql, Some(word)))
            .to_vec()
    };
    let before = [
        matching(conn, "item_search"),
        matching(conn, "item_search_recent"),
    ];
    assert!(
        before[0].iter().any(|rows| !rows.is_empty()),
        "the words are found"
    );

    let mut steps = 0;
    while search::index::merge_step(conn, 64).expect("merge step") {
        steps += 1;
        assert!(steps < 200, "merging never ends");
    }
    assert!(steps > 0, "the writes left segments to merge");
    assert!(!search::index::merge_step(conn, 64).expect("merge step"));
    let after = [
        matching(conn, "item_search"),
        matching(conn, "item_search_recent"),
    ];
    assert_eq!(before, after);
}

/// Migration `2026-11-30-000014_search_map_by_item` gives the rows mapped before it their
/// item's `seq`, and its way down keeps the mapping; ranking reads through it.
#[test]
fn the_map_migration_numbers_existing_rows_and_reverts() {
    const MIGRATION: &str = "20261130000014";
    let Some((_test_db, db)) = sqlite_database() else {
        return;
    };
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let mail = support::seed_demo(conn);
    let author = a_coordinator(conn);
    // Index rows numbered well apart from their items, so that a map filled with the
    // wrong number cannot pass.
    skip_index_numbers(conn, 100);
    for title in [
        "Zebrafinch report",
        "Zebrafinch and kestrel",
        "Kestrel report",
    ] {
        create_titled(conn, &mail, &author, title);
    }
    let apart: i64 = item_search_map::table
        .inner_join(items::table)
        .filter(item_search_map::seq.ne(items::seq))
        .count()
        .get_result(conn)
        .expect("count");
    assert!(apart >= 3, "index rows numbered apart from their items");
    let before = scores(conn, &author, "zebrafinch", "item_search");
    // The counter stands past the highest row: the rebuilt table must go on from it.
    skip_index_numbers(conn, 50);
    let reverted = compact_db::migrations::revert_through(conn, MIGRATION).expect("down");
    assert!(
        reverted.iter().any(|name| name.starts_with(MIGRATION)),
        "{reverted:?}"
    );
    let applied = compact_db::migrations::run_pending(conn).expect("up again");
    assert_eq!(applied.len(), reverted.len(), "{applied:?}");
    assert_map_in_step(conn, "after the migration ran on existing rows");
    assert_eq!(
        scores(conn, &author, "zebrafinch", "item_search"),
        before,
        "the same ranking"
    );
    // The rebuilt table numbers on from the old one's counter.
    let highest = |conn: &mut DbConnection| -> i64 {
        item_search_map::table
            .select(diesel::dsl::max(item_search_map::seq))
            .first::<Option<i64>>(conn)
            .expect("max")
            .expect("rows")
    };
    let before = highest(conn);
    create_titled(conn, &mail, &author, "Zebrafinch again");
    assert_eq!(highest(conn), before + 51);
    assert_map_in_step(conn, "after an item created since");
}

/// Each row pushed out of the recent table leaves a tombstone in an old segment, which every
/// search then looks its rows up in. Once a tenth of a level is deleted, the merger merges it
/// (FTS5's `deletemerge`), though fewer segments are on it than a merge otherwise waits for,
/// and no search's rows change.
#[test]
fn rows_pushed_out_of_the_recent_index_are_merged_away() {
    let Some((_test_db, db)) = sqlite_database() else {
        return;
    };
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let deletemerge = rowids(
        conn,
        "SELECT v AS rowid FROM item_search_recent_config WHERE k = 'deletemerge'",
        None,
    );
    assert_eq!(deletemerge, [10]);
    diesel::update(item_search_recent_range::table)
        .set(item_search_recent_range::size.eq(SIZE))
        .execute(conn)
        .expect("a small range");
    let mail = support::seed_demo(conn);
    // One segment a table, so that only deleted rows can give the merger work.
    for table in ["item_search", "item_search_recent"] {
        diesel::sql_query(format!("INSERT INTO {table} ({table}) VALUES ('optimize')"))
            .execute(conn)
            .expect("optimize");
    }
    assert!(!search::index::merge_step(conn, 64).expect("merge step"));

    let low = |conn: &mut DbConnection| -> i64 {
        item_search_recent_range::table
            .select(item_search_recent_range::low)
            .first(conn)
            .expect("range")
    };
    let low_before = low(conn);
    let author = a_coordinator(conn);
    for _ in 0..2 {
        create_titled(conn, &mail, &author, "Border security report");
    }
    let low_after = low(conn);
    assert!(low_after - low_before >= 2, "rows pushed out");
    let sql = "SELECT rowid FROM item_search_recent WHERE item_search_recent MATCH ? \
               ORDER BY rowid";
    let before = rowids(conn, sql, Some("zebrafinch OR report OR sanction"));
    assert!(before.len() >= 2, "the new rows are found");
    assert!(
        search::index::merge_step(conn, 64).expect("merge step"),
        "rows were pushed out of the {SIZE}: the merger merges them away"
    );
    while search::index::merge_step(conn, 64).expect("merge step") {}
    assert_eq!(
        rowids(conn, sql, Some("zebrafinch OR report OR sanction")),
        before
    );
}
