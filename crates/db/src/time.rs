use chrono::{NaiveDateTime, SubsecRound, Utc};

/// The current UTC time as stored: PostgreSQL keeps microseconds and SQLite nanoseconds, so
/// every stored timestamp is truncated to microseconds to compare equal on both.
pub fn now() -> NaiveDateTime {
    truncate_to_micros(Utc::now().naive_utc())
}

pub fn truncate_to_micros(t: NaiveDateTime) -> NaiveDateTime {
    t.trunc_subsecs(6)
}
