//! The HTTP skeleton: operations endpoints, errors as problem+json, headers, docs.

mod support;

use std::time::Duration;

use compact_db::DatabaseUrl;
use compact_db::outbox::{self, NewMail};
use compact_mail::testing::SmtpSink;
use support::{TestApp, problem};

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/api/v1/does-not-exist"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let id = headers
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .expect("ascii");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store");
    }
    let a = app.get("/healthz").await.headers()["x-request-id"].clone();
    let b = app.get("/healthz").await.headers()["x-request-id"].clone();
    assert_ne!(a, b);
}

#[tokio::test]
async fn unknown_routes_are_problem_404s() {
    let app = TestApp::spawn().await;
    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v1/",
        "/api/v1/openapi.json/x",
    ] {
        problem(app.get(path).await, 404).await;
    }
}

#[tokio::test]
async fn wrong_methods_are_problem_405s_with_allow() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json"] {
        let response = app
            .client
            .delete(app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(response.headers()["allow"], "GET");
        problem(response, 405).await;
    }
    let response = app
        .client
        .post(app.url("/metrics"))
        .body("x")
        .send()
        .await
        .expect("request");
    problem(response, 405).await;
}

#[tokio::test]
async fn an_unreachable_database_gives_503_and_health_stays_up() {
    // Nothing listens on port 1: every connection attempt fails.
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/compact").expect("url");
    let app = TestApp::builder().database_url(url).spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let response = app.get("/readyz").await;
    assert!(response.headers().contains_key("retry-after"));
    let body = problem(response, 503).await;
    let text = body.to_string();
    assert!(
        !text.contains("127.0.0.1") && !text.contains("postgres"),
        "no internals leak: {text}"
    );
    // Metrics still render while the database is away.
    assert_eq!(app.get("/metrics").await.status(), 200);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_routes_pool_and_outbox() {
    let app = TestApp::spawn().await;
    app.get("/healthz").await;
    app.get("/nope").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("text");
    for needle in [
        r#"compact_http_requests_total{method="GET",route="/healthz",status="200"} 1"#,
        r#"compact_http_requests_total{method="GET",route="<unmatched>",status="404"} 1"#,
        "compact_http_request_duration_seconds_bucket",
        "compact_db_pool_connections_idle",
        "compact_db_pool_connections_in_use",
        "compact_outbox_pending_messages 0",
        "compact_outbox_failed_messages 0",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let served = response.text().await.expect("text");
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/openapi.json"
    ))
    .expect("openapi/openapi.json");
    assert!(
        served == committed,
        "served spec differs from openapi/openapi.json; see the README to regenerate it"
    );
    let spec: serde_json::Value = serde_json::from_str(&served).expect("json");
    assert!(
        spec["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.1")
    );
}

#[tokio::test]
async fn the_docs_page_loads_only_local_assets() {
    let app = TestApp::spawn().await;
    let redirect = app.get("/docs").await;
    assert_eq!(redirect.status(), 302);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.get("/docs/").await.text().await.expect("html");
    assert!(page.contains("swagger-ui"));
    for attribute in ["src=\"", "href=\""] {
        for reference in page.split(attribute).skip(1) {
            let target = reference.split('"').next().unwrap_or_default();
            assert!(!target.contains("//"), "docs page references {target}");
            let asset = app
                .get(&format!("/docs/{}", target.trim_start_matches("./")))
                .await;
            assert_eq!(asset.status(), 200, "{target}");
        }
    }
    let init = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .expect("js");
    assert!(init.contains("/api/v1/openapi.json"));
    assert!(
        init.contains("\"validatorUrl\": \"none\""),
        "no call to the online validator"
    );
}

#[tokio::test]
async fn the_server_delivers_queued_mail_over_smtp() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let queued = {
        let mut conn = app.db.get().expect("connection");
        let mail = NewMail {
            recipient: "focal.point@example.org".into(),
            subject: "Welcome".into(),
            body_text: "Hi".into(),
        };
        outbox::enqueue(&mut conn, mail, "compact.test").expect("enqueue")
    };
    let received = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        received[0].header("Message-ID"),
        Some(queued.message_id.as_str())
    );
    assert_eq!(received[0].header("Subject"), Some("Welcome"));
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let portal = "https://portal.example.org";
    let app = TestApp::builder().cors_allowed_origin(portal).spawn().await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/documents"))
        .header("origin", portal)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, idempotency-key",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], portal);
    let allowed = app
        .client
        .get(app.url("/healthz"))
        .header("origin", portal)
        .send()
        .await
        .expect("get");
    assert_eq!(allowed.headers()["access-control-allow-origin"], portal);
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .expect("header")
        .to_lowercase();
    assert!(exposed.contains("etag"), "{exposed}");

    let other = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("get");
    assert!(other.headers().get("access-control-allow-origin").is_none());

    // Without configured origins there are no CORS headers at all.
    let plain = TestApp::spawn().await;
    let response = plain
        .client
        .get(plain.url("/healthz"))
        .header("origin", portal)
        .send()
        .await
        .expect("get");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn the_docs_and_the_spec_can_be_switched_off() {
    let app = TestApp::builder().without_docs().spawn().await;
    problem(app.get("/api/v1/openapi.json").await, 404).await;
    for path in ["/docs", "/docs/", "/docs/index.html"] {
        assert_eq!(app.get(path).await.status(), 404, "{path}");
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn deeply_nested_json_is_a_clean_4xx() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "fp@unodc.example", "focal_point");
    let (token, _) = app.tokens("fp@unodc.example").await;
    let depth = 100_000;
    let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let response = app
        .client
        .post(app.url("/api/v1/documents"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    // Refused as the wrong shape before any depth is reached; either way a problem, no 500.
    let status = response.status().as_u16();
    assert!(matches!(status, 400 | 422), "{status}");
    problem(response, status).await;
    let nested_title = format!(r#"{{"title": {}"x"{} }}"#, "[".repeat(200), "]".repeat(200));
    let response = app
        .client
        .post(app.url("/api/v1/updates"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(nested_title)
        .send()
        .await
        .expect("request");
    assert!(matches!(response.status().as_u16(), 400 | 422));
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_client_that_sends_its_body_too_slowly_gets_408_and_others_are_served() {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn().await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "fp@unodc.example", "focal_point");
    let (token, _) = app.tokens("fp@unodc.example").await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/updates HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"title\":"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    // Meanwhile the server answers others.
    assert_eq!(app.get("/healthz").await.status(), 200);
    let started = std::time::Instant::now();
    expect_408(&mut slow).await;
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Reads the server's answer to a stalled request: a 408.
async fn expect_408(stream: &mut tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the server answered")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn clients_that_never_finish_their_headers_get_408_and_hold_no_worker() {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    // More slow clients than the server has workers (one per core).
    let mut slow = Vec::new();
    for _ in 0..64 {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET /api/v1/documents HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("write");
        slow.push(stream);
    }
    assert_eq!(app.get("/api/v1/documents").await.status(), 200);
    let started = std::time::Instant::now();
    for mut stream in slow {
        expect_408(&mut stream).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn every_caller_has_its_own_rate_limit_with_retry_after() {
    let app = TestApp::builder().rate_limit_burst(3).spawn().await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "a@unodc.example", "member");
    app.create_user(&org, "b@unodc.example", "member");
    let (a, _) = app.tokens("a@unodc.example").await;
    let (b, _) = app.tokens("b@unodc.example").await;
    for _ in 0..3 {
        assert_eq!(app.get_as(&a, "/api/v1/me").await.status(), 200);
    }
    let limited = app.get_as(&a, "/api/v1/me").await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429).await;
    // Another caller, and anonymous callers, have buckets of their own.
    assert_eq!(app.get_as(&b, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get("/api/v1/documents").await.status(), 200);
    // Operations routes are outside the API limit.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_new_made_up_credential_per_request_does_not_escape_the_address_limit() {
    let app = TestApp::builder()
        .rate_limit_burst(1000)
        .address_limit_burst(5)
        .spawn()
        .await;
    for i in 0..5 {
        let status = app
            .get_as(&format!("made-up-{i}"), "/api/v1/me")
            .await
            .status();
        assert_eq!(status, 401);
    }
    let limited = app.get_as("made-up-5", "/api/v1/me").await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429).await;
    assert_eq!(app.get("/api/v1/documents").await.status(), 429);
    // The address limit covers every route, the public ones outside the API too.
    assert_eq!(app.get("/.well-known/jwks.json").await.status(), 429);
}
