//! The real `compact` binary, run as an operator would: on a given database and data
//! directory, with nothing else from the test's environment.

use std::process::Command;

use compact_db::testing::TestDatabase;

pub const BIN: &str = env!("CARGO_BIN_EXE_compact");

/// `compact` on this database and data directory; only `PATH` is kept from the environment.
pub fn compact(test_db: &TestDatabase, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", test_db.url().expose())
        .env("COMPACT_DATA_DIR", data_dir)
        .env("COMPACT_LOG_LEVEL", "warn");
    command
}

/// `compact admin create` for this e-mail and name; add `--password-stdin` to set the
/// password, else it prints a single-use link.
pub fn admin_create(
    test_db: &TestDatabase,
    data_dir: &std::path::Path,
    email: &str,
    name: &str,
) -> Command {
    let mut command = compact(test_db, data_dir);
    command.args(["admin", "create", "--email", email, "--name", name]);
    command
}
