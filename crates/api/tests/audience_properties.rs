//! A property test of DESIGN §4 over HTTP: random organizations, groups, users and items
//! with random TLP markings, recipients, tags and types; random edits (re-marking and
//! re-addressing among them) by owners and by others; attachments; deletions. Every route's
//! answer — get, list, feed and its `since=` polling, search hits, totals and facets,
//! versions, attachments, JSON Lines and CSV exports, the status of every write, and the
//! notices in the mail outbox — is checked against a plainly written oracle of the TLP
//! table, for every user and for an anonymous caller.
//!
//! The oracle below is written from DESIGN §4 and docs/documents.md only; it calls nothing
//! of `compact_registry`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{Value, json};
use support::TestApp;
use support::matrix_extra::{self as extra, REFUSED_BYTES};

const TLPS: [&str; 5] = ["clear", "green", "amber", "amber_strict", "red"];
const TAGS: [&str; 3] = ["alpha", "beta", "gamma"];
const DOC_TYPES: [&str; 3] = ["report", "assessment", "guidance"];

#[derive(Debug, Clone)]
struct UserSpec {
    org: usize,
    writer: bool,
    deactivated: bool,
}

/// A marking as generated; made valid (see [`State::of`]) when it is used.
#[derive(Debug, Clone)]
struct MarkingSpec {
    tlp: usize,
    orgs: Vec<usize>,
    groups: Vec<usize>,
    users: Vec<usize>,
    tags: Vec<usize>,
    doc_type: usize,
}

#[derive(Debug, Clone)]
struct ItemSpec {
    author: usize,
    update: bool,
    marking: MarkingSpec,
    attach: bool,
    delete: bool,
}

/// An edit of `item` by a user of the owner organization (`by_owner`) or by anyone.
#[derive(Debug, Clone)]
struct EditSpec {
    item: usize,
    by_owner: bool,
    editor: usize,
    marking: MarkingSpec,
}

#[derive(Debug, Clone)]
struct WorldSpec {
    orgs: usize,
    groups: Vec<Vec<usize>>,
    users: Vec<UserSpec>,
    suspended: Option<usize>,
    items: Vec<ItemSpec>,
    edits: Vec<EditSpec>,
}

fn marking(orgs: usize) -> impl Strategy<Value = MarkingSpec> {
    (
        0..TLPS.len(),
        prop::collection::vec(0..orgs, 0..=2),
        prop::collection::vec(0usize..2, 0..=1),
        prop::collection::vec(0usize..16, 0..=2),
        prop::collection::vec(0..TAGS.len(), 0..=2),
        0..DOC_TYPES.len(),
    )
        .prop_map(|(tlp, orgs, groups, users, tags, doc_type)| MarkingSpec {
            tlp,
            orgs,
            groups,
            users,
            tags,
            doc_type,
        })
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
                marking(orgs),
                any::<bool>(),
                prop::bool::weighted(0.15),
            )
                .prop_map(|(author, update, marking, attach, delete)| ItemSpec {
                    author,
                    update,
                    marking,
                    attach,
                    delete,
                }),
            1..=6,
        );
        let edits = prop::collection::vec(
            (
                0usize..16,
                prop::bool::weighted(0.75),
                0usize..16,
                marking(orgs),
            )
                .prop_map(|(item, by_owner, editor, marking)| EditSpec {
                    item,
                    by_owner,
                    editor,
                    marking,
                }),
            0..=5,
        );
        let suspended = prop::option::weighted(0.3, 0..orgs);
        (Just(orgs), groups, users, suspended, items, edits).prop_map(
            |(orgs, groups, users, suspended, items, edits)| WorldSpec {
                orgs,
                groups,
                users,
                suspended,
                items,
                edits,
            },
        )
    })
}

/// One state of an item: what it was marked, whom it named, how it was tagged.
#[derive(Debug, Clone)]
struct State {
    title: String,
    tlp: &'static str,
    orgs: BTreeSet<usize>,
    groups: BTreeSet<usize>,
    users: BTreeSet<usize>,
    tags: BTreeSet<&'static str>,
    doc_type: &'static str,
}

impl State {
    /// The generated marking made valid: no recipients on CLEAR, users only (at least one)
    /// on RED, organizations and groups only on GREEN and AMBER.
    fn of(
        spec: &MarkingSpec,
        title: String,
        update: bool,
        author: usize,
        users: usize,
        groups: usize,
    ) -> State {
        let tlp = TLPS[spec.tlp];
        let mut state = State {
            title,
            tlp,
            orgs: BTreeSet::new(),
            groups: BTreeSet::new(),
            users: BTreeSet::new(),
            tags: spec.tags.iter().map(|t| TAGS[*t]).collect(),
            doc_type: if update {
                "update"
            } else {
                DOC_TYPES[spec.doc_type]
            },
        };
        match tlp {
            "clear" => {}
            "red" => {
                state.users = spec.users.iter().map(|u| u % users).collect();
                if state.users.is_empty() {
                    state.users.insert(author);
                }
            }
            _ => {
                state.orgs = spec.orgs.iter().copied().collect();
                if groups > 0 {
                    state.groups = spec.groups.iter().map(|g| g % groups).collect();
                }
            }
        }
        state
    }

    fn label(&self) -> &'static str {
        match self.tlp {
            "clear" => "TLP:CLEAR",
            "green" => "TLP:GREEN",
            "amber" => "TLP:AMBER",
            "amber_strict" => "TLP:AMBER+STRICT",
            "red" => "TLP:RED",
            _ => unreachable!(),
        }
    }
}

/// An item as shared: whose it is, and every state it has been in (the last is current).
#[derive(Debug, Clone)]
struct Shared {
    id: String,
    update: bool,
    author: usize,
    owner_org: usize,
    history: Vec<State>,
    attachment: Option<(String, Vec<u8>)>,
    deleted: bool,
    created_at: DateTime<Utc>,
}

impl Shared {
    fn current(&self) -> &State {
        self.history.last().expect("a state")
    }
    fn kind(&self) -> &'static str {
        if self.update { "updates" } else { "documents" }
    }
    fn path(&self) -> String {
        format!("/api/v1/{}/{}", self.kind(), self.id)
    }
}

/// Who asks: nobody, a deactivated user or one of a suspended organization, or an active
/// user.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Anonymous,
    CutOff(usize),
    Active(usize),
}

impl Reader {
    fn of(world: &WorldSpec, user: usize) -> Reader {
        let spec = &world.users[user];
        if spec.deactivated || world.suspended == Some(spec.org) {
            Reader::CutOff(user)
        } else {
            Reader::Active(user)
        }
    }
}

// ---- The oracle: DESIGN §4 (and §2's permission table), written plainly. ----

/// Whether the active user `u` is in the audience of `item` in `state`.
fn in_audience(world: &WorldSpec, u: usize, item: &Shared, state: &State) -> bool {
    let org = world.users[u].org;
    let addressed = || {
        org == item.owner_org
            || state.orgs.contains(&org)
            || state.groups.iter().any(|g| world.groups[*g].contains(&org))
    };
    match state.tlp {
        "clear" => true,
        "green" if state.orgs.is_empty() && state.groups.is_empty() => true,
        "green" | "amber" | "amber_strict" => addressed(),
        "red" => u == item.author || state.users.contains(&u),
        _ => unreachable!(),
    }
}

/// Whether `reader` sees `item` in `state`: deleted items and cut-off users see nothing,
/// the anonymous public sees TLP:CLEAR only.
fn sees(world: &WorldSpec, reader: Reader, item: &Shared, state: &State) -> bool {
    if item.deleted {
        return false;
    }
    match reader {
        Reader::Anonymous => state.tlp == "clear",
        Reader::CutOff(_) => false,
        Reader::Active(u) => in_audience(world, u, item, state),
    }
}

fn sees_now(world: &WorldSpec, reader: Reader, item: &Shared) -> bool {
    sees(world, reader, item, item.current())
}

/// A read by id: 401 for a refused credential, else 200 or 404 (never 403: an item one
/// may not see is not admitted to exist).
fn read_status(world: &WorldSpec, reader: Reader, item: &Shared) -> u16 {
    match reader {
        Reader::CutOff(_) => 401,
        _ if sees_now(world, reader, item) => 200,
        _ => 404,
    }
}

/// The earlier versions `reader` gets, newest first, as (version, TLP); None for a 404.
/// A version is shown to whoever sees the item now and was in that version's audience.
fn versions_seen(world: &WorldSpec, reader: Reader, item: &Shared) -> Option<Vec<(i64, String)>> {
    if !sees_now(world, reader, item) {
        return None;
    }
    let earlier = &item.history[..item.history.len() - 1];
    Some(
        earlier
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, state)| sees(world, reader, item, state))
            .map(|(i, state)| (i as i64 + 1, state.tlp.to_owned()))
            .collect(),
    )
}

/// An edit, deletion or upload: signed-in writers only (403 for members), then 404 for
/// what one does not see, 403 for another organization's item, else `authorized`.
fn write_status(world: &WorldSpec, reader: Reader, item: &Shared, authorized: u16) -> u16 {
    let u = match reader {
        Reader::Anonymous | Reader::CutOff(_) => return 401,
        Reader::Active(u) => u,
    };
    if !world.users[u].writer {
        403
    } else if !sees_now(world, reader, item) {
        404
    } else if world.users[u].org != item.owner_org {
        403
    } else {
        authorized
    }
}

/// Sharing further with an organization that does not exist: as a write, except that a
/// visible non-owner may on GREEN and AMBER; nobody may on RED, only the owner on
/// AMBER+STRICT; what names an organization gets the 422 of the unknown one.
fn reshare_status(world: &WorldSpec, reader: Reader, item: &Shared) -> u16 {
    let u = match reader {
        Reader::Anonymous | Reader::CutOff(_) => return 401,
        Reader::Active(u) => u,
    };
    let tlp = item.current().tlp;
    if !world.users[u].writer {
        403
    } else if !sees_now(world, reader, item) {
        404
    } else if tlp == "red" || (tlp == "amber_strict" && world.users[u].org != item.owner_org) {
        403
    } else {
        422
    }
}

// ---- The world over HTTP. ----

struct Built {
    orgs: Vec<String>,
    user_ids: Vec<String>,
    emails: Vec<String>,
    tokens: Vec<String>,
    shared: Vec<Shared>,
    /// Per notice: (recipient user, item index, marking label).
    notices: Vec<(usize, usize, &'static str)>,
}

fn recipients_json(state: &State, orgs: &[String], groups: &[String], users: &[String]) -> Value {
    json!({
        "organizations": state.orgs.iter().map(|o| &orgs[*o]).collect::<Vec<_>>(),
        "groups": state.groups.iter().map(|g| &groups[*g]).collect::<Vec<_>>(),
        "users": state.users.iter().map(|u| &users[*u]).collect::<Vec<_>>(),
    })
}

/// The notices a change of `item` into its current state sends: every subscriber (all
/// follow everything) in the new audience but its author and the one who made the change.
fn expect_notices(world: &WorldSpec, built: &mut Built, index: usize, actor: usize) {
    let item = &built.shared[index];
    let state = item.current();
    for u in 0..world.users.len() {
        if u != item.author && u != actor && in_audience(world, u, item, state) {
            built.notices.push((u, index, state.label()));
        }
    }
}

async fn build(app: &TestApp, spec: &WorldSpec) -> Built {
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
    let mut built = Built {
        orgs,
        user_ids: Vec::new(),
        emails: Vec::new(),
        tokens: Vec::new(),
        shared: Vec::new(),
        notices: Vec::new(),
    };
    for (i, user) in spec.users.iter().enumerate() {
        let email = format!("user{i}@example.org");
        let role = if user.writer { "focal_point" } else { "member" };
        built
            .user_ids
            .push(app.create_user(&built.orgs[user.org], &email, role));
        let token = app.tokens(&email).await.0;
        support::mail::follow_everything(app, &token, "immediate").await;
        built.emails.push(email);
        built.tokens.push(token);
    }
    let writers: Vec<usize> = (0..spec.users.len())
        .filter(|u| spec.users[*u].writer)
        .collect();
    if writers.is_empty() {
        return built;
    }
    let n_users = spec.users.len();

    for (n, item) in spec.items.iter().enumerate() {
        let author = writers[item.author % writers.len()];
        let state = State::of(
            &item.marking,
            format!("Item {n}"),
            item.update,
            author,
            n_users,
            groups.len(),
        );
        let recipients = recipients_json(&state, &built.orgs, &groups, &built.user_ids);
        let mut body = json!({
            "title": state.title, "body": "needle text", "tlp": state.tlp,
            "tags": state.tags, "recipients": recipients,
        });
        let path = if item.update {
            "/api/v1/updates"
        } else {
            body["language"] = json!("en");
            body["type"] = json!(state.doc_type);
            "/api/v1/documents"
        };
        let response = app.post_json(path, Some(&built.tokens[author]), body).await;
        assert_eq!(response.status(), 201, "{} {recipients}", state.tlp);
        let created: Value = response.json().await.expect("json");
        let created_at = created["created_at"].as_str().expect("created_at");
        built.shared.push(Shared {
            id: created["id"].as_str().expect("id").to_owned(),
            update: item.update,
            author,
            owner_org: spec.users[author].org,
            history: vec![state],
            attachment: None,
            deleted: false,
            created_at: DateTime::parse_from_rfc3339(created_at)
                .expect("RFC 3339")
                .to_utc(),
        });
        expect_notices(spec, &mut built, n, author);

        if item.attach && !item.update {
            let bytes = format!("notes on item {n}").into_bytes();
            let token = Some(built.tokens[author].as_str());
            let id = built.shared[n].id.clone();
            let response = extra::upload(app, token, &id, "notes.txt", bytes.clone()).await;
            assert_eq!(response.status(), 201, "upload by the author");
            let attachment: Value = response.json().await.expect("json");
            let attachment_id = attachment["id"].as_str().expect("id").to_owned();
            built.shared[n].attachment = Some((attachment_id, bytes));
        }
    }

    for (k, edit) in spec.edits.iter().enumerate() {
        let index = edit.item % built.shared.len();
        let item = &built.shared[index];
        let editor = if edit.by_owner {
            let colleagues: Vec<usize> = (0..n_users)
                .filter(|u| spec.users[*u].org == item.owner_org)
                .collect();
            colleagues[edit.editor % colleagues.len()]
        } else {
            edit.editor % n_users
        };
        let state = State::of(
            &edit.marking,
            format!("Item {index} edit {k}"),
            item.update,
            item.author,
            n_users,
            groups.len(),
        );
        let mut body = json!({
            "title": state.title, "tlp": state.tlp, "tags": state.tags,
            "recipients": recipients_json(&state, &built.orgs, &groups, &built.user_ids),
        });
        if !item.update {
            body["type"] = json!(state.doc_type);
        }
        // Everyone is still active while items are written.
        let want = write_status(spec, Reader::Active(editor), item, 200);
        let etag = format!("\"v{}\"", item.history.len());
        let response = extra::send(
            app,
            Method::PATCH,
            Some(&built.tokens[editor]),
            &item.path(),
            Some(&etag),
            Some(body),
        )
        .await;
        assert_eq!(
            response.status().as_u16(),
            want,
            "edit {k} of item {index} ({}) by user {editor} to {}",
            item.current().tlp,
            state.tlp
        );
        if want == 200 {
            let changed: Value = response.json().await.expect("json");
            assert_eq!(changed["version"], item.history.len() + 1);
            built.shared[index].history.push(state);
            expect_notices(spec, &mut built, index, editor);
        }
    }

    for (n, item) in spec.items.iter().enumerate() {
        if !item.delete {
            continue;
        }
        let shared = &built.shared[n];
        let status = extra::send(
            app,
            Method::DELETE,
            Some(&built.tokens[shared.author]),
            &shared.path(),
            Some(&format!("\"v{}\"", shared.history.len())),
            None,
        )
        .await
        .status()
        .as_u16();
        assert_eq!(status, 204, "deletion of item {n} by its author");
        built.shared[n].deleted = true;
    }
    built
}

/// The notices in the outbox, as the oracle counts them.
fn notices_sent(app: &TestApp, built: &Built) -> BTreeMap<(usize, usize, String), usize> {
    let mut sent = BTreeMap::new();
    for mail in extra::outbox(app) {
        let user = built
            .emails
            .iter()
            .position(|e| *e == mail.recipient)
            .unwrap_or_else(|| panic!("mail to a stranger: {mail:?}"));
        let item = built
            .shared
            .iter()
            .position(|i| mail.body.contains(&i.id))
            .unwrap_or_else(|| panic!("mail of no item: {mail:?}"));
        let label = mail
            .subject
            .strip_prefix('[')
            .and_then(|s| s.split_once(']'))
            .map(|(label, _)| label.to_owned())
            .unwrap_or_else(|| panic!("no marking in the subject: {mail:?}"));
        *sent.entry((user, item, label)).or_insert(0) += 1;
    }
    sent
}

async fn check(spec: WorldSpec) {
    let app = TestApp::spawn().await;
    let built = build(&app, &spec).await;
    let shared = &built.shared;

    // Mail: exactly the subscribers in each new state's audience, never the author.
    let mut expected_notices = BTreeMap::new();
    for (u, item, label) in &built.notices {
        *expected_notices
            .entry((*u, *item, (*label).to_owned()))
            .or_insert(0) += 1;
    }
    let sent = notices_sent(&app, &built);
    for (user, item, _) in sent.keys() {
        assert_ne!(
            *user, shared[*item].author,
            "the author of item {item} was mailed"
        );
    }
    assert_eq!(
        sent, expected_notices,
        "notices (user, item, marking) in {spec:?}"
    );

    // Cut off after sharing (recipients had to be active to be named).
    let deactivated: Vec<String> = (0..spec.users.len())
        .filter(|u| spec.users[*u].deactivated)
        .map(|u| built.user_ids[u].clone())
        .collect();
    let suspended: Vec<String> = spec
        .suspended
        .map(|o| built.orgs[o].clone())
        .into_iter()
        .collect();
    app.cut_off(&deactivated, &suspended);

    let readers: Vec<Reader> = std::iter::once(Reader::Anonymous)
        .chain((0..spec.users.len()).map(|u| Reader::of(&spec, u)))
        .collect();
    for reader in readers {
        check_reader(&app, &spec, &built, reader).await;
    }
}

async fn check_reader(app: &TestApp, spec: &WorldSpec, built: &Built, reader: Reader) {
    let shared = &built.shared;
    let token = match reader {
        Reader::Anonymous => None,
        Reader::CutOff(u) | Reader::Active(u) => Some(built.tokens[u].as_str()),
    };
    let cut_off = matches!(reader, Reader::CutOff(_));
    let get =
        |path: String| async move { extra::send(app, Method::GET, token, &path, None, None).await };
    let visible = |update: bool| -> BTreeSet<String> {
        shared
            .iter()
            .filter(|i| i.update == update && sees_now(spec, reader, i))
            .map(|i| i.id.clone())
            .collect()
    };
    let listed =
        |page: Value| -> BTreeSet<String> { extra::ids_in(&page["items"]).into_iter().collect() };

    // Lists, and the feed as a poller sees it after each update's creation.
    for (path, update) in [
        ("/api/v1/documents?limit=100", false),
        ("/api/v1/updates?limit=100", true),
    ] {
        let response = get(path.to_owned()).await;
        if cut_off {
            assert_eq!(response.status(), 401, "{path} for {reader:?}");
            continue;
        }
        assert_eq!(response.status(), 200, "{path} for {reader:?}");
        let seen = listed(response.json().await.expect("json"));
        assert_eq!(seen, visible(update), "{path} for {reader:?} in {spec:?}");
    }
    for since in shared.iter().filter(|i| i.update).map(|i| i.created_at) {
        let path = format!(
            "/api/v1/updates?limit=100&since={}",
            extra::query_value(&since.to_rfc3339())
        );
        let response = get(path.clone()).await;
        if cut_off {
            assert_eq!(response.status(), 401, "{path} for {reader:?}");
            continue;
        }
        let want: BTreeSet<String> = shared
            .iter()
            .filter(|i| i.update && i.created_at > since && sees_now(spec, reader, i))
            .map(|i| i.id.clone())
            .collect();
        assert_eq!(response.status(), 200, "{path} for {reader:?}");
        let seen = listed(response.json().await.expect("json"));
        assert_eq!(seen, want, "{path} for {reader:?} in {spec:?}");
    }

    for item in shared {
        let want = read_status(spec, reader, item);
        let path = item.path();
        assert_eq!(
            get(path.clone()).await.status().as_u16(),
            want,
            "GET {path} ({}) for {reader:?}",
            item.current().tlp
        );
        check_writes(app, spec, reader, token, item).await;
        if item.update {
            continue;
        }

        // Attachments: listed and downloaded exactly as the document is read.
        let response = get(format!("{path}/attachments")).await;
        assert_eq!(
            response.status(),
            want,
            "attachments of {path} for {reader:?}"
        );
        if want == 200 {
            let files: Value = response.json().await.expect("json");
            let want_ids: Vec<String> = item.attachment.iter().map(|(id, _)| id.clone()).collect();
            assert_eq!(extra::ids_in(&files), want_ids, "attachments of {path}");
        }
        if let Some((attachment_id, bytes)) = &item.attachment {
            let response = get(format!("{path}/attachments/{attachment_id}")).await;
            assert_eq!(
                response.status(),
                want,
                "download from {path} for {reader:?}"
            );
            if want == 200 {
                let body = response.bytes().await.expect("bytes");
                assert_eq!(&body[..], &bytes[..], "downloaded bytes of {path}");
            }
        }

        // Versions: only to the signed in, and only those whose audience they were in.
        let response = get(format!("{path}/versions")).await;
        match reader {
            Reader::Anonymous | Reader::CutOff(_) => {
                assert_eq!(response.status(), 401, "versions of {path} for {reader:?}")
            }
            Reader::Active(_) => match versions_seen(spec, reader, item) {
                None => assert_eq!(response.status(), 404, "versions of {path} for {reader:?}"),
                Some(want) => {
                    assert_eq!(response.status(), 200, "versions of {path} for {reader:?}");
                    let got = extra::versions_in(&response.json().await.expect("json"));
                    assert_eq!(
                        got, want,
                        "versions of {path} for {reader:?}: {:?}",
                        item.history
                    );
                }
            },
        }
    }

    // Search, facets and exports: signed-in users only.
    if !matches!(reader, Reader::Active(_)) {
        for path in [
            "/api/v1/search?q=needle",
            "/api/v1/search/export?format=csv&q=needle",
        ] {
            assert_eq!(
                get(path.to_owned()).await.status(),
                401,
                "{path} for {reader:?}"
            );
        }
        return;
    }
    let seen_items: Vec<&Shared> = shared
        .iter()
        .filter(|i| sees_now(spec, reader, i))
        .collect();
    let all: BTreeSet<String> = seen_items.iter().map(|i| i.id.clone()).collect();
    let results: Value = get("/api/v1/search?q=needle&limit=100".to_owned())
        .await
        .json()
        .await
        .expect("json");
    let hits: BTreeSet<String> = extra::ids_in(&results["hits"]).into_iter().collect();
    assert_eq!(hits, all, "search for {reader:?}");
    assert_eq!(results["total"], all.len(), "total for {reader:?}");
    let mut want_facets: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for item in &seen_items {
        let state = item.current();
        let mut count = |facet: &'static str, value: String| {
            *want_facets
                .entry(facet)
                .or_default()
                .entry(value)
                .or_insert(0) += 1;
        };
        count(
            "kind",
            if item.update { "update" } else { "document" }.to_owned(),
        );
        count("type", state.doc_type.to_owned());
        count("organization", built.orgs[item.owner_org].clone());
        count("tlp", state.tlp.to_owned());
        count(
            "language",
            if item.update { "other" } else { "en" }.to_owned(),
        );
        for tag in &state.tags {
            count("tag", (*tag).to_owned());
        }
    }
    for facet in ["kind", "type", "organization", "tlp", "language", "tag"] {
        let got: BTreeMap<String, i64> = extra::facet_counts(&results, facet)
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        let want = want_facets.get(facet).cloned().unwrap_or_default();
        assert_eq!(got, want, "{facet} facet for {reader:?}");
    }
    let export = get("/api/v1/search/export?format=jsonl&q=needle".to_owned())
        .await
        .text()
        .await
        .expect("export");
    let exported: BTreeSet<String> = support::jsonl_ids(&export).into_iter().collect();
    assert_eq!(exported, all, "JSON Lines export for {reader:?}");
    let response = get("/api/v1/search/export?format=csv&q=needle".to_owned()).await;
    assert_eq!(response.status(), 200, "CSV export for {reader:?}");
    let csv = response.text().await.expect("CSV");
    let rows = extra::csv_ids(&csv);
    assert_eq!(rows.len(), all.len(), "CSV rows, each once, for {reader:?}");
    let rows: BTreeSet<String> = rows.into_iter().collect();
    assert_eq!(rows, all, "CSV export for {reader:?}");
}

/// Every write route, probed so that nothing changes once authorized: a stale `If-Match`
/// (412), bytes of a refused type (415), an organization that does not exist (422).
async fn check_writes(
    app: &TestApp,
    spec: &WorldSpec,
    reader: Reader,
    token: Option<&str>,
    item: &Shared,
) {
    let path = item.path();
    let stale = Some("\"v999\"");
    let edit = json!({ "title": "probe" });
    let status = extra::send(app, Method::PATCH, token, &path, stale, Some(edit))
        .await
        .status()
        .as_u16();
    assert_eq!(
        status,
        write_status(spec, reader, item, 412),
        "PATCH {path} ({}) by {reader:?}",
        item.current().tlp
    );
    let status = extra::send(app, Method::DELETE, token, &path, stale, None)
        .await
        .status()
        .as_u16();
    assert_eq!(
        status,
        write_status(spec, reader, item, 412),
        "DELETE {path} ({}) by {reader:?}",
        item.current().tlp
    );
    let more = json!({ "organizations": ["no-such-organization"] });
    let status = extra::send(
        app,
        Method::POST,
        token,
        &format!("{path}/recipients"),
        None,
        Some(more),
    )
    .await
    .status()
    .as_u16();
    assert_eq!(
        status,
        reshare_status(spec, reader, item),
        "POST {path}/recipients ({}) by {reader:?}",
        item.current().tlp
    );
    if !item.update {
        let status = extra::upload(app, token, &item.id, "x.pdf", REFUSED_BYTES.to_vec())
            .await
            .status()
            .as_u16();
        assert_eq!(
            status,
            write_status(spec, reader, item, 415),
            "upload to {path} ({}) by {reader:?}",
            item.current().tlp
        );
    }
}

/// Cases: `PROPTEST_CASES`, else `AUDIENCE_CASES`, else 20 (about 20 s on SQLite and 40 s
/// on PostgreSQL, on two idle CPUs).
fn cases() -> u32 {
    ["PROPTEST_CASES", "AUDIENCE_CASES"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
        .unwrap_or(20)
}

#[test]
fn every_read_route_agrees_with_the_tlp_oracle() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = TestRunner::new(Config {
        cases: cases(),
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
