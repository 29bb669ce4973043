//! Identity and access for the Compact Platform: who is calling, and what they may do.
//!
//! Storage goes through `compact-db`; nothing here knows HTTP. The permission table of the
//! design (DESIGN §2) lives in [`policy`] and nowhere else.

// The workspace denies unsafe code; only compact-api `memory` may allow it.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api_keys;
pub mod error;
pub mod keys;
pub mod mfa;
pub mod password;
pub mod policy;
pub mod principal;
pub mod secrets;
pub mod session;
pub mod users;

pub use error::AuthError;
pub use policy::{Permission, Role};
pub use principal::Principal;
pub use session::{AuthSettings, Authenticator, RequestContext, TokenPair};
