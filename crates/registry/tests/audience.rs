//! The audience rules of DESIGN §4, checked against a plainly written oracle on random
//! organizations, groups, users and items, through the SQL every read path will use.

use std::collections::BTreeSet;

use compact_db::schema::{group_members, groups, organizations};
use compact_db::testing::TestDatabase;
use compact_db::{DbConnection, now};
use compact_registry::audience::{self, Recipients, Tlp, Viewer};
use diesel::prelude::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Item {
    owner: usize,
    author: usize,
    tlp: Tlp,
    orgs: BTreeSet<usize>,
    groups: BTreeSet<usize>,
    users: BTreeSet<usize>,
}

#[derive(Debug, Clone)]
struct World {
    /// Member organizations of each group.
    groups: Vec<BTreeSet<usize>>,
    /// The organization of each user.
    users: Vec<usize>,
    items: Vec<Item>,
}

const ORGS: usize = 4;

fn world() -> impl Strategy<Value = World> {
    let groups = prop::collection::vec(prop::collection::btree_set(0..ORGS, 0..=3), 0..=3);
    let users = prop::collection::vec(0..ORGS, 1..=6);
    (groups, users).prop_flat_map(|(groups, users)| {
        let (n_groups, n_users) = (groups.len(), users.len());
        let item = (
            0..ORGS,
            0..n_users,
            prop::sample::select(Tlp::ALL.to_vec()),
            prop::collection::btree_set(0..ORGS, 0..=2),
            if n_groups == 0 {
                Just(BTreeSet::new()).boxed()
            } else {
                prop::collection::btree_set(0..n_groups, 0..=2).boxed()
            },
            prop::collection::btree_set(0..n_users, 0..=2),
        )
            .prop_map(|(owner, author, tlp, orgs, groups, users)| Item {
                owner,
                author,
                tlp,
                orgs,
                groups,
                users,
            });
        prop::collection::vec(item, 1..=8).prop_map(move |items| World {
            groups: groups.clone(),
            users: users.clone(),
            items,
        })
    })
}

/// DESIGN §4, written out: `None` when the marking and recipients make no sense.
fn oracle_sensible(item: &Item) -> bool {
    match item.tlp {
        Tlp::Clear => item.orgs.is_empty() && item.groups.is_empty() && item.users.is_empty(),
        Tlp::Green | Tlp::Amber | Tlp::AmberStrict => item.users.is_empty(),
        Tlp::Red => item.orgs.is_empty() && item.groups.is_empty() && !item.users.is_empty(),
    }
}

fn oracle_sees(world: &World, item: &Item, viewer: Option<usize>) -> bool {
    let Some(user) = viewer else {
        return item.tlp == Tlp::Clear;
    };
    let org = world.users[user];
    let in_named_orgs = org == item.owner
        || item.orgs.contains(&org)
        || item.groups.iter().any(|g| world.groups[*g].contains(&org));
    match item.tlp {
        Tlp::Clear => true,
        Tlp::Green => (item.orgs.is_empty() && item.groups.is_empty()) || in_named_orgs,
        Tlp::Amber | Tlp::AmberStrict => in_named_orgs,
        Tlp::Red => user == item.author || item.users.contains(&user),
    }
}

fn insert_world(conn: &mut DbConnection, world: &World, run: &str) -> (Vec<String>, Vec<String>) {
    let at = now();
    let orgs: Vec<String> = (0..ORGS).map(|i| format!("org-{run}-{i}")).collect();
    for (i, id) in orgs.iter().enumerate() {
        diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(id),
                organizations::name.eq(id),
                organizations::acronym.eq(format!("A{run}{i}")),
                organizations::acronym_normalized.eq(format!("A{run}{i}").to_uppercase()),
                organizations::kind.eq("member_state"),
                organizations::un_system.eq(false),
                organizations::status.eq("active"),
                organizations::email_domains.eq(""),
                organizations::created_at.eq(at),
                organizations::updated_at.eq(at),
            ))
            .execute(conn)
            .expect("organization");
    }
    let mut group_ids = Vec::new();
    for (g, members) in world.groups.iter().enumerate() {
        let id = format!("group-{run}-{g}");
        diesel::insert_into(groups::table)
            .values((
                groups::id.eq(&id),
                groups::name.eq(&id),
                groups::name_normalized.eq(&id),
                groups::kind.eq("sharing_circle"),
                groups::description.eq(""),
                groups::created_at.eq(at),
                groups::updated_at.eq(at),
            ))
            .execute(conn)
            .expect("group");
        for m in members {
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(&id),
                    group_members::organization_id.eq(&orgs[*m]),
                    group_members::added_at.eq(at),
                ))
                .execute(conn)
                .expect("member");
        }
        group_ids.push(id);
    }
    (orgs, group_ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn sql_audiences_match_the_design(world in world()) {
        thread_local! {
            static DB: (TestDatabase, compact_db::Database) = TestDatabase::migrated();
        }
        DB.with(|(_, db)| {
            let mut conn = db.get().expect("connection");
            let run = uuid::Uuid::new_v4().simple().to_string();
            let (orgs, group_ids) = insert_world(&mut conn, &world, &run);
            let user_id = |u: usize| format!("user-{run}-{u}");
            let mut stored = Vec::new();
            for (n, item) in world.items.iter().enumerate() {
                let recipients = Recipients {
                    organizations: item.orgs.iter().map(|o| orgs[*o].clone()).collect(),
                    groups: item.groups.iter().map(|g| group_ids[*g].clone()).collect(),
                    users: item.users.iter().map(|u| user_id(*u)).collect(),
                };
                let grants = audience::grants(item.tlp, &orgs[item.owner], &user_id(item.author), &recipients);
                prop_assert_eq!(grants.is_ok(), oracle_sensible(item), "{:?}", item);
                if let Ok(grants) = grants {
                    let id = format!("item-{run}-{n}");
                    audience::write_grants(&mut conn, "document", &id, &grants).expect("grants");
                    stored.push((id, item.clone()));
                }
            }
            let viewers: Vec<Option<usize>> = std::iter::once(None).chain((0..world.users.len()).map(Some)).collect();
            for viewer in viewers {
                let as_viewer = match viewer {
                    None => Viewer::Anonymous,
                    Some(u) => Viewer::User { user_id: user_id(u), org_id: orgs[world.users[u]].clone() },
                };
                let seen: BTreeSet<String> = audience::visible_item_ids(&mut conn, &as_viewer, &["document"])
                    .expect("visible")
                    .into_iter()
                    .filter(|id| id.starts_with(&format!("item-{run}-")))
                    .collect();
                let expected: BTreeSet<String> =
                    stored.iter().filter(|(_, item)| oracle_sees(&world, item, viewer)).map(|(id, _)| id.clone()).collect();
                prop_assert_eq!(&seen, &expected, "viewer {:?}", viewer);
                for (id, item) in &stored {
                    let can = audience::can_see(&mut conn, &as_viewer, "document", id).expect("can see");
                    prop_assert_eq!(can, oracle_sees(&world, item, viewer));
                }
            }
            Ok(())
        })?;
    }
}
