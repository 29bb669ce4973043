//! Focal-point nominations over HTTP (DESIGN §3): the whole life cycle, with mail through a
//! real SMTP server.

mod support;

use std::time::Duration;

use compact_auth::accounts::MailContext;
use compact_mail::testing::SmtpSink;
use serde_json::{Value, json};
use support::{PASSWORD, TestApp, problem};

struct Compact {
    app: TestApp,
    sink: SmtpSink,
    secretariat: String,
    second_secretariat: String,
    oic: String,
    oic_coordinator: String,
}

async fn compact() -> Compact {
    let sink = SmtpSink::start();
    let app = TestApp::builder().smtp_port(sink.port()).spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let (_, secretariat) = app
        .privileged(&unoct, "sec@un.example", "secretariat")
        .await;
    let (_, second_secretariat) = app
        .privileged(&unoct, "sec2@un.example", "secretariat")
        .await;
    let oic = app.create_org("OIC", "regional_organization");
    app.create_user(&oic, "coordinator@oic.example", "coordinator");
    let (oic_coordinator, _) = app.tokens("coordinator@oic.example").await;
    Compact {
        app,
        sink,
        secretariat,
        second_secretariat,
        oic,
        oic_coordinator,
    }
}

fn scheduled(app: &TestApp) -> (usize, usize) {
    let mail = MailContext {
        public_url: app.settings.public_url.clone(),
        message_domain: "compact.test".into(),
    };
    let mut conn = app.db.get().expect("connection");
    compact_registry::nominations::run_scheduled(&mut conn, &mail).expect("scheduled work")
}

async fn nominate(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app
        .post_json("/api/v1/nominations", Some(token), body)
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.expect("json")
}

async fn act(app: &TestApp, token: &str, id: &str, step: &str, body: Value) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/nominations/{id}/{step}"),
        Some(token),
        body,
    )
    .await
}

#[tokio::test]
async fn a_nomination_becomes_a_focal_point_who_signs_in() {
    let c = compact().await;
    let app = &c.app;
    let body = json!({ "nominee_name": "Amina Diallo", "nominee_email": "amina@oic.example", "position": "CT adviser", "kind": "primary", "mandate": "Represents the OIC." });
    let nomination = nominate(app, &c.oic_coordinator, body).await;
    assert_eq!(nomination["status"], "pending");
    let id = nomination["id"].as_str().expect("id").to_owned();
    // Nominee and nominator are told.
    let received = c.sink.wait_for(2, Duration::from_secs(10)).await;
    let mut to: Vec<String> = received.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["amina@oic.example", "coordinator@oic.example"]);

    let approved = act(app, &c.secretariat, &id, "approve", json!({})).await;
    assert_eq!(approved.status(), 200);
    let approved: Value = approved.json().await.expect("json");
    assert_eq!(
        approved["status"], "approved",
        "a new person is invited first"
    );
    let received = c.sink.wait_for(5, Duration::from_secs(10)).await;
    let invitation = received
        .iter()
        .find(|m| m.header("Subject") == Some("Your invitation to the Compact Platform"))
        .expect("invitation mail");
    assert_eq!(invitation.to, ["amina@oic.example"]);
    let token = support::link_token(invitation, "/invitations/");
    let accepted = app
        .accept_invitation(&token, "a sturdy lantern over quiet meadows")
        .await;
    assert_eq!(accepted.status(), 204);
    assert_eq!(scheduled(app), (1, 0));

    let login = app
        .login("amina@oic.example", "a sturdy lantern over quiet meadows")
        .await;
    assert_eq!(login.status(), 200);
    let focal: Value = login.json().await.expect("json");
    let me: Value = app
        .get_json(focal["access_token"].as_str().expect("token"), "/api/v1/me")
        .await;
    assert_eq!(me["role"], "focal_point");
    assert_eq!(me["organization_id"], c.oic.as_str());

    let directory: Value = app
        .get_json(
            &c.oic_coordinator,
            "/api/v1/focal-points?organization_kind=regional_organization",
        )
        .await;
    assert_eq!(directory.as_array().expect("list").len(), 1);
    assert_eq!(directory[0]["name"], "Amina Diallo");
    assert_eq!(directory[0]["organization_acronym"], "OIC");
    assert_eq!(directory[0]["kind"], "primary");
    let stats: Value = app.get_json(&c.oic_coordinator, "/api/v1/stats").await;
    assert_eq!(stats["regional_organizations_with_focal_points"], 1);
    assert_eq!(stats["active_focal_points"], 1);
    assert_eq!(stats["pending_nominations"], 0);
    assert_eq!(stats["organizations_by_kind"]["regional_organization"], 1);

    let actions = app.audit_actions();
    for action in [
        "nomination.create",
        "nomination.approve",
        "user.invite",
        "nomination.activate",
    ] {
        assert!(actions.contains(&action.to_owned()), "{action}");
    }
}

#[tokio::test]
async fn only_the_right_people_take_each_step() {
    let c = compact().await;
    let app = &c.app;
    let au = app.create_org("AU", "regional_organization");
    app.create_user(&au, "coordinator@au.example", "coordinator");
    app.create_user(&c.oic, "member@oic.example", "member");
    let (au_coordinator, _) = app.tokens("coordinator@au.example").await;
    let (member, _) = app.tokens("member@oic.example").await;
    let body = json!({ "nominee_name": "Omar Haddad", "nominee_email": "omar@oic.example", "position": "Analyst", "kind": "alternate" });

    problem(
        app.post_json("/api/v1/nominations", Some(&member), body.clone())
            .await,
        403,
    )
    .await;
    let mut elsewhere = body.clone();
    elsewhere["organization_id"] = json!(c.oic);
    problem(
        app.post_json("/api/v1/nominations", Some(&au_coordinator), elsewhere)
            .await,
        403,
    )
    .await;
    let bad = json!({ "nominee_name": "X", "nominee_email": "not-an-email", "position": "P", "kind": "primary" });
    problem(
        app.post_json("/api/v1/nominations", Some(&c.oic_coordinator), bad)
            .await,
        422,
    )
    .await;
    let past = json!({ "nominee_name": "X", "nominee_email": "x@oic.example", "position": "P", "kind": "primary", "term_end": "2020-01-01T00:00:00Z" });
    problem(
        app.post_json("/api/v1/nominations", Some(&c.oic_coordinator), past)
            .await,
        422,
    )
    .await;

    let nomination = nominate(app, &c.oic_coordinator, body.clone()).await;
    let id = nomination["id"].as_str().expect("id").to_owned();
    problem(
        app.post_json("/api/v1/nominations", Some(&c.oic_coordinator), body)
            .await,
        409,
    )
    .await;
    problem(
        app.get_as(&au_coordinator, &format!("/api/v1/nominations/{id}"))
            .await,
        404,
    )
    .await;
    problem(
        act(app, &c.oic_coordinator, &id, "approve", json!({})).await,
        403,
    )
    .await;
    problem(
        act(app, &au_coordinator, &id, "withdraw", json!({})).await,
        404,
    )
    .await;
    problem(
        act(app, &c.secretariat, &id, "reject", json!({})).await,
        422,
    )
    .await;
    problem(
        act(
            app,
            &c.secretariat,
            &id,
            "revoke",
            json!({ "reason": "no" }),
        )
        .await,
        409,
    )
    .await;

    // The secretariat nominating on the OIC's behalf cannot decide its own nomination.
    let filed = nominate(app, &c.secretariat, json!({ "organization_id": c.oic, "nominee_name": "Lina", "nominee_email": "lina@oic.example", "position": "P", "kind": "alternate" })).await;
    let filed_id = filed["id"].as_str().expect("id");
    problem(
        act(app, &c.secretariat, filed_id, "approve", json!({})).await,
        403,
    )
    .await;
    assert_eq!(
        act(
            app,
            &c.second_secretariat,
            filed_id,
            "reject",
            json!({ "reason": "Duplicate designation." })
        )
        .await
        .status(),
        200
    );
    problem(
        act(app, &c.second_secretariat, filed_id, "approve", json!({})).await,
        409,
    )
    .await;

    assert_eq!(
        act(app, &c.secretariat, &id, "approve", json!({}))
            .await
            .status(),
        200
    );
    problem(
        act(app, &c.secretariat, &id, "approve", json!({})).await,
        409,
    )
    .await;
    problem(
        act(app, &c.oic_coordinator, &id, "withdraw", json!({})).await,
        409,
    )
    .await;
    let revoked = act(
        app,
        &c.second_secretariat,
        &id,
        "revoke",
        json!({ "reason": "Left the organization." }),
    )
    .await;
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.expect("json");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["reason"], "Left the organization.");

    let pending = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Sara", "nominee_email": "sara@oic.example", "position": "P", "kind": "alternate" })).await;
    assert_eq!(
        act(
            app,
            &c.oic_coordinator,
            pending["id"].as_str().expect("id"),
            "withdraw",
            json!({})
        )
        .await
        .status(),
        200
    );
    let listed: Value = app
        .get_json(&c.oic_coordinator, "/api/v1/nominations")
        .await;
    assert_eq!(listed.as_array().expect("list").len(), 3);
    let listed: Value = app.get_json(&au_coordinator, "/api/v1/nominations").await;
    assert!(listed.as_array().expect("list").is_empty());
}

#[tokio::test]
async fn seats_are_limited_and_a_new_primary_names_the_one_it_replaces() {
    let c = compact().await;
    let app = &c.app;
    let first_user = app.create_user(&c.oic, "first@oic.example", "member");
    app.create_user(&c.oic, "second@oic.example", "member");
    let first = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "First", "nominee_email": "first@oic.example", "position": "P", "kind": "primary" })).await;
    let approved: Value = act(
        app,
        &c.secretariat,
        first["id"].as_str().expect("id"),
        "approve",
        json!({}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(
        approved["status"], "active",
        "an existing member is promoted at once"
    );
    let (first_token, _) = app.tokens("first@oic.example").await;
    assert_eq!(
        app.get_json(&first_token, "/api/v1/me").await["role"],
        "focal_point"
    );

    let second = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Second", "nominee_email": "second@oic.example", "position": "P", "kind": "primary" })).await;
    problem(
        act(
            app,
            &c.secretariat,
            second["id"].as_str().expect("id"),
            "approve",
            json!({}),
        )
        .await,
        409,
    )
    .await;
    let replacing = json!({ "nominee_name": "Second", "nominee_email": "second@oic.example", "position": "P", "kind": "primary", "replaces_user_id": first_user });
    // The refused approval left the first nomination pending; withdraw it and nominate again.
    assert_eq!(
        act(
            app,
            &c.oic_coordinator,
            second["id"].as_str().expect("id"),
            "withdraw",
            json!({})
        )
        .await
        .status(),
        200
    );
    let second = nominate(app, &c.oic_coordinator, replacing).await;
    let approved: Value = act(
        app,
        &c.secretariat,
        second["id"].as_str().expect("id"),
        "approve",
        json!({}),
    )
    .await
    .json()
    .await
    .expect("json");
    assert_eq!(approved["status"], "active");
    let first_now: Value = app
        .get_json(
            &c.secretariat,
            &format!("/api/v1/nominations/{}", first["id"].as_str().expect("id")),
        )
        .await;
    assert_eq!(first_now["status"], "revoked");
    // The replaced focal point is a member again, and their old token is dead.
    problem(app.get_as(&first_token, "/api/v1/me").await, 401).await;
    let (first_token, _) = app.tokens("first@oic.example").await;
    assert_eq!(
        app.get_json(&first_token, "/api/v1/me").await["role"],
        "member"
    );

    // Alternates: two at most (the default).
    for n in 0..3 {
        app.create_user(&c.oic, &format!("alt{n}@oic.example"), "member");
        let alt = nominate(app, &c.oic_coordinator, json!({ "nominee_name": format!("Alt {n}"), "nominee_email": format!("alt{n}@oic.example"), "position": "P", "kind": "alternate" })).await;
        let status = act(
            app,
            &c.secretariat,
            alt["id"].as_str().expect("id"),
            "approve",
            json!({}),
        )
        .await
        .status();
        assert_eq!(status, if n < 2 { 200 } else { 409 }, "alternate {n}");
    }
}

#[tokio::test]
async fn a_user_of_another_organization_cannot_be_nominated() {
    let c = compact().await;
    let app = &c.app;
    let au = app.create_org("AU", "regional_organization");
    app.create_user(&au, "elsewhere@au.example", "member");
    let nomination = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Elsewhere", "nominee_email": "elsewhere@au.example", "position": "P", "kind": "primary" })).await;
    problem(
        act(
            app,
            &c.secretariat,
            nomination["id"].as_str().expect("id"),
            "approve",
            json!({}),
        )
        .await,
        409,
    )
    .await;
}

#[tokio::test]
async fn concurrent_approvals_have_exactly_one_winner() {
    let c = compact().await;
    let app = &c.app;
    let nomination = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Race", "nominee_email": "race@oic.example", "position": "P", "kind": "primary" })).await;
    let id = nomination["id"].as_str().expect("id").to_owned();
    let attempts = (0..12).map(|_| act(app, &c.secretariat, &id, "approve", json!({})));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    let invited: Value = app.get_json(&c.oic_coordinator, "/api/v1/users").await;
    let race: Vec<&Value> = invited
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["email"] == "race@oic.example")
        .collect();
    assert_eq!(race.len(), 1, "one invited account");
}

#[tokio::test]
async fn a_term_that_ends_steps_the_focal_point_back_to_member() {
    let c = compact().await;
    let app = &c.app;
    app.create_user(&c.oic, "term@oic.example", "member");
    let term_end = (chrono::Utc::now() + chrono::TimeDelta::milliseconds(1500)).to_rfc3339();
    let nomination = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Term", "nominee_email": "term@oic.example", "position": "P", "kind": "primary", "term_end": term_end })).await;
    let id = nomination["id"].as_str().expect("id").to_owned();
    assert_eq!(
        act(app, &c.secretariat, &id, "approve", json!({}))
            .await
            .status(),
        200
    );
    let (token, _) = app.tokens("term@oic.example").await;
    assert_eq!(scheduled(app), (0, 0), "not yet");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(scheduled(app), (0, 1));
    assert_eq!(scheduled(app), (0, 0), "once");
    let now: Value = app
        .get_json(&c.secretariat, &format!("/api/v1/nominations/{id}"))
        .await;
    assert_eq!(now["status"], "expired");
    app.auth.forget_all();
    problem(app.get_as(&token, "/api/v1/me").await, 401).await;
    let (token, _) = app.tokens("term@oic.example").await;
    assert_eq!(app.get_json(&token, "/api/v1/me").await["role"], "member");
    let directory: Value = app.get_json(&token, "/api/v1/focal-points").await;
    assert!(directory.as_array().expect("list").is_empty());
    let _ = PASSWORD;
}

#[tokio::test]
async fn nominees_and_invitees_must_use_the_organizations_domains() {
    let c = compact().await;
    let app = &c.app;
    let restricted = app
        .patch_json(
            &format!("/api/v1/organizations/{}", c.oic),
            &c.secretariat,
            json!({ "email_domains": ["oic-oci.org"] }),
        )
        .await;
    assert_eq!(restricted.status(), 200);
    let outside = json!({ "nominee_name": "Out", "nominee_email": "out@gmail.example", "position": "P", "kind": "primary" });
    let refused = problem(
        app.post_json("/api/v1/nominations", Some(&c.oic_coordinator), outside)
            .await,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "nominee_email");
    nominate(app, &c.oic_coordinator, json!({ "nominee_name": "In", "nominee_email": "in@OIC-OCI.org", "position": "P", "kind": "primary" })).await;
    let invite = json!({ "email": "someone@gmail.example", "name": "Someone", "role": "member" });
    problem(
        app.post_json("/api/v1/users", Some(&c.oic_coordinator), invite)
            .await,
        422,
    )
    .await;
}

#[tokio::test]
async fn concurrent_approvals_of_rival_primaries_fill_one_seat() {
    let c = compact().await;
    let app = &c.app;
    let mut ids = Vec::new();
    for n in 0..6 {
        let body = json!({ "nominee_name": format!("Rival {n}"), "nominee_email": format!("rival{n}@oic.example"), "position": "P", "kind": "primary" });
        ids.push(
            nominate(app, &c.oic_coordinator, body).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let attempts = ids
        .iter()
        .map(|id| act(app, &c.secretariat, id, "approve", json!({})));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn decision_bodies_are_optional_but_never_ignored() {
    let c = compact().await;
    let app = &c.app;
    let nomination = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Body", "nominee_email": "body@oic.example", "position": "P", "kind": "primary" })).await;
    let id = nomination["id"].as_str().expect("id");
    problem(
        act(
            app,
            &c.secretariat,
            id,
            "approve",
            json!({ "approve": true }),
        )
        .await,
        422,
    )
    .await;
    let malformed = app
        .client
        .post(app.url(&format!("/api/v1/nominations/{id}/approve")))
        .bearer_auth(&c.secretariat)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .expect("request");
    problem(malformed, 400).await;
    let bare = app
        .client
        .post(app.url(&format!("/api/v1/nominations/{id}/approve")))
        .bearer_auth(&c.secretariat)
        .send()
        .await
        .expect("request");
    assert_eq!(bare.status(), 200);
}

#[tokio::test]
async fn lapsed_invitations_free_the_seat_and_revocation_cancels_them() {
    let c = compact().await;
    let app = &c.app;
    let first = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Never", "nominee_email": "never@oic.example", "position": "P", "kind": "primary" })).await;
    let first_id = first["id"].as_str().expect("id").to_owned();
    assert_eq!(
        act(app, &c.secretariat, &first_id, "approve", json!({}))
            .await
            .status(),
        200
    );
    // The invitation lapses unused (made to expire here rather than waiting 72 hours).
    {
        use compact_db::schema::one_time_tokens;
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("connection");
        diesel::update(one_time_tokens::table)
            .set(one_time_tokens::expires_at.eq(compact_db::now() - chrono::TimeDelta::minutes(1)))
            .execute(&mut *conn)
            .expect("expire");
    }
    assert_eq!(scheduled(app), (0, 1));
    let lapsed: Value = app
        .get_json(&c.secretariat, &format!("/api/v1/nominations/{first_id}"))
        .await;
    assert_eq!(lapsed["status"], "expired");
    // The seat is free: a new primary needs no replacement.
    let second = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Later", "nominee_email": "later@oic.example", "position": "P", "kind": "primary" })).await;
    let second_id = second["id"].as_str().expect("id").to_owned();
    assert_eq!(
        act(app, &c.secretariat, &second_id, "approve", json!({}))
            .await
            .status(),
        200
    );
    // Revoked before signing up: the invitation dies with the seat.
    assert_eq!(
        act(
            app,
            &c.second_secretariat,
            &second_id,
            "revoke",
            json!({ "reason": "Changed our mind." })
        )
        .await
        .status(),
        200
    );
    let started = std::time::Instant::now();
    let invitation = loop {
        let found = c.sink.messages().into_iter().find(|m| {
            m.to == ["later@oic.example"]
                && m.header("Subject") == Some("Your invitation to the Compact Platform")
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the invitation never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = support::link_token(&invitation, "/invitations/");
    problem(
        app.accept_invitation(&token, "a sturdy lantern over quiet meadows")
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn deactivating_a_focal_point_frees_the_seat_and_the_directory() {
    let c = compact().await;
    let app = &c.app;
    let user = app.create_user(&c.oic, "seated@oic.example", "member");
    let nomination = nominate(app, &c.oic_coordinator, json!({ "nominee_name": "Seated", "nominee_email": "seated@oic.example", "position": "P", "kind": "primary" })).await;
    assert_eq!(
        act(
            app,
            &c.secretariat,
            nomination["id"].as_str().expect("id"),
            "approve",
            json!({})
        )
        .await
        .status(),
        200
    );
    let directory: Value = app
        .get_json(&c.oic_coordinator, "/api/v1/focal-points")
        .await;
    assert_eq!(directory.as_array().expect("list").len(), 1);
    // Coordinators cannot make focal points by hand.
    problem(
        app.post_json(
            "/api/v1/users",
            Some(&c.oic_coordinator),
            json!({ "email": "fp@oic.example", "name": "FP", "role": "focal_point" }),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        app.patch_json(
            &format!("/api/v1/users/{user}"),
            &c.oic_coordinator,
            json!({ "status": "deactivated" })
        )
        .await
        .status(),
        200
    );
    let directory: Value = app
        .get_json(&c.oic_coordinator, "/api/v1/focal-points")
        .await;
    assert!(directory.as_array().expect("list").is_empty());
    let now: Value = app
        .get_json(
            &c.secretariat,
            &format!(
                "/api/v1/nominations/{}",
                nomination["id"].as_str().expect("id")
            ),
        )
        .await;
    assert_eq!(now["status"], "revoked");
}
