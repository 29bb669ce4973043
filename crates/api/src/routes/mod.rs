//! Route handlers, thin: parse, call the domain crates, answer.

pub mod api_keys;
pub mod attachments;
pub mod auth;
pub mod documents;
pub mod items;
pub mod me;
pub mod nominations;
pub mod ops;
pub mod pages;
pub mod registry;
pub mod search;
pub mod subscriptions;
pub mod updates;
pub mod users;

use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::{
    Governor, GovernorConfig, GovernorConfigBuilder, KeyExtractor, PeerIpKeyExtractor,
    SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
use utoipa_actix_web::scope::scope;
use utoipa_actix_web::service_config::ServiceConfig;

/// A per-address limit: on the unauthenticated credential routes (sign-in, refresh, resets),
/// and on every route, whatever the credential.
pub type AddressRateLimit = GovernorConfig<PeerIpKeyExtractor, NoOpMiddleware>;

pub fn address_rate_limit(burst: u32, replenish_ms: u64) -> AddressRateLimit {
    GovernorConfigBuilder::default()
        .milliseconds_per_request(replenish_ms.max(1))
        .burst_size(burst.max(1))
        .finish()
        .expect("non-zero rate limit")
}

/// Who a request counts against: its credential (a session's access token or an API key, as
/// authentication reads it) or, without one, the peer's address. Kept only as a 64-bit
/// SipHash under this process's random key: the limiter's map never holds a credential, and
/// no one can aim a collision at another caller's key without the key (a SHA-256 here was a
/// tenth of `/me`'s work).
#[derive(Clone, Debug, Default)]
pub struct CallerKey {
    hasher: RandomState,
}

impl KeyExtractor for CallerKey {
    type Key = u64;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<Self::Key, Self::KeyExtractionError> {
        let mut hash = self.hasher.build_hasher();
        match crate::auth::credential(req.headers()) {
            Some(credential) => {
                hash.write_u8(b'c');
                credential.hash(&mut hash);
            }
            None => {
                hash.write_u8(b'a');
                req.peer_addr().map(|a| a.ip()).hash(&mut hash);
            }
        }
        Ok(hash.finish())
    }
}

/// The per-caller limit on every `/api/v1` route.
pub type CallerRateLimit = GovernorConfig<CallerKey, NoOpMiddleware>;

pub fn caller_rate_limit(burst: u32, replenish_ms: u64) -> CallerRateLimit {
    GovernorConfigBuilder::default()
        .milliseconds_per_request(replenish_ms.max(1))
        .burst_size(burst.max(1))
        .key_extractor(CallerKey::default())
        .finish()
        .expect("non-zero rate limit")
}

/// Every route of the platform, registered through utoipa so the spec cannot miss one.
/// Grouped in a scope per first path segment: actix tries a scope's routes one by one (a
/// regular expression for each with a parameter), so a flat list made `GET
/// /documents/{id}` try 34 routes, 17 of them with a regex, on every request.
pub fn configure(
    credential_limit: AddressRateLimit,
    caller_limit: CallerRateLimit,
) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        cfg.service(ops::healthz)
            .service(ops::readyz)
            .service(ops::metrics)
            .service(auth::jwks)
            .service(pages::invitation_page)
            .service(pages::password_reset_page);
        cfg.service(
            scope("/api/v1")
                .wrap(Governor::new(&caller_limit))
                .service(ops::openapi_json)
                .service(
                    scope("/auth")
                        .wrap(Governor::new(&credential_limit))
                        .service(auth::login)
                        .service(auth::refresh)
                        .service(auth::logout)
                        .service(auth::change_password)
                        .service(auth::request_reset)
                        .service(auth::reset_password),
                )
                .service(auth::accept_invitation)
                .service(
                    scope("/me")
                        .service(me::me)
                        .service(me::begin_totp)
                        .service(me::confirm_totp),
                )
                .service(
                    scope("/users")
                        .service(users::list)
                        .service(users::invite)
                        .service(users::get)
                        .service(users::update),
                )
                .service(
                    scope("/api-keys")
                        .service(api_keys::list)
                        .service(api_keys::create)
                        .service(api_keys::revoke),
                )
                .service(
                    scope("/organizations")
                        .service(registry::list_organizations)
                        .service(registry::create_organization)
                        .service(registry::get_organization)
                        .service(registry::update_organization),
                )
                .service(
                    scope("/groups")
                        .service(registry::list_groups)
                        .service(registry::create_group)
                        .service(registry::get_group)
                        .service(registry::update_group)
                        .service(registry::delete_group),
                )
                .service(
                    scope("/nominations")
                        .service(nominations::list)
                        .service(nominations::create)
                        .service(nominations::get)
                        .service(nominations::approve)
                        .service(nominations::reject)
                        .service(nominations::withdraw)
                        .service(nominations::revoke),
                )
                .service(nominations::focal_points)
                .service(nominations::stats)
                .service(
                    scope("/documents")
                        .service(documents::create)
                        .service(documents::list)
                        .service(documents::get)
                        .service(documents::update)
                        .service(documents::delete)
                        .service(documents::add_recipients)
                        .service(documents::versions)
                        .service(attachments::upload)
                        .service(attachments::list)
                        .service(attachments::download)
                        .service(attachments::remove),
                )
                .service(
                    scope("/updates")
                        .service(updates::create)
                        .service(updates::feed)
                        .service(updates::get)
                        .service(updates::update)
                        .service(updates::delete)
                        .service(updates::add_recipients),
                )
                .service(
                    scope("/search")
                        .service(search::search)
                        .service(search::export),
                )
                .service(
                    scope("/subscriptions")
                        .service(subscriptions::list)
                        .service(subscriptions::create)
                        .service(subscriptions::delete),
                ),
        );
    }
}
