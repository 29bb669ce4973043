//! One writing transaction at a time per SQLite database file, queued in this process.
//!
//! SQLite lets one transaction write at a time. The others wait in `busy_timeout`, which
//! polls the lock with sleeps growing to 100 ms and serves nobody in order: under a burst of
//! writes a transaction waited up to a second while the lock sat free between polls (POST
//! update p99 0.9 s, bench/README.md). Writers of this process queue on a fair mutex
//! instead and start the moment the previous one ends; `busy_timeout` still covers writers
//! in other processes (the CLI beside a running server).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sql_types::Text;
use parking_lot::{ArcMutexGuard, Mutex, RawMutex};

/// As long as SQLite's own `busy_timeout` (connection.rs): then the write fails as SQLite's
/// would, rather than hanging on a caller that took a second connection to write.
const WAIT: Duration = Duration::from_secs(10);

/// The writer lock of each database file opened by this process.
static LOCKS: LazyLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = LazyLock::new(Default::default);

/// Held for the whole writing transaction.
pub(crate) type WriterTurn = ArcMutexGuard<RawMutex, ()>;

#[derive(QueryableByName)]
struct MainFile {
    #[diesel(sql_type = Text)]
    file: String,
}

/// Waits for this database's turn to write. `None` for an in-memory database, which only
/// its one connection can see.
pub(crate) fn wait_turn(conn: &mut SqliteConnection) -> QueryResult<Option<WriterTurn>> {
    let file = diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .get_result::<MainFile>(conn)?
        .file;
    if file.is_empty() {
        return Ok(None);
    }
    let lock = LOCKS.lock().entry(file).or_default().clone();
    match lock.try_lock_arc_for(WAIT) {
        Some(turn) => Ok(Some(turn)),
        None => Err(Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new(format!(
                "database is locked: no turn to write within {} s",
                WAIT.as_secs()
            )),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn open(path: &str) -> SqliteConnection {
        SqliteConnection::establish(path).expect("open")
    }

    #[test]
    fn writers_of_one_file_take_turns_and_other_files_do_not_wait() {
        let dir = tempfile::tempdir().expect("temp dir");
        let a = dir.path().join("a.db").display().to_string();
        let b = dir.path().join("b.db").display().to_string();
        let turn = wait_turn(&mut open(&a))
            .expect("turn")
            .expect("a file has a lock");
        // Another file has its own turn even while `a` is taken.
        assert!(wait_turn(&mut open(&b)).expect("turn").is_some());

        let inside = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let (a, inside) = (a.clone(), inside.clone());
            std::thread::spawn(move || {
                let _turn = wait_turn(&mut open(&a)).expect("turn");
                inside.fetch_add(1, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(inside.load(Ordering::SeqCst), 0, "a second writer went in");
        drop(turn);
        waiter.join().expect("waiter");
        assert_eq!(inside.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn in_memory_databases_need_no_turn() {
        assert!(wait_turn(&mut open(":memory:")).expect("turn").is_none());
    }
}
