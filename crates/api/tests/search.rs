//! Search over HTTP (DESIGN §4): the same fixtures give the same hit sets on both backends;
//! stemming and the six UN languages; totals and facets count only what the caller may see;
//! cursor pages and exports.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{TestApp, problem};

struct Library {
    app: TestApp,
    reader: String,
    interpol: String,
}

const FIXTURES: [(&str, &str, &str, &str, &str); 7] = [
    // key, language, type, title, body
    (
        "fr",
        "fr",
        "report",
        "La lutte contre le terrorisme en Afrique de l'Ouest",
        "Le financement du terrorisme passe par des réseaux informels.",
    ),
    (
        "en",
        "en",
        "assessment",
        "Cash couriers across the Sahel",
        "Couriers carry cash for armed groups; banks see little of it.",
    ),
    (
        "ar",
        "ar",
        "guidance",
        "مكافحة الإرهاب",
        "تمويل الإرهاب في المنطقة",
    ),
    (
        "zh",
        "zh",
        "report",
        "反恐怖主义合作",
        "打击恐怖主义融资的区域合作正在加强。",
    ),
    (
        "ru",
        "ru",
        "plan",
        "Борьба с терроризмом",
        "Финансирование терроризма в регионе растёт.",
    ),
    (
        "es",
        "es",
        "legal",
        "Marco jurídico regional",
        "La cooperación judicial entre los Estados miembros.",
    ),
    (
        "other",
        "other",
        "other",
        "Meeting notes",
        "Participants agreed on a shared calendar.",
    ),
];

async fn library() -> Library {
    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    let fatf = app.create_org("FATF", "compact_entity");
    let (_, author) = app
        .signed_in(&unodc, "fp@unodc.example", "focal_point")
        .await;
    let (_, other_author) = app.signed_in(&fatf, "fp@fatf.example", "focal_point").await;
    let (_, reader) = app
        .signed_in(&interpol, "member@interpol.example", "member")
        .await;
    for (key, language, doc_type, title, body) in FIXTURES {
        app.share_document(
            &author,
            json!({
                "title": title, "body": body, "language": language, "type": doc_type,
                "tags": [format!("lang-{key}"), "sahel"], "tlp": "green",
                "summary": "",
            }),
        )
        .await;
    }
    // Addressed to INTERPOL: the reader sees it.
    app.share_document(
        &author,
        json!({
            "title": "Terrorisme : évaluation conjointe", "body": "Financement du terrorisme.",
            "language": "fr", "type": "assessment", "tags": ["joint"], "tlp": "amber",
            "recipients": { "organizations": [interpol] },
        }),
    )
    .await;
    // Not for the reader: must never show, count or be suggested.
    app.share_document(
        &other_author,
        json!({
            "title": "Terrorisme : notes internes", "body": "Financement du terrorisme, sahel.",
            "language": "fr", "type": "report", "tags": ["secret-tag", "sahel"], "tlp": "amber",
        }),
    )
    .await;
    // An update, searchable too.
    let update = json!({ "title": "Courier seized", "body": "Cash couriers stopped at the border.",
        "language": "en", "tags": ["sahel"], "tlp": "green" });
    assert_eq!(
        app.post_json("/api/v1/updates", Some(&author), update)
            .await
            .status(),
        201
    );
    Library {
        app,
        reader,
        interpol,
    }
}

/// A search by the library's reader, written as a query string (`q=...&sort=...`).
async fn search(lib: &Library, query: &str) -> Value {
    let pairs = url_pairs(query);
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    search_with(&lib.app, &lib.reader, &pairs).await
}

fn with_query(app: &TestApp, path: &str, pairs: &[(String, String)]) -> url::Url {
    url::Url::parse_with_params(&app.url(path), pairs).expect("url")
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').expect("k=v");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn titles(results: &Value) -> BTreeSet<String> {
    ordered_titles(results).into_iter().collect()
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

#[tokio::test]
async fn stemming_and_the_six_languages_give_the_same_hits_on_both_backends() {
    let lib = library().await;
    let fr = FIXTURES[0].3;
    let joint = "Terrorisme : évaluation conjointe";
    let cases: Vec<(&str, BTreeSet<String>)> = vec![
        // French inflections meet: "terroristes" finds "terrorisme".
        ("q=terroristes", set(&[fr, joint])),
        ("q=financement", set(&[fr, joint])),
        ("q=恐怖主义", set(&[FIXTURES[3].3])),
        ("q=合作", set(&[FIXTURES[3].3])),
        ("q=الإرهاب", set(&[FIXTURES[2].3])),
        ("q=терроризма", set(&[FIXTURES[4].3])),
        ("q=cooperación", set(&[FIXTURES[5].3])),
        // English stems: "courier" finds "couriers"; the update is found too.
        ("q=courier", set(&[FIXTURES[1].3, "Courier seized"])),
        (
            "q=\"cash couriers\"",
            set(&[FIXTURES[1].3, "Courier seized"]),
        ),
        ("q=couriers -border", set(&[FIXTURES[1].3])),
        (
            "q=calendar or cooperación",
            set(&[FIXTURES[6].3, FIXTURES[5].3]),
        ),
        ("q=couriers&kind=update", set(&["Courier seized"])),
        ("q=terrorisme&type=assessment", set(&[joint])),
        ("q=participants&language=other", set(&[FIXTURES[6].3])),
        ("q=absentword", set(&[])),
    ];
    for (query, expected) in cases {
        let results = search(&lib, query).await;
        assert_eq!(titles(&results), expected, "{query}");
        assert_eq!(
            results["total"].as_u64().expect("total") as usize,
            expected.len(),
            "{query}"
        );
    }
}

#[tokio::test]
async fn totals_facets_and_snippets_cover_only_what_the_caller_may_see() {
    let lib = library().await;
    let results = search(&lib, "tag=sahel").await;
    // 7 fixtures + the update; not the other organization's amber document.
    assert_eq!(results["total"], 8);
    for facet in ["kind", "type", "tlp", "language", "organization"] {
        let sum: i64 = results["facets"][facet]
            .as_array()
            .expect("facet")
            .iter()
            .map(|c| c["count"].as_i64().expect("count"))
            .sum();
        assert_eq!(sum, 8, "{facet}");
    }
    let tags: Vec<&str> = results["facets"]["tag"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|c| c["value"].as_str().expect("tag"))
        .collect();
    assert!(!tags.contains(&"secret-tag"), "{tags:?}");
    assert_eq!(
        results["facets"]["tag"][0],
        json!({ "value": "sahel", "count": 8 })
    );
    assert_eq!(
        results["facets"]["tlp"],
        json!([{ "value": "green", "count": 8 }])
    );

    let everything = search(&lib, "").await;
    assert_eq!(everything["total"], 9, "the joint amber document included");
    let organizations = everything["facets"]["organization"]
        .as_array()
        .expect("orgs");
    assert_eq!(organizations.len(), 1, "only UNODC's items are visible");

    let hit = &search(&lib, "q=terroristes&type=report").await["hits"][0];
    assert_eq!(
        hit["snippet"],
        "Le financement du <mark>terrorisme</mark> passe par des réseaux informels."
    );
    assert!(hit["score"].as_f64().expect("score") > 0.0);

    // Filters that name nothing visible find nothing, and bad ones are 422.
    assert_eq!(search(&lib, "tag=secret-tag").await["total"], 0);
    let app = &lib.app;
    for bad in [
        "q=",
        "q=-only",
        "sort=sideways",
        "sort=relevance",
        "tlp=purple",
        "limit=1000",
        "cursor=nonsense",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "unknown=1",
        "tag=two%20words",
    ] {
        let status = app
            .status_of(Some(&lib.reader), &format!("/api/v1/search?{bad}"))
            .await;
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
    problem(app.get("/api/v1/search?q=x").await, 401).await;
    let _ = &lib.interpol;
}

#[tokio::test]
async fn cursor_pages_cover_every_hit_once_in_both_sort_orders() {
    let lib = library().await;
    for sort in ["relevance", "newest"] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut pairs = vec![
                ("q".to_owned(), "sahel or terrorisme".to_owned()),
                ("sort".to_owned(), sort.to_owned()),
                ("limit".to_owned(), "2".to_owned()),
            ];
            if let Some(c) = &cursor {
                pairs.push(("cursor".to_owned(), c.clone()));
            }
            let page: Value = lib
                .app
                .client
                .get(with_query(&lib.app, "/api/v1/search", &pairs))
                .bearer_auth(&lib.reader)
                .send()
                .await
                .expect("search")
                .json()
                .await
                .expect("json");
            for hit in page["hits"].as_array().expect("hits") {
                seen.push(hit["id"].as_str().expect("id").to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => {
                    assert_eq!(page["total"].as_u64().expect("total") as usize, seen.len());
                    break;
                }
            }
        }
        let unique: BTreeSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no hit twice");
        assert_eq!(seen.len(), 9, "{sort}");
    }
}

#[tokio::test]
async fn exports_hold_the_same_rows_as_the_search() {
    let lib = library().await;
    let app = &lib.app;
    let get = |query: &'static str| {
        app.client
            .get(app.url(&format!("/api/v1/search/export?{query}")))
            .bearer_auth(&lib.reader)
            .send()
    };
    let jsonl = get("format=jsonl&tag=sahel").await.expect("export");
    assert_eq!(jsonl.status(), 200);
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    let body = jsonl.text().await.expect("body");
    let rows: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r["tlp"] == "green"));

    let csv = get("format=csv&q=terroristes").await.expect("export");
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .expect("header")
            .starts_with("attachment;")
    );
    let body = csv.text().await.expect("body");
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("id,kind,type,title"));
    assert_eq!(lines.len(), 3, "header and two rows: {body}");
    assert!(!body.contains("notes internes"));

    for bad in ["format=xml", "format=csv&limit=5", "format=csv&q="] {
        let status = app
            .status_of(Some(&lib.reader), &format!("/api/v1/search/export?{bad}"))
            .await;
        assert!(status == 400 || status == 422, "{bad}: {status}");
    }
}

#[tokio::test]
async fn a_search_key_without_a_read_scope_does_not_reach_that_kind() {
    let lib = library().await;
    let app = &lib.app;
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let key: Value = app
        .post_json(
            "/api/v1/api-keys",
            Some(&lib.reader),
            json!({ "name": "updates only", "scopes": ["search", "updates:read"], "expires_at": expires }),
        )
        .await
        .json()
        .await
        .expect("json");
    let secret = key["secret"].as_str().expect("secret");
    let results: Value = app
        .client
        .get(app.url("/api/v1/search?q=couriers"))
        .header("x-api-key", secret)
        .send()
        .await
        .expect("search")
        .json()
        .await
        .expect("json");
    assert_eq!(
        titles(&results),
        set(&["Courier seized"]),
        "documents are out of scope"
    );
    let asked_for_documents = app
        .client
        .get(app.url("/api/v1/search?q=couriers&kind=document"))
        .header("x-api-key", secret)
        .send()
        .await
        .expect("search");
    problem(asked_for_documents, 403).await;
}

/// A database holding the demo, and how many live items it has.
fn demo_database() -> (compact_db::testing::TestDatabase, i64) {
    use diesel::prelude::*;
    let (test_db, db) = compact_db::testing::TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let mail = compact_auth::accounts::MailContext {
        public_url: "https://compact.test".into(),
        message_domain: "compact.test".into(),
    };
    compact_registry::demo::seed(&mut conn, "not-a-real-hash", &mail)
        .expect("demo")
        .expect("seeded");
    let live = compact_db::schema::items::table
        .filter(compact_db::schema::items::deleted_at.is_null())
        .count()
        .get_result::<i64>(&mut *conn)
        .expect("count");
    assert!(live > 10, "the demo has items ({live})");
    (test_db, live)
}

/// The `/metrics` lines about the search count index.
async fn index_metrics(app: &TestApp) -> String {
    let text = app.get("/metrics").await.text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with("compact_search_count_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The value of one gauge in `metrics`.
fn gauge(metrics: &str, name: &str) -> i64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// The count index is loaded when the server starts, before any search asks for it, and
/// `/metrics` says how many items it holds.
#[tokio::test]
async fn the_count_index_is_loaded_at_start_up_before_any_search() {
    let (test_db, live) = demo_database();
    let app = TestApp::builder()
        .database_url(test_db.url().clone())
        .spawn()
        .await;
    let wanted = format!("compact_search_count_index_items {live}\n");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let metrics = index_metrics(&app).await;
        if metrics.contains(&wanted) {
            assert!(
                metrics.contains("compact_search_count_index_limited 0\n"),
                "{metrics}"
            );
            let bytes = gauge(&metrics, "compact_search_count_index_bytes");
            assert!(bytes >= live * 26, "{bytes} bytes for {live} items");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the index was not loaded: {metrics}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let all = app.get("/metrics").await.text().await.expect("text");
    assert!(
        !all.contains(r#"route="/api/v1/search""#),
        "no search was made"
    );
}

/// With `search_index_at_start` off, the index stays empty until the first search loads it.
#[tokio::test]
async fn without_loading_at_start_the_first_search_loads_the_count_index() {
    let (test_db, live) = demo_database();
    let app = TestApp::builder()
        .database_url(test_db.url().clone())
        .search_index_on_first_search()
        .spawn()
        .await;
    // Loading the demo takes milliseconds: had it started, it would be done.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let metrics = index_metrics(&app).await;
    assert!(
        metrics.contains("compact_search_count_index_items 0\n"),
        "{metrics}"
    );
    assert_eq!(gauge(&metrics, "compact_search_count_index_bytes"), 0);
    assert_eq!(gauge(&metrics, "compact_search_count_cache_bytes"), 0);
    let org = app.create_org("WARM", "compact_entity");
    app.create_user(&org, "warm@compact.test", "member");
    let (token, _) = app.tokens("warm@compact.test").await;
    let response = app.get_as(&token, "/api/v1/search?q=report").await;
    assert_eq!(response.status(), 200);
    let metrics = index_metrics(&app).await;
    assert!(
        metrics.contains(&format!("compact_search_count_index_items {live}\n")),
        "{metrics}"
    );
    assert!(gauge(&metrics, "compact_search_count_index_bytes") > 0);
}

/// Items of two organizations under every marking and kind of recipient, for the filters.
/// The reader (an INTERPOL member) sees the first eight; the last two are not for them.
const FILTERED: [(&str, &str, &str, &str, &str); 10] = [
    // title, author ("unodc" | "fatf"), kind, tlp, recipients ("" | "interpol" | a group
    // | "reader" | "sahel+interpol")
    (
        "Gold routes across the Sahel",
        "unodc",
        "documents",
        "green",
        "",
    ),
    (
        "Fuel trafficking in Sahel border towns",
        "unodc",
        "documents",
        "amber",
        "sahel",
    ),
    (
        "Courier arrests reported by INTERPOL",
        "unodc",
        "updates",
        "amber",
        "interpol",
    ),
    (
        "Joint Sahel and INTERPOL briefing",
        "unodc",
        "documents",
        "green",
        "sahel+interpol",
    ),
    (
        "Balkan corridor typologies",
        "fatf",
        "documents",
        "amber_strict",
        "balkans",
    ),
    ("Public statement on cash", "fatf", "updates", "clear", ""),
    (
        "Named informant report",
        "fatf",
        "documents",
        "red",
        "reader",
    ),
    ("Hawala guidance", "fatf", "documents", "green", ""),
    (
        "Caspian shipments",
        "unodc",
        "documents",
        "amber",
        "caspian",
    ),
    ("Internal FATF memo", "fatf", "documents", "amber", ""),
];

/// When the backdated items were created (the rest were created as the test ran). The
/// hidden Caspian item sits between two visible ones on their day.
const BACKDATED: [(&str, &str); 4] = [
    ("Gold routes across the Sahel", "2025-03-10T12:00:00Z"),
    ("Hawala guidance", "2025-06-20T08:00:00Z"),
    ("Caspian shipments", "2025-06-20T12:00:00Z"),
    (
        "Fuel trafficking in Sahel border towns",
        "2025-06-20T18:00:00Z",
    ),
];

struct FilteredLibrary {
    app: TestApp,
    reader: String,
    unodc: String,
    fatf: String,
    sahel: String,
    balkans: String,
    caspian: String,
    /// Each item's `created_at` as the API gave it, by title.
    created: std::collections::BTreeMap<String, String>,
}

async fn filtered_library() -> FilteredLibrary {
    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    let fatf = app.create_org("FATF", "compact_entity");
    let interpol = app.create_org("INTERPOL", "compact_entity");
    let osce = app.create_org("OSCE", "regional_organization");
    let sahel = app.create_group("Sahel circle", &[&interpol, &osce]);
    let balkans = app.create_group("Balkans circle", &[&interpol]);
    let caspian = app.create_group("Caspian circle", &[&osce]);
    let (_, unodc_author) = app
        .signed_in(&unodc, "fp@unodc.example", "focal_point")
        .await;
    let (_, fatf_author) = app.signed_in(&fatf, "fp@fatf.example", "focal_point").await;
    let (reader_id, reader) = app
        .signed_in(&interpol, "member@interpol.example", "member")
        .await;
    let mut created = std::collections::BTreeMap::new();
    for (title, author, kind, tlp, to) in FILTERED {
        let recipients = match to {
            "" => json!({}),
            "interpol" => json!({ "organizations": [interpol] }),
            "sahel" => json!({ "groups": [sahel] }),
            "balkans" => json!({ "groups": [balkans] }),
            "caspian" => json!({ "groups": [caspian] }),
            "reader" => json!({ "users": [reader_id] }),
            "sahel+interpol" => json!({ "organizations": [interpol], "groups": [sahel] }),
            other => unreachable!("{other}"),
        };
        let mut body = json!({
            "title": title, "body": "Smuggling networks adapt to enforcement.",
            "language": "en", "tags": ["smuggling"], "tlp": tlp, "recipients": recipients,
        });
        if kind == "documents" {
            body["type"] = json!("report");
        }
        let token = if author == "unodc" {
            &unodc_author
        } else {
            &fatf_author
        };
        let response = app
            .post_json(&format!("/api/v1/{kind}"), Some(token), body)
            .await;
        assert_eq!(response.status(), 201, "{title}");
        let item: Value = response.json().await.expect("json");
        created.insert(
            title.to_owned(),
            item["created_at"].as_str().expect("created_at").to_owned(),
        );
    }
    for (title, at) in BACKDATED {
        backdate(&app, title, at);
        created.insert(title.to_owned(), at.to_owned());
    }
    FilteredLibrary {
        app,
        reader,
        unodc,
        fatf,
        sahel,
        balkans,
        caspian,
        created,
    }
}

/// Items cannot be created in the past through the API: the test moves one's creation
/// time in the database, as a restored backup might have it. The write draws a new change
/// number, so the search count index reads the item again.
fn backdate(app: &TestApp, title: &str, at: &str) {
    use compact_db::schema::items;
    use diesel::prelude::*;
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .expect("instant")
        .naive_utc();
    let mut conn = app.db.get().expect("connection");
    let moved = diesel::update(items::table.filter(items::title.eq(title)))
        .set(items::created_at.eq(at))
        .execute(&mut *conn)
        .expect("backdate");
    assert_eq!(moved, 1, "{title}");
}

/// Search parameters, as (name, value).
type Params<'a> = Vec<(&'a str, &'a str)>;

/// A search by `token` with these parameters (and room for every hit), answered 200.
async fn search_with(app: &TestApp, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    pairs.push(("limit".into(), "100".into()));
    let response = app
        .client
        .get(with_query(app, "/api/v1/search", &pairs))
        .bearer_auth(token)
        .send()
        .await
        .expect("search");
    assert_eq!(response.status(), 200, "{pairs:?}");
    response.json().await.expect("json")
}

/// The hits' titles in order.
fn ordered_titles(results: &Value) -> Vec<String> {
    results["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["title"].as_str().expect("title").to_owned())
        .collect()
}

/// The total and every facet describe exactly the hits (all on one page).
fn assert_counts_match_hits(results: &Value, what: &str) {
    use std::collections::BTreeMap;
    let hits = results["hits"].as_array().expect("hits");
    assert!(results["next_cursor"].is_null(), "{what}: one page");
    assert_eq!(
        results["total"].as_u64().expect("total") as usize,
        hits.len(),
        "{what}: total"
    );
    for (facet, field) in [
        ("kind", "kind"),
        ("type", "type"),
        ("tlp", "tlp"),
        ("language", "language"),
        ("organization", "owner_organization_id"),
        ("tag", "tags"),
    ] {
        let mut expected: BTreeMap<String, i64> = BTreeMap::new();
        for hit in hits {
            let values = match &hit[field] {
                Value::Array(values) => values.clone(),
                value => vec![value.clone()],
            };
            for value in values {
                *expected
                    .entry(value.as_str().expect("value").to_owned())
                    .or_default() += 1;
            }
        }
        let counted = support::matrix_extra::facet_counts(results, facet);
        assert_eq!(counted, expected, "{what}: facet {facet}");
    }
}

/// Each filter narrows the hits to exactly the visible items it names, with or without a
/// text query and in both orders; totals and facets agree with the hits.
#[tokio::test]
async fn organization_group_and_tlp_filters_keep_exactly_their_visible_items() {
    let lib = filtered_library().await;
    let t = |i: usize| FILTERED[i].0;
    let cases: Vec<(Params, BTreeSet<String>)> = vec![
        (
            vec![],
            set(&[t(0), t(1), t(2), t(3), t(4), t(5), t(6), t(7)]),
        ),
        (
            vec![("organization", lib.unodc.as_str())],
            set(&[t(0), t(1), t(2), t(3)]),
        ),
        (
            vec![("organization", lib.fatf.as_str())],
            set(&[t(4), t(5), t(6), t(7)]),
        ),
        (vec![("organization", "no-such-organization")], set(&[])),
        (vec![("group", lib.sahel.as_str())], set(&[t(1), t(3)])),
        (vec![("group", lib.balkans.as_str())], set(&[t(4)])),
        // Addressed to a group the reader's organization is not in: nothing shows.
        (vec![("group", lib.caspian.as_str())], set(&[])),
        (vec![("tlp", "clear")], set(&[t(5)])),
        (vec![("tlp", "green")], set(&[t(0), t(3), t(7)])),
        (vec![("tlp", "amber")], set(&[t(1), t(2)])),
        (vec![("tlp", "amber_strict")], set(&[t(4)])),
        (vec![("tlp", "red")], set(&[t(6)])),
        (
            vec![("organization", lib.fatf.as_str()), ("tlp", "green")],
            set(&[t(7)]),
        ),
        (
            vec![("group", lib.sahel.as_str()), ("tlp", "amber")],
            set(&[t(1)]),
        ),
        (
            vec![
                ("organization", lib.unodc.as_str()),
                ("group", lib.balkans.as_str()),
            ],
            set(&[]),
        ),
    ];
    for (filters, expected) in cases {
        for text in [None, Some(("q", "smuggling"))] {
            for sort in ["newest", "relevance"] {
                if text.is_none() && sort == "relevance" {
                    continue;
                }
                let mut pairs = filters.clone();
                pairs.extend(text);
                pairs.push(("sort", sort));
                let results = search_with(&lib.app, &lib.reader, &pairs).await;
                let what = format!("{pairs:?}");
                assert_eq!(titles(&results), expected, "{what}");
                assert_counts_match_hits(&results, &what);
            }
        }
    }
}

/// `from` (inclusive) and `to` (exclusive) keep the items created in between: across days
/// and within one, down to the microsecond of an item's creation.
#[tokio::test]
async fn date_ranges_keep_exactly_the_items_created_within_them() {
    let lib = filtered_library().await;
    let t = |i: usize| FILTERED[i].0;
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    // Created as the test ran, in this order: 2, 3, 4, 5, 6.
    let middle = lib.created[t(4)].as_str();
    let cases: Vec<(Params, BTreeSet<String>)> = vec![
        (
            vec![
                ("from", "2025-01-01T00:00:00Z"),
                ("to", "2026-01-01T00:00:00Z"),
            ],
            set(&[t(0), t(7), t(1)]),
        ),
        (
            vec![
                ("from", "2025-06-20T00:00:00Z"),
                ("to", "2025-06-21T00:00:00Z"),
            ],
            set(&[t(7), t(1)]),
        ),
        (
            vec![
                ("from", "2025-06-20T12:00:00Z"),
                ("to", "2025-06-21T00:00:00Z"),
            ],
            set(&[t(1)]),
        ),
        // At or after `from`, before `to`.
        (
            vec![
                ("from", "2025-06-20T08:00:00Z"),
                ("to", "2025-06-20T18:00:00Z"),
            ],
            set(&[t(7)]),
        ),
        (
            vec![
                ("from", "2025-06-20T08:00:00.000001Z"),
                ("to", "2025-06-20T18:00:00.000001Z"),
            ],
            set(&[t(1)]),
        ),
        (vec![("to", "2025-06-20T08:00:00Z")], set(&[t(0)])),
        (vec![("to", "2025-01-01T00:00:00Z")], set(&[])),
        (
            vec![("from", hour_ago.as_str())],
            set(&[t(2), t(3), t(4), t(5), t(6)]),
        ),
        (vec![("from", middle)], set(&[t(4), t(5), t(6)])),
        (vec![("to", middle)], set(&[t(0), t(7), t(1), t(2), t(3)])),
        (
            vec![
                ("organization", lib.fatf.as_str()),
                ("from", "2025-06-01T00:00:00Z"),
                ("to", middle),
            ],
            set(&[t(7)]),
        ),
    ];
    for (filters, expected) in cases {
        for text in [None, Some(("q", "smuggling"))] {
            let mut pairs = filters.clone();
            pairs.extend(text);
            let results = search_with(&lib.app, &lib.reader, &pairs).await;
            let what = format!("{pairs:?}");
            assert_eq!(titles(&results), expected, "{what}");
            assert_counts_match_hits(&results, &what);
        }
    }
    // Newest first follows the creation times, backdated ones last.
    let newest = search_with(&lib.app, &lib.reader, &[("tag", "smuggling")]).await;
    assert_eq!(
        ordered_titles(&newest),
        [t(6), t(5), t(4), t(3), t(2), t(1), t(7), t(0)]
    );
}

/// Relevance puts the item that says the word most first, though it is the oldest; newest
/// first follows creation times, not the order of ids or of writes.
#[tokio::test]
async fn relevance_ranks_more_occurrences_higher_and_newest_follows_creation_time() {
    let app = TestApp::spawn().await;
    let unodc = app.create_org("UNODC", "compact_entity");
    app.create_user(&unodc, "fp@unodc.example", "focal_point");
    let author = app.tokens("fp@unodc.example").await.0;
    // The same length each, the word five times, twice, once; oldest first.
    let documents = [
        (
            "Five mentions",
            "Contraband trade: contraband fuel, contraband gold, contraband cattle and contraband cigarettes move north.",
        ),
        (
            "Two mentions",
            "Contraband trade: smuggled fuel, stolen gold, contraband cattle and counterfeit cigarettes move north.",
        ),
        (
            "One mention",
            "Informal trade: smuggled fuel, stolen gold, contraband cattle and counterfeit cigarettes move north.",
        ),
    ];
    for (title, body) in documents {
        app.share_document(
            &author,
            json!({
                "title": title, "body": body, "language": "en", "type": "report",
                "tags": ["trade"], "tlp": "green",
            }),
        )
        .await;
    }
    let ranked = search_with(&app, &author, &[("q", "contraband")]).await;
    assert_eq!(
        ordered_titles(&ranked),
        ["Five mentions", "Two mentions", "One mention"]
    );
    let scores: Vec<f64> = ranked["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["score"].as_f64().expect("score"))
        .collect();
    assert!(scores[0] > scores[1] && scores[1] > scores[2], "{scores:?}");
    assert_counts_match_hits(&ranked, "ranked");

    let newest = [("q", "contraband"), ("sort", "newest")];
    let by_date = search_with(&app, &author, &newest).await;
    assert_eq!(
        ordered_titles(&by_date),
        ["One mention", "Two mentions", "Five mentions"]
    );
    assert!(by_date["hits"][0]["score"].is_null(), "no score by date");
    // Created earlier after all: it moves to the end, in both kinds of search.
    backdate(&app, "One mention", "2025-01-01T00:00:00Z");
    let by_tag = [("tag", "trade")];
    for pairs in [&newest[..], &by_tag[..]] {
        let by_date = search_with(&app, &author, pairs).await;
        assert_eq!(
            ordered_titles(&by_date),
            ["Two mentions", "Five mentions", "One mention"],
            "{pairs:?}"
        );
    }
    let ranked = search_with(&app, &author, &[("q", "contraband")]).await;
    assert_eq!(
        ordered_titles(&ranked),
        ["Five mentions", "Two mentions", "One mention"],
        "the rank does not depend on age"
    );
}
