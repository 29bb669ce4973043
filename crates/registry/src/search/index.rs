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

use compact_db::DbConnection;
use compact_db::schema::{
    item_search, item_search_map, item_search_recent, item_search_recent_range,
};

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
    diesel::insert_or_ignore_into(item_search_map::table)
        .values(item_search_map::item_id.eq(&item.id))
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
