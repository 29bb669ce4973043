//! A property test of DESIGN §4 over HTTP: random organizations, groups, users and items
//! with random TLP markings and recipients; every read route's answer — get, list, feed,
//! search hits, totals and facets, versions, export — is checked against a plainly
//! written oracle of the TLP table, for every user and for an anonymous caller.

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use support::TestApp;

const TLPS: [&str; 5] = ["clear", "green", "amber", "amber_strict", "red"];

#[derive(Debug, Clone)]
struct UserSpec {
    org: usize,
    writer: bool,
    deactivated: bool,
}

#[derive(Debug, Clone)]
struct ItemSpec {
    author: usize,
    update: bool,
    tlp: usize,
    orgs: Vec<usize>,
    groups: Vec<usize>,
    users: Vec<usize>,
}

#[derive(Debug, Clone)]
struct WorldSpec {
    orgs: usize,
    groups: Vec<Vec<usize>>,
    users: Vec<UserSpec>,
    suspended: Option<usize>,
    items: Vec<ItemSpec>,
}

fn world() -> impl Strategy<Value = WorldSpec> {
    (3usize..=5).prop_flat_map(|orgs| {
        let groups = prop::collection::vec(prop::collection::vec(0..orgs, 1..=3), 0..=2);
        let users = prop::collection::vec(
            (0..orgs, any::<bool>(), prop::bool::weighted(0.15)).prop_map(
                |(org, writer, deactivated)| UserSpec {
                    org,
                    writer,
                    deactivated,
                },
            ),
            3..=7,
        );
        let items = prop::collection::vec(
            (
                0usize..16,
                any::<bool>(),
                0..TLPS.len(),
                prop::collection::vec(0..orgs, 0..=2),
                prop::collection::vec(0usize..2, 0..=1),
                prop::collection::vec(0usize..16, 0..=2),
            )
                .prop_map(|(author, update, tlp, orgs, groups, users)| ItemSpec {
                    author,
                    update,
                    tlp,
                    orgs,
                    groups,
                    users,
                }),
            1..=6,
        );
        let suspended = prop::option::weighted(0.3, 0..orgs);
        (Just(orgs), groups, users, suspended, items).prop_map(
            |(orgs, groups, users, suspended, items)| WorldSpec {
                orgs,
                groups,
                users,
                suspended,
                items,
            },
        )
    })
}

/// An item as created: whose it is and whom it names, after making the combination valid.
#[derive(Debug, Clone)]
struct Shared {
    id: String,
    update: bool,
    tlp: &'static str,
    author: usize,
    owner_org: usize,
    orgs: BTreeSet<usize>,
    groups: BTreeSet<usize>,
    users: BTreeSet<usize>,
}

/// The oracle: DESIGN §4's table, written plainly. `reader` None is anonymous.
fn oracle_sees(world: &WorldSpec, reader: Option<usize>, item: &Shared) -> bool {
    let Some(u) = reader else {
        return item.tlp == "clear";
    };
    let user = &world.users[u];
    if user.deactivated || world.suspended == Some(user.org) {
        return false;
    }
    let in_group = |g: &usize| world.groups[*g].contains(&user.org);
    match item.tlp {
        "clear" => true,
        "green" if item.orgs.is_empty() && item.groups.is_empty() => true,
        "green" | "amber" | "amber_strict" => {
            user.org == item.owner_org
                || item.orgs.contains(&user.org)
                || item.groups.iter().any(in_group)
        }
        "red" => u == item.author || item.users.contains(&u),
        _ => unreachable!(),
    }
}

async fn check(spec: WorldSpec) {
    let app = TestApp::spawn().await;
    let orgs: Vec<String> = (0..spec.orgs)
        .map(|i| app.create_org(&format!("ORG{i}"), "compact_entity"))
        .collect();
    let groups: Vec<String> = spec
        .groups
        .iter()
        .enumerate()
        .map(|(i, members)| {
            let members: BTreeSet<&str> = members.iter().map(|m| orgs[*m].as_str()).collect();
            app.create_group(
                &format!("Group {i}"),
                &members.into_iter().collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut user_ids = Vec::new();
    let mut tokens = Vec::new();
    for (i, user) in spec.users.iter().enumerate() {
        let email = format!("user{i}@example.org");
        let role = if user.writer { "focal_point" } else { "member" };
        user_ids.push(app.create_user(&orgs[user.org], &email, role));
        tokens.push(app.tokens(&email).await.0);
    }
    let writers: Vec<usize> = (0..spec.users.len())
        .filter(|u| spec.users[*u].writer)
        .collect();
    let mut shared = Vec::new();
    if !writers.is_empty() {
        for (n, item) in spec.items.iter().enumerate() {
            let author = writers[item.author % writers.len()];
            let tlp = TLPS[item.tlp];
            let mut made = Shared {
                id: String::new(),
                update: item.update,
                tlp,
                author,
                owner_org: spec.users[author].org,
                orgs: BTreeSet::new(),
                groups: BTreeSet::new(),
                users: BTreeSet::new(),
            };
            match tlp {
                "clear" => {}
                "red" => {
                    made.users = item.users.iter().map(|u| u % spec.users.len()).collect();
                    if made.users.is_empty() {
                        made.users.insert(author);
                    }
                }
                _ => {
                    made.orgs = item.orgs.iter().copied().collect();
                    if !groups.is_empty() {
                        made.groups = item.groups.iter().map(|g| g % groups.len()).collect();
                    }
                }
            }
            let recipients = json!({
                "organizations": made.orgs.iter().map(|o| &orgs[*o]).collect::<Vec<_>>(),
                "groups": made.groups.iter().map(|g| &groups[*g]).collect::<Vec<_>>(),
                "users": made.users.iter().map(|u| &user_ids[*u]).collect::<Vec<_>>(),
            });
            let (path, body) = if item.update {
                (
                    "/api/v1/updates",
                    json!({ "title": format!("Item {n}"), "body": "needle text", "tlp": tlp, "recipients": recipients }),
                )
            } else {
                (
                    "/api/v1/documents",
                    json!({ "title": format!("Item {n}"), "body": "needle text", "language": "en", "type": "report", "tlp": tlp, "recipients": recipients }),
                )
            };
            let response = app.post_json(path, Some(&tokens[author]), body).await;
            assert_eq!(response.status(), 201, "{tlp} {recipients}");
            let created: Value = response.json().await.expect("json");
            made.id = created["id"].as_str().expect("id").to_owned();
            shared.push(made);
        }
    }
    // Cut off after sharing (recipients had to be active to be named).
    let deactivated: Vec<String> = (0..spec.users.len())
        .filter(|u| spec.users[*u].deactivated)
        .map(|u| user_ids[u].clone())
        .collect();
    let suspended: Vec<String> = spec
        .suspended
        .map(|o| orgs[o].clone())
        .into_iter()
        .collect();
    app.cut_off(&deactivated, &suspended);

    let readers: Vec<Option<usize>> = std::iter::once(None)
        .chain((0..spec.users.len()).map(Some))
        .collect();
    for reader in readers {
        let token = reader.map(|u| tokens[u].as_str());
        let cut_off = reader.is_some_and(|u| {
            spec.users[u].deactivated || spec.suspended == Some(spec.users[u].org)
        });
        let expected = |update: bool| -> BTreeSet<String> {
            shared
                .iter()
                .filter(|i| i.update == update && oracle_sees(&spec, reader, i))
                .map(|i| i.id.clone())
                .collect()
        };
        let app = &app;
        let get = |path: String| {
            let mut request = app.client.get(app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            async move { request.send().await.expect("request") }
        };
        for (path, update) in [
            ("/api/v1/documents?limit=100", false),
            ("/api/v1/updates?limit=100", true),
        ] {
            let response = get(path.to_owned()).await;
            if cut_off {
                assert_eq!(response.status(), 401);
                continue;
            }
            let page: Value = response.json().await.expect("json");
            let seen: BTreeSet<String> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned())
                .collect();
            assert_eq!(seen, expected(update), "{path} for {reader:?} in {spec:?}");
        }
        for item in &shared {
            let kind = if item.update { "updates" } else { "documents" };
            let status = get(format!("/api/v1/{kind}/{}", item.id))
                .await
                .status()
                .as_u16();
            let want = if cut_off {
                401
            } else if oracle_sees(&spec, reader, item) {
                200
            } else {
                404
            };
            assert_eq!(
                status, want,
                "GET {kind} {} ({}) for {reader:?}",
                item.id, item.tlp
            );
            if !item.update {
                let status = get(format!("/api/v1/documents/{}/attachments", item.id))
                    .await
                    .status()
                    .as_u16();
                assert_eq!(status, want, "attachments of {} for {reader:?}", item.id);
            }
            if !item.update && reader.is_some() {
                let status = get(format!("/api/v1/documents/{}/versions", item.id))
                    .await
                    .status()
                    .as_u16();
                assert_eq!(status, want, "versions of {} for {reader:?}", item.id);
            }
        }
        if reader.is_none() || cut_off {
            continue;
        }
        let mut all = expected(false);
        all.extend(expected(true));
        let results: Value = get("/api/v1/search?q=needle&limit=100".to_owned())
            .await
            .json()
            .await
            .expect("json");
        let hits: BTreeSet<String> = results["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().expect("id").to_owned())
            .collect();
        assert_eq!(hits, all, "search for {reader:?}");
        assert_eq!(results["total"], all.len(), "total for {reader:?}");
        for facet in ["kind", "tlp", "organization", "language"] {
            let sum: i64 = results["facets"][facet]
                .as_array()
                .expect("facet")
                .iter()
                .map(|c| c["count"].as_i64().expect("n"))
                .sum();
            assert_eq!(sum as usize, all.len(), "{facet} facet for {reader:?}");
        }
        let export = get("/api/v1/search/export?format=jsonl&q=needle".to_owned())
            .await
            .text()
            .await
            .expect("export");
        let exported: BTreeSet<String> = support::jsonl_ids(&export).into_iter().collect();
        assert_eq!(exported, all, "export for {reader:?}");
    }
}

#[test]
fn every_read_route_agrees_with_the_tlp_oracle() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let cases = std::env::var("AUDIENCE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 16,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&world(), |spec| {
            runtime.block_on(check(spec));
            Ok(())
        })
        .expect("the routes agree with the oracle");
}
