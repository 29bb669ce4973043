//! Keeping the full-text index in step with items, in the item's own transaction.
//! PostgreSQL needs nothing here: a trigger builds each row's tsvector. SQLite's FTS5 table
//! is fed analysed text (see [`super::text::analyze`]).
//!
//! The statements are diesel DSL, not `sql_query`: diesel keeps these prepared, while it
//! parses a `sql_query` again on every call — and these run while the item's transaction
//! holds SQLite's single write lock.

use diesel::prelude::*;

use compact_db::DbConnection;
use compact_db::schema::{item_search, item_search_map};

use crate::RegistryError;
use crate::items::ItemRow;
use crate::search::text::{Language, analyze};

/// Adds or replaces an item's index entry.
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
    diesel::delete(item_search::table.filter(item_search::rowid.eq(seq))).execute(conn)?;
    let summary_and_tags = format!("{} {}", item.summary, item.tags);
    diesel::insert_into(item_search::table)
        .values((
            item_search::rowid.eq(seq),
            item_search::title.eq(analyze(&item.title, language)),
            item_search::summary.eq(analyze(&summary_and_tags, language)),
            item_search::body.eq(analyze(&item.body, language)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Removes an item's index entry (deletion).
pub fn unindex_item(conn: &mut DbConnection, item_id: &str) -> Result<(), RegistryError> {
    let DbConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    let seqs = item_search_map::table
        .filter(item_search_map::item_id.eq(item_id))
        .select(item_search_map::seq);
    diesel::delete(item_search::table.filter(item_search::rowid.eq_any(seqs))).execute(conn)?;
    Ok(())
}
