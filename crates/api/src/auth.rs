//! The `Authenticated` extractor: a bearer access token, or an API key as
//! `Authorization: Bearer cpk_…` or `X-Api-Key`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tracing_actix_web::RequestId;

use compact_auth::{AuthError, Principal, RequestContext};

use crate::app::AppState;
use crate::error::ApiError;

/// The authenticated caller. Routes then call `principal.require(Permission::…)`.
pub struct Authenticated(pub Principal);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let credential = credential(req.headers()).map(str::to_owned);
        // Only an API key's check reads the address and request id (its allow-list);
        // formatting both for every access token cost as much as the token's own check.
        let ctx = match &credential {
            Some(key) if key.starts_with(compact_auth::api_keys::KEY_PREFIX) => {
                request_context(req)
            }
            _ => RequestContext::default(),
        };
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let credential = credential.ok_or(AuthError::Unauthenticated)?;
            Ok(Authenticated(
                state.auth.authenticate(&credential, &ctx).await?,
            ))
        })
    }
}

/// The caller if a credential came with the request, for the public read routes: no
/// credential is an anonymous reader (TLP:CLEAR only); a bad one is still a 401.
pub struct MaybeAuthenticated(pub Option<Principal>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let headers = req.headers();
        if !headers.contains_key(header::AUTHORIZATION) && !headers.contains_key("x-api-key") {
            return Box::pin(async { Ok(MaybeAuthenticated(None)) });
        }
        let caller = Authenticated::from_request(req, payload);
        Box::pin(async move { Ok(MaybeAuthenticated(Some(caller.await?.0))) })
    }
}

/// The credential a request carries: an `Authorization: Bearer` token (an access token or an
/// API key), else an `X-Api-Key`; trimmed, never empty. The per-caller rate limit keys on
/// the same text, so respellings of one credential share a bucket.
pub(crate) fn credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(header_text) {
        let (scheme, token) = value.trim().split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    headers
        .get("x-api-key")
        .and_then(header_text)
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The header's text if it is ASCII, as `to_str` (header values hold no control characters)
/// but checked a word at a time rather than a byte at a time on a 600-byte token.
fn header_text(value: &header::HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if bytes.is_ascii() {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

/// The caller's address and the request id, for the audit log and API-key allow-lists.
pub fn request_context(req: &HttpRequest) -> RequestContext {
    RequestContext {
        ip: req.peer_addr().map(|a| a.ip().to_string()),
        request_id: req.extensions().get::<RequestId>().map(ToString::to_string),
    }
}
