//! Keeping the full-text index in step with items, in the item's own transaction.
//! PostgreSQL needs nothing here: a trigger builds each row's tsvector. SQLite's FTS5 tables
//! are fed analysed text (see [`super::text::analyze`]): `item_search` holds every item,
//! `item_search_recent` the newest again, so that ranking the newest matches there weighs
//! words without reading their whole doclists (see `rank_in_fts5`).
//!
//! The statements are diesel DSL, not `sql_query`: diesel keeps these prepared, while it
//! parses a `sql_query` again on every call — and these run while the item's transaction
//! holds SQLite's single write lock.

use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;

use compact_db::schema::{
    item_search, item_search_map, item_search_recent, item_search_recent_range, items,
};

use compact_db::{DbConnection, write_transaction};

use crate::RegistryError;
use crate::items::ItemRow;
use crate::search::text::{Language, analyze};

/// Adds or replaces an item's index entry, in `item_search_recent` too while its number is
/// in that table's range.
pub fn index_item(conn: &mut DbConnection, item: &ItemRow) -> Result<(), RegistryError> {
    let DbConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    let language: Language = item.language.parse().unwrap_or(Language::Other);
    // The item's `seq` comes from the row itself (a trigger numbers it on insert).
    diesel::insert_or_ignore_into(item_search_map::table)
        .values(
            items::table
                .filter(items::id.eq(&item.id))
                .select((items::id, items::seq)),
        )
        .into_columns((item_search_map::item_id, item_search_map::item_seq))
        .execute(conn)?;
    let seq: i64 = item_search_map::table
        .filter(item_search_map::item_id.eq(&item.id))
        .select(item_search_map::seq)
        .first(conn)?;
    let title = analyze(&item.title, language);
    let summary = analyze(&format!("{} {}", item.summary, item.tags), language);
    let body = analyze(&item.body, language);
    diesel::delete(item_search::table.filter(item_search::rowid.eq(seq))).execute(conn)?;
    diesel::insert_into(item_search::table)
        .values((
            item_search::rowid.eq(seq),
            item_search::title.eq(&title),
            item_search::summary.eq(&summary),
            item_search::body.eq(&body),
        ))
        .execute(conn)?;
    let range = RecentRange::read(conn)?;
    if seq < range.low {
        return Ok(());
    }
    diesel::delete(item_search_recent::table.filter(item_search_recent::rowid.eq(seq)))
        .execute(conn)?;
    diesel::insert_into(item_search_recent::table)
        .values((
            item_search_recent::rowid.eq(seq),
            item_search_recent::title.eq(&title),
            item_search_recent::summary.eq(&summary),
            item_search_recent::body.eq(&body),
        ))
        .execute(conn)?;
    // At most `size` rows: the oldest fall out as new ones come in.
    let low = seq - range.size + 1;
    if low > range.low {
        diesel::delete(item_search_recent::table.filter(item_search_recent::rowid.lt(low)))
            .execute(conn)?;
        diesel::update(item_search_recent_range::table)
            .set(item_search_recent_range::low.eq(low))
            .execute(conn)?;
    }
    Ok(())
}

/// Removes an item's index entry (deletion).
pub fn unindex_item(conn: &mut DbConnection, item_id: &str) -> Result<(), RegistryError> {
    let DbConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    let seqs = || {
        item_search_map::table
            .filter(item_search_map::item_id.eq(item_id))
            .select(item_search_map::seq)
    };
    diesel::delete(item_search::table.filter(item_search::rowid.eq_any(seqs()))).execute(conn)?;
    diesel::delete(item_search_recent::table.filter(item_search_recent::rowid.eq_any(seqs())))
        .execute(conn)?;
    Ok(())
}

/// Which rows `item_search_recent` holds: every row of `item_search` numbered `low` or
/// above, at most `size` of them (migration `2026-11-29-000011_recent_search`).
#[derive(Debug, Clone, Copy, Queryable)]
pub struct RecentRange {
    pub low: i64,
    pub size: i64,
}

impl RecentRange {
    pub fn read(conn: &mut SqliteConnection) -> Result<RecentRange, RegistryError> {
        Ok(item_search_recent_range::table
            .select((
                item_search_recent_range::low,
                item_search_recent_range::size,
            ))
            .first(conn)?)
    }
}

/// The last change number of any item. Merge work comes only from item writes, so while it
/// stays where it was when [`merge_step`] last found nothing to do, there is still nothing.
pub fn last_item_change(conn: &mut DbConnection) -> Result<i64, RegistryError> {
    super::counts::last_change(conn)
}

/// The FTS5 tables, whose segments [`merge_step`] merges.
const FTS_TABLES: [&str; 2] = ["item_search", "item_search_recent"];

#[derive(QueryableByName)]
struct Changes {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// SQLite: up to `pages` pages of FTS5 merge work on each table, each in a write transaction
/// of its own, so a writer waits for one small step at most. FTS5's own automerge, which
/// ran inside the writing transactions in lumps of up to 64 × (levels) pages, is off
/// (migration `2026-11-30-000012_fts_merge_apart`); the server calls this until it finds
/// nothing left to merge. A step merges only once some level holds 16 segments
/// (`usermerge`, migration `2026-11-30-000013_fts_merge_wider`), or to go on with a merge
/// already begun. Whether any table had work to do; always `false` on PostgreSQL.
pub fn merge_step(conn: &mut DbConnection, pages: i64) -> Result<bool, RegistryError> {
    if let DbConnection::Pg(_) = conn {
        return Ok(false);
    }
    let mut worked = false;
    for table in FTS_TABLES {
        worked |= write_transaction(conn, |conn| {
            let changes = |conn: &mut DbConnection| {
                diesel::sql_query("SELECT total_changes() AS n")
                    .get_result::<Changes>(conn)
                    .map(|c| c.n)
            };
            let before = changes(conn)?;
            diesel::sql_query(format!(
                "INSERT INTO {table} ({table}, rank) VALUES ('merge', ?)"
            ))
            .bind::<diesel::sql_types::BigInt, _>(pages.max(1))
            .execute(conn)?;
            // The command itself counts one change; more mean segments were written.
            Ok::<_, RegistryError>(changes(conn)? - before >= 2)
        })?;
    }
    Ok(worked)
}
