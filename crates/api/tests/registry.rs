//! Organizations and groups over HTTP (DESIGN §2).

mod support;

use serde_json::{Value, json};
use support::{PASSWORD, TestApp, problem};

#[tokio::test]
async fn the_secretariat_manages_organizations_everyone_lists_them() {
    let app = TestApp::spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let (_, secretariat) = app
        .privileged(&unoct, "sec@un.example", "secretariat")
        .await;

    let oic = json!({ "name": "Organisation of Islamic Cooperation", "acronym": "OIC", "kind": "regional_organization", "email_domains": ["OIC-OCI.org"] });
    let created = app
        .post_json("/api/v1/organizations", Some(&secretariat), oic)
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    assert_eq!(created["email_domains"], json!(["oic-oci.org"]));
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().expect("id").to_owned();

    let duplicate = json!({ "name": "Other", "acronym": "oic", "kind": "member_state" });
    problem(
        app.post_json("/api/v1/organizations", Some(&secretariat), duplicate)
            .await,
        409,
    )
    .await;
    for bad in [
        json!({ "name": "", "acronym": "X", "kind": "member_state" }),
        json!({ "name": "X", "acronym": "X", "kind": "club" }),
        json!({ "name": "X", "acronym": "X", "kind": "member_state", "email_domains": ["not a domain"] }),
        json!({ "name": "X\r\nBcc: y", "acronym": "X", "kind": "member_state" }),
        json!({ "name": "X", "acronym": "X", "kind": "member_state", "status": "suspended" }),
    ] {
        problem(
            app.post_json("/api/v1/organizations", Some(&secretariat), bad)
                .await,
            422,
        )
        .await;
    }

    let member_org = app.create_org("INTERPOL", "compact_entity");
    app.create_user(&member_org, "member@interpol.example", "member");
    app.create_user(&member_org, "coordinator@interpol.example", "coordinator");
    let (member, _) = app.tokens("member@interpol.example").await;
    let (coordinator, _) = app.tokens("coordinator@interpol.example").await;
    let listed: Value = app.get_json(&member, "/api/v1/organizations").await;
    let acronyms: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|o| o["acronym"].as_str().expect("acronym"))
        .collect();
    assert_eq!(acronyms, ["INTERPOL", "OIC", "UNOCT"]);
    let regional: Value = app
        .get_json(&member, "/api/v1/organizations?kind=regional_organization")
        .await;
    assert_eq!(regional.as_array().expect("list").len(), 1);
    problem(
        app.get_as(&member, "/api/v1/organizations?kind=club").await,
        400,
    )
    .await;
    assert_eq!(
        app.get_as(&member, &format!("/api/v1/organizations/{id}"))
            .await
            .status(),
        200
    );
    problem(
        app.get_as(&member, "/api/v1/organizations/no-such-id")
            .await,
        404,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/organizations",
            Some(&coordinator),
            json!({ "name": "X", "acronym": "X", "kind": "member_state" }),
        )
        .await,
        403,
    )
    .await;
    problem(
        app.patch_json(
            &format!("/api/v1/organizations/{id}"),
            &coordinator,
            json!({ "name": "Renamed" }),
        )
        .await,
        403,
    )
    .await;

    // One secretariat: none can be created or made.
    problem(
        app.post_json(
            "/api/v1/organizations",
            Some(&secretariat),
            json!({ "name": "Second", "acronym": "SEC2", "kind": "secretariat" }),
        )
        .await,
        409,
    )
    .await;
    problem(
        app.patch_json(
            &format!("/api/v1/organizations/{id}"),
            &secretariat,
            json!({ "kind": "secretariat" }),
        )
        .await,
        409,
    )
    .await;
    let renamed = app
        .patch_json(
            &format!("/api/v1/organizations/{id}"),
            &secretariat,
            json!({ "name": "OIC (renamed)", "un_system": false }),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    problem(
        app.patch_json(
            &format!("/api/v1/organizations/{unoct}"),
            &secretariat,
            json!({ "status": "suspended" }),
        )
        .await,
        409,
    )
    .await;
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"organization.create".to_owned())
            && actions.contains(&"organization.update".to_owned())
    );
}

#[tokio::test]
async fn suspending_an_organization_cuts_its_users_off_at_once() {
    let app = TestApp::spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let (_, admin) = app.privileged(&unoct, "admin@un.example", "admin").await;
    let caim = app.create_org("CAIM", "regional_organization");
    app.create_user(&caim, "focal@caim.example", "focal_point");
    let (token, refresh) = app.tokens("focal@caim.example").await;
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 200);

    let suspended = app
        .patch_json(
            &format!("/api/v1/organizations/{caim}"),
            &admin,
            json!({ "status": "suspended" }),
        )
        .await;
    assert_eq!(suspended.status(), 200);
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
    problem(app.login("focal@caim.example", PASSWORD).await, 401).await;

    assert_eq!(
        app.patch_json(
            &format!("/api/v1/organizations/{caim}"),
            &admin,
            json!({ "status": "active" })
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.login("focal@caim.example", PASSWORD).await.status(),
        200
    );
    let actions = app.audit_actions();
    assert!(
        actions.contains(&"organization.suspend".to_owned())
            && actions.contains(&"organization.reactivate".to_owned())
    );
}

#[tokio::test]
async fn groups_are_managed_by_the_secretariat_and_seen_by_their_members() {
    let app = TestApp::spawn().await;
    let unoct = app.create_org("UNOCT", "secretariat");
    let (_, secretariat) = app
        .privileged(&unoct, "sec@un.example", "secretariat")
        .await;
    let kazakhstan = app.create_org("KZ", "member_state");
    let uzbekistan = app.create_org("UZ", "member_state");
    let outsider = app.create_org("FR", "member_state");
    app.create_user(&kazakhstan, "kz@example.org", "member");
    app.create_user(&outsider, "fr@example.org", "coordinator");
    let (kz, _) = app.tokens("kz@example.org").await;
    let (fr, _) = app.tokens("fr@example.org").await;

    let plan = json!({ "name": "Central Asia Joint Plan of Action", "kind": "regional_plan", "description": "Regional plan.", "members": [kazakhstan, uzbekistan] });
    let created = app
        .post_json("/api/v1/groups", Some(&secretariat), plan.clone())
        .await;
    assert_eq!(created.status(), 201);
    let group: Value = created.json().await.expect("json");
    let id = group["id"].as_str().expect("id").to_owned();
    assert_eq!(group["members"].as_array().expect("members").len(), 2);
    problem(
        app.post_json("/api/v1/groups", Some(&secretariat), plan)
            .await,
        409,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/groups",
            Some(&secretariat),
            json!({ "name": "G", "kind": "working_group", "members": ["no-such-org"] }),
        )
        .await,
        422,
    )
    .await;
    problem(
        app.post_json(
            "/api/v1/groups",
            Some(&fr),
            json!({ "name": "Mine", "kind": "sharing_circle" }),
        )
        .await,
        403,
    )
    .await;

    // Members see their groups; others neither see nor learn of them.
    let mine: Value = app.get_json(&kz, "/api/v1/groups").await;
    assert_eq!(mine.as_array().expect("list").len(), 1);
    assert_eq!(
        app.get_as(&kz, &format!("/api/v1/groups/{id}"))
            .await
            .status(),
        200
    );
    let theirs: Value = app.get_json(&fr, "/api/v1/groups").await;
    assert!(theirs.as_array().expect("list").is_empty());
    problem(app.get_as(&fr, &format!("/api/v1/groups/{id}")).await, 404).await;

    let changed = app
        .patch_json(
            &format!("/api/v1/groups/{id}"),
            &secretariat,
            json!({ "members": [uzbekistan, outsider] }),
        )
        .await;
    assert_eq!(changed.status(), 200);
    assert_eq!(
        app.get_as(&fr, &format!("/api/v1/groups/{id}"))
            .await
            .status(),
        200
    );
    problem(app.get_as(&kz, &format!("/api/v1/groups/{id}")).await, 404).await;
    problem(
        app.patch_json(
            &format!("/api/v1/groups/{id}"),
            &fr,
            json!({ "name": "Taken over" }),
        )
        .await,
        403,
    )
    .await;

    let all: Value = app.get_json(&secretariat, "/api/v1/groups").await;
    assert_eq!(all.as_array().expect("list").len(), 1);
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/groups/{id}")))
        .bearer_auth(&secretariat)
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), 204);
    problem(
        app.get_as(&secretariat, &format!("/api/v1/groups/{id}"))
            .await,
        404,
    )
    .await;
    let actions = app.audit_actions();
    for action in ["group.create", "group.update", "group.delete"] {
        assert!(actions.contains(&action.to_owned()), "{action}");
    }
}
