//! What several of the registry's test files set up alike.

use compact_auth::accounts::MailContext;
use compact_db::DbConnection;

/// The demo data, and the mail context its writes used.
pub fn seed_demo(conn: &mut DbConnection) -> MailContext {
    let mail = MailContext {
        public_url: "https://compact.test".into(),
        message_domain: "compact.test".into(),
    };
    compact_registry::demo::seed(conn, "not-a-real-hash", &mail)
        .expect("demo")
        .expect("seeded");
    mail
}
