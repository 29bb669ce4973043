//! Embedded migrations: `migrations/postgres` and `migrations/sqlite` hold the same folder
//! names, each with the SQL its backend needs.

use diesel::RunQueryDsl;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{DbConnection, DbError};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// Arbitrary key of the advisory lock that keeps several nodes starting at once from
/// migrating concurrently on PostgreSQL.
const MIGRATION_LOCK_KEY: i64 = 0x636f_6d70_6d69_6772; // "compmigr"

/// Applies every pending migration; returns the names of those applied.
pub fn run_pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConnection::Pg(c) => {
            let lock = |c: &mut diesel::PgConnection, sql: &str| {
                diesel::sql_query(sql)
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK_KEY)
                    .execute(c)
                    .map_err(|e| DbError::Migration(e.to_string()))
            };
            lock(c, "SELECT pg_advisory_lock($1)")?;
            let applied = c.run_pending_migrations(POSTGRES).map(names);
            lock(c, "SELECT pg_advisory_unlock($1)")?;
            applied
        }
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE).map(names),
    };
    applied.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts every applied migration, newest first (used by tests and `compact migrate --reset`).
pub fn revert_all(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let reverted = match conn {
        DbConnection::Pg(c) => c.revert_all_migrations(POSTGRES).map(names),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(names),
    };
    reverted.map_err(|e| DbError::Migration(e.to_string()))
}

/// Reverts applied migrations, newest first, through the one whose name starts with
/// `version` (its folder name's digits, as in `20261130000014`: tests that check a
/// migration on existing rows); returns their versions. Should none match, it reverts
/// every migration and then fails (nothing is left to revert).
pub fn revert_through(conn: &mut DbConnection, version: &str) -> Result<Vec<String>, DbError> {
    let mut reverted = Vec::new();
    loop {
        let name = match conn {
            DbConnection::Pg(c) => c.revert_last_migration(POSTGRES).map(|v| v.to_string()),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE).map(|v| v.to_string()),
        }
        .map_err(|e| DbError::Migration(e.to_string()))?;
        let done = name.starts_with(version);
        reverted.push(name);
        if done {
            return Ok(reverted);
        }
    }
}

/// Migrations not applied yet.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<String>, DbError> {
    let pending = match conn {
        DbConnection::Pg(c) => c
            .pending_migrations(POSTGRES)
            .map(|list| list.iter().map(|m| m.name().to_string()).collect()),
        DbConnection::Sqlite(c) => c
            .pending_migrations(SQLITE)
            .map(|list| list.iter().map(|m| m.name().to_string()).collect()),
    };
    pending.map_err(|e| DbError::Migration(e.to_string()))
}

fn names<V: std::fmt::Display>(versions: Vec<V>) -> Vec<String> {
    versions.iter().map(ToString::to_string).collect()
}
