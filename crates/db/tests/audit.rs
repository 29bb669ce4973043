use compact_db::audit::{self, Actor, GENESIS_HASH, NewAuditEvent, Outcome};
use compact_db::testing::TestDatabase;
use compact_db::{Backend, DbConnection};
use diesel::connection::SimpleConnection;

fn event(n: usize) -> NewAuditEvent {
    NewAuditEvent::new("test.event", Outcome::Success)
        .actor(Actor {
            user_id: Some(format!("user-{n}")),
            ip: Some("127.0.0.1".into()),
            ..Actor::default()
        })
        .target("thing", format!("thing-{n}"))
        .details(serde_json::json!({ "n": n, "note": "naïve ✓" }))
}

/// Changes history as an attacker with database access would: around the append-only triggers.
fn tamper(conn: &mut DbConnection, backend: Backend, sql: &str) {
    let drop_triggers = match backend {
        Backend::Postgres => "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change;",
        Backend::Sqlite => {
            "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
        }
    };
    conn.batch_execute(drop_triggers).expect("drop triggers");
    conn.batch_execute(sql).expect("tamper");
}

#[test]
fn appended_events_form_a_chain_that_verifies() {
    let (test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let empty = audit::verify(&mut conn).expect("verify");
    assert_eq!(empty.rows_checked, 0);
    assert_eq!(empty.first_broken, None);

    let first = audit::append(&mut conn, event(1)).expect("append");
    assert_eq!(first.seq, 1);
    assert_eq!(first.prev_hash, GENESIS_HASH);
    let second = audit::append(&mut conn, event(2)).expect("append");
    assert_eq!(second.prev_hash, first.hash);
    for n in 3..=25 {
        audit::append(&mut conn, event(n)).expect("append");
    }
    let report = audit::verify(&mut conn).expect("verify");
    assert_eq!(report.rows_checked, 25);
    assert_eq!(report.first_broken, None, "{:?}", test_db.backend());
}

#[test]
fn the_audit_table_refuses_updates_and_deletes() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    audit::append(&mut conn, event(1)).expect("append");
    assert!(
        conn.batch_execute("UPDATE audit_events SET action = 'x'")
            .is_err()
    );
    assert!(conn.batch_execute("DELETE FROM audit_events").is_err());
}

#[test]
fn verify_finds_the_first_altered_row() {
    let (test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    for n in 1..=10 {
        audit::append(&mut conn, event(n)).expect("append");
    }
    tamper(
        &mut conn,
        test_db.backend(),
        "UPDATE audit_events SET outcome = 'failure' WHERE seq = 4",
    );
    let report = audit::verify(&mut conn).expect("verify");
    let broken = report.first_broken.expect("tampering detected");
    assert_eq!(broken.seq, 4);
    assert_eq!(report.rows_checked, 3);
}

#[test]
fn verify_finds_a_removed_row_and_a_rehashed_row() {
    let (test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    for n in 1..=10 {
        audit::append(&mut conn, event(n)).expect("append");
    }
    tamper(
        &mut conn,
        test_db.backend(),
        "DELETE FROM audit_events WHERE seq = 6",
    );
    let broken = audit::verify(&mut conn)
        .expect("verify")
        .first_broken
        .expect("gap detected");
    assert_eq!(broken.seq, 7);

    // Rewriting a row together with its own hash still breaks the link to the next row.
    let mut row: audit::AuditEvent = {
        use compact_db::schema::audit_events::dsl::*;
        use diesel::prelude::*;
        audit_events
            .filter(seq.eq(2))
            .select(audit::AuditEvent::as_select())
            .first(&mut *conn)
            .expect("row 2")
    };
    row.action = "test.forged".into();
    let forged_hash = row.compute_hash();
    conn.batch_execute(&format!(
        "UPDATE audit_events SET action = 'test.forged', hash = '{forged_hash}' WHERE seq = 2"
    ))
    .expect("rewrite");
    let broken = audit::verify(&mut conn)
        .expect("verify")
        .first_broken
        .expect("forgery detected");
    assert_eq!(broken.seq, 3);
}

#[test]
fn concurrent_appends_never_fork_the_chain() {
    let (_test_db, db) = TestDatabase::migrated();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for n in 0..10 {
                    let mut conn = db.get().expect("connection");
                    audit::append(&mut conn, event(t * 100 + n)).expect("append");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let mut conn = db.get().expect("connection");
    let report = audit::verify(&mut conn).expect("verify");
    assert_eq!(report.rows_checked, 40);
    assert_eq!(report.first_broken, None);
}

#[test]
fn an_event_rolled_back_with_its_transaction_leaves_no_trace() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let result: Result<(), compact_db::DbError> =
        compact_db::write_transaction(&mut conn, |conn| {
            audit::append(conn, event(1))?;
            Err(diesel::result::Error::RollbackTransaction.into())
        });
    assert!(result.is_err());
    assert_eq!(audit::verify(&mut conn).expect("verify").rows_checked, 0);
    audit::append(&mut conn, event(2)).expect("append after rollback");
    assert_eq!(audit::verify(&mut conn).expect("verify").rows_checked, 1);
}
