//! Keeping the full-text index in step with items, in the item's own transaction.
//! PostgreSQL needs nothing here: a trigger builds each row's tsvector. SQLite's FTS5 table
//! is fed analysed text (see [`super::text::analyze`]).

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use compact_db::DbConnection;

use crate::RegistryError;
use crate::items::ItemRow;
use crate::search::text::{Language, analyze};

#[derive(QueryableByName)]
struct Seq {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// Adds or replaces an item's index entry.
pub fn index_item(conn: &mut DbConnection, item: &ItemRow) -> Result<(), RegistryError> {
    let DbConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    let language: Language = item.language.parse().unwrap_or(Language::Other);
    diesel::sql_query("INSERT OR IGNORE INTO item_search_map (item_id) VALUES (?)")
        .bind::<Text, _>(&item.id)
        .execute(conn)?;
    let Seq { seq } = diesel::sql_query("SELECT seq FROM item_search_map WHERE item_id = ?")
        .bind::<Text, _>(&item.id)
        .get_result(conn)?;
    diesel::sql_query("DELETE FROM item_search WHERE rowid = ?")
        .bind::<BigInt, _>(seq)
        .execute(conn)?;
    let summary_and_tags = format!("{} {}", item.summary, item.tags);
    diesel::sql_query("INSERT INTO item_search (rowid, title, summary, body) VALUES (?, ?, ?, ?)")
        .bind::<BigInt, _>(seq)
        .bind::<Text, _>(analyze(&item.title, language))
        .bind::<Text, _>(analyze(&summary_and_tags, language))
        .bind::<Text, _>(analyze(&item.body, language))
        .execute(conn)?;
    Ok(())
}

/// Removes an item's index entry (deletion).
pub fn unindex_item(conn: &mut DbConnection, item_id: &str) -> Result<(), RegistryError> {
    let DbConnection::Sqlite(conn) = conn else {
        return Ok(());
    };
    diesel::sql_query(
        "DELETE FROM item_search WHERE rowid IN (SELECT seq FROM item_search_map WHERE item_id = ?)",
    )
    .bind::<Text, _>(item_id)
    .execute(conn)?;
    Ok(())
}
