//! Bad input in bulk (issue 7): 10,000 malformed requests of many kinds get only 4xx answers,
//! never a 5xx, memory stays flat, and a correct request is served meanwhile.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use support::TestApp;

/// Resident memory of this process (the server runs in it), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_get_only_4xx() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "fp@unodc.example", "focal_point");
    let (token, _) = app.tokens("fp@unodc.example").await;
    let doc = app
        .share_document(
            &token,
            json!({ "title": "Kept", "body": "x", "language": "en", "type": "report", "tlp": "green" }),
        )
        .await;
    let doc_path = format!("/api/v1/documents/{}", doc["id"].as_str().expect("id"));

    let kinds: usize = 18;
    let request = |i: usize| {
        let client = app.client.clone();
        let url = |p: &str| app.url(p);
        let (token, doc_path) = (token.clone(), doc_path.clone());
        let builder = match i % kinds {
            0 => client
                .post(url("/api/v1/documents"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body("{\"title\": "),
            1 => client
                .post(url("/api/v1/documents"))
                .bearer_auth(&token)
                .header("content-type", "text/plain")
                .body("hello"),
            2 => client
                .post(url("/api/v1/updates"))
                .bearer_auth(&token)
                .json(&json!({ "title": 5, "body": [], "tlp": "purple" })),
            3 => client
                .get(url("/api/v1/search?q=%22&limit=-1"))
                .bearer_auth(&token),
            4 => client
                .get(url("/api/v1/search?cursor=%F0%9F%98%80&q=a"))
                .bearer_auth(&token),
            5 => client
                .get(url("/api/v1/documents/..%2F..%2Fetc%2Fpasswd"))
                .bearer_auth(&token),
            6 => client.get(url("/api/v1/documents")).header(
                "authorization",
                reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe.garbage")
                    .expect("obs-text"),
            ),
            7 => client
                .get(url("/api/v1/documents"))
                .header("authorization", format!("Bearer {}", "a".repeat(4000))),
            8 => client.request(
                reqwest::Method::from_bytes(b"TRACE").expect("method"),
                url("/api/v1/documents"),
            ),
            9 => client
                .patch(url(&doc_path))
                .bearer_auth(&token)
                .header("if-match", "\"v1\"")
                .json(&json!({ "tlp": "red" })),
            10 => client
                .get(url(&format!("/api/v1/search?q={}", "a".repeat(2000))))
                .bearer_auth(&token),
            11 => client
                .post(url("/api/v1/documents"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(format!("{}{}", "{\"a\":".repeat(300), "}".repeat(300))),
            12 => client
                .get(url("/api/v1/updates?since=not-a-date"))
                .bearer_auth(&token),
            13 => client
                .delete(url("/api/v1/subscriptions/%00"))
                .bearer_auth(&token),
            16 => client
                .get(url("/api/v1/search?q=a&organization=%00"))
                .bearer_auth(&token),
            17 => client
                .post(url("/api/v1/documents"))
                .bearer_auth(&token)
                .json(&json!({
                    "title": "t", "language": "en", "type": "report", "tlp": "amber",
                    "recipients": { "organizations": ["\u{0}"] },
                })),
            14 => client
                .post(url("/api/v1/auth/login"))
                .json(&json!({ "email": "\u{0}", "password": [1, 2] })),
            _ => client
                .post(url(&format!("{doc_path}/attachments?filename=")))
                .bearer_auth(&token)
                .body(vec![0u8; 10]),
        };
        async move { (i % kinds, builder.send().await.map(|r| r.status().as_u16())) }
    };

    // Warm up, then measure memory across the flood.
    for i in 0..kinds * 4 {
        let _ = request(i).await;
    }
    let before = rss_kib();
    let mut statuses = std::collections::BTreeMap::<(usize, u16), usize>::new();
    let served_meanwhile = {
        let app = &app;
        let token = token.clone();
        async move {
            let mut ok = 0;
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if app.get_as(&token, "/api/v1/me").await.status() == 200 {
                    ok += 1;
                }
            }
            ok
        }
    };
    let flood = futures_util::stream::iter(0..10_000)
        .map(request)
        .buffer_unordered(32)
        .for_each(|(kind, status)| {
            let status = status.expect("the server answers every request");
            *statuses.entry((kind, status)).or_default() += 1;
            async {}
        });
    let ((), ok) = tokio::join!(flood, served_meanwhile);
    let after = rss_kib();

    let server_errors: Vec<_> = statuses.iter().filter(|((_, s), _)| *s >= 500).collect();
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    assert!(
        statuses.keys().all(|(_, s)| (400..500).contains(s)),
        "{statuses:?}"
    );
    assert_eq!(ok, 20, "correct requests were served during the flood");
    assert!(
        after.saturating_sub(before) < 64 * 1024,
        "memory grew from {before} KiB to {after} KiB"
    );
    // The document kept its state: the flood's edits carried a stale or wrong ETag.
    let kept: serde_json::Value = app.get_json(&token, &doc_path).await;
    assert_eq!(kept["tlp"], "green");
}
