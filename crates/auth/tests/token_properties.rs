//! Properties of access-token verification: whatever string a client presents, `verify`
//! answers without panicking, and only an untouched token the ring signed is accepted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use compact_auth::Role;
use compact_auth::keys::{KeyRing, TokenSettings};
use compact_db::testing::TestDatabase;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn decoded_parts(token: &str) -> Vec<Vec<u8>> {
    token
        .split('.')
        .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap_or_default())
        .collect()
}

#[test]
fn only_untouched_signed_tokens_verify() {
    // One key ring for every case: it is what is under test, not its setup.
    let (_test_db, db) = TestDatabase::migrated();
    let ring = KeyRing::load(db, TokenSettings::new("https://compact.test"));
    let (token, _) = ring
        .issue("user-1", "org-1", Role::Member, 0, true)
        .expect("issue");
    assert!(ring.verify(&token).is_ok());
    let config = Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    };

    let mut runner = TestRunner::new(config.clone());
    runner
        .run(&"\\PC{0,400}|[A-Za-z0-9_=.-]{10,400}", |garbage| {
            prop_assert!(ring.verify(&garbage).is_err());
            Ok(())
        })
        .expect("any string is refused without panicking");

    let mut runner = TestRunner::new(config);
    runner
        .run(
            &(any::<prop::sample::Index>(), "[A-Za-z0-9_-]"),
            |(position, replacement)| {
                let at = position.index(token.len());
                let original = &token[at..at + 1];
                prop_assume!(original != replacement && original != ".");
                let mut changed = token.clone();
                changed.replace_range(at..at + 1, &replacement);
                // A base64url final character may carry unused bits: a change there that
                // decodes to the same bytes is the same token, not a forgery.
                prop_assume!(decoded_parts(&token) != decoded_parts(&changed));
                prop_assert!(ring.verify(&changed).is_err(), "accepted {}", changed);
                Ok(())
            },
        )
        .expect("any change to a signed token is refused");
}
