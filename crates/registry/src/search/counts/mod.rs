//! The exact total and facet counts of a search, from memory instead of a pass over every
//! visible match (which took seconds for a frequent term at a million items).
//!
//! What is kept, per process, and where it comes from:
//! - a [`Catalog`]: each item's facet fields, and one bitmap of items per audience grant
//!   (the `item_access` rows) and per tag (the `item_tags` rows), loaded as the server
//!   starts or by the first search;
//! - a bitmap per searched text ([`TermSet`]): the rows the database's own text condition
//!   matched, so what counts as a match is exactly what the page query uses. These are kept
//!   in a cache bounded by [`TERM_CACHE_BYTES`];
//! - the [`Counted`] of recent searches, by everything they depend on ([`CountedKey`]): the
//!   same search by the same user with no write in between (the next page of a ranked
//!   search, a refresh) is not counted again. Bounded by [`COUNTED_CACHE_BYTES`].
//!
//! Items are identified by their `seq`. Every write of an item draws a new `change_seq`,
//! in commit order (see migration `2026-11-29-000010_item_changes`), so each search reads
//! the highest change number and re-reads only the rows written since the bitmaps were
//! made. Counts are therefore exact as of the search: several nodes share one database
//! and stay right. A viewer's audience is the union of the grant bitmaps the audience SQL
//! (`audience::visible_items`) ORs: public, platform, their organization, themselves, and
//! their organization's groups, read from `group_members` on every search.

mod catalog;

use std::sync::Arc;

use diesel::dsl::max;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use parking_lot::{MappedRwLockReadGuard, RwLock, RwLockReadGuard};
use roaring::RoaringBitmap;

use compact_db::DbConnection;
use compact_db::schema::{group_members, item_search, item_search_map, items};

use super::prepared::Fragment;
use super::{Facets, SearchRequest, text_condition};
use crate::RegistryError;
use crate::audience::Viewer;
use catalog::Catalog;

/// Memory for the bitmaps of searched texts: at a million items one bitmap takes at most
/// 128 KiB, so a few hundred recent searches stay warm.
pub const TERM_CACHE_BYTES: u64 = 48 * 1024 * 1024;

/// Memory for the counts of recent searches: one takes 9 KiB or so (a rank window of 1,000
/// items, a hundred facet names).
pub const COUNTED_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Above this many changed items, a text's bitmap is made again rather than patched.
const TERM_PATCH_MAX: usize = 2_000;

/// What a search's matches add up to.
#[derive(Clone, Debug, PartialEq)]
pub struct Counted {
    pub total: i64,
    pub facets: Facets,
    /// The `seq`s of the newest matches asked for (see [`Newest`]), newest first.
    pub newest: Vec<i64>,
    /// Whether more matches are older than those in `newest`.
    pub older: bool,
}

/// Which of the newest matches a search wants named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Newest {
    /// The newest this-many.
    First(usize),
    /// Every match that could be on a newest-first page of `limit` rows after a cursor at
    /// `before` (micros): the newest `limit` created at or before it, plus those created at
    /// that same instant (the cursor's own item among them) and all ties at the boundary.
    Page { limit: usize, before: Option<i64> },
}

/// Counts of searches, kept across requests. Cheap to share: clone the `Arc`.
pub struct CountIndex {
    catalog: RwLock<Option<Catalog>>,
    terms: moka::sync::Cache<String, Arc<TermSet>>,
    counted: moka::sync::Cache<CountedKey, Arc<Counted>>,
    /// When and why the data last went past what the index can hold: until
    /// [`RETRY_AFTER_LIMIT`] has passed, searches count in SQL without trying again (each
    /// try could read every item).
    limited: parking_lot::Mutex<Option<(std::time::Instant, String)>>,
}

/// How long a search counts in SQL after the index met one of its limits.
const RETRY_AFTER_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

impl Default for CountIndex {
    fn default() -> Self {
        CountIndex {
            catalog: RwLock::new(None),
            terms: moka::sync::Cache::builder()
                .weigher(|_text: &String, set: &Arc<TermSet>| {
                    u32::try_from(set.members.serialized_size()).unwrap_or(u32::MAX)
                })
                .max_capacity(TERM_CACHE_BYTES)
                .build(),
            counted: moka::sync::Cache::builder()
                .weigher(|key: &CountedKey, counted: &Arc<Counted>| {
                    u32::try_from(key.size() + counted_size(counted)).unwrap_or(u32::MAX)
                })
                .max_capacity(COUNTED_CACHE_BYTES)
                .build(),
            limited: parking_lot::Mutex::new(None),
        }
    }
}

/// Everything a search's [`Counted`] depends on. With the watermark, the data is the
/// database's as of that change; the rest is who asks and what. The viewer and their
/// groups together are their audience: a result is never served to another one. The user,
/// not only the organization: items can be granted to named users (`red`).
#[derive(PartialEq, Eq, Hash)]
struct CountedKey {
    watermark: i64,
    viewer: Viewer,
    /// Sorted.
    groups: Vec<String>,
    /// The text as the backend's query syntax (the term cache's key).
    text: Option<String>,
    filters: super::Filters,
    newest: Newest,
}

impl CountedKey {
    /// About the bytes it takes.
    fn size(&self) -> usize {
        let viewer = match &self.viewer {
            Viewer::User { user_id, org_id } => user_id.len() + org_id.len(),
            Viewer::Anonymous => 0,
        };
        let groups: usize = self.groups.iter().map(|g| g.len() + 24).sum();
        std::mem::size_of::<Self>() + viewer + groups + self.text.as_ref().map_or(0, String::len)
    }
}

/// About the bytes `counted` takes.
fn counted_size(counted: &Counted) -> usize {
    let f = &counted.facets;
    let names: usize = [
        &f.kind,
        &f.doc_type,
        &f.organization,
        &f.tlp,
        &f.language,
        &f.tag,
    ]
    .iter()
    .flat_map(|values| values.iter())
    .map(|(name, _)| name.len() + 32)
    .sum();
    std::mem::size_of::<Counted>() + names + counted.newest.len() * 8
}

/// What a count of `request` for `viewer` follows from, read now: the last change, the
/// viewer's organization's groups, the text as the backend reads it, the filters.
fn counted_key(
    conn: &mut DbConnection,
    viewer: &Viewer,
    request: &SearchRequest,
    newest: Newest,
) -> Result<CountedKey, RegistryError> {
    let (watermark, groups) = match viewer {
        Viewer::User { org_id, .. } => change_and_groups(conn, org_id)?,
        Viewer::Anonymous => (last_change(conn)?, Vec::new()),
    };
    Ok(CountedKey {
        watermark,
        viewer: viewer.clone(),
        groups,
        text: request.text.as_ref().map(|q| term_key(conn, q)),
        filters: request.filters.clone(),
        newest,
    })
}

/// The last change and the groups of `org_id` (sorted), in one statement: one moment of
/// both even outside a transaction, so a key never pairs items of one moment with the
/// group membership of another.
fn change_and_groups(
    conn: &mut DbConnection,
    org_id: &str,
) -> Result<(i64, Vec<String>), RegistryError> {
    use diesel::sql_types::{BigInt, Nullable};
    let change = items::table.select((
        max(items::change_seq),
        None::<String>.into_sql::<Nullable<Text>>(),
    ));
    let groups = group_members::table
        .filter(group_members::organization_id.eq(org_id))
        .select((
            None::<i64>.into_sql::<Nullable<BigInt>>(),
            group_members::group_id.nullable(),
        ));
    // Each backend's own connection: the multi-backend one writes no UNION.
    let both = change.union_all(groups);
    let rows: Vec<(Option<i64>, Option<String>)> = match conn {
        DbConnection::Pg(pg) => both.load(pg)?,
        DbConnection::Sqlite(sqlite) => both.load(sqlite)?,
    };
    let watermark = rows.iter().find_map(|(change, _)| *change).unwrap_or(0);
    let mut groups: Vec<String> = rows.into_iter().filter_map(|(_, group)| group).collect();
    groups.sort_unstable();
    Ok((watermark, groups))
}

/// The items one text matches, as of `watermark`.
struct TermSet {
    watermark: i64,
    members: RoaringBitmap,
}

/// The highest change number written so far (0 without items).
pub(crate) fn last_change(conn: &mut DbConnection) -> Result<i64, RegistryError> {
    let last: Option<i64> = items::table.select(max(items::change_seq)).first(conn)?;
    Ok(last.unwrap_or(0))
}

/// An item's `seq` as a bitmap member (four billion items are far off).
fn seq_of(seq: i64) -> Result<u32, RegistryError> {
    u32::try_from(seq)
        .map_err(|_| RegistryError::CountIndexLimit(format!("item seq {seq} is past u32::MAX")))
}

impl CountIndex {
    /// The exact total and facets of `request`'s visible matches for `viewer`, and the
    /// newest `newest` of them.
    pub fn count(
        &self,
        conn: &mut DbConnection,
        viewer: &Viewer,
        request: &SearchRequest,
        newest: Newest,
    ) -> Result<Counted, RegistryError> {
        self.within_limits(|| self.count_now(conn, viewer, request, newest))
    }

    /// Loads the catalog now, so that the first search after start-up does not wait for it
    /// (seconds at a million items). Returns how many items it holds.
    pub fn warm(&self, conn: &mut DbConnection) -> Result<u64, RegistryError> {
        self.within_limits(|| {
            in_snapshot(conn, |conn| {
                let watermark = last_change(conn)?;
                Ok(self.catalog_at(conn, watermark)?.alive.len())
            })
        })
    }

    /// How many items the catalog holds (0 before it is loaded), or None while a load or
    /// catch-up holds it: this never waits.
    pub fn held_items_now(&self) -> Option<u64> {
        let catalog = self.catalog.try_read()?;
        Some(catalog.as_ref().map_or(0, |c| c.alive.len()))
    }

    /// About the bytes the catalog takes (0 before it is loaded), or None while a load or
    /// catch-up holds it. The caches of texts and counts are apart: [`Self::cached_bytes`].
    pub fn held_bytes_now(&self) -> Option<u64> {
        let catalog = self.catalog.try_read()?;
        Some(catalog.as_ref().map_or(0, |c| c.size() as u64))
    }

    /// About the bytes the caches of searched texts and counted searches take, bounded by
    /// [`TERM_CACHE_BYTES`] and [`COUNTED_CACHE_BYTES`].
    pub fn cached_bytes(&self) -> u64 {
        self.terms.weighted_size() + self.counted.weighted_size()
    }

    /// Runs `use_index` unless the index met one of its limits lately, and remembers it
    /// when it meets one now.
    fn within_limits<T>(
        &self,
        use_index: impl FnOnce() -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        if let Some((since, reason)) = &*self.limited.lock()
            && since.elapsed() < RETRY_AFTER_LIMIT
        {
            return Err(RegistryError::CountIndexLimit(reason.clone()));
        }
        let outcome = use_index();
        if let Err(RegistryError::CountIndexLimit(reason)) = &outcome {
            tracing::error!(%reason, "the search count index cannot hold the data: searches count in SQL for the next 10 minutes");
            *self.limited.lock() = Some((std::time::Instant::now(), reason.clone()));
            // Half caught up, it is no longer a snapshot of anything: the next try loads anew.
            *self.catalog.write() = None;
        }
        outcome
    }

    /// Why searches count in SQL now, if they do (the index met one of its limits).
    pub fn limited(&self) -> Option<String> {
        self.limited
            .lock()
            .as_ref()
            .filter(|(since, _)| since.elapsed() < RETRY_AFTER_LIMIT)
            .map(|(_, reason)| reason.clone())
    }

    fn count_now(
        &self,
        conn: &mut DbConnection,
        viewer: &Viewer,
        request: &SearchRequest,
        newest: Newest,
    ) -> Result<Counted, RegistryError> {
        // A search counted before (the same one again, or the next page of a ranked one)
        // is answered from one read of its key, without a snapshot: one PostgreSQL round
        // trip instead of five. The key names everything the counts follow from, read at
        // one moment, so its entry is right for it. A search not counted before makes as
        // many round trips as it did.
        let key = counted_key(conn, viewer, request, newest)?;
        if let Some(counted) = self.counted_before(&key) {
            return Ok(counted);
        }
        in_snapshot(conn, |conn| {
            let key = counted_key(conn, viewer, request, newest)?;
            if let Some(counted) = self.counted_before(&key) {
                return Ok(counted);
            }
            let counted = self.count_anew(conn, &key, request)?;
            self.counted.insert(key, Arc::new(counted.clone()));
            Ok(counted)
        })
    }

    fn counted_before(&self, key: &CountedKey) -> Option<Counted> {
        self.counted
            .get(key)
            .map(|counted| Counted::clone(&counted))
    }

    /// Counts `request`, whose key is `key`, from the catalog and the text's matches.
    fn count_anew(
        &self,
        conn: &mut DbConnection,
        key: &CountedKey,
        request: &SearchRequest,
    ) -> Result<Counted, RegistryError> {
        let matches = match (&request.text, &key.text) {
            (Some(q), Some(text)) => Some(self.term_set(conn, q, text, key.watermark)?),
            _ => None,
        };
        let catalog = self.catalog_at(conn, key.watermark)?;
        let mut candidates = catalog.visible(&key.viewer, &key.groups);
        if let Some(matches) = matches {
            candidates &= &matches.members;
        }
        Ok(catalog.count(candidates, request, key.newest))
    }

    /// The catalog as of `watermark` at least, loaded the first time. Reading it is shared;
    /// bringing it up to date takes the lock alone, briefly (a few changed rows).
    fn catalog_at(
        &self,
        conn: &mut DbConnection,
        watermark: i64,
    ) -> Result<MappedRwLockReadGuard<'_, Catalog>, RegistryError> {
        loop {
            let current = RwLockReadGuard::try_map(self.catalog.read(), |catalog| {
                catalog.as_ref().filter(|c| c.watermark >= watermark)
            });
            match current {
                Ok(catalog) => return Ok(catalog),
                // Let go of the read lock before asking for the write lock.
                Err(stale) => drop(stale),
            }
            let mut catalog = self.catalog.write();
            match catalog.as_mut() {
                Some(current) if current.watermark >= watermark => {}
                // Should this fail half-way, the watermark stays and the next search
                // reads the same rows again.
                Some(current) => current.catch_up(conn, watermark)?,
                None => *catalog = Some(Catalog::load(conn, watermark)?),
            }
        }
    }

    /// The items the text matches, as of `watermark` at least.
    fn term_set(
        &self,
        conn: &mut DbConnection,
        q: &super::query::TextQuery,
        key: &str,
        watermark: i64,
    ) -> Result<Arc<TermSet>, RegistryError> {
        let cached = self.terms.get(key);
        let set = match cached {
            Some(set) if set.watermark >= watermark => return Ok(set),
            Some(set) => match patched(conn, q, &set, watermark)? {
                Some(set) => set,
                None => made(conn, q, watermark)?,
            },
            None => made(conn, q, watermark)?,
        };
        let set = Arc::new(set);
        self.terms.insert(key.to_owned(), set.clone());
        Ok(set)
    }
}

/// The text in the backend's own query syntax: what its matches are kept by.
fn term_key(conn: &DbConnection, q: &super::query::TextQuery) -> String {
    match conn {
        DbConnection::Pg(_) => q.to_websearch(),
        DbConnection::Sqlite(_) => q.to_fts5(),
    }
}

/// `read` in one snapshot for the watermark and every read after it. Otherwise an item
/// written at or below the watermark and again above it before the catch-up read would
/// fall out of the rows read, and be counted in its older audience.
fn in_snapshot<T>(
    conn: &mut DbConnection,
    read: impl FnOnce(&mut DbConnection) -> Result<T, RegistryError>,
) -> Result<T, RegistryError> {
    conn.transaction(|conn| {
        if let DbConnection::Pg(_) = conn {
            diesel::sql_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(conn)?;
        }
        read(conn)
    })
}

/// The text's matches, read whole. Rows written after `watermark` may be in their newer
/// state already; patching them again later is harmless.
fn made(
    conn: &mut DbConnection,
    q: &super::query::TextQuery,
    watermark: i64,
) -> Result<TermSet, RegistryError> {
    let seqs: Vec<i64> = items::table
        .filter(text_condition(conn, q))
        .select(items::seq)
        .load(conn)?;
    let members = seqs
        .into_iter()
        .map(seq_of)
        .collect::<Result<RoaringBitmap, _>>()?;
    Ok(TermSet { watermark, members })
}

/// `set` with the items written since its watermark tested again, or None when so many
/// changed that reading the text's matches whole is cheaper.
fn patched(
    conn: &mut DbConnection,
    q: &super::query::TextQuery,
    set: &TermSet,
    watermark: i64,
) -> Result<Option<TermSet>, RegistryError> {
    let changed: Vec<(i64, String)> = items::table
        .filter(items::change_seq.gt(set.watermark))
        .filter(items::change_seq.le(watermark))
        .select((items::seq, items::id))
        .limit(TERM_PATCH_MAX as i64 + 1)
        .load(conn)?;
    if changed.len() > TERM_PATCH_MAX {
        return Ok(None);
    }
    let mut members = set.members.clone();
    for (seq, _) in &changed {
        members.remove(seq_of(*seq)?);
    }
    let matching: Vec<i64> = match conn {
        DbConnection::Pg(_) => {
            let seqs: Vec<i64> = changed.iter().map(|(seq, _)| *seq).collect();
            items::table
                .filter(items::seq.eq_any(seqs))
                .filter(text_condition(conn, q))
                .select(items::seq)
                .load(conn)?
        }
        // One row at a time: FTS5 answers `MATCH … AND rowid = ?` from the doclists, while
        // the general condition's `IN (SELECT … MATCH …)` would list every match first.
        DbConnection::Sqlite(_) => {
            let fts = q.to_fts5();
            let mut matching = Vec::new();
            for (seq, id) in &changed {
                let indexed: Option<i64> = item_search_map::table
                    .filter(item_search_map::item_id.eq(id))
                    .select(item_search_map::seq)
                    .first(conn)
                    .optional()?;
                let Some(indexed) = indexed else { continue };
                let found: i64 = item_search::table
                    .filter(Fragment::<Bool>::new("item_search MATCH ").text(fts.clone()))
                    .filter(item_search::rowid.eq(indexed))
                    .count()
                    .get_result(conn)?;
                if found > 0 {
                    matching.push(*seq);
                }
            }
            matching
        }
    };
    for seq in matching {
        members.insert(seq_of(seq)?);
    }
    Ok(Some(TermSet { watermark, members }))
}
