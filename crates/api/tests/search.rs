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
    app.create_user(&unodc, "fp@unodc.example", "focal_point");
    app.create_user(&fatf, "fp@fatf.example", "focal_point");
    app.create_user(&interpol, "member@interpol.example", "member");
    let author = app.tokens("fp@unodc.example").await.0;
    let other_author = app.tokens("fp@fatf.example").await.0;
    let reader = app.tokens("member@interpol.example").await.0;
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

async fn search(lib: &Library, query: &str) -> Value {
    let mut pairs = url_pairs(query);
    pairs.push(("limit".into(), "100".into()));
    let response = lib
        .app
        .client
        .get(with_query(&lib.app, "/api/v1/search", &pairs))
        .bearer_auth(&lib.reader)
        .send()
        .await
        .expect("search");
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.expect("json")
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
    results["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["title"].as_str().expect("title").to_owned())
        .collect()
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
