//! Identity and access over HTTP (DESIGN §2, §5), on the test backend.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use compact_mail::testing::SmtpSink;
use serde_json::{Value, json};
use support::{PASSWORD, TestApp, problem};

#[test]
fn every_route_declares_a_permission_or_is_public() {
    let spec = serde_json::to_value(compact_api::app::openapi()).expect("spec");
    let known: Vec<&str> = compact_auth::Permission::ALL
        .iter()
        .map(|p| p.as_str())
        .chain(["session", "authenticated"])
        .collect();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let security = operation["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path} declares no security"));
            assert!(!security.is_empty(), "{method} {path}: empty security");
            // An empty requirement makes a route public; the public read routes also list
            // what a signed-in caller needs (they then see more than TLP:CLEAR).
            {
                for requirement in security {
                    for (_, scopes) in requirement.as_object().expect("requirement") {
                        let scopes = scopes.as_array().expect("scopes");
                        assert_eq!(
                            scopes.len(),
                            1,
                            "{method} {path} must name exactly one permission"
                        );
                        let scope = scopes[0].as_str().expect("scope");
                        assert!(
                            known.contains(&scope),
                            "{method} {path} names unknown permission {scope}"
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 20);
}

#[tokio::test]
async fn sign_in_then_me() {
    let app = TestApp::spawn().await;
    let org = app.create_org("OIC", "regional_organization");
    app.create_user(&org, "Focal@Example.org", "focal_point");
    // E-mail is compared case-insensitively.
    let response = app.login("focal@EXAMPLE.org", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    let me: Value = app
        .get_json(body["access_token"].as_str().expect("token"), "/api/v1/me")
        .await;
    assert_eq!(me["email"], "Focal@Example.org");
    assert_eq!(me["role"], "focal_point");
    assert!(
        me["permissions"]
            .as_array()
            .expect("permissions")
            .contains(&json!("updates:write"))
    );
    assert!(app.audit_actions().contains(&"auth.login".to_owned()));
}

#[tokio::test]
async fn the_four_login_failures_look_the_same() {
    let app = TestApp::spawn().await;
    let org = app.create_org("FATF", "compact_entity");
    app.create_user(&org, "locked@example.org", "member");
    let deactivated = app.create_user(&org, "gone@example.org", "member");
    app.create_user(&org, "present@example.org", "member");
    {
        use compact_db::schema::users;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        diesel::update(users::table.find(&deactivated))
            .set(users::status.eq("deactivated"))
            .execute(&mut *conn)
            .expect("deactivate");
        let later = compact_db::now() + chrono::TimeDelta::hours(1);
        diesel::update(users::table.filter(users::email_normalized.eq("locked@example.org")))
            .set(users::locked_until.eq(Some(later)))
            .execute(&mut *conn)
            .expect("lock");
    }
    let mut answers = Vec::new();
    for (email, password) in [
        ("nobody@example.org", PASSWORD),
        ("present@example.org", "wrong horse battery staple"),
        ("locked@example.org", PASSWORD),
        ("gone@example.org", PASSWORD),
    ] {
        let response = app.login(email, password).await;
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        answers.push((status, body));
    }
    assert_eq!(answers[0].0, 401);
    for answer in &answers[1..] {
        assert_eq!(answer, &answers[0], "a login failure can be told apart");
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_a_while() {
    let app = TestApp::spawn().await;
    let org = app.create_org("WCO", "compact_entity");
    app.create_user(&org, "target@example.org", "member");
    for _ in 0..5 {
        assert_eq!(
            app.login("target@example.org", "not the password at all")
                .await
                .status(),
            401
        );
    }
    // Locked: even the right password is refused, with the same answer.
    assert_eq!(
        app.login("target@example.org", PASSWORD).await.status(),
        401
    );
    assert!(app.audit_actions().contains(&"auth.lockout".to_owned()));
    // The lock is temporary (1 s in tests).
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(
        app.login("target@example.org", PASSWORD).await.status(),
        200
    );
}

fn signing_key(app: &TestApp) -> (String, Vec<u8>) {
    use compact_db::schema::signing_keys;
    use diesel::prelude::*;
    let mut conn = app.db.get().expect("connection");
    let (kid, private): (String, String) = signing_keys::table
        .filter(signing_keys::retired_at.is_null())
        .select((signing_keys::kid, signing_keys::private_key))
        .first(&mut *conn)
        .expect("key");
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(STANDARD.decode(private).expect("seed"));
    (kid, der)
}

fn sign(kid: &str, der: &[u8], claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_ed_der(der),
    )
    .expect("sign")
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNICEF", "compact_entity");
    let user = app.create_user(&org, "member@example.org", "member");
    let (good, refresh) = app.tokens("member@example.org").await;
    assert_eq!(app.get_as(&good, "/api/v1/me").await.status(), 200);

    let (kid, der) = signing_key(&app);
    let now = chrono::Utc::now().timestamp();
    let claims = |changes: Value| {
        let mut c = json!({
            "iss": app.settings.public_url, "aud": "compact-api", "sub": user, "exp": now + 600, "nbf": now,
            "iat": now, "jti": "x", "org": org, "role": "member", "tv": 0, "typ": "access", "mfa": true,
        });
        for (k, v) in changes.as_object().expect("object") {
            if v.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    // Our own key and the right claims work, so each refusal below is for its one reason.
    assert_eq!(
        app.get_as(&sign(&kid, &der, &claims(json!({}))), "/api/v1/me")
            .await
            .status(),
        200
    );

    let header_none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    let alg_none = format!("{header_none}.{payload}.");
    let public = app
        .get("/.well-known/jwks.json")
        .await
        .json::<Value>()
        .await
        .expect("jwks")["keys"][0]["x"]
        .as_str()
        .expect("x")
        .to_owned();
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &claims(json!({})),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("hs");
    let forged = [
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        (
            "wrong audience",
            sign(&kid, &der, &claims(json!({ "aud": "other-api" }))),
        ),
        (
            "wrong issuer",
            sign(
                &kid,
                &der,
                &claims(json!({ "iss": "https://evil.example" })),
            ),
        ),
        (
            "expired",
            sign(
                &kid,
                &der,
                &claims(json!({ "exp": now - 120, "iat": now - 720, "nbf": now - 720 })),
            ),
        ),
        (
            "not yet valid",
            sign(&kid, &der, &claims(json!({ "nbf": now + 300 }))),
        ),
        (
            "missing jti",
            sign(&kid, &der, &claims(json!({ "jti": null }))),
        ),
        ("unknown kid", sign("no-such-key", &der, &claims(json!({})))),
        (
            "other token type",
            sign(&kid, &der, &claims(json!({ "typ": "refresh" }))),
        ),
        (
            "stale token version",
            sign(&kid, &der, &claims(json!({ "tv": 7 }))),
        ),
        ("refresh token as access token", refresh),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (what, token) in forged {
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().expect("ascii")),
            Some("Bearer"),
            "{what}"
        );
        problem(response, 401).await;
    }
    problem(app.get("/api/v1/me").await, 401).await;
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    let org = app.create_org("IPU", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let (_, first) = app.tokens("member@example.org").await;

    let rotated: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": first }),
        )
        .await
        .json()
        .await
        .expect("json");
    let second = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(
        app.get_as(
            rotated["access_token"].as_str().expect("access"),
            "/api/v1/me"
        )
        .await
        .status(),
        200
    );

    // The spent token again: refused, and the family (including `second`) dies.
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": first }),
        )
        .await,
        401,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": second }),
        )
        .await,
        401,
    )
    .await;
    assert!(
        app.audit_actions()
            .contains(&"auth.refresh_reuse".to_owned())
    );
    // A fresh sign-in starts a new family.
    let (_, fresh) = app.tokens("member@example.org").await;
    assert_eq!(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": fresh })
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn deactivation_role_change_and_logout_kill_tokens_at_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNODC", "compact_entity");
    app.create_user(&org, "coordinator@example.org", "coordinator");
    let member = app.create_user(&org, "member@example.org", "member");
    let other = app.create_user(&org, "other@example.org", "member");
    let (coordinator, _) = app.tokens("coordinator@example.org").await;

    let (member_token, _) = app.tokens("member@example.org").await;
    let changed = app
        .patch_json(
            &format!("/api/v1/users/{member}"),
            &coordinator,
            json!({ "role": "coordinator" }),
        )
        .await;
    assert_eq!(changed.status(), 200);
    problem(app.get_as(&member_token, "/api/v1/me").await, 401).await;
    let (member_token, member_refresh) = app.tokens("member@example.org").await;
    assert_eq!(
        app.get_json(&member_token, "/api/v1/me").await["role"],
        "coordinator"
    );

    let deactivated = app
        .patch_json(
            &format!("/api/v1/users/{member}"),
            &coordinator,
            json!({ "status": "deactivated" }),
        )
        .await;
    assert_eq!(deactivated.status(), 200);
    problem(app.get_as(&member_token, "/api/v1/me").await, 401).await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": member_refresh }),
        )
        .await,
        401,
    )
    .await;
    problem(app.login("member@example.org", PASSWORD).await, 401).await;

    let (other_token, other_refresh) = app.tokens("other@example.org").await;
    let _ = other;
    assert_eq!(
        app.post_json(
            "/api/v1/auth/logout",
            Some(&other_token),
            json!({ "refresh_token": other_refresh })
        )
        .await
        .status(),
        204
    );
    problem(app.get_as(&other_token, "/api/v1/me").await, 401).await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": other_refresh }),
        )
        .await,
        401,
    )
    .await;
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"user.update".to_owned()) && actions.contains(&"auth.logout".to_owned())
    );
}

#[tokio::test]
async fn a_coordinator_stays_inside_its_organization_and_role_ceiling() {
    let app = TestApp::spawn().await;
    let own = app.create_org("OSCE", "regional_organization");
    let foreign = app.create_org("AU", "regional_organization");
    app.create_user(&own, "coordinator@example.org", "coordinator");
    let colleague = app.create_user(&own, "colleague@example.org", "member");
    let stranger = app.create_user(&foreign, "stranger@example.org", "member");
    let (token, _) = app.tokens("coordinator@example.org").await;

    problem(
        app.patch_json(
            &format!("/api/v1/users/{stranger}"),
            &token,
            json!({ "status": "deactivated" }),
        )
        .await,
        404,
    )
    .await;
    problem(
        app.get_as(&token, &format!("/api/v1/users/{stranger}"))
            .await,
        404,
    )
    .await;
    for role in ["secretariat", "admin"] {
        problem(
            app.patch_json(
                &format!("/api/v1/users/{colleague}"),
                &token,
                json!({ "role": role }),
            )
            .await,
            403,
        )
        .await;
        let invite =
            json!({ "email": format!("{role}@example.org"), "name": "New Person", "role": role });
        problem(
            app.post_json("/api/v1/users", Some(&token), invite).await,
            403,
        )
        .await;
    }
    let elsewhere = json!({ "email": "x@example.org", "name": "X", "role": "member", "organization_id": foreign });
    problem(
        app.post_json("/api/v1/users", Some(&token), elsewhere)
            .await,
        403,
    )
    .await;
    // Mass assignment through unknown fields is refused.
    problem(
        app.patch_json(
            &format!("/api/v1/users/{colleague}"),
            &token,
            json!({ "organization_id": foreign }),
        )
        .await,
        422,
    )
    .await;
    let listed: Value = app.get_json(&token, "/api/v1/users").await;
    let emails: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|u| u["email"].as_str().expect("email"))
        .collect();
    assert_eq!(emails, ["colleague@example.org", "coordinator@example.org"]);
    // Members cannot manage anyone.
    let (member, _) = app.tokens("colleague@example.org").await;
    problem(app.get_as(&member, "/api/v1/users").await, 403).await;
}

#[tokio::test]
async fn api_keys_carry_only_their_scopes_and_die_when_they_should() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNDP", "compact_entity");
    let coordinator = app.create_user(&org, "coordinator@example.org", "coordinator");
    let (token, _) = app.tokens("coordinator@example.org").await;
    let expires = (chrono::Utc::now() + chrono::TimeDelta::days(30)).to_rfc3339();
    let create = |scopes: Value, cidrs: Value| {
        let body = json!({ "name": "script", "scopes": scopes, "expires_at": expires, "allowed_cidrs": cidrs });
        app.post_json("/api/v1/api-keys", Some(&token), body)
    };
    let search_only: Value = create(json!(["search"]), json!([]))
        .await
        .json()
        .await
        .expect("json");
    let search_key = search_only["secret"].as_str().expect("secret").to_owned();
    assert!(search_key.starts_with("cpk_"));
    assert!(search_key.starts_with(search_only["prefix"].as_str().expect("prefix")));
    problem(app.get_as(&search_key, "/api/v1/users").await, 403).await;
    assert_eq!(app.get_as(&search_key, "/api/v1/me").await.status(), 200);

    let managing: Value = create(json!(["users:manage"]), json!([]))
        .await
        .json()
        .await
        .expect("json");
    let managing_key = managing["secret"].as_str().expect("secret").to_owned();
    assert_eq!(
        app.get_as(&managing_key, "/api/v1/users").await.status(),
        200
    );
    let via_header = app
        .client
        .get(app.url("/api/v1/users"))
        .header("x-api-key", &managing_key)
        .send()
        .await
        .expect("request");
    assert_eq!(via_header.status(), 200);
    // API keys cannot mint API keys.
    problem(
        app.post_json(
            "/api/v1/api-keys",
            Some(&managing_key),
            json!({ "name": "x", "scopes": ["search"], "expires_at": expires }),
        )
        .await,
        403,
    )
    .await;

    // Scopes beyond the role, no expiry, too long an expiry, bad CIDR: 422.
    problem(create(json!(["nominations:decide"]), json!([])).await, 422).await;
    problem(create(json!([]), json!([])).await, 422).await;
    problem(create(json!(["search"]), json!(["not-an-ip"])).await, 422).await;
    let too_long = (chrono::Utc::now() + chrono::TimeDelta::days(400)).to_rfc3339();
    problem(
        app.post_json(
            "/api/v1/api-keys",
            Some(&token),
            json!({ "name": "x", "scopes": ["search"], "expires_at": too_long }),
        )
        .await,
        422,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/api-keys",
            Some(&token),
            json!({ "name": "x", "scopes": ["search"] }),
        )
        .await,
        422,
    )
    .await;

    // An allow-list that does not hold 127.0.0.1.
    let fenced: Value = create(json!(["search"]), json!(["10.0.0.0/8"]))
        .await
        .json()
        .await
        .expect("json");
    problem(
        app.get_as(fenced["secret"].as_str().expect("secret"), "/api/v1/me")
            .await,
        401,
    )
    .await;
    let local: Value = create(json!(["search"]), json!(["127.0.0.1"]))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        app.get_as(local["secret"].as_str().expect("secret"), "/api/v1/me")
            .await
            .status(),
        200
    );

    // Expired.
    {
        use compact_db::schema::api_keys;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        let past = compact_db::now() - chrono::TimeDelta::minutes(1);
        diesel::update(api_keys::table.find(search_only["id"].as_str().expect("id")))
            .set(api_keys::expires_at.eq(past))
            .execute(&mut *conn)
            .expect("expire");
    }
    problem(app.get_as(&search_key, "/api/v1/me").await, 401).await;

    // Revoked.
    let listed: Value = app.get_json(&token, "/api/v1/api-keys").await;
    assert_eq!(listed.as_array().expect("list").len(), 4);
    assert!(
        listed[0].get("secret").is_none(),
        "secrets are never listed"
    );
    let revoke = app
        .client
        .delete(app.url(&format!(
            "/api/v1/api-keys/{}",
            managing["id"].as_str().expect("id")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(revoke.status(), 204);
    problem(app.get_as(&managing_key, "/api/v1/users").await, 401).await;

    // Dead with its owner.
    {
        use compact_db::schema::users;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        diesel::update(users::table.find(&coordinator))
            .set(users::status.eq("deactivated"))
            .execute(&mut *conn)
            .expect("deactivate");
    }
    problem(
        app.get_as(local["secret"].as_str().expect("secret"), "/api/v1/me")
            .await,
        401,
    )
    .await;
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"api_key.create".to_owned())
            && actions.contains(&"api_key.revoke".to_owned())
    );
}

#[tokio::test]
async fn admins_must_enrol_a_second_factor_before_anything_else() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNOCT", "secretariat");
    app.create_user(&org, "admin@example.org", "admin");
    let (token, _) = app.tokens("admin@example.org").await;
    let me: Value = app.get_json(&token, "/api/v1/me").await;
    assert_eq!(me["mfa_satisfied"], false);
    problem(app.get_as(&token, "/api/v1/users").await, 403).await;
    // Until enrolled, not even its own credentials: only enrolment (and signing out).
    problem(app.get_as(&token, "/api/v1/api-keys").await, 403).await;
    let change = json!({ "current_password": PASSWORD, "new_password": "a sturdy lantern over quiet meadows" });
    problem(
        app.post_json("/api/v1/auth/password", Some(&token), change)
            .await,
        403,
    )
    .await;

    let secret = app.enrol_totp(&token).await;
    // Enrolment ended the old token; a sign-in now needs the code.
    problem(app.get_as(&token, "/api/v1/me").await, 401).await;
    let without = problem(app.login("admin@example.org", PASSWORD).await, 401).await;
    assert_eq!(without["type"], "urn:compact:problem:mfa-required");
    let wrong = json!({ "email": "admin@example.org", "password": PASSWORD, "totp": "000000" });
    let wrong_answer = problem(app.post_json("/api/v1/auth/login", None, wrong).await, 401).await;
    assert_eq!(
        wrong_answer["type"],
        "urn:compact:problem:invalid-credentials"
    );
    // The enrolment used this step's code; a code works once, so sign in with the next one.
    let code = compact_auth::mfa::next_code(&secret).expect("code");
    let with: Value = app
        .post_json(
            "/api/v1/auth/login",
            None,
            json!({ "email": "admin@example.org", "password": PASSWORD, "totp": code }),
        )
        .await
        .json()
        .await
        .expect("json");
    let admin = with["access_token"].as_str().expect("token");
    assert_eq!(app.get_as(admin, "/api/v1/users").await.status(), 200);
    assert!(app.audit_actions().contains(&"mfa.enrol".to_owned()));
}

#[tokio::test]
async fn recovery_codes_work_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNHCR", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let (token, _) = app.tokens("member@example.org").await;
    let begin: Value = app
        .post_json("/api/v1/me/mfa/totp", Some(&token), json!({}))
        .await
        .json()
        .await
        .expect("json");
    assert!(
        begin["provisioning_uri"]
            .as_str()
            .expect("uri")
            .starts_with("otpauth://totp/")
    );
    let code =
        compact_auth::mfa::current_code(begin["secret"].as_str().expect("secret")).expect("code");
    let codes: Value = app
        .post_json(
            "/api/v1/me/mfa/totp/confirm",
            Some(&token),
            json!({ "code": code }),
        )
        .await
        .json()
        .await
        .expect("json");
    let recovery = codes["recovery_codes"][0]
        .as_str()
        .expect("code")
        .to_owned();
    let login = |code: String| {
        app.post_json(
            "/api/v1/auth/login",
            None,
            json!({ "email": "member@example.org", "password": PASSWORD, "totp": code }),
        )
    };
    assert_eq!(login(recovery.clone()).await.status(), 200);
    problem(login(recovery).await, 401).await;
}

#[tokio::test]
async fn an_invited_user_sets_a_password_from_the_mail_and_signs_in() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let org = app.create_org("CAIM", "regional_organization");
    app.create_user(&org, "coordinator@example.org", "coordinator");
    let (token, _) = app.tokens("coordinator@example.org").await;
    let invited = app
        .post_json(
            "/api/v1/users",
            Some(&token),
            json!({ "email": "new.person@example.org", "name": "New Person", "role": "member" }),
        )
        .await;
    assert_eq!(invited.status(), 201);
    let user: Value = invited.json().await.expect("json");
    assert_eq!(user["status"], "invited");
    problem(
        app.post_json(
            "/api/v1/users",
            Some(&token),
            json!({ "email": "NEW.person@example.org", "name": "Dup", "role": "member" }),
        )
        .await,
        409,
    )
    .await;

    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert_eq!(mail.to, ["new.person@example.org"]);
    let invitation = support::link_token(&mail, "/invitations/");
    assert_eq!(invitation.len(), 43);

    let accept_path = format!("/api/v1/invitations/{invitation}/accept");
    let accept =
        |password: &str| app.post_json(&accept_path, None, json!({ "password": password }));
    let weak = problem(accept("new.person@example.org").await, 422).await;
    assert_eq!(weak["errors"][0]["field"], "password");
    problem(accept("short").await, 422).await;
    assert_eq!(
        accept("a sturdy lantern over quiet meadows").await.status(),
        204
    );
    problem(accept("a sturdy lantern over quiet meadows").await, 404).await;
    assert_eq!(
        app.login(
            "new.person@example.org",
            "a sturdy lantern over quiet meadows"
        )
        .await
        .status(),
        200
    );
    problem(
        app.post_json(
            "/api/v1/invitations/not-a-token/accept",
            None,
            json!({ "password": "a sturdy lantern over quiet meadows" }),
        )
        .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn password_change_and_reset_end_sessions_and_tell_the_user() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let org = app.create_org("ITU", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let (token, refresh) = app.tokens("member@example.org").await;

    let wrong = json!({ "current_password": "not it at all", "new_password": "a sturdy lantern over quiet meadows" });
    problem(
        app.post_json("/api/v1/auth/password", Some(&token), wrong)
            .await,
        422,
    )
    .await;
    let change = json!({ "current_password": PASSWORD, "new_password": "a sturdy lantern over quiet meadows" });
    let changed = app
        .post_json("/api/v1/auth/password", Some(&token), change)
        .await;
    assert_eq!(changed.status(), 200);
    let fresh: Value = changed.json().await.expect("json");
    assert_eq!(
        app.get_as(fresh["access_token"].as_str().expect("token"), "/api/v1/me")
            .await
            .status(),
        200
    );
    problem(app.get_as(&token, "/api/v1/me").await, 401).await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await,
        401,
    )
    .await;
    let notice = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    assert!(
        notice
            .body()
            .contains("password of your Compact Platform account was just changed")
    );

    // Reset: same answer for unknown and known e-mails; only the known one gets mail.
    assert_eq!(
        app.post_json(
            "/api/v1/auth/password-reset",
            None,
            json!({ "email": "nobody@example.org" })
        )
        .await
        .status(),
        202
    );
    assert_eq!(
        app.post_json(
            "/api/v1/auth/password-reset",
            None,
            json!({ "email": "member@example.org" })
        )
        .await
        .status(),
        202
    );
    let reset_mail = sink.wait_for(2, Duration::from_secs(10)).await.remove(1);
    assert_eq!(reset_mail.to, ["member@example.org"]);
    let token = support::link_token(&reset_mail, "/password-reset/");
    let reset = app
        .post_json(
            &format!("/api/v1/auth/password-reset/{token}"),
            None,
            json!({ "password": "another fine evening of rain" }),
        )
        .await;
    assert_eq!(reset.status(), 204);
    assert_eq!(
        app.login("member@example.org", "another fine evening of rain")
            .await
            .status(),
        200
    );
    problem(
        app.login("member@example.org", "a sturdy lantern over quiet meadows")
            .await,
        401,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.messages().len(), 3, "the reset is announced too");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_address() {
    let app = TestApp::builder().login_burst(3).spawn().await;
    for _ in 0..3 {
        assert_eq!(
            app.login("nobody@example.org", PASSWORD).await.status(),
            401
        );
    }
    let limited = app.login("nobody@example.org", PASSWORD).await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429).await;
    // Other routes are not limited by it.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn jwks_publishes_the_keys_and_rotation_signs_nobody_out() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNESCO", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let (before, _) = app.tokens("member@example.org").await;
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    let kid = jsonwebtoken::decode_header(&before)
        .expect("header")
        .kid
        .expect("kid");
    assert_eq!(jwks["keys"][0]["kid"], kid);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");

    let new_kid = {
        let mut conn = app.db.get().expect("connection");
        compact_auth::keys::rotate(&mut conn).expect("rotate")
    };
    app.state_reload_keys();
    let (after, _) = app.tokens("member@example.org").await;
    assert_eq!(
        jsonwebtoken::decode_header(&after)
            .expect("header")
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    // The token signed before the rotation still works... until the new login bumped nothing.
    assert_eq!(app.get_as(&after, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get_as(&before, "/api/v1/me").await.status(), 200);
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(jwks["keys"].as_array().expect("keys").len(), 2);
}

/// Verified tokens are remembered, but a remembered token still dies with its key.
#[tokio::test]
async fn a_remembered_token_dies_with_its_signing_key() {
    use compact_db::schema::signing_keys;
    use diesel::prelude::*;

    let app = TestApp::spawn().await;
    let org = app.create_org("UNESCO", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let (token, _) = app.tokens("member@example.org").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);

    // An operator drops a compromised key; the next start (or reload) creates a fresh one.
    {
        let mut conn = app.db.get().expect("connection");
        diesel::delete(signing_keys::table)
            .execute(&mut *conn)
            .expect("delete keys");
    }
    app.state_reload_keys();
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 401);
    let (fresh, _) = app.tokens("member@example.org").await;
    assert_eq!(app.get_as(&fresh, "/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn users_of_a_suspended_organization_are_cut_off() {
    let app = TestApp::spawn().await;
    let org = app.create_org("SCO", "regional_organization");
    app.create_user(&org, "member@example.org", "member");
    let (token, refresh) = app.tokens("member@example.org").await;
    let key: Value = app
        .post_json(
            "/api/v1/api-keys",
            Some(&token),
            json!({ "name": "k", "scopes": ["search"], "expires_at": (chrono::Utc::now() + chrono::TimeDelta::days(1)).to_rfc3339() }),
        )
        .await
        .json()
        .await
        .expect("json");
    {
        use compact_db::schema::organizations;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        diesel::update(organizations::table.find(&org))
            .set(organizations::status.eq("suspended"))
            .execute(&mut *conn)
            .expect("suspend");
    }
    // The registry's suspension route forgets cached state; here the database changed behind
    // the server's back, which the cache bounds to its short lifetime.
    app.auth.forget_all();
    problem(app.get_as(&token, "/api/v1/me").await, 401).await;
    problem(
        app.get_as(key["secret"].as_str().expect("secret"), "/api/v1/me")
            .await,
        401,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await,
        401,
    )
    .await;
    problem(app.login("member@example.org", PASSWORD).await, 401).await;
}

#[tokio::test]
async fn parallel_wrong_guesses_all_count_towards_the_lockout() {
    let app = TestApp::spawn().await;
    let org = app.create_org("OAS", "regional_organization");
    app.create_user(&org, "target@example.org", "member");
    let guesses = (0..8).map(|i| {
        app.login(
            "target@example.org",
            if i % 2 == 0 {
                "guess one of many"
            } else {
                "guess two of many"
            },
        )
    });
    for response in futures_util::future::join_all(guesses).await {
        assert_eq!(response.status(), 401);
    }
    problem(app.login("target@example.org", PASSWORD).await, 401).await;
}

#[tokio::test]
async fn a_deactivated_invitee_cannot_use_the_invitation() {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let org = app.create_org("ASEAN", "regional_organization");
    app.create_user(&org, "coordinator@example.org", "coordinator");
    let (token, _) = app.tokens("coordinator@example.org").await;
    let invited: Value = app
        .post_json(
            "/api/v1/users",
            Some(&token),
            json!({ "email": "late@example.org", "name": "Late Person", "role": "member" }),
        )
        .await
        .json()
        .await
        .expect("json");
    let mail = sink.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let invitation: String = support::link_token(&mail, "/invitations/");
    let id = invited["id"].as_str().expect("id");
    assert_eq!(
        app.patch_json(
            &format!("/api/v1/users/{id}"),
            &token,
            json!({ "status": "deactivated" })
        )
        .await
        .status(),
        200
    );
    let accept = app
        .accept_invitation(&invitation, "a sturdy lantern over quiet meadows")
        .await;
    problem(accept, 404).await;
    problem(
        app.login("late@example.org", "a sturdy lantern over quiet meadows")
            .await,
        401,
    )
    .await;
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle_and_at_the_end_of_the_sign_in() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNITAR", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    let age = |column: &str| {
        use compact_db::schema::refresh_tokens;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        let past = compact_db::now() - chrono::TimeDelta::seconds(1);
        let query =
            diesel::update(refresh_tokens::table.filter(refresh_tokens::spent_at.is_null()));
        match column {
            "idle" => query
                .set(refresh_tokens::idle_expires_at.eq(past))
                .execute(&mut *conn),
            _ => query
                .set(refresh_tokens::family_expires_at.eq(past))
                .execute(&mut *conn),
        }
        .expect("age tokens");
    };
    let (_, idle) = app.tokens("member@example.org").await;
    age("idle");
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": idle }),
        )
        .await,
        401,
    )
    .await;
    let (_, absolute) = app.tokens("member@example.org").await;
    age("family");
    problem(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": absolute }),
        )
        .await,
        401,
    )
    .await;
    let (_, fresh) = app.tokens("member@example.org").await;
    assert_eq!(
        app.post_json(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": fresh })
        )
        .await
        .status(),
        200
    );
}
