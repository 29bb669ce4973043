//! Search over the items a caller may see (DESIGN §4): web-search syntax, filters, sort by
//! relevance or newest, highlighted snippets, exact totals and facet counts, cursor pages.
//!
//! The total and the facets come from the count index ([`counts`]), which also names the
//! page's candidates. Every row shown is fetched by a boxed diesel query of `items` with the
//! audience subquery and the filters in its WHERE clause, so nothing outside the audience is
//! ever shown. Only the text condition and the rank differ by backend:
//! - PostgreSQL: the row's tsvector (built by a trigger with its language's configuration)
//!   against `websearch_to_tsquery` in that same configuration; `ts_rank` for relevance.
//! - SQLite: FTS5 over text analysed in Rust (Snowball stems per language); the query's
//!   words match their stems in any language; `bm25` for relevance.

pub mod counts;
pub mod index;
mod prepared;
pub mod query;
pub mod snippet;
pub mod text;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, sql};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Text};

use compact_auth::Principal;
use compact_db::schema::{item_access, item_tags, items};
use compact_db::{DbConnection, MultiBackend};

use crate::RegistryError;
use crate::audience::{self, Tlp, Viewer};
use crate::items::{Item, ItemKind, ItemRow, MAX_PAGE, viewer_of};
use prepared::Fragment;
use query::TextQuery;
use text::Language;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Best match first (the default when there is a query).
    #[default]
    Relevance,
    Newest,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filters {
    pub kind: Option<ItemKind>,
    pub doc_type: Option<String>,
    pub organization: Option<String>,
    pub group: Option<String>,
    pub tag: Option<String>,
    pub tlp: Option<Tlp>,
    pub language: Option<Language>,
    /// Created at or after.
    pub from: Option<NaiveDateTime>,
    /// Created before.
    pub to: Option<NaiveDateTime>,
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Cursor {
    Newest {
        created_at: NaiveDateTime,
        id: String,
    },
    Relevance {
        score: f64,
        id: String,
    },
}

impl Cursor {
    /// An opaque token for clients (URL-safe base64).
    pub fn encode(&self) -> String {
        use base64::Engine;
        let raw = match self {
            Cursor::Newest { created_at, id } => {
                format!("n|{}|{id}", created_at.and_utc().timestamp_micros())
            }
            Cursor::Relevance { score, id } => format!("r|{:016x}|{id}", score.to_bits()),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads a token made by [`Cursor::encode`]; anything else is a 422.
    pub fn decode(token: &str) -> Result<Cursor, RegistryError> {
        use base64::Engine;
        let invalid = || RegistryError::invalid("cursor", "not a cursor this API gave out");
        if token.len() > 200 {
            return Err(invalid());
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| invalid())?;
        let raw = String::from_utf8(raw).map_err(|_| invalid())?;
        let mut parts = raw.splitn(3, '|');
        let (Some(tag), Some(position), Some(id)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        if id.is_empty()
            || id.len() > 64
            || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(invalid());
        }
        let id = id.to_owned();
        match tag {
            "n" => {
                let micros: i64 = position.parse().map_err(|_| invalid())?;
                // Years 1970 to 9999: every backend stores those.
                if !(0..=253_402_300_799_999_999).contains(&micros) {
                    return Err(invalid());
                }
                let created_at = chrono::DateTime::from_timestamp_micros(micros)
                    .ok_or_else(invalid)?
                    .naive_utc();
                Ok(Cursor::Newest { created_at, id })
            }
            "r" => {
                let bits = u64::from_str_radix(position, 16).map_err(|_| invalid())?;
                let score = f64::from_bits(bits);
                if !score.is_finite() {
                    return Err(invalid());
                }
                Ok(Cursor::Relevance { score, id })
            }
            _ => Err(invalid()),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// None lists everything that passes the filters, newest first.
    pub text: Option<TextQuery>,
    pub filters: Filters,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub limit: i64,
}

pub struct Hit {
    pub item: Item,
    /// Higher is better; None when sorted by date.
    pub score: Option<f64>,
    /// HTML-escaped text around the first match, matches in `<mark>`.
    pub snippet: String,
}

/// How many visible matches have each value of a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub kind: Vec<(String, i64)>,
    pub doc_type: Vec<(String, i64)>,
    pub organization: Vec<(String, i64)>,
    pub tlp: Vec<(String, i64)>,
    pub language: Vec<(String, i64)>,
    pub tag: Vec<(String, i64)>,
}

pub struct Results {
    pub hits: Vec<Hit>,
    pub total: i64,
    pub facets: Facets,
    pub next: Option<Cursor>,
}

/// Relevance ranks the newest this-many visible matches (all of them when there are fewer):
/// the recall cost of bounded ranking, see docs/documents.md.
pub const RANK_WINDOW: i64 = 1_000;

/// At most this many tag values are counted (the most frequent).
pub const MAX_TAG_FACETS: i64 = 50;

type BoxedCondition<QS> = Box<dyn BoxableExpression<QS, MultiBackend, SqlType = Bool>>;
type BoxedScore = Box<dyn BoxableExpression<items::table, MultiBackend, SqlType = Double>>;
type ItemQuery<'a> = items::BoxedQuery<'a, MultiBackend>;

const PG_CONFIGS: [(&str, &str); 5] = [
    ("ar", "arabic"),
    ("en", "english"),
    ("fr", "french"),
    ("ru", "russian"),
    ("es", "spanish"),
];

/// The text condition: PostgreSQL asks each language's rows in their own configuration (one
/// GIN-indexed branch per language); SQLite asks FTS5.
fn text_condition<QS: 'static>(conn: &DbConnection, q: &TextQuery) -> BoxedCondition<QS> {
    match conn {
        // Left unprepared on purpose (`sql`, which diesel never caches): PostgreSQL plans it
        // for each query's words, and a generic plan would guess one selectivity for a rare
        // and a common word alike.
        DbConnection::Pg(_) => {
            let websearch = q.to_websearch();
            let mut condition: BoxedCondition<QS> = Box::new(
                sql::<Bool>(
                    "(items.language IN ('zh', 'other') AND items.search_vector @@ websearch_to_tsquery('simple', ",
                )
                .bind::<Text, _>(websearch.clone())
                .sql("))"),
            );
            for (lang, config) in PG_CONFIGS {
                let branch = sql::<Bool>(&format!(
                    "(items.language = '{lang}' AND items.search_vector @@ websearch_to_tsquery('{config}', "
                ))
                .bind::<Text, _>(websearch.clone())
                .sql("))");
                condition = Box::new(condition.or(branch));
            }
            condition
        }
        DbConnection::Sqlite(_) => Box::new(
            Fragment::new(
                "items.id IN (SELECT m.item_id FROM item_search_map m JOIN item_search ON item_search.rowid = m.seq WHERE item_search MATCH ",
            )
            .text(q.to_fts5())
            .sql(")"),
        ),
    }
}

/// The items of these ids. SQLite's `IN (?, ?, …)` would be a statement of its own, parsed
/// and planned on every request (see [`prepared`]).
fn id_among(conn: &DbConnection, ids: &[&str]) -> BoxedCondition<items::table> {
    match conn {
        DbConnection::Sqlite(_) => {
            Box::new(prepared::sqlite_in_texts("items.id", ids.iter().copied()))
        }
        DbConnection::Pg(_) => {
            Box::new(items::id.eq_any(ids.iter().map(|id| (*id).to_owned()).collect::<Vec<_>>()))
        }
    }
}

/// The items of these `seq`s, as [`id_among`].
fn seq_among(conn: &DbConnection, seqs: &[i64]) -> BoxedCondition<items::table> {
    match conn {
        DbConnection::Sqlite(_) => Box::new(prepared::sqlite_in_numbers(
            "items.seq",
            seqs.iter().copied(),
        )),
        DbConnection::Pg(_) => Box::new(items::seq.eq_any(seqs.to_vec())),
    }
}

/// PostgreSQL: the relevance of a matching row, higher is better (title weighs most, then
/// summary and tags, then body). One `CASE` branch per language, each with its query
/// parsed once: `websearch_to_tsquery(compact_ts_config(items.language), q)` parsed and
/// stemmed the query again for every row ranked (5 of 22 ms for a window of 1,000).
fn pg_score(q: &TextQuery) -> BoxedScore {
    let w = q.to_websearch();
    let [ar, en, fr, ru, es] = PG_CONFIGS;
    let branch = |(lang, config): (&str, &str)| {
        format!(" WHEN '{lang}' THEN websearch_to_tsquery('{config}', ")
    };
    Box::new(
        sql::<Double>("ts_rank(items.search_vector, CASE items.language")
            .sql(&branch(ar))
            .bind::<Text, _>(w.clone())
            .sql(&format!("){}", branch(en)))
            .bind::<Text, _>(w.clone())
            .sql(&format!("){}", branch(fr)))
            .bind::<Text, _>(w.clone())
            .sql(&format!("){}", branch(ru)))
            .bind::<Text, _>(w.clone())
            .sql(&format!("){}", branch(es)))
            .bind::<Text, _>(w.clone())
            .sql(") ELSE websearch_to_tsquery('simple', ")
            .bind::<Text, _>(w)
            .sql(") END)::float8"),
    )
}

/// PostgreSQL: the relevance of the window's items (by `seq`). Only their rows are read,
/// without the audience: the page re-checks it for the few it shows (`first_found`), where
/// checking all 1,000 took a quarter of the ranking's time.
fn rank_in_pg(
    conn: &mut DbConnection,
    q: &TextQuery,
    window: Vec<i64>,
) -> Result<Vec<(String, f64)>, RegistryError> {
    Ok(items::table
        .filter(items::seq.eq_any(window))
        .select((items::id, pg_score(q)))
        .load(conn)?)
}

/// The scored items after the cursor, best first (ties by id).
fn best_first(scored: Vec<(String, f64)>, after: Option<(f64, &str)>) -> Vec<(String, f64)> {
    let mut ranked: Vec<(String, f64)> = scored
        .into_iter()
        .filter(|(id, score)| match after {
            None => true,
            Some((s, after_id)) => *score < s || (*score == s && id.as_str() > after_id),
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked
}

/// SQLite: the relevance of the window's items (by `seq`), from one FTS5 pass over the
/// stretch of the doclist between the window's lowest and highest index rows. A per-row
/// `bm25` subquery instead would re-read the term's whole doclist for every row: 0.4 s for
/// a term in 97 % of 10,000 items, where one pass takes a few milliseconds. Ranked in
/// `item_search_recent` when it holds the whole window, so a word's weight comes from the
/// newest items (about 50,000 doclist entries read; deleted rows linger until their
/// segment merges) rather than from all of them.
fn rank_in_fts5(
    conn: &mut diesel::SqliteConnection,
    q: &TextQuery,
    window: &[i64],
) -> Result<Vec<(String, f64)>, RegistryError> {
    // The window's index rows and item ids, from the map's covering index alone (migration
    // `2026-11-30-000014_search_map_by_item`): the pass below then joins nothing, where
    // looking each doclist entry up in the map and the window cost a random page read or
    // two per entry.
    let mut ids: HashMap<i64, String> =
        Fragment::<(BigInt, Text)>::new("SELECT seq, item_id FROM item_search_map WHERE ")
            .then(prepared::sqlite_in_numbers::<Bool>(
                "item_seq",
                window.iter().copied(),
            ))
            .load::<(i64, String)>(conn)?
            .into_iter()
            .collect();
    let (Some(&low), Some(&high)) = (ids.keys().min(), ids.keys().max()) else {
        return Ok(Vec::new());
    };
    // bm25 weighs each word by the rows that hold it, read from its whole doclist in the
    // table asked: the recent table's when it holds the window.
    let index = if low >= index::RecentRange::read(conn)?.low {
        "item_search_recent"
    } else {
        "item_search"
    };
    // The newest items were indexed last, so for a common word this is a short stretch.
    // Only the window's rows are scored: `+rowid` keeps the list a filter on that stretch,
    // as a constraint SQLite would set up one FTS5 query per listed row.
    let scored: Vec<(i64, f64)> = Fragment::<(BigInt, Double)>::new(format!(
        "SELECT rowid, -bm25({index}, 10.0, 4.0, 1.0) FROM {index} \
         WHERE {index} MATCH "
    ))
    .text(q.to_fts5())
    .sql(" AND rowid >= ")
    .big_int(low)
    .sql(" AND rowid <= ")
    .big_int(high)
    .sql(" AND ")
    .then(prepared::sqlite_in_numbers::<Bool>(
        "+rowid",
        ids.keys().copied(),
    ))
    .load(conn)?;
    Ok(scored
        .into_iter()
        .filter_map(|(rowid, score)| ids.remove(&rowid).map(|id| (id, score)))
        .collect())
}

/// Something found by id.
trait Identified {
    fn id(&self) -> &str;
}

impl Identified for ItemRow {
    fn id(&self) -> &str {
        &self.id
    }
}

/// The first `wanted` of the ranked ids that `fetch` still finds, best first, with their
/// scores. The best `wanted` are fetched, and the next ones only when some of those fell
/// out, so a page is never short while more ranked matches remain.
fn first_found<R: Identified, E>(
    ranked: &[(String, f64)],
    wanted: usize,
    mut fetch: impl FnMut(&[&str]) -> Result<Vec<R>, E>,
) -> Result<Vec<(R, f64)>, E> {
    let mut rows = Vec::with_capacity(wanted);
    for batch in ranked.chunks(wanted.max(1)) {
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let mut found = fetch(&ids)?;
        for (id, score) in batch {
            if let Some(at) = found.iter().position(|r| r.id() == id) {
                rows.push((found.swap_remove(at), *score));
            }
        }
        if rows.len() >= wanted {
            break;
        }
    }
    rows.truncate(wanted);
    Ok(rows)
}

const KINDS: [&str; 2] = ["document", "update"];

/// The item's JSON tag list holds `tag` (tags are checked to letters, digits, `-` and `_`).
fn tag_listed<QS: 'static>(conn: &DbConnection, tag: &str) -> BoxedCondition<QS> {
    let function = match conn {
        DbConnection::Pg(_) => "strpos",
        DbConnection::Sqlite(_) => "instr",
    };
    Box::new(
        Fragment::new(format!("{function}(items.tags, "))
            .text(format!("\"{tag}\""))
            .sql(") > 0"),
    )
}

/// Narrows a boxed query that holds `items` to the visible, matching items: the WHERE
/// clause shared by the page, the total and the facets. A macro, because the
/// multi-backend connection needs each query source's conditions typed for it.
macro_rules! narrowed {
    ($query:expr, $visible:path, $conn:expr, $viewer:expr, $request:expr) => {{
        let f = &$request.filters;
        let mut query = $query
            .filter(items::deleted_at.is_null())
            .filter($visible($viewer, &KINDS));
        if let Some(kind) = f.kind {
            query = query.filter(items::kind.eq(kind.as_str()));
        }
        if let Some(doc_type) = &f.doc_type {
            query = query.filter(items::doc_type.eq(doc_type.as_str()));
        }
        if let Some(org) = &f.organization {
            query = query.filter(items::owner_org_id.eq(org.as_str()));
        }
        if let Some(group) = &f.group {
            let addressed = item_access::table
                // Each kind with `=`: an `IN` list keeps diesel from caching the statement.
                .filter(
                    item_access::item_kind
                        .eq(KINDS[0])
                        .or(item_access::item_kind.eq(KINDS[1])),
                )
                .filter(item_access::grantee_type.eq("group"))
                .filter(item_access::grantee_id.eq(group.as_str()))
                .select(item_access::item_id);
            query = query.filter(items::id.eq_any(addressed));
        }
        if let Some(tlp) = f.tlp {
            query = query.filter(items::tlp.eq(tlp.as_str()));
        }
        if let Some(language) = f.language {
            query = query.filter(items::language.eq(language.as_str()));
        }
        if let Some(from) = f.from {
            query = query.filter(items::created_at.ge(from));
        }
        if let Some(to) = f.to {
            query = query.filter(items::created_at.lt(to));
        }
        if let Some(q) = &$request.text {
            query = query.filter(text_condition($conn, q));
        }
        query
    }};
}

/// The visible, matching items.
fn matching<'a>(
    conn: &DbConnection,
    viewer: &'a Viewer,
    request: &'a SearchRequest,
) -> ItemQuery<'a> {
    let query = narrowed!(
        items::table.into_boxed::<MultiBackend>(),
        audience::visible_items,
        conn,
        viewer,
        request
    );
    match &request.filters.tag {
        Some(tag) => {
            let tagged = item_tags::table
                .filter(item_tags::tag.eq(tag.clone()))
                .select(item_tags::item_id);
            query.filter(items::id.eq_any(tagged))
        }
        None => query,
    }
}

/// Runs a search as `principal`, who needs the `search` permission. The total and facets
/// come from `counts` (see [`counts`]); the page from the database.
pub fn search(
    conn: &mut DbConnection,
    counts: &counts::CountIndex,
    principal: &Principal,
    request: &SearchRequest,
) -> Result<Results, RegistryError> {
    let request = &scoped(principal, request)?;
    let viewer = viewer_of(principal);
    let newest = if request.text.is_some() && request.sort == Sort::Relevance {
        counts::Newest::First(RANK_WINDOW as usize)
    } else {
        counts::Newest::Page {
            limit: request.limit.clamp(1, MAX_PAGE) as usize + 1,
            before: match &request.after {
                Some(Cursor::Newest { created_at, .. }) => {
                    Some(created_at.and_utc().timestamp_micros())
                }
                _ => None,
            },
        }
    };
    let (total, facets, named) = match counts.count(conn, &viewer, request, newest) {
        Ok(counted) => (
            counted.total,
            counted.facets,
            Some((counted.newest, counted.older)),
        ),
        // Slower (one pass over the matches) but exact: a search still answers.
        // (`counts` logged why, once.)
        Err(RegistryError::CountIndexLimit(_)) => {
            let (total, facets) = count_in_sql(conn, principal, request)?;
            (total, facets, None)
        }
        Err(e) => return Err(e),
    };
    let (hits, next) = page_knowing(conn, &viewer, request, Some(total), named)?;
    Ok(Results {
        hits,
        total,
        facets,
        next,
    })
}

/// The request limited to the kinds the caller may read: an API key with the `search` scope
/// but without `documents:read` finds updates only, and the other way round.
pub fn scoped(
    principal: &Principal,
    request: &SearchRequest,
) -> Result<SearchRequest, RegistryError> {
    use compact_auth::Permission;
    principal.require(Permission::Search)?;
    let readable: Vec<ItemKind> = [ItemKind::Document, ItemKind::Update]
        .into_iter()
        .filter(|k| principal.has(k.read_permission()))
        .collect();
    let mut request = request.clone();
    match (request.filters.kind, readable.as_slice()) {
        (_, []) => {
            return Err(RegistryError::Forbidden(
                "searching needs documents:read or updates:read as well".into(),
            ));
        }
        (Some(kind), _) if !readable.contains(&kind) => {
            principal.require(kind.read_permission())?;
        }
        (None, [only]) => request.filters.kind = Some(*only),
        _ => {}
    }
    Ok(request)
}

/// One page of hits, without totals or facets (exports page through these).
pub fn page(
    conn: &mut DbConnection,
    viewer: &Viewer,
    request: &SearchRequest,
) -> Result<(Vec<Hit>, Option<Cursor>), RegistryError> {
    page_knowing(conn, viewer, request, None, None)
}

/// Below this many matches, sorting them beats walking the date index until enough turn up
/// (about √(window × items) at a million items; a rare term would walk most of the index).
const DATE_WALK_MIN_MATCHES: i64 = 20_000;

/// Newest first, in the order the database should take given how many items match: walking
/// the `(created_at, id)` index for frequent terms, sorting the few matches for rare ones.
/// The planner cannot know which from a text condition, so the sort key is hidden from the
/// index when the exact count says the matches are few.
fn newest_first(
    conn: &DbConnection,
    matches: Option<i64>,
) -> Box<dyn BoxableExpression<items::table, MultiBackend, SqlType = diesel::sql_types::Timestamp>>
{
    let few = matches.is_some_and(|n| n < DATE_WALK_MIN_MATCHES);
    match (few, conn) {
        (true, DbConnection::Pg(_)) => Box::new(Fragment::<diesel::sql_types::Timestamp>::new(
            "(items.created_at + interval '0 microseconds')",
        )),
        (true, DbConnection::Sqlite(_)) => Box::new(Fragment::<diesel::sql_types::Timestamp>::new(
            "(items.created_at || '')",
        )),
        (false, _) => Box::new(items::created_at),
    }
}

fn page_knowing(
    conn: &mut DbConnection,
    viewer: &Viewer,
    request: &SearchRequest,
    matches: Option<i64>,
    named: Option<(Vec<i64>, bool)>,
) -> Result<(Vec<Hit>, Option<Cursor>), RegistryError> {
    let limit = request.limit.clamp(1, MAX_PAGE);
    let ranked = match (&request.text, request.sort) {
        (Some(q), Sort::Relevance) => Some(q),
        _ => None,
    };
    // The ranked window's items match the text already: they are fetched by id with the
    // audience and filters checked again, but not the text (see `without_text`).
    let by_id = without_text(request);
    let rows: Vec<(ItemRow, Option<f64>)> = if let Some(q) = ranked {
        // Bounded ranking: only the newest RANK_WINDOW matches are ranked. The count index
        // knows them; without it (exports), a walk down the date index finds them.
        let window: Vec<i64> = match named {
            Some((window, _)) => window,
            None => matching(conn, viewer, request)
                .order((newest_first(conn, matches).desc(), items::id.desc()))
                .limit(RANK_WINDOW)
                .select(items::seq)
                .load(conn)?,
        };
        let after = match &request.after {
            Some(Cursor::Relevance { score, id }) => Some((*score, id.as_str())),
            Some(Cursor::Newest { .. }) => {
                return Err(RegistryError::invalid(
                    "cursor",
                    "this cursor belongs to a search sorted by date",
                ));
            }
            None => None,
        };
        let scored = match conn {
            DbConnection::Sqlite(sqlite) => rank_in_fts5(sqlite, q, &window)?,
            DbConnection::Pg(_) => rank_in_pg(conn, q, window)?,
        };
        let ranked = best_first(scored, after);
        let wanted = usize::try_from(limit + 1).unwrap_or(1);
        // The audience and filters again: an item narrowed or deleted since the first
        // query must not slip through by id.
        first_found(&ranked, wanted, |ids: &[&str]| {
            matching(conn, viewer, &by_id)
                .filter(id_among(conn, ids))
                .select(ItemRow::as_select())
                .load::<ItemRow>(conn)
        })?
        .into_iter()
        .map(|(row, score)| (row, Some(score)))
        .collect()
    } else {
        let rows = match &named {
            // The count index named every match that can be on this page. Should some of
            // them have changed since, so that the page is short while older matches
            // remain, the database finds the page itself.
            Some((candidates, older)) if !candidates.is_empty() || !*older => {
                let rows = newest_page(conn, viewer, request, matches, Some(candidates))?;
                if *older && rows.len() as i64 <= limit {
                    newest_page(conn, viewer, request, matches, None)?
                } else {
                    rows
                }
            }
            _ => newest_page(conn, viewer, request, matches, None)?,
        };
        rows.into_iter().map(|r| (r, None)).collect()
    };
    let more = rows.len() as i64 > limit;
    let mut highlighter = request.text.as_ref().map(snippet::Highlighter::new);
    let hits: Vec<Hit> = rows
        .into_iter()
        .take(limit as usize)
        .map(|(row, score)| {
            let item = Item::from_row(row);
            let snippet = snippet_of(&item, highlighter.as_mut());
            Hit {
                item,
                score,
                snippet,
            }
        })
        .collect();
    let next = if more {
        hits.last().map(|h| match h.score {
            Some(score) => Cursor::Relevance {
                score,
                id: h.item.row.id.clone(),
            },
            None => Cursor::Newest {
                created_at: h.item.row.created_at,
                id: h.item.row.id.clone(),
            },
        })
    } else {
        None
    };
    Ok((hits, next))
}

/// One newest-first page (one row more than the limit, to tell whether more follow),
/// among `only` when given.
fn newest_page(
    conn: &mut DbConnection,
    viewer: &Viewer,
    request: &SearchRequest,
    matches: Option<i64>,
    only: Option<&[i64]>,
) -> Result<Vec<ItemRow>, RegistryError> {
    let limit = request.limit.clamp(1, MAX_PAGE);
    // Among named matches the text condition is left out, as in `page_knowing`.
    let by_id;
    let mut query = match only {
        Some(_) => {
            by_id = without_text(request);
            matching(conn, viewer, &by_id)
        }
        None => matching(conn, viewer, request),
    };
    match &request.after {
        Some(Cursor::Newest { created_at, id }) => {
            query = query.filter(
                items::created_at.lt(*created_at).or(items::created_at
                    .eq(*created_at)
                    .and(items::id.lt(id.clone()))),
            );
        }
        Some(Cursor::Relevance { .. }) => {
            return Err(RegistryError::invalid(
                "cursor",
                "this cursor belongs to a search sorted by relevance",
            ));
        }
        None => {}
    }
    let matches = match only {
        Some(candidates) => {
            query = query.filter(seq_among(conn, candidates));
            Some(candidates.len() as i64)
        }
        None => matches,
    };
    Ok(query
        .order((newest_first(conn, matches).desc(), items::id.desc()))
        .limit(limit + 1)
        .select(ItemRow::as_select())
        .load(conn)?)
}

/// `request` without its text: for queries of items already known to match it. On SQLite
/// the text condition lists every match of the term first (a million ids for a common
/// word), however few items the query names. The audience and the filters stay.
fn without_text(request: &SearchRequest) -> SearchRequest {
    SearchRequest {
        text: None,
        ..request.clone()
    }
}

fn snippet_of(item: &Item, highlighter: Option<&mut snippet::Highlighter>) -> String {
    let fallback = if item.row.summary.is_empty() {
        &item.row.body
    } else {
        &item.row.summary
    };
    let Some(highlighter) = highlighter else {
        return snippet::opening(fallback);
    };
    let language = item.language();
    [&item.row.body, &item.row.summary, &item.row.title]
        .into_iter()
        .find_map(|t| highlighter.snippet(t, language))
        .unwrap_or_else(|| snippet::opening(fallback))
}

/// Kind, type, owner organization, TLP, language, and how many visible matches have them.
type FacetGroup = (String, String, String, String, String, i64);

/// The exact total and the facet counts of `principal`'s visible matches, counted in SQL:
/// one pass over every match. Searches take them from [`counts::CountIndex`]; this is the
/// plain reference its tests hold it to.
pub fn count_in_sql(
    conn: &mut DbConnection,
    principal: &Principal,
    request: &SearchRequest,
) -> Result<(i64, Facets), RegistryError> {
    let request = &scoped(principal, request)?;
    let viewer = &viewer_of(principal);
    // One pass for the total and five facets: the visible matches grouped by all five
    // fields at once (a few thousand groups at most), summed per field here. Each pass over
    // the matches costs as much as the next, so one instead of six is what counts.
    let query = items::table
        .group_by((
            items::kind,
            items::doc_type,
            items::owner_org_id,
            items::tlp,
            items::language,
        ))
        .select((
            items::kind,
            items::doc_type,
            items::owner_org_id,
            items::tlp,
            items::language,
            count_star(),
        ))
        .into_boxed::<MultiBackend>();
    let mut query = narrowed!(query, audience::visible_items, conn, viewer, request);
    if let Some(tag) = &request.filters.tag {
        let tagged = item_tags::table
            .filter(item_tags::tag.eq(tag.clone()))
            .select(item_tags::item_id);
        query = query.filter(items::id.eq_any(tagged));
    }
    let groups: Vec<FacetGroup> = query.load(conn)?;
    let total = groups.iter().map(|g| g.5).sum();
    let sum_by = |field: fn(&FacetGroup) -> &String| {
        let mut sums: std::collections::BTreeMap<&String, i64> = Default::default();
        for group in &groups {
            *sums.entry(field(group)).or_default() += group.5;
        }
        let mut counts: Vec<(String, i64)> =
            sums.into_iter().map(|(v, n)| (v.clone(), n)).collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    };
    let kind = sum_by(|g| &g.0);
    let doc_type = sum_by(|g| &g.1);
    let organization = sum_by(|g| &g.2);
    let tlp = sum_by(|g| &g.3);
    let language = sum_by(|g| &g.4);
    let query = item_tags::table
        .inner_join(items::table)
        .group_by(item_tags::tag)
        .select((item_tags::tag, count_star()))
        .order((count_star().desc(), item_tags::tag.asc()))
        .limit(MAX_TAG_FACETS)
        .into_boxed::<MultiBackend>();
    let mut query = narrowed!(query, audience::visible_tagged_items, conn, viewer, request);
    if let Some(wanted) = &request.filters.tag {
        // The items must carry the wanted tag; item_tags is already the joined table here,
        // so ask the item's own tag list (a JSON array of checked tags, quoted exactly).
        query = query.filter(tag_listed(conn, wanted));
    }
    let mut tag: Vec<(String, i64)> = query.load(conn)?;
    tag.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok((
        total,
        Facets {
            kind,
            doc_type,
            organization,
            tlp,
            language,
            tag,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Identified for String {
        fn id(&self) -> &str {
            self
        }
    }

    #[test]
    fn best_first_orders_by_score_then_id_and_resumes_inside_a_tie() {
        let scored: Vec<(String, f64)> = [("c", 1.0), ("a", 2.0), ("d", 1.0), ("b", 1.0)]
            .into_iter()
            .map(|(id, s)| (id.to_string(), s))
            .collect();
        let ids = |ranked: Vec<(String, f64)>| -> Vec<String> {
            ranked.into_iter().map(|(id, _)| id).collect()
        };
        assert_eq!(ids(best_first(scored.clone(), None)), ["a", "b", "c", "d"]);
        // A cursor at ("b", 1.0): the rest of the tie, nothing scored higher.
        assert_eq!(
            ids(best_first(scored.clone(), Some((1.0, "b")))),
            ["c", "d"]
        );
        assert_eq!(
            ids(best_first(scored.clone(), Some((2.0, "a")))),
            ["b", "c", "d"]
        );
        assert!(best_first(scored, Some((1.0, "d"))).is_empty());
    }

    #[test]
    fn ranked_ids_that_fell_out_are_replaced_by_the_next_ones() {
        let ranked: Vec<(String, f64)> = (0..10)
            .map(|i| (format!("i{i}"), 10.0 - i as f64))
            .collect();
        let gone = ["i1", "i2", "i3", "i5"];
        let mut fetches = 0;
        let found = first_found(&ranked, 4, |ids: &[&str]| {
            fetches += 1;
            // Found in another order than asked, as a database may.
            let mut rows: Vec<String> = ids
                .iter()
                .filter(|id| !gone.contains(id))
                .map(|id| id.to_string())
                .collect();
            rows.reverse();
            Ok::<_, ()>(rows)
        })
        .expect("no error");
        let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["i0", "i4", "i6", "i7"]);
        assert_eq!(found[1].1, 6.0);
        assert_eq!(fetches, 2, "only as many batches as needed");
        // Fewer survivors than wanted: all of them, in rank order.
        let found = first_found(&ranked[..3], 4, |ids: &[&str]| {
            Ok::<_, ()>(ids.iter().skip(1).map(|id| id.to_string()).collect())
        })
        .expect("no error");
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let newest = Cursor::Newest {
            created_at: chrono::DateTime::from_timestamp_micros(1_790_000_000_123_456)
                .expect("test value")
                .naive_utc(),
            id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
        };
        let ranked = Cursor::Relevance {
            score: 0.123_456_789,
            id: "abc".into(),
        };
        for cursor in [newest, ranked] {
            assert_eq!(
                Cursor::decode(&cursor.encode()).expect("test value"),
                cursor
            );
        }
        let before_1970 = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("n|-62135596800000000|abc")
        };
        for bad in [
            "",
            "!!",
            "bnx8eA",
            "cnxOYU58YQ",
            &"A".repeat(500),
            &before_1970,
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
