//! Route handlers, thin: parse, call the domain crates, answer.

pub mod ops;

use utoipa_actix_web::service_config::ServiceConfig;

/// Every route of the platform, registered through utoipa so the spec cannot miss one.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics);
    cfg.service(utoipa_actix_web::scope("/api/v1").service(ops::openapi_json));
}
