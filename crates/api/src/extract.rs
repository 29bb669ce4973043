//! `ApiJson<T>`: the JSON body extractor of every route. Unlike actix's `Json` it answers
//! 415 for another content type, 413 past the limit, 400 for malformed JSON and 422 — naming
//! the field — for unknown fields and wrong types (bodies use `deny_unknown_fields`).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Largest JSON body accepted (DESIGN §6).
pub const JSON_LIMIT: usize = 1024 * 1024;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        let body_timeout = body_timeout(req);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "application/json",
                });
            }
            if declared_length.is_some_and(|n| n > JSON_LIMIT) {
                return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
            }
            let read = async {
                let mut body = BytesMut::new();
                while let Some(chunk) = payload.next().await {
                    let chunk = chunk.map_err(|e| {
                        ApiError::BadRequest(format!("Could not read the body: {e}"))
                    })?;
                    if body.len() + chunk.len() > JSON_LIMIT {
                        return Err(ApiError::PayloadTooLarge { limit: JSON_LIMIT });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
            // A slow client must not hold its connection and our buffer for long.
            let body = tokio::time::timeout(body_timeout, read)
                .await
                .map_err(|_| ApiError::RequestTimeout)??;
            parse(&body).map(ApiJson)
        })
    }
}

/// How long a client may take to send a body (`body_timeout_secs`).
pub fn body_timeout(req: &HttpRequest) -> std::time::Duration {
    let secs = req
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map_or(30, |state| state.settings.body_timeout_secs);
    std::time::Duration::from_secs(secs)
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, which is always an object, classifying failures as the client would
/// want to hear them.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // serde would also read a struct from an array of its field values in order; no client
    // means that, and the spec promises objects.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::Unprocessable {
            detail: "The request body does not match the expected shape.".into(),
            errors: vec![FieldError {
                field: String::new(),
                message: "expected a JSON object, not an array".into(),
            }],
        });
    }
    // An escaped NUL would reach the database as text, which PostgreSQL refuses.
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(ApiError::BadRequest(
            "NUL characters (\\u0000) are not accepted".into(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => ApiError::Unprocessable {
                detail: "The request body does not match the expected shape.".into(),
                errors: vec![FieldError {
                    field: if path == "." { String::new() } else { path },
                    message: strip_position(&inner.to_string()),
                }],
            },
            _ => not_json(&inner),
        }
    })?;
    deserializer.end().map_err(|e| not_json(&e))?;
    Ok(value)
}

fn not_json(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("The request body is not valid JSON: {error}"))
}

/// serde's messages end in "at line 1 column 17", which means nothing to a field error.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u8,
    }

    fn status(result: Result<Body, ApiError>) -> u16 {
        use actix_web::ResponseError;
        result
            .map(|_| 200)
            .unwrap_or_else(|e| e.status_code().as_u16())
    }

    #[test]
    fn classifies_bad_bodies() {
        assert_eq!(status(parse(br#"{"name":"a","count":1}"#)), 200);
        assert_eq!(status(parse(br#"{"name":"a","count":1"#)), 400);
        assert_eq!(status(parse(br#"{"name":"a","count":1} trailing"#)), 400);
        assert_eq!(status(parse(b"")), 400);
        assert_eq!(
            status(parse(br#"{"name":"a","count":1,"role":"admin"}"#)),
            422
        );
        assert_eq!(status(parse(br#"{"name":"a","count":300}"#)), 422);
        assert_eq!(status(parse(br#"{"name":"a"}"#)), 422);
        assert_eq!(
            status(parse(br#" ["a", 1]"#)),
            422,
            "an array is not an object"
        );
        // Nesting past serde_json's recursion limit is refused, not a stack overflow.
        let deep = r#"{"a":"#.repeat(10_000);
        let Err(error) = parse::<serde_json::Value>(deep.as_bytes()) else {
            panic!("accepted")
        };
        assert_eq!(actix_web::ResponseError::status_code(&error), 400);
    }

    #[test]
    fn names_the_offending_field() {
        let Err(ApiError::Unprocessable { errors, .. }) =
            parse::<Body>(br#"{"name":"a","count":"x"}"#)
        else {
            panic!("expected 422");
        };
        assert_eq!(errors[0].field, "count");
        assert!(
            errors[0].message.starts_with("invalid type"),
            "{}",
            errors[0].message
        );
    }
}

#[cfg(test)]
mod http_tests {
    use actix_web::{App, HttpResponse, test, web};
    use serde::Deserialize;

    use super::{ApiJson, JSON_LIMIT};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        #[allow(dead_code)]
        name: String,
    }

    async fn echo(_body: ApiJson<Body>) -> HttpResponse {
        HttpResponse::NoContent().finish()
    }

    #[actix_web::test]
    async fn bad_bodies_get_the_status_http_means() {
        let app = test::init_service(App::new().route("/", web::post().to(echo))).await;
        let cases: Vec<(Option<&str>, Vec<u8>, u16)> = vec![
            (Some("application/json"), br#"{"name":"x"}"#.to_vec(), 204),
            (
                Some("application/json; charset=utf-8"),
                br#"{"name":"x"}"#.to_vec(),
                204,
            ),
            (
                Some("application/merge-patch+json"),
                br#"{"name":"x"}"#.to_vec(),
                204,
            ),
            (Some("text/plain"), br#"{"name":"x"}"#.to_vec(), 415),
            (None, br#"{"name":"x"}"#.to_vec(), 415),
            (Some("application/json"), br#"{"name":"#.to_vec(), 400),
            (
                Some("application/json"),
                br#"{"name":"x","admin":true}"#.to_vec(),
                422,
            ),
            (Some("application/json"), br#"{"name":7}"#.to_vec(), 422),
            (Some("application/json"), vec![b' '; JSON_LIMIT + 1], 413),
        ];
        for (content_type, body, expected) in cases {
            let mut req = test::TestRequest::post().uri("/").set_payload(body);
            if let Some(content_type) = content_type {
                req = req.insert_header(("content-type", content_type));
            }
            let res = test::call_service(&app, req.to_request()).await;
            assert_eq!(res.status().as_u16(), expected, "{content_type:?}");
            if expected >= 400 {
                assert_eq!(
                    res.headers().get("content-type").expect("content type"),
                    "application/problem+json"
                );
            }
        }
    }
}

/// An optional JSON body: none at all is `None`; anything sent is checked like [`ApiJson`]
/// (so a malformed or unknown-field body is still a 4xx, never silently ignored).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        if length.as_deref() == Some("0") || (length.is_none() && !chunked) {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let inner = ApiJson::<T>::from_request(req, payload);
        Box::pin(async move { inner.await.map(|ApiJson(value)| OptionalJson(Some(value))) })
    }
}
