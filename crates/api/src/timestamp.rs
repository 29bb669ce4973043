//! Timestamps in responses, written as chrono writes them (RFC 3339, UTC, `Z`, the fraction
//! in 0, 3, 6 or 9 digits) but into a stack buffer: chrono's `Serialize` goes through
//! `fmt` and serde_json's escaping writer a character at a time, which was a fifth of
//! `/me`'s own work and grows with every item of a page.
//!
//! Use on a response field: `#[serde(serialize_with = "crate::timestamp::serialize")]`
//! (or `optional` for an `Option`). The OpenAPI schema is the field's type's, unchanged.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`
const LONGEST: usize = 30;

pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; LONGEST];
    match write(at, &mut buffer) {
        Some(text) => serializer.serialize_str(text),
        // Years beyond four digits and leap seconds: chrono's own rules.
        None => at.serialize(serializer),
    }
}

pub fn optional<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serialize(at, serializer),
        None => serializer.serialize_none(),
    }
}

fn write<'a>(at: &DateTime<Utc>, buffer: &'a mut [u8; LONGEST]) -> Option<&'a str> {
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let (fraction, digits) = if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    };
    put_digits(&mut buffer[0..4], year);
    buffer[4] = b'-';
    put_digits(&mut buffer[5..7], at.month());
    buffer[7] = b'-';
    put_digits(&mut buffer[8..10], at.day());
    buffer[10] = b'T';
    put_digits(&mut buffer[11..13], at.hour());
    buffer[13] = b':';
    put_digits(&mut buffer[14..16], at.minute());
    buffer[16] = b':';
    put_digits(&mut buffer[17..19], at.second());
    let mut end = 19;
    if digits > 0 {
        buffer[end] = b'.';
        put_digits(&mut buffer[end + 1..end + 1 + digits], fraction);
        end += 1 + digits;
    }
    buffer[end] = b'Z';
    std::str::from_utf8(&buffer[..=end]).ok()
}

/// `value` as exactly `out.len()` decimal digits, zero-padded.
fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    #[derive(Serialize)]
    struct Fast {
        #[serde(serialize_with = "serialize")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "optional")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chrono {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    fn both(at: DateTime<Utc>, maybe: Option<DateTime<Utc>>) -> (String, String) {
        (
            serde_json::to_string(&Fast { at, maybe }).expect("serialises"),
            serde_json::to_string(&Chrono { at, maybe }).expect("serialises"),
        )
    }

    #[test]
    fn every_fraction_width_and_the_edges_match_chrono() {
        let second = Utc.with_ymd_and_hms(2026, 12, 1, 3, 4, 5).unwrap();
        for nanos in [
            0,
            1,
            999,
            1_000,
            120_000,
            598_615_000,
            5_000_000,
            999_999_999,
        ] {
            let at = second + chrono::Duration::nanoseconds(nanos);
            let (fast, chrono) = both(at, Some(at));
            assert_eq!(fast, chrono);
        }
        for at in [
            DateTime::<Utc>::MIN_UTC,
            DateTime::<Utc>::MAX_UTC,
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let (fast, chrono) = both(at, None);
            assert_eq!(fast, chrono);
        }
        assert_eq!(
            both(second, None).0,
            r#"{"at":"2026-12-01T03:04:05Z","maybe":null}"#
        );
    }

    proptest! {
        #[test]
        fn any_instant_is_written_as_chrono_writes_it(
            seconds in -100_000_000_000i64..300_000_000_000,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1_000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1_000),
                0u32..1_000_000_000,
            ],
        ) {
            let at = DateTime::from_timestamp(seconds, nanos).expect("in range");
            let (fast, chrono) = both(at, Some(at));
            prop_assert_eq!(fast, chrono);
        }
    }
}
