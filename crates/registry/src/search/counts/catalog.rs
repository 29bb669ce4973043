//! What the count index keeps of every item: its facet fields as codes, and bitmaps of items
//! per audience grant, tag, field value and day of creation; and how they are counted.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::dsl::max;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use roaring::RoaringBitmap;

use compact_db::schema::{item_access, item_tags, items};
use compact_db::{DbConnection, MultiBackend};

use super::{Counted, Newest, seq_of};
use crate::RegistryError;
use crate::audience::Viewer;
use crate::search::{Facets, MAX_TAG_FACETS, SearchRequest};

/// Rows read per statement while loading, so a million items never sit in memory as rows.
/// Each chunk's rows are freed between the catalog's own growing blocks, and stay as holes
/// in the heap: 10,000 instead of 50,000 left an idle million-item server 4.5 MB smaller
/// on SQLite (2 MB on PostgreSQL, whose cursor fetches this many), loading as fast.
const LOAD_CHUNK: i64 = 10_000;

/// The facet fields, as codes into [`Catalog::values`], in this order.
const KIND: usize = 0;
const DOC_TYPE: usize = 1;
const ORGANIZATION: usize = 2;
const TLP: usize = 3;
const LANGUAGE: usize = 4;

/// In [`Catalog::created`]: no item of this number was read (yet).
const ABSENT: i64 = i64::MIN;

/// An item's field codes, in field order.
type Codes = [u16; 5];

/// An item's first tags, as codes into [`Catalog::tag_values`]; [`NO_TAG`] fills the
/// unused places. Three in four items have at most four tags (the rest go to
/// [`Catalog::more_tags`]).
type TagCodes = [u16; 4];
const NO_TAG: u16 = u16::MAX;

/// An item's facet codes: its five fields' and its first four tags', side by side because
/// the facet pass reads both for each match. Apart, each was a cache miss of its own: a
/// 15 % search spent 70 % of its CPU on those two loads.
#[derive(Debug, Clone, Copy)]
struct ItemCodes {
    fields: Codes,
    tags: TagCodes,
}

const NO_CODES: ItemCodes = ItemCodes {
    fields: [0; 5],
    tags: [NO_TAG; 4],
};

/// The distinct values of one field, numbered.
#[derive(Default)]
struct Values {
    codes: HashMap<String, u16>,
    names: Vec<String>,
}

impl Values {
    /// About the bytes of its names (each held twice: by number and in the map).
    fn size(&self) -> usize {
        self.names.iter().map(|name| 2 * name.len()).sum()
    }

    fn code(&mut self, value: String) -> Result<u16, RegistryError> {
        if let Some(code) = self.codes.get(&value) {
            return Ok(*code);
        }
        let code = u16::try_from(self.names.len()).map_err(|_| {
            RegistryError::CountIndexLimit(format!(
                "more than {} values of one facet field",
                u16::MAX
            ))
        })?;
        self.names.push(value.clone());
        self.codes.insert(value, code);
        Ok(code)
    }
}

/// An `item_access` grantee: its type and id, as in the table.
type Grantee = (String, String);

/// Facets are counted in one pass over the matches, reading each one's codes: 18 bytes an
/// item, apart from its other facts. One intersection per field value instead took most of a
/// search's time for tens of thousands of matches and a hundred organizations.
pub(super) struct Catalog {
    pub(super) watermark: i64,
    /// Each item's creation instant (micros), [`ABSENT`] before it was read.
    created: Vec<i64>,
    codes: Vec<ItemCodes>,
    /// The items not deleted.
    pub(super) alive: RoaringBitmap,
    /// Per field, the items of each value (by code).
    by_value: [Vec<RoaringBitmap>; 5],
    /// The items created on each day (micros ÷ a day's), for the newest ones.
    days: BTreeMap<i64, RoaringBitmap>,
    values: [Values; 5],
    grants: HashMap<Grantee, RoaringBitmap>,
    /// The items of each tag, for the tag filter and for counting tags when most items
    /// match (see [`Catalog::tags_by_item`]).
    tags: HashMap<String, RoaringBitmap>,
    /// The tags of an item past the first four of its [`ItemCodes`].
    more_tags: HashMap<u32, Vec<u16>>,
    tag_values: Values,
}

type FactRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    bool,
);

/// At most this many candidates of a date-sorted page are named (SQLite binds each one).
const MAX_CANDIDATES: usize = 5_000;

const DAY_MICROS: i64 = 86_400_000_000;

fn day_of(micros: i64) -> i64 {
    micros.div_euclid(DAY_MICROS)
}

impl Catalog {
    fn empty(watermark: i64) -> Catalog {
        Catalog {
            watermark,
            created: Vec::new(),
            codes: Vec::new(),
            alive: RoaringBitmap::new(),
            by_value: Default::default(),
            days: BTreeMap::new(),
            values: Default::default(),
            grants: HashMap::new(),
            tags: HashMap::new(),
            more_tags: HashMap::new(),
            tag_values: Values::default(),
        }
    }

    /// Everything up to at least `watermark`, a chunk of rows at a time.
    pub(super) fn load(conn: &mut DbConnection, watermark: i64) -> Result<Catalog, RegistryError> {
        let mut catalog = Catalog::load_rows(conn, watermark)?;
        catalog.shrink();
        Ok(catalog)
    }

    fn load_rows(conn: &mut DbConnection, watermark: i64) -> Result<Catalog, RegistryError> {
        // Before reading anything: a `seq` the index cannot hold is found at once, not after
        // every item was read (or, on SQLite, billions of empty chunks were walked).
        let last_seq: Option<i64> = items::table.select(max(items::seq)).first(conn)?;
        last_seq.map(seq_of).transpose()?;
        if let DbConnection::Pg(pg) = conn {
            return Catalog::load_through_cursors(pg, watermark);
        }
        // SQLite joins a range of `seq`s through the indexes.
        let mut catalog = Catalog::empty(watermark);
        let mut low = 0;
        while low <= last_seq.unwrap_or(-1) {
            let high = low + LOAD_CHUNK;
            let in_chunk = items::seq.ge(low).and(items::seq.lt(high));
            let rows: Vec<FactRow> = fact_rows().filter(in_chunk).load(conn)?;
            catalog.set_facts(rows)?;
            let grants: Vec<(i64, String, String)> = grant_rows().filter(in_chunk).load(conn)?;
            catalog.add_grants(grants)?;
            let tags: Vec<(i64, String)> = tag_rows().filter(in_chunk).load(conn)?;
            catalog.add_tags(tags)?;
            low = high;
        }
        Ok(catalog)
    }

    /// PostgreSQL: each table read once (items through a cursor). Joining a range of
    /// `seq`s at a time made it scan `item_access` and `item_tags` whole for every range
    /// (16 s at a million items).
    fn load_through_cursors(
        conn: &mut diesel::PgConnection,
        watermark: i64,
    ) -> Result<Catalog, RegistryError> {
        use diesel::connection::Connection;
        conn.transaction(|conn| {
            let mut catalog = Catalog::empty(watermark);
            fetch_all::<FactByName>(conn, PG_FACTS, |rows| {
                catalog.set_facts(rows.into_iter().map(FactByName::into_row).collect())
            })?;
            // Grants and tags come aggregated, one row per grantee or tag: a row per pair
            // (five million at a million items) cost seconds to send and parse.
            let grants: Vec<GrantSet> = diesel::sql_query(PG_GRANTS).load(conn)?;
            for set in grants {
                let seqs = set.seqs.into_iter().map(seq_of);
                *catalog
                    .grants
                    .entry((set.grantee_type, set.grantee_id))
                    .or_default() |= seqs.collect::<Result<RoaringBitmap, _>>()?;
            }
            let tags: Vec<TagSet> = diesel::sql_query(PG_TAGS).load(conn)?;
            for set in tags {
                let seqs = set.seqs.into_iter().map(seq_of);
                catalog.add_tag(set.tag, &seqs.collect::<Result<RoaringBitmap, _>>()?)?;
            }
            Ok(catalog)
        })
    }

    /// Sizes everything to what it holds, once loaded: vectors and bitmap containers grew by
    /// doubling as rows came in, and a bitmap of consecutive items (a day's, the live ones)
    /// takes a few bytes per run instead of two per item. Changes after this grow them
    /// again, a little.
    fn shrink(&mut self) {
        self.created.shrink_to_fit();
        self.codes.shrink_to_fit();
        self.more_tags.shrink_to_fit();
        let sets = (self.by_value.iter_mut().flatten())
            .chain(self.days.values_mut())
            .chain(self.grants.values_mut())
            .chain(self.tags.values_mut())
            .chain(std::iter::once(&mut self.alive));
        for set in sets {
            set.optimize();
            // A clone's containers are exactly as long as their contents.
            *set = set.clone();
        }
    }

    /// About the bytes it takes: its vectors' capacity, its bitmaps' encoded size plus a
    /// container header each, its names; not the maps' own overhead (a lower bound, then).
    pub(super) fn size(&self) -> usize {
        use std::mem::size_of;
        const CONTAINER: usize = 32;
        let sets: usize = (self.by_value.iter().flatten())
            .chain(self.days.values())
            .chain(self.grants.values())
            .chain(self.tags.values())
            .chain(std::iter::once(&self.alive))
            .map(|set| set.serialized_size() + set.statistics().n_containers as usize * CONTAINER)
            .sum();
        let more_tags: usize = (self.more_tags.values())
            .map(|tags| size_of::<(u32, Vec<u16>)>() + tags.capacity() * 2)
            .sum();
        let names: usize = (self.grants.keys())
            .map(|(kind, id)| kind.len() + id.len())
            .chain(self.tags.keys().map(String::len))
            .chain(
                self.values
                    .iter()
                    .chain([&self.tag_values])
                    .map(Values::size),
            )
            .sum();
        self.created.capacity() * size_of::<i64>()
            + self.codes.capacity() * size_of::<ItemCodes>()
            + sets
            + more_tags
            + names
    }

    /// Re-reads the items written after this catalog's watermark, up to `watermark`.
    pub(super) fn catch_up(
        &mut self,
        conn: &mut DbConnection,
        watermark: i64,
    ) -> Result<(), RegistryError> {
        let changed = items::change_seq
            .gt(self.watermark)
            .and(items::change_seq.le(watermark));
        let rows: Vec<FactRow> = fact_rows().filter(changed).load(conn)?;
        let seqs = rows
            .iter()
            .map(|r| seq_of(r.0))
            .collect::<Result<RoaringBitmap, _>>()?;
        self.forget_grants_and_tags(&seqs);
        self.set_facts(rows)?;
        let grants: Vec<(i64, String, String)> = grant_rows().filter(changed).load(conn)?;
        self.add_grants(grants)?;
        let tags: Vec<(i64, String)> = tag_rows().filter(changed).load(conn)?;
        self.add_tags(tags)?;
        // Run-encoded by `shrink`, a container stays so however many gaps deletions cut in
        // it; this turns it back into an array or bitmap once that is smaller (a few µs).
        self.alive.optimize();
        self.watermark = watermark;
        Ok(())
    }

    fn set_facts(&mut self, rows: Vec<FactRow>) -> Result<(), RegistryError> {
        for (seq, kind, doc_type, org, tlp, language, created_at, alive) in rows {
            let at = seq_of(seq)? as usize;
            // Every code first: should one fail, nothing of the item has changed yet.
            let mut fields: Codes = [0; 5];
            for (field, value) in [kind, doc_type, org, tlp, language].into_iter().enumerate() {
                fields[field] = self.values[field].code(value)?;
            }
            // Each only ever grows: `add_tag` may have grown `codes` past `created`.
            if self.created.len() <= at {
                self.created.resize(at + 1, ABSENT);
            }
            if self.codes.len() <= at {
                self.codes.resize(at + 1, NO_CODES);
            }
            let seq = at as u32;
            let old = self.created[at];
            if old != ABSENT {
                for (field, code) in self.codes[at].fields.iter().enumerate() {
                    self.by_value[field][*code as usize].remove(seq);
                }
                if let Some(day) = self.days.get_mut(&day_of(old)) {
                    day.remove(seq);
                }
                self.alive.remove(seq);
            }
            for (field, code) in fields.iter().enumerate() {
                let sets = &mut self.by_value[field];
                if sets.len() <= *code as usize {
                    sets.resize(*code as usize + 1, RoaringBitmap::new());
                }
                sets[*code as usize].insert(seq);
            }
            let created_micros = created_at.and_utc().timestamp_micros();
            self.days
                .entry(day_of(created_micros))
                .or_default()
                .insert(seq);
            if alive {
                self.alive.insert(seq);
            }
            self.created[at] = created_micros;
            self.codes[at].fields = fields;
        }
        Ok(())
    }

    fn add_grants(&mut self, rows: Vec<(i64, String, String)>) -> Result<(), RegistryError> {
        for (seq, grantee_type, grantee_id) in rows {
            let seq = seq_of(seq)?;
            self.grants
                .entry((grantee_type, grantee_id))
                .or_default()
                .insert(seq);
        }
        Ok(())
    }

    fn add_tags(&mut self, rows: Vec<(i64, String)>) -> Result<(), RegistryError> {
        let mut by_tag: HashMap<String, RoaringBitmap> = HashMap::new();
        for (seq, tag) in rows {
            by_tag.entry(tag).or_default().insert(seq_of(seq)?);
        }
        for (tag, seqs) in by_tag {
            self.add_tag(tag, &seqs)?;
        }
        Ok(())
    }

    /// Before items are read again: their grants and tags as they were are gone.
    fn forget_grants_and_tags(&mut self, seqs: &RoaringBitmap) {
        for set in self.grants.values_mut().chain(self.tags.values_mut()) {
            *set -= seqs;
        }
        for seq in seqs {
            if let Some(codes) = self.codes.get_mut(seq as usize) {
                codes.tags = [NO_TAG; 4];
            }
            self.more_tags.remove(&seq);
        }
    }

    /// How many of `matched` have each value of each field and each tag (by code). Tags
    /// are counted from the matches' own codes in the same pass when `tags_by_item`, else
    /// by one intersection per tag.
    fn count_codes(
        &self,
        matched: &RoaringBitmap,
        tags_by_item: bool,
    ) -> ([Vec<u64>; 5], Vec<u64>) {
        let mut per_value: [Vec<u64>; 5] =
            std::array::from_fn(|field| vec![0; self.by_value[field].len()]);
        let mut per_tag = vec![0; self.tag_values.names.len()];
        for seq in matched {
            let Some(codes) = self.codes.get(seq as usize) else {
                continue;
            };
            for (counts, code) in per_value.iter_mut().zip(&codes.fields) {
                counts[*code as usize] += 1;
            }
            if tags_by_item {
                for code in codes.tags.iter().take_while(|c| **c != NO_TAG) {
                    per_tag[*code as usize] += 1;
                }
                if codes.tags[3] != NO_TAG
                    && let Some(more) = self.more_tags.get(&seq)
                {
                    for code in more {
                        per_tag[*code as usize] += 1;
                    }
                }
            }
        }
        if !tags_by_item {
            per_tag = self.tag_counts_by_tag(matched);
        }
        (per_value, per_tag)
    }

    /// Whether tags are cheaper to count from the matches' codes: a step per match, against
    /// about a step per tagged item for one intersection per tag. At a million items with
    /// 40 tags, the intersections took half of a 1 % search's CPU; for a 97 % word's
    /// 420,000 matches they are the cheaper way.
    fn tags_by_item(&self, matched: &RoaringBitmap) -> bool {
        let tagged: u64 = self.tags.values().map(|set| set.len()).sum();
        matched.len().saturating_mul(8) < tagged
    }

    fn tag_counts_by_tag(&self, matched: &RoaringBitmap) -> Vec<u64> {
        let mut counts = vec![0; self.tag_values.names.len()];
        for (tag, set) in &self.tags {
            counts[self.tag_values.codes[tag] as usize] = matched.intersection_len(set);
        }
        counts
    }

    /// The codes of an item's tags.
    #[cfg(test)]
    fn tag_codes(&self, seq: u32) -> impl Iterator<Item = u16> + '_ {
        let first = self.codes.get(seq as usize).map(|codes| &codes.tags);
        let more = first
            .filter(|codes| codes[3] != NO_TAG)
            .and_then(|_| self.more_tags.get(&seq));
        let first = first.into_iter().flatten().take_while(|c| **c != NO_TAG);
        first.chain(more.into_iter().flatten()).copied()
    }

    /// Tags `seqs` (items not tagged so yet) with `tag`.
    fn add_tag(&mut self, tag: String, seqs: &RoaringBitmap) -> Result<(), RegistryError> {
        let code = self.tag_values.code(tag.clone())?;
        if code == NO_TAG {
            return Err(RegistryError::CountIndexLimit(format!(
                "more than {} distinct tags",
                NO_TAG
            )));
        }
        if let Some(last) = seqs.max()
            && self.codes.len() <= last as usize
        {
            self.codes.resize(last as usize + 1, NO_CODES);
        }
        for seq in seqs {
            let codes = &mut self.codes[seq as usize].tags;
            match codes.iter_mut().find(|c| **c == NO_TAG) {
                Some(free) => *free = code,
                None => self.more_tags.entry(seq).or_default().push(code),
            }
        }
        *self.tags.entry(tag).or_default() |= seqs;
        Ok(())
    }

    fn grant(&self, grantee_type: &str, grantee_id: &str) -> Option<&RoaringBitmap> {
        self.grants
            .get(&(grantee_type.to_owned(), grantee_id.to_owned()))
    }

    /// What `viewer` may see: the grants `audience::visible_items` accepts, ORed.
    pub(super) fn visible(&self, viewer: &Viewer, groups: &[String]) -> RoaringBitmap {
        let mut wanted: Vec<(&str, &str)> = vec![("public", "")];
        if let Viewer::User { user_id, org_id } = viewer {
            wanted.extend([
                ("platform", ""),
                ("organization", org_id.as_str()),
                ("user", user_id.as_str()),
            ]);
            wanted.extend(groups.iter().map(|g| ("group", g.as_str())));
        }
        let mut visible = RoaringBitmap::new();
        for (grantee_type, grantee_id) in wanted {
            if let Some(set) = self.grant(grantee_type, grantee_id) {
                visible |= set;
            }
        }
        visible
    }

    /// The field code of a filter value: None when no filter, Err when no item has it.
    fn wanted(&self, field: usize, value: Option<&str>) -> Result<Option<u16>, ()> {
        match value {
            None => Ok(None),
            Some(value) => self.values[field]
                .codes
                .get(value)
                .map(|c| Some(*c))
                .ok_or(()),
        }
    }

    /// The total and facets of the visible `candidates` that pass the request's filters,
    /// and the newest `newest` of them.
    pub(super) fn count(
        &self,
        mut candidates: RoaringBitmap,
        request: &SearchRequest,
        newest: Newest,
    ) -> Counted {
        let f = &request.filters;
        if let Some(group) = &f.group {
            match self.grant("group", group) {
                Some(set) => candidates &= set,
                None => candidates.clear(),
            }
        }
        if let Some(tag) = &f.tag {
            match self.tags.get(tag) {
                Some(set) => candidates &= set,
                None => candidates.clear(),
            }
        }
        let wanted = [
            self.wanted(KIND, f.kind.map(|k| k.as_str())),
            self.wanted(DOC_TYPE, f.doc_type.as_deref()),
            self.wanted(ORGANIZATION, f.organization.as_deref()),
            self.wanted(TLP, f.tlp.map(|t| t.as_str())),
            self.wanted(LANGUAGE, f.language.map(|l| l.as_str())),
        ];
        if wanted.iter().any(|w| w.is_err()) {
            return Counted {
                total: 0,
                facets: Facets::default(),
                newest: Vec::new(),
                older: false,
            };
        }
        candidates &= &self.alive;
        for (field, wanted) in wanted.iter().enumerate() {
            if let Ok(Some(code)) = wanted {
                candidates &= &self.by_value[field][*code as usize];
            }
        }
        let from = f.from.map(|t| t.and_utc().timestamp_micros());
        let to = f.to.map(|t| t.and_utc().timestamp_micros());
        if from.is_some() || to.is_some() {
            candidates = self.created_within(&candidates, from, to);
        }
        let matched = candidates;
        let total = matched.len() as i64;
        let (per_value, per_tag) = self.count_codes(&matched, self.tags_by_item(&matched));
        // Tests count the other way too, on every search.
        #[cfg(debug_assertions)]
        for (field, counts) in per_value.iter().enumerate() {
            let intersected: Vec<u64> = self.by_value[field]
                .iter()
                .map(|set| matched.intersection_len(set))
                .collect();
            debug_assert_eq!(*counts, intersected);
        }
        #[cfg(debug_assertions)]
        debug_assert_eq!(per_tag, self.tag_counts_by_tag(&matched));
        let named = |field: usize| -> Vec<(String, i64)> {
            let mut counts: Vec<(String, i64)> = per_value[field]
                .iter()
                .enumerate()
                .map(|(code, n)| (code, *n as i64))
                .filter(|(_, n)| *n > 0)
                .map(|(code, n)| (self.values[field].names[code].clone(), n))
                .collect();
            counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            counts
        };
        let mut tag: Vec<(String, i64)> = per_tag
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(code, n)| (self.tag_values.names[code].clone(), *n as i64))
            .collect();
        tag.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        tag.truncate(MAX_TAG_FACETS as usize);
        let facets = Facets {
            kind: named(KIND),
            doc_type: named(DOC_TYPE),
            organization: named(ORGANIZATION),
            tlp: named(TLP),
            language: named(LANGUAGE),
            tag,
        };
        let (newest, older) = match newest {
            Newest::First(n) => self.newest(&matched, n, None),
            Newest::Page { limit, before } => self.newest(&matched, limit, Some(before)),
        };
        Counted {
            total,
            facets,
            newest,
            older,
        }
    }

    fn created(&self, seq: u32) -> Option<i64> {
        self.created
            .get(seq as usize)
            .copied()
            .filter(|at| *at != ABSENT)
    }

    /// Those of `items` created at or after `from` and before `to`: whole days by their
    /// bitmaps, the first and last day item by item.
    fn created_within(
        &self,
        items: &RoaringBitmap,
        from: Option<i64>,
        to: Option<i64>,
    ) -> RoaringBitmap {
        let first = from.map_or(i64::MIN, day_of);
        let last = to.map_or(i64::MAX, |to| day_of(to - 1));
        let mut within = RoaringBitmap::new();
        if first > last {
            return within;
        }
        for (day, set) in self.days.range(first..=last) {
            let mut on_day = items & set;
            if *day == first || *day == last {
                on_day = on_day
                    .iter()
                    .filter(|seq| {
                        self.created(*seq).is_some_and(|created| {
                            from.is_none_or(|from| created >= from)
                                && to.is_none_or(|to| created < to)
                        })
                    })
                    .collect();
            }
            within |= on_day;
        }
        within
    }

    /// The newest `n` of `matched` by creation (then by `seq`), newest first, and whether
    /// older ones remain. For a page (`before` given), those created after the cursor's
    /// instant are left out, and every one created at that instant or at the last one's
    /// instant is added, so the page's rows are surely among them whatever their ids.
    fn newest(
        &self,
        matched: &RoaringBitmap,
        n: usize,
        before: Option<Option<i64>>,
    ) -> (Vec<i64>, bool) {
        // Few matches (a rare word): all of them, sorted. Walking the days would ask every
        // day of the catalog's years before finding that there are no more.
        let few = matched.len() <= FEW_TO_SORT.max(8 * n as u64);
        self.newest_by(matched, n, before, few)
    }

    /// [`Catalog::newest`], sorting all of `matched` when `few`, else walking the days.
    fn newest_by(
        &self,
        matched: &RoaringBitmap,
        n: usize,
        before: Option<Option<i64>>,
        few: bool,
    ) -> (Vec<i64>, bool) {
        let page = before.is_some();
        let before = before.flatten();
        if n == 0 {
            return (Vec::new(), !matched.is_empty());
        }
        let mut picked: Vec<(i64, u32)> = Vec::new();
        let mut at_cursor = 0;
        // The match and its creation, unless created after the cursor's instant.
        let eligible = |seq: u32| {
            self.created(seq)
                .filter(|created| before.is_none_or(|before| *created <= before))
                .map(|created| (created, seq))
        };
        if few {
            for found in matched.iter().filter_map(eligible) {
                at_cursor += usize::from(before == Some(found.0));
                picked.push(found);
            }
        }
        // Otherwise whole days, newest first, until enough: items of older days are all older.
        let last_day = before.map_or(i64::MAX, day_of);
        let mut older_days = self.days.range(..=last_day).rev();
        if !few {
            for (_, set) in older_days.by_ref() {
                if matched.is_disjoint(set) {
                    continue;
                }
                for found in (matched & set).iter().filter_map(eligible) {
                    at_cursor += usize::from(before == Some(found.0));
                    picked.push(found);
                }
                if picked.len() >= n + if page { at_cursor } else { 0 } {
                    break;
                }
            }
        }
        picked.sort_unstable_by(|a, b| b.cmp(a));
        let mut wanted = n + if page { at_cursor } else { 0 };
        if page && let Some(&(boundary, _)) = picked.get(wanted.saturating_sub(1)) {
            while picked
                .get(wanted)
                .is_some_and(|(created, _)| *created == boundary)
            {
                wanted += 1;
            }
        }
        let older =
            picked.len() > wanted || (!few && older_days.any(|(_, set)| !matched.is_disjoint(set)));
        if wanted > MAX_CANDIDATES {
            // Thousands of matches at one instant (an import): SQL finds the page.
            return (Vec::new(), true);
        }
        picked.truncate(wanted);
        let seqs = picked.into_iter().map(|(_, seq)| i64::from(seq)).collect();
        (seqs, older)
    }
}

/// Up to this many matches (or 8 × the number wanted) are sorted whole to find the newest.
const FEW_TO_SORT: u64 = 4_096;

const PG_FACTS: &str = "SELECT seq, kind, doc_type, owner_org_id, tlp, language, created_at, \
     deleted_at IS NULL AS alive FROM items";
const PG_GRANTS: &str = "SELECT a.grantee_type, a.grantee_id, array_agg(items.seq) AS seqs \
     FROM items JOIN item_access a ON a.item_id = items.id AND a.item_kind = items.kind \
     GROUP BY a.grantee_type, a.grantee_id";
const PG_TAGS: &str = "SELECT t.tag, array_agg(items.seq) AS seqs FROM item_tags t \
     JOIN items ON items.id = t.item_id GROUP BY t.tag";

/// Runs `query` through a cursor of the current transaction, `LOAD_CHUNK` rows at a time.
fn fetch_all<R>(
    conn: &mut diesel::PgConnection,
    query: &str,
    mut take: impl FnMut(Vec<R>) -> Result<(), RegistryError>,
) -> Result<(), RegistryError>
where
    R: QueryableByName<diesel::pg::Pg> + 'static,
{
    diesel::sql_query(format!("DECLARE count_index NO SCROLL CURSOR FOR {query}")).execute(conn)?;
    loop {
        let rows: Vec<R> =
            diesel::sql_query(format!("FETCH {LOAD_CHUNK} FROM count_index")).load(conn)?;
        if rows.is_empty() {
            break;
        }
        take(rows)?;
    }
    diesel::sql_query("CLOSE count_index").execute(conn)?;
    Ok(())
}

#[derive(QueryableByName)]
struct FactByName {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    doc_type: String,
    #[diesel(sql_type = Text)]
    owner_org_id: String,
    #[diesel(sql_type = Text)]
    tlp: String,
    #[diesel(sql_type = Text)]
    language: String,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Bool)]
    alive: bool,
}

impl FactByName {
    fn into_row(self) -> FactRow {
        let f = self;
        (
            f.seq,
            f.kind,
            f.doc_type,
            f.owner_org_id,
            f.tlp,
            f.language,
            f.created_at,
            f.alive,
        )
    }
}

#[derive(QueryableByName)]
struct GrantSet {
    #[diesel(sql_type = Text)]
    grantee_type: String,
    #[diesel(sql_type = Text)]
    grantee_id: String,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    seqs: Vec<i64>,
}

#[derive(QueryableByName)]
struct TagSet {
    #[diesel(sql_type = Text)]
    tag: String,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::BigInt>)]
    seqs: Vec<i64>,
}

fn fact_rows() -> items::BoxedQuery<'static, MultiBackend, FactSql> {
    items::table
        .select((
            items::seq,
            items::kind,
            items::doc_type,
            items::owner_org_id,
            items::tlp,
            items::language,
            items::created_at,
            items::deleted_at.is_null(),
        ))
        .into_boxed()
}

type FactSql = (
    diesel::sql_types::BigInt,
    Text,
    Text,
    Text,
    Text,
    Text,
    diesel::sql_types::Timestamp,
    Bool,
);

/// The join of grants to their items' numbers.
type GrantJoin = diesel::dsl::InnerJoinOn<
    items::table,
    item_access::table,
    diesel::dsl::And<
        diesel::dsl::Eq<item_access::item_id, items::id>,
        diesel::dsl::Eq<item_access::item_kind, items::kind>,
    >,
>;
type GrantColumns = (
    items::seq,
    item_access::grantee_type,
    item_access::grantee_id,
);

fn grant_rows()
-> diesel::dsl::IntoBoxed<'static, diesel::dsl::Select<GrantJoin, GrantColumns>, MultiBackend> {
    items::table
        .inner_join(
            item_access::table.on(item_access::item_id
                .eq(items::id)
                .and(item_access::item_kind.eq(items::kind))),
        )
        .select((
            items::seq,
            item_access::grantee_type,
            item_access::grantee_id,
        ))
        .into_boxed()
}

type TagJoin = diesel::dsl::InnerJoin<item_tags::table, items::table>;

fn tag_rows() -> diesel::dsl::IntoBoxed<
    'static,
    diesel::dsl::Select<TagJoin, (items::seq, item_tags::tag)>,
    MultiBackend,
> {
    item_tags::table
        .inner_join(items::table)
        .select((items::seq, item_tags::tag))
        .into_boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items 1..=8 created at these instants (in `unit`s of micros), all matched.
    fn catalog(unit: i64) -> (Catalog, RoaringBitmap) {
        let created = [50, 40, 40, 40, 30, 20, 10, 40].map(|at| at * unit);
        (created_at(&created), (1..=8).collect())
    }

    /// Items 1, 2, … created at these instants (micros).
    fn created_at(instants: &[i64]) -> Catalog {
        let mut catalog = Catalog::empty(0);
        let rows: Vec<FactRow> = instants
            .iter()
            .enumerate()
            .map(|(i, at)| {
                let at = chrono::DateTime::from_timestamp_micros(*at)
                    .expect("test instant")
                    .naive_utc();
                let text = || "x".to_owned();
                (
                    i as i64 + 1,
                    text(),
                    text(),
                    text(),
                    text(),
                    text(),
                    at,
                    true,
                )
            })
            .collect();
        catalog.set_facts(rows).expect("facts");
        catalog
    }

    #[test]
    fn a_facet_field_holds_65536_values_and_refuses_the_next_without_changing_the_item() {
        let mut catalog = created_at(&[10]);
        let values = &mut catalog.values[ORGANIZATION];
        // "x" is code 0 already; fill the rest of the 65,536 codes.
        for n in 1..=u16::MAX {
            assert_eq!(
                values.code(format!("org-{n}")).expect("within the limit"),
                n
            );
        }
        assert!(matches!(
            values.code("one too many".to_owned()),
            Err(RegistryError::CountIndexLimit(_))
        ));
        assert_eq!(values.code("org-7".to_owned()).expect("a known value"), 7);

        // Item 1 moving to a 65,537th organization fails and keeps its facts.
        let at = chrono::DateTime::from_timestamp_micros(99)
            .expect("test instant")
            .naive_utc();
        let x = || "x".to_owned();
        let row = (1, x(), x(), "one too many".to_owned(), x(), x(), at, true);
        assert!(matches!(
            catalog.set_facts(vec![row]),
            Err(RegistryError::CountIndexLimit(_))
        ));
        assert_eq!(catalog.created[1], 10);
        assert_eq!(catalog.codes[1].fields[ORGANIZATION], 0);
        assert!(catalog.by_value[ORGANIZATION][0].contains(1));
    }

    #[test]
    fn an_item_keeps_any_number_of_tags_and_loses_them_when_read_again() {
        let mut catalog = created_at(&[10, 20, 30]);
        let mut rows = vec![(1, "a".to_owned())];
        rows.extend(["a", "b", "c", "d", "e", "f"].map(|t| (2, t.to_owned())));
        catalog.add_tags(rows).expect("tags");
        let names = |catalog: &Catalog, seq: u32| -> Vec<String> {
            let mut names: Vec<String> = catalog
                .tag_codes(seq)
                .map(|code| catalog.tag_values.names[code as usize].clone())
                .collect();
            names.sort();
            names
        };
        assert_eq!(names(&catalog, 1), ["a"]);
        assert_eq!(names(&catalog, 2), ["a", "b", "c", "d", "e", "f"]);
        assert!(names(&catalog, 3).is_empty());
        assert!(names(&catalog, 99).is_empty());

        // Item 2 read again with one tag: the six are gone from it and from the filters.
        catalog.forget_grants_and_tags(&[2].into_iter().collect());
        catalog
            .add_tags(vec![(2, "g".to_owned())])
            .expect("tags again");
        assert_eq!(names(&catalog, 2), ["g"]);
        assert_eq!(names(&catalog, 1), ["a"]);
        assert!(!catalog.tags["f"].contains(2) && catalog.tags["a"].contains(1));
        assert!(catalog.tags["g"].contains(2));
    }

    #[test]
    fn reading_an_older_item_after_tagging_a_newer_keeps_the_newer_tags() {
        let mut catalog = created_at(&[10]);
        catalog.add_tags(vec![(9, "t".to_owned())]).expect("tags");
        let at = chrono::DateTime::from_timestamp_micros(50)
            .expect("test instant")
            .naive_utc();
        let x = || "x".to_owned();
        catalog
            .set_facts(vec![(5, x(), x(), x(), x(), x(), at, true)])
            .expect("facts");
        assert_eq!(catalog.tag_codes(9).count(), 1);
        let matched: RoaringBitmap = [1, 5, 9].into_iter().collect();
        assert_eq!(
            catalog.count_codes(&matched, true).1,
            catalog.tag_counts_by_tag(&matched)
        );
    }

    #[test]
    fn tags_are_counted_alike_by_item_and_by_tag() {
        let mut catalog = created_at(&[1; 3000]);
        let mut rows = Vec::new();
        for seq in 1..=3000_i64 {
            // From no tag to seven (past the four kept inline), of 12.
            for t in 0..(seq * 7919 % 8) {
                rows.push((seq, format!("tag-{}", (seq + t * 5) % 12)));
            }
        }
        catalog.add_tags(rows).expect("tags");
        for matched in [
            RoaringBitmap::new(),
            (1..=3000).filter(|n| n % 97 == 0).collect(),
            (1..=3000).filter(|n| n % 3 != 0).collect(),
            (1..=3000).collect::<RoaringBitmap>(),
        ] {
            let (fields, by_item) = catalog.count_codes(&matched, true);
            assert_eq!(by_item, catalog.tag_counts_by_tag(&matched));
            assert_eq!(catalog.count_codes(&matched, false), (fields, by_item));
        }
        // Few matches are counted by item, nearly all by tag.
        assert!(catalog.tags_by_item(&(1..=30).collect()));
        assert!(!catalog.tags_by_item(&(1..=3000).collect()));
    }

    /// The newest by sorting every match and by walking the days, which must agree.
    fn both_ways(
        catalog: &Catalog,
        matched: &RoaringBitmap,
        n: usize,
        before: Option<Option<i64>>,
    ) -> (Vec<i64>, bool) {
        let sorted = catalog.newest_by(matched, n, before, true);
        let walked = catalog.newest_by(matched, n, before, false);
        assert_eq!(sorted, walked, "n {n}, before {before:?}");
        sorted
    }

    #[test]
    fn the_newest_are_named_newest_first_with_ties_at_the_boundary_and_the_cursor() {
        // Within one day, and spread over days (whole days are taken at a time).
        for unit in [1, DAY_MICROS / 2] {
            let (catalog, matched) = catalog(unit);
            // Plain window: exactly n, ties broken by seq.
            assert_eq!(
                both_ways(&catalog, &matched, 3, None),
                (vec![1, 8, 4], true)
            );
            // A page: every item at the boundary instant joins.
            assert_eq!(
                both_ways(&catalog, &matched, 2, Some(None)),
                (vec![1, 8, 4, 3, 2], true)
            );
            // After a cursor at 40: nothing newer, all of 40 (the cursor's own among them).
            assert_eq!(
                both_ways(&catalog, &matched, 1, Some(Some(40 * unit))),
                (vec![8, 4, 3, 2, 5], true)
            );
            assert_eq!(
                both_ways(&catalog, &matched, 9, Some(Some(40 * unit))),
                (vec![8, 4, 3, 2, 5, 6, 7], false)
            );
            assert_eq!(both_ways(&catalog, &matched, 0, None), (vec![], true));
            let from = Some(20 * unit);
            let to = Some(40 * unit);
            let within: Vec<u32> = catalog.created_within(&matched, from, to).iter().collect();
            assert_eq!(within, [5, 6], "from inclusive, to exclusive");
        }
    }

    #[test]
    fn a_page_among_too_many_ties_is_left_to_sql() {
        let mut catalog = Catalog::empty(0);
        let at = chrono::DateTime::from_timestamp_micros(7)
            .expect("test instant")
            .naive_utc();
        let rows: Vec<FactRow> = (1..=MAX_CANDIDATES as i64 + 1)
            .map(|seq| {
                let text = || "x".to_owned();
                (seq, text(), text(), text(), text(), text(), at, true)
            })
            .collect();
        catalog.set_facts(rows).expect("facts");
        let matched: RoaringBitmap = (1..=MAX_CANDIDATES as u32 + 1).collect();
        assert_eq!(both_ways(&catalog, &matched, 2, Some(None)), (vec![], true));
    }

    /// Many items over many days, with ties: sorting and walking name the same newest, for
    /// windows and pages, before and after cursors, subsets of the matches included.
    #[test]
    fn sorting_and_walking_the_days_agree_on_many_days_with_ties() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        // 600 items over 90 days, at one of 4 instants a day: plenty of ties.
        let instants: Vec<i64> = (0..600)
            .map(|_| next(90) as i64 * DAY_MICROS + next(4) as i64 * 1_000_000)
            .collect();
        let catalog = created_at(&instants);
        for keep in [1, 3, 17] {
            let matched: RoaringBitmap = (1..=600u32).filter(|seq| seq % keep == 0).collect();
            for n in [1, 2, 7, 25, 100, 599, 700] {
                both_ways(&catalog, &matched, n, None);
                both_ways(&catalog, &matched, n, Some(None));
                for _ in 0..10 {
                    let cursor = instants[next(600) as usize];
                    both_ways(&catalog, &matched, n, Some(Some(cursor)));
                }
            }
        }
    }
}
