//! Writes a generated Compact into a migrated database, in the rows the registry itself
//! writes: items, their tags, their `item_access` grants and, on SQLite, the FTS5 index
//! (`item_search_map` + `item_search`, and `item_search_recent` for the newest, analysed as
//! `search::index` does). On PostgreSQL the migration's trigger builds each row's tsvector.
//! Multi-row inserts in large transactions.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use compact_db::DbConnection;
use compact_db::schema::{
    group_members, groups, item_access, item_search_map, item_search_recent_range, item_tags,
    items, organizations, users,
};
use compact_registry::audience::Grant;
use compact_registry::items::ItemRow;
use compact_registry::search::text::{Language, analyze};

use crate::dataset::{GeneratedItem, World};

/// Runs `$body` with `$c` bound to the backend's own connection: batch inserts need it
/// (the multi-backend connection cannot batch-insert a Vec).
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            DbConnection::Pg($c) => $body,
            DbConnection::Sqlite($c) => $body,
        }
    };
}

/// Settings for a bulk load: durability is not needed while generating.
pub fn prepare(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("SET synchronous_commit = off")?,
        DbConnection::Sqlite(c) => c.batch_execute(
            "PRAGMA synchronous = OFF; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -200000;",
        )?,
    }
    Ok(())
}

/// SQLite: the first index row number `item_search_recent` holds once `count` items are
/// loaded (the newest of them, as many as its range's size), written to the range. The
/// loader then writes those rows there too.
pub fn recent_from(conn: &mut DbConnection, count: usize) -> anyhow::Result<i64> {
    let DbConnection::Sqlite(c) = conn else {
        return Ok(i64::MAX);
    };
    let size: i64 = item_search_recent_range::table
        .select(item_search_recent_range::size)
        .first(c)?;
    let low = (count as i64 - size + 1).max(1);
    diesel::update(item_search_recent_range::table)
        .set(item_search_recent_range::low.eq(low))
        .execute(c)?;
    Ok(low)
}

pub fn world(
    conn: &mut DbConnection,
    world: &World,
    password_hash: &str,
    at: NaiveDateTime,
) -> anyhow::Result<()> {
    let org_rows: Vec<_> = world
        .orgs
        .iter()
        .map(|o| {
            (
                organizations::id.eq(&o.id),
                organizations::name.eq(&o.name),
                organizations::acronym.eq(&o.acronym),
                organizations::acronym_normalized.eq(o.acronym.to_uppercase()),
                organizations::kind.eq(o.kind),
                organizations::un_system.eq(o.un_system),
                organizations::status.eq("active"),
                organizations::email_domains.eq(""),
                organizations::created_at.eq(at),
                organizations::updated_at.eq(at),
            )
        })
        .collect();
    let user_rows: Vec<_> = world
        .users
        .iter()
        .map(|u| {
            (
                users::id.eq(&u.id),
                users::organization_id.eq(&world.orgs[u.org].id),
                users::email.eq(&u.email),
                users::email_normalized.eq(u.email.to_lowercase()),
                users::name.eq(&u.name),
                users::role.eq(u.role),
                users::status.eq("active"),
                users::password_hash.eq(Some(password_hash)),
                users::token_version.eq(0),
                users::failed_logins.eq(0),
                users::totp_enabled.eq(false),
                users::totp_last_step.eq(0_i64),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            )
        })
        .collect();
    let group_rows: Vec<_> = world
        .groups
        .iter()
        .map(|g| {
            (
                groups::id.eq(&g.id),
                groups::name.eq(&g.name),
                groups::name_normalized.eq(g.name.to_lowercase()),
                groups::kind.eq(g.kind),
                groups::description.eq(""),
                groups::created_at.eq(at),
                groups::updated_at.eq(at),
            )
        })
        .collect();
    let member_rows: Vec<_> = world
        .groups
        .iter()
        .flat_map(|g| {
            g.members.iter().map(move |&o| {
                (
                    group_members::group_id.eq(&g.id),
                    group_members::organization_id.eq(&world.orgs[o].id),
                    group_members::added_at.eq(at),
                )
            })
        })
        .collect();
    on_backend!(conn, |c| c.transaction(|c| -> QueryResult<()> {
        diesel::insert_into(organizations::table)
            .values(&org_rows)
            .execute(c)?;
        for chunk in user_rows.chunks(1_000) {
            diesel::insert_into(users::table).values(chunk).execute(c)?;
        }
        diesel::insert_into(groups::table)
            .values(&group_rows)
            .execute(c)?;
        diesel::insert_into(group_members::table)
            .values(&member_rows)
            .execute(c)?;
        Ok(())
    }))?;
    Ok(())
}

/// Rows per multi-row INSERT: under SQLite's 32,766 bound parameters with 17 columns.
pub const CHUNK: usize = 1_000;

/// Writes one chunk of items in one transaction. `first_seq` numbers the SQLite index rows;
/// those from `recent_from` up go into `item_search_recent` too.
pub fn items(
    conn: &mut DbConnection,
    chunk: &[GeneratedItem],
    first_seq: i64,
    recent_from: i64,
) -> anyhow::Result<()> {
    let rows: Vec<&ItemRow> = chunk.iter().map(|i| &i.row).collect();
    let tags: Vec<_> = chunk
        .iter()
        .flat_map(|i| {
            i.tags
                .iter()
                .map(move |t| (item_tags::item_id.eq(&i.row.id), item_tags::tag.eq(t)))
        })
        .collect();
    // As audience::write_grants writes them: one row per grant, '' for no grantee id.
    let grants: Vec<_> = chunk
        .iter()
        .flat_map(|i| {
            i.grants.iter().map(move |g| {
                let (grantee_type, grantee_id) = match g {
                    Grant::Public => ("public", ""),
                    Grant::Platform => ("platform", ""),
                    Grant::Organization(id) => ("organization", id.as_str()),
                    Grant::Group(id) => ("group", id.as_str()),
                    Grant::User(id) => ("user", id.as_str()),
                };
                (
                    item_access::item_kind.eq(&i.row.kind),
                    item_access::item_id.eq(&i.row.id),
                    item_access::grantee_type.eq(grantee_type),
                    item_access::grantee_id.eq(grantee_id),
                )
            })
        })
        .collect();
    match conn {
        DbConnection::Pg(c) => c.transaction(|c| -> QueryResult<()> {
            diesel::insert_into(items::table).values(rows).execute(c)?;
            diesel::insert_into(item_tags::table)
                .values(&tags)
                .execute(c)?;
            for part in grants.chunks(10_000) {
                diesel::insert_into(item_access::table)
                    .values(part)
                    .execute(c)?;
            }
            Ok(())
        })?,
        DbConnection::Sqlite(c) => c.transaction(|c| -> QueryResult<()> {
            diesel::insert_into(items::table).values(rows).execute(c)?;
            for part in tags.chunks(10_000) {
                diesel::insert_into(item_tags::table)
                    .values(part)
                    .execute(c)?;
            }
            for part in grants.chunks(5_000) {
                diesel::insert_into(item_access::table)
                    .values(part)
                    .execute(c)?;
            }
            sqlite_map(c, chunk, first_seq)?;
            sqlite_index(c, chunk, first_seq, "item_search")?;
            let skip = usize::try_from(recent_from - first_seq).unwrap_or(0);
            match chunk.get(skip..) {
                Some(recent) if !recent.is_empty() => {
                    sqlite_index(c, recent, first_seq + skip as i64, "item_search_recent")
                }
                _ => Ok(()),
            }
        })?,
    }
    Ok(())
}

/// Each item's `item_search_map` number, from `first_seq` on, beside the `seq` the items
/// table gave it (as `search::index::index_item` writes them).
fn sqlite_map(
    c: &mut diesel::SqliteConnection,
    chunk: &[GeneratedItem],
    first_seq: i64,
) -> QueryResult<()> {
    let ids: Vec<&str> = chunk.iter().map(|i| i.row.id.as_str()).collect();
    let item_seqs: HashMap<String, i64> = items::table
        .filter(items::id.eq_any(&ids))
        .select((items::id, items::seq))
        .load(c)?
        .into_iter()
        .collect();
    let map = chunk
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let item_seq = *item_seqs.get(&i.row.id).ok_or(diesel::NotFound)?;
            Ok((
                item_search_map::seq.eq(first_seq + n as i64),
                item_search_map::item_id.eq(&i.row.id),
                item_search_map::item_seq.eq(item_seq),
            ))
        })
        .collect::<QueryResult<Vec<_>>>()?;
    diesel::insert_into(item_search_map::table)
        .values(&map)
        .execute(c)?;
    Ok(())
}

/// The FTS5 rows `search::index::index_item` writes into `table`: title, summary and tags,
/// body, each analysed in the item's language, under the item's `item_search_map` number.
fn sqlite_index(
    c: &mut diesel::SqliteConnection,
    chunk: &[GeneratedItem],
    first_seq: i64,
    table: &str,
) -> QueryResult<()> {
    let placeholders = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
    let mut query = diesel::sql_query(format!(
        "INSERT INTO {table} (rowid, title, summary, body) VALUES {placeholders}"
    ))
    .into_boxed();
    for (n, item) in chunk.iter().enumerate() {
        let row = &item.row;
        let language: Language = row.language.parse().unwrap_or(Language::Other);
        let summary_and_tags = format!("{} {}", row.summary, row.tags);
        query = query
            .bind::<BigInt, _>(first_seq + n as i64)
            .bind::<Text, _>(analyze(&row.title, language))
            .bind::<Text, _>(analyze(&summary_and_tags, language))
            .bind::<Text, _>(analyze(&row.body, language));
    }
    query.execute(c)?;
    Ok(())
}

/// Planner statistics, as a database in use would have them.
pub fn finish(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("VACUUM ANALYZE")?,
        // What the server itself keeps (compact_db::refresh_statistics), not a full ANALYZE
        // with STAT4's samples, which the server drops.
        DbConnection::Sqlite(_) => {
            // FTS5 merges nothing inside writes (its automerge is off, the server merges):
            // finish the merging here, or the server would spend its first minutes on it.
            // It leaves up to 15 segments a level, as the server's merger does (`usermerge`).
            while compact_registry::search::index::merge_step(conn, 4096)? {}
            compact_db::refresh_statistics(conn)?;
            conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?
        }
    }
    Ok(())
}
