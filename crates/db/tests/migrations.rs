use std::collections::BTreeSet;
use std::path::Path;

use compact_db::migrations;
use compact_db::testing::TestDatabase;
use diesel::connection::SimpleConnection;

fn folder_names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations_each_with_up_and_down() {
    let postgres = folder_names("postgres");
    let sqlite = folder_names("sqlite");
    assert!(!postgres.is_empty());
    assert_eq!(
        postgres, sqlite,
        "migrations/postgres and migrations/sqlite differ"
    );
    for backend in ["postgres", "sqlite"] {
        for name in &postgres {
            for file in ["up.sql", "down.sql"] {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../migrations")
                    .join(backend)
                    .join(name)
                    .join(file);
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
    }
}

#[test]
fn migrations_go_up_down_and_up_again() {
    let db = TestDatabase::empty();
    let mut conn = db.connect();
    let all = folder_names("postgres").len();

    let applied = migrations::run_pending(&mut conn).expect("up");
    assert_eq!(applied.len(), all);
    assert!(migrations::pending(&mut conn).expect("pending").is_empty());

    let reverted = migrations::revert_all(&mut conn).expect("down");
    assert_eq!(reverted.len(), all);
    // Every table is gone: creating them again by hand would clash otherwise.
    conn.batch_execute("CREATE TABLE outbox (id TEXT); DROP TABLE outbox;")
        .expect("down removed the outbox table");

    let reapplied = migrations::run_pending(&mut conn).expect("up again");
    assert_eq!(reapplied, applied);
}
