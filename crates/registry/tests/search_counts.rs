//! The count index (`search::counts`) gives the very totals and facets the plain SQL count
//! gives, for every viewer and filter, and keeps giving them while items are created,
//! edited, re-marked and deleted and while group memberships change: it only re-reads
//! what changed, so each kind of change is checked against a warm index.

mod support;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use compact_auth::{Principal, Role};
use compact_db::schema::{group_members, groups, item_search_map, items, users};
use compact_db::testing::TestDatabase;
use compact_db::{Backend, DbConnection};
use compact_registry::audience::{Recipients, Tlp};
use compact_registry::items as shared;
use compact_registry::items::edit::{self, ItemPatch};
use compact_registry::items::{ItemInput, ItemKind};
use compact_registry::search::counts::CountIndex;
use compact_registry::search::query::TextQuery;
use compact_registry::search::text::Language;
use compact_registry::search::{self, Filters, SearchRequest};

struct Fixture {
    viewers: Vec<Principal>,
    requests: Vec<SearchRequest>,
}

fn principal(user_id: &str, org_id: &str) -> Principal {
    Principal {
        user_id: user_id.into(),
        org_id: org_id.into(),
        role: Role::Coordinator,
        api_key: None,
        mfa_satisfied: true,
    }
}

/// Every active user and their organization, by id.
fn active_people(conn: &mut DbConnection) -> Vec<(String, String)> {
    users::table
        .filter(users::status.eq("active"))
        .select((users::id, users::organization_id))
        .order(users::id)
        .load(conn)
        .expect("users")
}

/// One user of each of several organizations, and searches with every kind of filter over
/// words the demo items hold.
fn fixture(conn: &mut DbConnection) -> Fixture {
    let people = active_people(conn);
    let mut viewers: Vec<Principal> = Vec::new();
    for (user, org) in &people {
        if !viewers.iter().any(|v| &v.org_id == org) && viewers.len() < 6 {
            viewers.push(principal(user, org));
        }
    }
    let titles: Vec<String> = items::table
        .select(items::title)
        .order(items::created_at)
        .load(conn)
        .expect("titles");
    let mut words: Vec<String> = Vec::new();
    for title in titles.iter().step_by(3) {
        if let Some(word) = title.split_whitespace().find(|w| w.chars().count() >= 5) {
            let word: String = word.chars().filter(|c| c.is_alphanumeric()).collect();
            if !word.is_empty() && !words.contains(&word) && words.len() < 6 {
                words.push(word);
            }
        }
    }
    // The word the test's own items carry, so edits move them in and out of its matches.
    words.push("zebrafinch".into());
    let group: String = groups::table
        .select(groups::id)
        .order(groups::id)
        .first(conn)
        .expect("a demo group");
    let (org, created): (String, NaiveDateTime) = items::table
        .select((items::owner_org_id, items::created_at))
        .order(items::created_at)
        .first(conn)
        .expect("an item");
    let filters = [
        Filters::default(),
        Filters {
            tlp: Some(Tlp::Amber),
            ..Filters::default()
        },
        Filters {
            language: Some(Language::Fr),
            ..Filters::default()
        },
        Filters {
            kind: Some(ItemKind::Update),
            ..Filters::default()
        },
        Filters {
            group: Some(group),
            ..Filters::default()
        },
        Filters {
            tag: Some("zebra-tag".into()),
            ..Filters::default()
        },
        Filters {
            organization: Some(org),
            from: Some(created),
            ..Filters::default()
        },
    ];
    let texts = std::iter::once(None).chain(words.iter().map(|w| Some(w.as_str())));
    let mut requests = Vec::new();
    for text in texts {
        for filters in &filters {
            requests.push(SearchRequest {
                text: text.map(|t| TextQuery::parse(t).expect("a word parses")),
                filters: filters.clone(),
                limit: 5,
                ..SearchRequest::default()
            });
        }
    }
    Fixture { viewers, requests }
}

/// Every viewer's every search: the index's counts are the SQL's.
fn assert_counts_agree(conn: &mut DbConnection, index: &CountIndex, fixture: &Fixture, when: &str) {
    let mut compared = 0;
    for viewer in &fixture.viewers {
        for request in &fixture.requests {
            let expected = search::count_in_sql(conn, viewer, request).expect("SQL count");
            let found = search::search(conn, index, viewer, request).expect("search");
            assert_eq!(
                (found.total, &found.facets),
                (expected.0, &expected.1),
                "{when}: viewer {} searching {:?} {:?}",
                viewer.user_id,
                request.text.as_ref().map(|t| t.to_websearch()),
                request.filters
            );
            compared += usize::from(expected.0 > 0);
        }
    }
    assert!(
        compared > 20,
        "{when}: too few searches found anything ({compared})"
    );
}

/// A zebrafinch update by `author`, shared with `recipients` under `tlp`.
fn create_update(
    conn: &mut DbConnection,
    mail: &compact_auth::accounts::MailContext,
    author: &Principal,
    tlp: Tlp,
    recipients: Recipients,
    language: Language,
) -> shared::Created {
    shared::create(
        conn,
        author,
        ItemKind::Update,
        &input(tlp, recipients, language),
        None,
        mail,
        &author.audit_actor(None, None),
    )
    .expect("created")
}

fn input(tlp: Tlp, recipients: Recipients, language: Language) -> ItemInput {
    ItemInput {
        title: "Zebrafinch migration report".into(),
        summary: "Sightings across the region".into(),
        body: "The zebrafinch was seen again.".into(),
        language,
        doc_type: None,
        tags: vec!["zebra-tag".into()],
        tlp,
        recipients,
    }
}

#[test]
fn the_count_index_agrees_with_sql_through_every_kind_of_change() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let mail = support::seed_demo(conn);
    let fixture = fixture(conn);
    let index = CountIndex::default();
    assert_counts_agree(conn, &index, &fixture, "demo data");
    // The same searches again, with nothing written (from the counts cache, if it works).
    assert_counts_agree(conn, &index, &fixture, "demo data, asked again");

    // New items: for everyone, for a group, for named users.
    let author = fixture.viewers[0].clone();
    let other = fixture.viewers[1].clone();
    let actor = author.audit_actor(None, None);
    let group: String = groups::table
        .select(groups::id)
        .order(groups::id)
        .first(conn)
        .expect("a group");
    let for_group = Recipients {
        groups: [group.clone()].into(),
        ..Recipients::default()
    };
    let for_other = Recipients {
        users: [other.user_id.clone()].into(),
        ..Recipients::default()
    };
    let mut created = Vec::new();
    for (tlp, recipients, language) in [
        (Tlp::Clear, Recipients::default(), Language::En),
        (Tlp::Amber, for_group.clone(), Language::Fr),
        (Tlp::Red, for_other, Language::En),
    ] {
        let item = create_update(conn, &mail, &author, tlp, recipients, language);
        created.push(item.item);
    }
    assert_counts_agree(conn, &index, &fixture, "after creating");

    // Edits: out of the text's matches and into another language; re-marked narrower.
    let first = &created[0];
    edit::update(
        conn,
        &author,
        ItemKind::Update,
        &first.row.id,
        &first.etag(),
        ItemPatch {
            title: Some("Heron migration report".into()),
            body: Some("A heron was seen.".into()),
            language: Some(Language::Es),
            tags: Some(vec!["heron-tag".into()]),
            ..ItemPatch::default()
        },
        &mail,
        &actor,
    )
    .expect("edited");
    let second = &created[1];
    edit::update(
        conn,
        &author,
        ItemKind::Update,
        &second.row.id,
        &second.etag(),
        ItemPatch {
            tlp: Some(Tlp::AmberStrict),
            recipients: Some(Recipients::default()),
            ..ItemPatch::default()
        },
        &mail,
        &actor,
    )
    .expect("re-marked");
    assert_counts_agree(conn, &index, &fixture, "after editing");

    // A deletion.
    edit::delete(
        conn,
        &author,
        ItemKind::Update,
        &created[2].row.id,
        None,
        &actor,
    )
    .expect("deleted");
    assert_counts_agree(conn, &index, &fixture, "after deleting");

    // Group membership changes no item, yet widens what the new member's users see.
    for viewer in &fixture.viewers {
        let theirs = group_members::table
            .filter(group_members::group_id.eq(&group))
            .filter(group_members::organization_id.eq(&viewer.org_id));
        diesel::delete(theirs)
            .execute(conn)
            .expect("no double membership");
        diesel::insert_into(group_members::table)
            .values((
                group_members::group_id.eq(&group),
                group_members::organization_id.eq(&viewer.org_id),
                group_members::added_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(conn)
            .expect("membership");
    }
    assert_counts_agree(conn, &index, &fixture, "after joining a group");

    // A fresh index loads the same state whole.
    assert_counts_agree(conn, &CountIndex::default(), &fixture, "loaded anew");
}

/// An item the count index cannot hold (its `seq` past `u32::MAX`, as a database restored
/// with odd sequences might give): searches count in SQL instead, exactly, and still find it.
#[test]
fn searches_count_in_sql_when_the_count_index_cannot_hold_an_item() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let mail = support::seed_demo(conn);
    let fixture = fixture(conn);
    let warm = CountIndex::default();
    assert_counts_agree(conn, &warm, &fixture, "before");

    let author = fixture.viewers[0].clone();
    let created = create_update(
        conn,
        &mail,
        &author,
        Tlp::Clear,
        Recipients::default(),
        Language::En,
    )
    .item;
    let past_u32 = i64::from(u32::MAX) + 10;
    diesel::update(items::table.filter(items::id.eq(&created.row.id)))
        .set(items::seq.eq(past_u32))
        .execute(conn)
        .expect("seq moved");
    // SQLite's index map keeps the item's number too (as if it had been created so).
    if db.backend() == Backend::Sqlite {
        diesel::update(item_search_map::table.filter(item_search_map::item_id.eq(&created.row.id)))
            .set(item_search_map::item_seq.eq(past_u32))
            .execute(conn)
            .expect("map moved");
    }

    assert_eq!(warm.limited(), None);
    assert_counts_agree(conn, &warm, &fixture, "warm index, an item past u32::MAX");
    let fresh = CountIndex::default();
    assert_counts_agree(conn, &fresh, &fixture, "fresh index, an item past u32::MAX");
    // Both counted in SQL, and know why.
    for index in [&warm, &fresh] {
        let reason = index.limited().expect("counting in SQL");
        assert!(reason.contains("past u32::MAX"), "{reason}");
    }
    for sort in [search::Sort::Relevance, search::Sort::Newest] {
        let request = SearchRequest {
            text: Some(TextQuery::parse("zebrafinch").expect("a word parses")),
            sort,
            limit: 5,
            ..SearchRequest::default()
        };
        let found = search::search(conn, &fresh, &author, &request).expect("search");
        assert_eq!(found.total, 1, "{sort:?}");
        let ids: Vec<&str> = found.hits.iter().map(|h| h.item.row.id.as_str()).collect();
        assert_eq!(ids, [created.row.id.as_str()], "{sort:?}");
    }
}

#[test]
fn a_warmed_index_holds_every_live_item_and_counts_what_came_after() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let mail = support::seed_demo(conn);
    let fixture = fixture(conn);
    let live = |conn: &mut DbConnection| -> u64 {
        let n: i64 = items::table
            .filter(items::deleted_at.is_null())
            .count()
            .get_result(conn)
            .expect("count");
        n as u64
    };
    let index = CountIndex::default();
    assert_eq!(index.held_items_now(), Some(0), "nothing before warming");
    assert_eq!(index.held_bytes_now(), Some(0));
    let held = index.warm(conn).expect("warmed");
    assert_eq!(held, live(conn));
    assert_eq!(index.held_items_now(), Some(held));
    // At least each item's creation instant and field codes (8 + 18 bytes).
    let bytes = index.held_bytes_now().expect("not held by a load");
    assert!(bytes >= held * 26, "{bytes} bytes for {held} items");
    // Warming again reads nothing new.
    assert_eq!(index.warm(conn).expect("warm again"), held);

    let author = fixture.viewers[0].clone();
    create_update(
        conn,
        &mail,
        &author,
        Tlp::Clear,
        Recipients::default(),
        Language::En,
    );
    assert_counts_agree(conn, &index, &fixture, "an item created after warming");
    assert_eq!(index.held_items_now(), Some(held + 1));
    assert_eq!(live(conn), held + 1);
}

/// Counts are kept per user, not per organization: an item granted to one named user is in
/// their counts and not in those of a colleague who asks the same right after.
#[test]
fn counts_kept_for_one_user_are_not_given_to_a_colleague() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut pooled = db.get().expect("connection");
    let conn: &mut DbConnection = &mut pooled;
    let mail = support::seed_demo(conn);
    let people = active_people(conn);
    let (named, colleague) = people
        .iter()
        .find_map(|(user, org)| {
            people
                .iter()
                .find(|(other, other_org)| other_org == org && other != user)
                .map(|(other, _)| (principal(user, org), principal(other, org)))
        })
        .expect("two users of one organization");
    let (author, author_org) = people
        .iter()
        .find(|(_, org)| *org != named.org_id)
        .expect("a user of another organization");
    let author = principal(author, author_org);
    let for_one = Recipients {
        users: [named.user_id.clone()].into(),
        ..Recipients::default()
    };
    create_update(conn, &mail, &author, Tlp::Red, for_one, Language::En);
    let request = SearchRequest {
        text: Some(TextQuery::parse("zebrafinch").expect("a word parses")),
        limit: 5,
        ..SearchRequest::default()
    };
    let index = CountIndex::default();
    // Each asks twice, the colleague right after the named user: the second answers come
    // from the cache.
    for _ in 0..2 {
        for (viewer, expected) in [(&named, 1), (&colleague, 0)] {
            let found = search::search(conn, &index, viewer, &request).expect("search");
            assert_eq!(found.total, expected, "{}", viewer.user_id);
            assert_eq!(found.hits.len() as i64, expected, "{}", viewer.user_id);
            let in_sql = search::count_in_sql(conn, viewer, &request).expect("SQL count");
            assert_eq!((found.total, &found.facets), (in_sql.0, &in_sql.1));
        }
    }
}
