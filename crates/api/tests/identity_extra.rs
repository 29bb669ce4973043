//! Identity and access over HTTP, continued (issue 3): the second-factor rule on
//! subscriptions and item mail, rehash at sign-in, lockout growth, key retirement, the
//! role ceilings of admins and the secretariat, one-time tokens, API-key last use, failed
//! sign-in audit, and the set-password pages the mailed and printed links open.

mod support;

use std::process::Stdio;
use std::time::Duration;

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::{Value, json};

use compact_db::testing::TestDatabase;
use support::cli::{admin_create, compact as compact_cli};
use support::mail::{mailed_token, outbox_for, queued_for_digest, send_digests_at, subscribe};
use support::{PASSWORD, TestApp, problem};

const NEW_PASSWORD: &str = "a sturdy lantern over quiet meadows";

/// Signs in with password and the next TOTP code of `secret`; returns the access token.
async fn sign_in_with_code(app: &TestApp, email: &str, secret: &str) -> String {
    let code = compact_auth::mfa::next_code(secret).expect("code");
    let body = json!({ "email": email, "password": PASSWORD, "totp": code });
    let response = app.post_json("/api/v1/auth/login", None, body).await;
    assert_eq!(response.status(), 200, "sign-in of {email} with a code");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

fn subscribe_directly(app: &TestApp, user_id: &str, delivery: &str) {
    use compact_db::schema::subscriptions as s;
    let mut conn = app.db.get().expect("connection");
    diesel::insert_into(s::table)
        .values((
            s::id.eq(uuid::Uuid::now_v7().to_string()),
            s::user_id.eq(user_id),
            s::target_type.eq("everything"),
            s::target_id.eq(""),
            s::delivery.eq(delivery),
            s::created_at.eq(compact_db::now()),
        ))
        .execute(&mut *conn)
        .expect("subscribe");
}

async fn post_update(app: &TestApp, token: &str, title: &str) -> String {
    let body = json!({ "title": title, "body": "Text.", "language": "en", "tlp": "green" });
    let response = app.post_json("/api/v1/updates", Some(token), body).await;
    assert_eq!(response.status(), 201, "post update");
    let v: Value = response.json().await.expect("json");
    v["id"].as_str().expect("id").to_owned()
}

fn send_digests_tomorrow(app: &TestApp) -> usize {
    send_digests_at(app, compact_db::now() + TimeDelta::days(1))
}

/// Until they enrol a second factor, admins and the secretariat can only enrol: the
/// subscription routes refuse them as every other route does, and no item reaches them by
/// mail, at once or in a digest. After enrolment both work.
#[tokio::test]
async fn unenrolled_admins_and_secretariat_get_no_subscriptions_and_no_item_mail() {
    let app = TestApp::spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let unodc = app.create_org("UNODC", "compact_entity");
    let (admin, admin_token) = app.signed_in(&unoct, "admin@unoct.example", "admin").await;
    let (secretariat, desk_token) = app
        .signed_in(&unoct, "desk@unoct.example", "secretariat")
        .await;
    let member = app.create_user(&unodc, "member@unodc.example", "member");
    let (_, author) = app
        .signed_in(&unodc, "author@unodc.example", "focal_point")
        .await;

    for token in [&admin_token, &desk_token] {
        // What any other route answers them (their own API keys, here).
        let expected = problem(app.get_as(token, "/api/v1/api-keys").await, 403).await;
        assert_eq!(expected["detail"], "enrol a second factor (TOTP) first");
        let listed = problem(app.get_as(token, "/api/v1/subscriptions").await, 403).await;
        assert_eq!(listed, expected);
        let follow = json!({ "target": "everything", "delivery": "immediate" });
        let created = problem(
            app.post_json("/api/v1/subscriptions", Some(token), follow)
                .await,
            403,
        )
        .await;
        assert_eq!(created, expected);
        let deleted = problem(app.delete_as(token, "/api/v1/subscriptions/any").await, 403).await;
        assert_eq!(deleted, expected);
    }

    // Subscriptions made before the role needed a second factor still exist.
    subscribe_directly(&app, &admin, "immediate");
    subscribe_directly(&app, &secretariat, "daily");
    subscribe_directly(&app, &member, "immediate");
    let first = post_update(&app, &author, "Before enrolment").await;
    assert_eq!(
        outbox_for(&app, "member@unodc.example").len(),
        1,
        "the member hears of it"
    );
    assert!(outbox_for(&app, "admin@unoct.example").is_empty());
    assert_eq!(
        queued_for_digest(&app, &secretariat),
        0,
        "nothing queued for the digest"
    );
    {
        use compact_db::schema::digest_entries as d;
        let mut conn = app.db.get().expect("connection");
        // One queued before the role changed: the digest checks the rule again.
        diesel::insert_into(d::table)
            .values((
                d::user_id.eq(&secretariat),
                d::item_id.eq(&first),
                d::created_at.eq(compact_db::now()),
            ))
            .execute(&mut *conn)
            .expect("queue");
    }
    assert_eq!(send_digests_tomorrow(&app), 0);
    assert!(outbox_for(&app, "desk@unoct.example").is_empty());

    // Enrolled: the routes work and the mail comes.
    let secret = app.enrol_totp(&admin_token).await;
    let admin_token = sign_in_with_code(&app, "admin@unoct.example", &secret).await;
    let secret = app.enrol_totp(&desk_token).await;
    let desk_token = sign_in_with_code(&app, "desk@unoct.example", &secret).await;
    for token in [&admin_token, &desk_token] {
        let listed: Value = app.get_json(token, "/api/v1/subscriptions").await;
        assert_eq!(listed.as_array().expect("list").len(), 1);
        let follow = json!({ "target": "tag", "target_id": "sahel", "delivery": "daily" });
        let created = subscribe(&app, token, follow).await;
        let path = format!(
            "/api/v1/subscriptions/{}",
            created["id"].as_str().expect("id")
        );
        assert_eq!(app.delete_as(token, &path).await.status(), 204);
    }
    post_update(&app, &author, "After enrolment").await;
    let notices = outbox_for(&app, "admin@unoct.example");
    assert_eq!(notices.len(), 1);
    assert!(notices[0].0.contains("After enrolment"), "{notices:?}");
    assert_eq!(send_digests_tomorrow(&app), 1);
    let digests = outbox_for(&app, "desk@unoct.example");
    assert_eq!(digests.len(), 1);
    assert!(digests[0].1.contains("After enrolment"), "{digests:?}");
}

/// Subscriptions are a person's own mail: the spec declares an access token (`session`)
/// and that is what the routes accept; an API key is refused.
#[tokio::test]
async fn subscriptions_take_a_session_as_declared_not_an_api_key() {
    let spec = serde_json::to_value(compact_api::app::openapi()).expect("spec");
    for (path, method) in [
        ("/api/v1/subscriptions", "get"),
        ("/api/v1/subscriptions", "post"),
        ("/api/v1/subscriptions/{id}", "delete"),
    ] {
        assert_eq!(
            spec["paths"][path][method]["security"],
            json!([{ "bearer": ["session"] }]),
            "{method} {path}"
        );
    }
    let app = TestApp::spawn().await;
    let org = app.create_org("UNDP", "compact_entity");
    let (_, token) = app.signed_in(&org, "member@example.org", "member").await;
    let key = app.api_key(&token, &["search", "documents:read"]).await;
    let secret = key["secret"].as_str().expect("secret");
    problem(app.get_as(secret, "/api/v1/subscriptions").await, 403).await;
    let via_header = app
        .client
        .get(app.url("/api/v1/subscriptions"))
        .header("x-api-key", secret)
        .send()
        .await
        .expect("request");
    problem(via_header, 403).await;
    assert_eq!(
        app.get_json(&token, "/api/v1/subscriptions").await,
        json!([])
    );
}

fn stored_hash(app: &TestApp, email: &str) -> String {
    use compact_db::schema::users;
    let mut conn = app.db.get().expect("connection");
    users::table
        .filter(users::email_normalized.eq(email))
        .select(users::password_hash)
        .first::<Option<String>>(&mut *conn)
        .expect("user")
        .expect("hash")
}

/// A hash made at a lower cost than configured is redone at the next successful sign-in.
#[tokio::test]
async fn a_sign_in_rehashes_a_password_hashed_at_a_lower_cost() {
    use compact_auth::password::{PasswordCost, hash_with};
    let app = TestApp::spawn().await;
    let org = app.create_org("OSCE", "regional_organization");
    let user = app.create_user(&org, "member@example.org", "member");
    let configured = app.settings.auth().password_cost;
    let lower = PasswordCost {
        memory_kib: configured.memory_kib / 2,
        ..configured
    };
    let old = hash_with(lower, PASSWORD).expect("hash");
    {
        use compact_db::schema::users;
        let mut conn = app.db.get().expect("connection");
        diesel::update(users::table.find(&user))
            .set(users::password_hash.eq(Some(&old)))
            .execute(&mut *conn)
            .expect("store the old hash");
    }
    let params = |hash: &str| hash.split('$').nth(3).expect("parameters").to_owned();
    assert_eq!(params(&old), format!("m={},t=1,p=1", lower.memory_kib));

    // A failed sign-in changes nothing.
    app.assert_sign_in_refused("member@example.org", "not the password at all")
        .await;
    assert_eq!(stored_hash(&app, "member@example.org"), old);

    app.assert_signs_in("member@example.org", PASSWORD).await;
    let new = stored_hash(&app, "member@example.org");
    assert_eq!(
        params(&new),
        format!(
            "m={},t={},p={}",
            configured.memory_kib, configured.iterations, configured.parallelism
        )
    );
    // Still the same password, and not redone again once current.
    app.assert_signs_in("member@example.org", PASSWORD).await;
    assert_eq!(stored_hash(&app, "member@example.org"), new);
}

/// How long the account stays locked from now, and its failure count.
fn lock_of(app: &TestApp, email: &str) -> (Option<TimeDelta>, i32) {
    use compact_db::schema::users;
    let mut conn = app.db.get().expect("connection");
    let (until, failures): (Option<chrono::NaiveDateTime>, i32) = users::table
        .filter(users::email_normalized.eq(email))
        .select((users::locked_until, users::failed_logins))
        .first(&mut *conn)
        .expect("user");
    (until.map(|u| u - compact_db::now()), failures)
}

/// Locks grow with further failures (tests: 1 s doubling, at most 2 s) and end.
#[tokio::test]
async fn each_further_failure_doubles_the_lock_up_to_its_cap_and_it_ends() {
    let app = TestApp::spawn().await;
    let org = app.create_org("AU", "regional_organization");
    app.create_user(&org, "target@example.org", "member");
    let wrong = || app.login("target@example.org", "not the password at all");
    for _ in 0..4 {
        problem(wrong().await, 401).await;
    }
    assert_eq!(lock_of(&app, "target@example.org"), (None, 4));
    let within = |left: Option<TimeDelta>, secs: i64| {
        let left = left.expect("locked");
        assert!(
            left > TimeDelta::milliseconds(secs * 1000 - 500)
                && left <= TimeDelta::milliseconds(secs * 1000),
            "locked for {left:?}, expected about {secs} s"
        );
    };
    problem(wrong().await, 401).await;
    let (left, failures) = lock_of(&app, "target@example.org");
    assert_eq!(failures, 5);
    within(left, 1);
    // A wrong guess while locked counts too: the lock doubles...
    problem(wrong().await, 401).await;
    within(lock_of(&app, "target@example.org").0, 2);
    // ... up to its cap.
    problem(wrong().await, 401).await;
    within(lock_of(&app, "target@example.org").0, 2);
    let lockouts = app.audit_count("auth.lockout");
    assert_eq!(lockouts, 3);
    // Locked: the right password is refused, until the lock ends.
    app.assert_sign_in_refused("target@example.org", PASSWORD)
        .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    app.assert_signs_in("target@example.org", PASSWORD).await;
    assert_eq!(lock_of(&app, "target@example.org"), (None, 0));
}

/// `compact keys rotate` signs nobody out: the old key verifies through one token lifetime
/// plus the reload interval and leeway (600 + 30 + 5 s), and not after.
#[tokio::test]
async fn a_rotated_key_verifies_through_its_grace_period_and_not_after() {
    let (test_db, _) = TestDatabase::migrated();
    let app = TestApp::builder()
        .database_url(test_db.url().clone())
        .spawn()
        .await;
    let org = app.create_org("UNESCO", "compact_entity");
    let (_, before) = app.signed_in(&org, "member@example.org", "member").await;
    let old_kid = jsonwebtoken::decode_header(&before)
        .expect("header")
        .kid
        .expect("kid");
    assert_eq!(app.get_as(&before, "/api/v1/me").await.status(), 200);

    let data_dir = tempfile::tempdir().expect("data dir");
    let rotated = compact_cli(&test_db, data_dir.path())
        .args(["keys", "rotate"])
        .output()
        .expect("run compact keys rotate");
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("new signing key"));
    app.state_reload_keys();
    let (after, _) = app.tokens("member@example.org").await;
    let new_kid = jsonwebtoken::decode_header(&after)
        .expect("header")
        .kid
        .expect("kid");
    assert_ne!(new_kid, old_kid);
    assert_eq!(app.get_as(&before, "/api/v1/me").await.status(), 200);

    let retire = |seconds_ago: i64| {
        use compact_db::schema::signing_keys;
        let mut conn = app.db.get().expect("connection");
        diesel::update(signing_keys::table.find(&old_kid))
            .set(signing_keys::retired_at.eq(compact_db::now() - TimeDelta::seconds(seconds_ago)))
            .execute(&mut *conn)
            .expect("age the key");
        drop(conn);
        app.state_reload_keys();
    };
    let published = |jwks: Value| {
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k["kid"].as_str().expect("kid").to_owned())
            .collect::<Vec<_>>()
    };
    // Past the token lifetime, within the grace: still verifying (and remembered).
    retire(620);
    assert_eq!(app.get_as(&before, "/api/v1/me").await.status(), 200);
    // Past the grace: refused, remembered or not, and no longer published.
    retire(640);
    problem(app.get_as(&before, "/api/v1/me").await, 401).await;
    assert_eq!(app.get_as(&after, "/api/v1/me").await.status(), 200);
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(published(jwks), [new_kid]);
    drop(app);
}

/// DESIGN §2: admins manage any user, roles up to admin; the secretariat and coordinators
/// their own organization's users, roles up to coordinator.
#[tokio::test]
async fn admins_manage_anyone_and_grant_any_role_the_secretariat_stays_within_its_ceiling() {
    let app = TestApp::spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let osce = app.create_org("OSCE", "regional_organization");
    let (_, admin) = app.privileged(&unoct, "admin@unoct.example", "admin").await;
    let (_, desk) = app
        .privileged(&unoct, "desk@unoct.example", "secretariat")
        .await;
    let colleague = app.create_user(&unoct, "colleague@unoct.example", "member");
    let other_admin = app.create_user(&unoct, "admin2@unoct.example", "admin");
    let foreign = app.create_user(&osce, "member@osce.example", "member");
    let foreign_two = app.create_user(&osce, "second@osce.example", "member");
    let (_, coordinator) = app
        .signed_in(&osce, "coordinator@osce.example", "coordinator")
        .await;
    let user_path = |id: &str| format!("/api/v1/users/{id}");
    let role_of = |v: Value| v["role"].as_str().expect("role").to_owned();
    let deactivate = || json!({ "status": "deactivated" });

    // The admin, in another organization: read, grant secretariat and admin, deactivate,
    // invite with any role.
    let seen: Value = app.get_json(&admin, &user_path(&foreign)).await;
    assert_eq!(seen["email"], "member@osce.example");
    for role in ["secretariat", "admin"] {
        let changed = patch_user(&app, &admin, &foreign, json!({ "role": role })).await;
        assert_eq!(changed.status(), 200, "admin grants {role}");
        assert_eq!(role_of(changed.json().await.expect("json")), role);
    }
    let deactivated = patch_user(&app, &admin, &foreign_two, deactivate()).await;
    assert_eq!(deactivated.status(), 200);
    let body = json!({ "email": "new.admin@osce.example", "name": "New Admin", "role": "admin", "organization_id": osce });
    let invited = invite(&app, &admin, body).await;
    assert_eq!(invited.status(), 201);
    assert_eq!(role_of(invited.json().await.expect("json")), "admin");
    let listed: Value = app
        .get_json(&admin, &format!("/api/v1/users?organization_id={osce}"))
        .await;
    assert_eq!(listed.as_array().expect("list").len(), 4);

    // The secretariat: its own organization only, roles up to coordinator.
    problem(app.get_as(&desk, &user_path(&foreign)).await, 404).await;
    problem(patch_user(&app, &desk, &foreign, deactivate()).await, 404).await;
    let elsewhere = json!({ "email": "x@osce.example", "name": "X", "role": "member", "organization_id": osce });
    problem(invite(&app, &desk, elsewhere).await, 403).await;
    for role in ["secretariat", "admin"] {
        let granted = patch_user(&app, &desk, &colleague, json!({ "role": role })).await;
        problem(granted, 403).await;
        let body = json!({ "email": format!("{role}@unoct.example"), "name": "N", "role": role });
        problem(invite(&app, &desk, body).await, 403).await;
    }
    problem(
        patch_user(&app, &desk, &other_admin, deactivate()).await,
        403,
    )
    .await;
    let promoted = patch_user(&app, &desk, &colleague, json!({ "role": "coordinator" })).await;
    assert_eq!(promoted.status(), 200);
    let body = json!({ "email": "helper@unoct.example", "name": "Helper", "role": "coordinator" });
    assert_eq!(invite(&app, &desk, body).await.status(), 201);

    // A coordinator cannot grant secretariat or admin, even in its own organization.
    let colleague_there = app.create_user(&osce, "third@osce.example", "member");
    for role in ["secretariat", "admin"] {
        let granted = patch_user(
            &app,
            &coordinator,
            &colleague_there,
            json!({ "role": role }),
        );
        problem(granted.await, 403).await;
    }
}

/// PATCH `/api/v1/users/{id}` as `token`.
async fn patch_user(app: &TestApp, token: &str, id: &str, body: Value) -> reqwest::Response {
    app.patch_json(&format!("/api/v1/users/{id}"), token, body)
        .await
}

/// POST `/api/v1/users` (an invitation) as `token`.
async fn invite(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.post_json("/api/v1/users", Some(token), body).await
}

fn expire_tokens_of(app: &TestApp, email: &str) {
    use compact_db::schema::{one_time_tokens, users};
    let mut conn = app.db.get().expect("connection");
    let user: String = users::table
        .filter(users::email_normalized.eq(email))
        .select(users::id)
        .first(&mut *conn)
        .expect("user");
    diesel::update(one_time_tokens::table.filter(one_time_tokens::user_id.eq(user)))
        .set(one_time_tokens::expires_at.eq(compact_db::now() - TimeDelta::seconds(1)))
        .execute(&mut *conn)
        .expect("expire");
}

/// Asks for a password-reset mail for `email`.
async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    let body = json!({ "email": email });
    app.post_json("/api/v1/auth/password-reset", None, body)
        .await
}

/// Sets a new password with a mailed reset token.
async fn reset_password(app: &TestApp, reset: &str, password: &str) -> reqwest::Response {
    let path = format!("/api/v1/auth/password-reset/{reset}");
    app.post_json(&path, None, json!({ "password": password }))
        .await
}

#[tokio::test]
async fn expired_invitation_and_reset_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.create_org("CAIM", "regional_organization");
    let (_, token) = app
        .signed_in(&org, "coordinator@example.org", "coordinator")
        .await;
    app.create_user(&org, "member@example.org", "member");
    let body = json!({ "email": "late@example.org", "name": "Late Person", "role": "member" });
    assert_eq!(invite(&app, &token, body).await.status(), 201);
    let invitation = mailed_token(&app, "late@example.org", "/invitations/");
    expire_tokens_of(&app, "late@example.org");
    problem(app.accept_invitation(&invitation, NEW_PASSWORD).await, 404).await;
    app.assert_sign_in_refused("late@example.org", NEW_PASSWORD)
        .await;

    let requested = request_reset(&app, "member@example.org").await;
    assert_eq!(requested.status(), 202);
    let reset = mailed_token(&app, "member@example.org", "/password-reset/");
    expire_tokens_of(&app, "member@example.org");
    problem(reset_password(&app, &reset, NEW_PASSWORD).await, 404).await;
    app.assert_signs_in("member@example.org", PASSWORD).await;
}

#[tokio::test]
async fn a_reset_token_works_once() {
    let app = TestApp::spawn().await;
    let org = app.create_org("ITU", "compact_entity");
    app.create_user(&org, "member@example.org", "member");
    request_reset(&app, "member@example.org").await;
    let reset = mailed_token(&app, "member@example.org", "/password-reset/");
    let first = reset_password(&app, &reset, NEW_PASSWORD).await;
    assert_eq!(first.status(), 204);
    let again = reset_password(&app, &reset, "another fine evening of rain").await;
    problem(again, 404).await;
    app.assert_signs_in("member@example.org", NEW_PASSWORD)
        .await;
    app.assert_sign_in_refused("member@example.org", "another fine evening of rain")
        .await;
}

#[tokio::test]
async fn an_api_key_records_its_last_use() {
    let app = TestApp::spawn().await;
    let org = app.create_org("UNDP", "compact_entity");
    let (_, token) = app.signed_in(&org, "member@example.org", "member").await;
    let key = app.api_key(&token, &["search"]).await;
    let listed: Value = app.get_json(&token, "/api/v1/api-keys").await;
    assert_eq!(listed[0]["last_used_at"], Value::Null, "not used yet");
    let before = chrono::Utc::now() - TimeDelta::seconds(1);
    let secret = key["secret"].as_str().expect("secret");
    assert_eq!(app.get_as(secret, "/api/v1/me").await.status(), 200);
    let listed: Value = app.get_json(&token, "/api/v1/api-keys").await;
    let used: chrono::DateTime<chrono::Utc> = listed[0]["last_used_at"]
        .as_str()
        .expect("last use recorded")
        .parse()
        .expect("time");
    assert!(used >= before && used <= chrono::Utc::now(), "{used}");
}

#[tokio::test]
async fn a_failed_sign_in_is_audited_with_its_reason() {
    use compact_db::schema::audit_events as a;
    let app = TestApp::spawn().await;
    let org = app.create_org("OAS", "regional_organization");
    let user = app.create_user(&org, "member@example.org", "member");
    app.assert_sign_in_refused("member@example.org", "not the password at all")
        .await;
    app.assert_sign_in_refused("nobody@example.org", PASSWORD)
        .await;
    let mut conn = app.db.get().expect("connection");
    let failures: Vec<(Option<String>, String)> = a::table
        .filter(a::action.eq("auth.login"))
        .filter(a::outcome.eq("failure"))
        .order(a::seq.asc())
        .select((a::actor_user_id, a::details))
        .load(&mut *conn)
        .expect("audit");
    assert_eq!(failures.len(), 2, "{failures:?}");
    let reason = |details: &str| {
        serde_json::from_str::<Value>(details).expect("details")["reason"]
            .as_str()
            .expect("reason")
            .to_owned()
    };
    assert_eq!(failures[0].0.as_deref(), Some(user.as_str()));
    assert_eq!(reason(&failures[0].1), "wrong_password");
    assert_eq!(failures[1].0, None);
    assert_eq!(reason(&failures[1].1), "unknown_account");
}

/// Reads a set-password page, checking what every such page must be.
async fn set_password_page(app: &TestApp, path: &str, token: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "GET {path}");
    let header = |name: &str| support::header(&response, name);
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let policy = header("content-security-policy");
    assert!(
        policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"),
        "{policy}"
    );
    let html = response.text().await.expect("body");
    assert!(html.contains("<form id=\"set-password\""));
    assert!(html.contains("type=\"password\""));
    assert!(
        !html.contains(token),
        "the token is never written into the page"
    );
    // Nothing outside the page is loaded.
    for external in ["src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(external), "{external}");
    }
    html
}

/// The links in the invitation and reset mails open a page whose form posts to the API;
/// anything that is not a token is a 404, and the page takes no POST itself.
#[tokio::test]
async fn the_mailed_links_open_a_set_password_page() {
    let app = TestApp::spawn().await;
    let org = app.create_org("CAIM", "regional_organization");
    let (_, token) = app
        .signed_in(&org, "coordinator@example.org", "coordinator")
        .await;
    app.create_user(&org, "member@example.org", "member");
    let body = json!({ "email": "new@example.org", "name": "New Person", "role": "member" });
    invite(&app, &token, body).await;
    request_reset(&app, "member@example.org").await;
    let public = app.settings.public_url.trim_end_matches('/').to_owned();
    for (recipient, marker, api) in [
        (
            "new@example.org",
            "/invitations/",
            "../api/v1/invitations/{token}/accept",
        ),
        (
            "member@example.org",
            "/password-reset/",
            "../api/v1/auth/password-reset/{token}",
        ),
    ] {
        let token = mailed_token(&app, recipient, marker);
        let (_, body) = outbox_for(&app, recipient).pop().expect("mail");
        let link = format!("{public}{marker}{token}");
        assert!(body.contains(&link), "{body}");
        let path = format!("{marker}{token}");
        let html = set_password_page(&app, &path, &token).await;
        assert!(html.contains(&format!("data-api=\"{api}\"")), "{api}");
        let posted = app.client.post(app.url(&path)).send().await.expect("post");
        assert_eq!(posted.status(), 405);
        for bad in ["%3Cscript%3E", "a%22b", "x.y"] {
            problem(app.get(&format!("{marker}{bad}")).await, 404).await;
        }
    }
    // What the form posts, as the page's script sends it, works.
    let invitation = mailed_token(&app, "new@example.org", "/invitations/");
    let accepted = app
        .client
        .post(app.url(&format!("/api/v1/invitations/{invitation}/accept")))
        .header("content-type", "application/json")
        .body(json!({ "password": NEW_PASSWORD }).to_string())
        .send()
        .await
        .expect("accept");
    assert_eq!(accepted.status(), 204);
    app.assert_signs_in("new@example.org", NEW_PASSWORD).await;
}

/// The link `compact admin create` prints is a page the server answers, and setting the
/// password through it (its API call) activates the admin.
#[tokio::test]
async fn the_link_compact_admin_create_prints_opens_the_page() {
    let (test_db, _) = TestDatabase::migrated();
    let app = TestApp::builder()
        .database_url(test_db.url().clone())
        .spawn()
        .await;
    let data_dir = tempfile::tempdir().expect("data dir");
    let created = admin_create(
        &test_db,
        data_dir.path(),
        "first@unoct.example",
        "First Admin",
    )
    .env("COMPACT_PUBLIC_URL", &app.address)
    .output()
    .expect("run compact admin create");
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout).into_owned();
    let link = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{}/invitations/", app.address)))
        .unwrap_or_else(|| panic!("no link in {stdout}"))
        .to_owned();
    let path = link.trim_start_matches(&app.address).to_owned();
    let token = path.trim_start_matches("/invitations/").to_owned();
    assert_eq!(token.len(), 43);
    set_password_page(&app, &path, &token).await;
    assert_eq!(
        app.accept_invitation(&token, NEW_PASSWORD).await.status(),
        204
    );
    app.assert_signs_in("first@unoct.example", NEW_PASSWORD)
        .await;
    drop(app);
}

/// The organization's name counts among what makes a new admin's password guessable.
#[tokio::test]
async fn compact_admin_create_refuses_a_password_built_from_the_organization() {
    let password = "United Nations Office of Counter-Terrorism";
    // Guessable only with the organization in the context.
    compact_auth::password::check_strength(password, &["first@unoct.example", "First Admin"])
        .expect("strong without the organization");
    let test_db = TestDatabase::empty();
    let data_dir = tempfile::tempdir().expect("data dir");
    let mut child = admin_create(
        &test_db,
        data_dir.path(),
        "first@unoct.example",
        "First Admin",
    )
    .arg("--password-stdin")
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("run compact admin create");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{password}").expect("write the password");
    }
    let output = child.wait_with_output().expect("wait");
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("password refused"), "{stderr}");
}
