use std::collections::HashSet;

use chrono::Duration;
use compact_db::outbox::{self, NewMail};
use compact_db::testing::TestDatabase;

fn mail(n: usize) -> NewMail {
    NewMail {
        recipient: format!("user{n}@example.org"),
        subject: format!("Subject {n}"),
        body_text: "Hello".into(),
    }
}

#[test]
fn a_claimed_message_is_hidden_until_its_lease_ends() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let queued = outbox::enqueue(&mut conn, mail(1), "compact.test").expect("enqueue");
    assert!(queued.message_id.starts_with('<') && queued.message_id.ends_with("@compact.test>"));

    let claimed = outbox::claim_due(&mut conn, 10, Duration::minutes(5)).expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(
        outbox::claim_due(&mut conn, 10, Duration::minutes(5))
            .expect("claim")
            .is_empty()
    );

    // A lease that already ended makes it due again: a crashed worker loses nothing.
    outbox::mark_attempt_failed(
        &mut conn,
        &queued.id,
        "connection refused",
        Some(compact_db::now()),
    )
    .expect("fail");
    let again = outbox::claim_due(&mut conn, 10, Duration::seconds(-1)).expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].message_id, queued.message_id);
    assert!(
        outbox::claim_due(&mut conn, 10, Duration::minutes(5))
            .expect("claim")
            .len()
            == 1
    );
}

#[test]
fn sent_and_given_up_messages_are_counted_not_dropped() {
    let (_test_db, db) = TestDatabase::migrated();
    let mut conn = db.get().expect("connection");
    let a = outbox::enqueue(&mut conn, mail(1), "compact.test").expect("enqueue");
    let b = outbox::enqueue(&mut conn, mail(2), "compact.test").expect("enqueue");
    outbox::enqueue(&mut conn, mail(3), "compact.test").expect("enqueue");
    outbox::mark_sent(&mut conn, &a.id).expect("sent");
    outbox::mark_attempt_failed(&mut conn, &b.id, "550 no such user", None).expect("give up");
    let counts = outbox::counts(&mut conn).expect("counts");
    assert_eq!(
        counts,
        outbox::OutboxCounts {
            pending: 1,
            failed: 1
        }
    );

    let failed = outbox::list(&mut conn, Some(outbox::STATUS_FAILED), 10).expect("list");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
    assert!(outbox::requeue_failed(&mut conn, &b.id).expect("requeue"));
    assert!(!outbox::requeue_failed(&mut conn, &a.id).expect("a sent message is not requeued"));
    assert_eq!(outbox::counts(&mut conn).expect("counts").pending, 2);
}

#[test]
fn concurrent_workers_never_claim_the_same_message() {
    let (_test_db, db) = TestDatabase::migrated();
    {
        let mut conn = db.get().expect("connection");
        for n in 0..60 {
            outbox::enqueue(&mut conn, mail(n), "compact.test").expect("enqueue");
        }
    }
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let mut conn = db.get().expect("connection");
                    let batch =
                        outbox::claim_due(&mut conn, 5, Duration::minutes(5)).expect("claim");
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|m| m.id));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for worker in workers {
        for id in worker.join().expect("worker") {
            assert!(seen.insert(id), "a message was claimed twice");
        }
    }
    assert_eq!(seen.len(), 60);
}
