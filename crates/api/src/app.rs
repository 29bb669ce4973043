//! The actix-web application: state, middleware, routes, the OpenAPI document and the
//! answers for what no route handles.

use std::sync::Arc;
use std::time::Instant;

use actix_cors::Cors;
use actix_governor::Governor;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Condition, ErrorHandlerResponse, ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, web};
use tracing_actix_web::{RequestId, TracingLogger};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::config::Settings;
use crate::error::{ApiError, PROBLEM_JSON, problem_response, status_problem};
use crate::metrics::Metrics;
use crate::routes::{self, AddressRateLimit, CallerRateLimit};
use crate::telemetry::RedactedRootSpan;
use compact_auth::Authenticator;
use compact_auth::accounts::MailContext;
use compact_db::Database;
use compact_registry::nominations::NominationRules;
use compact_registry::search::counts::CountIndex;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Compact Platform API",
        description = "Coordination platform of a multi-organization compact: organizations, focal \
                       points, documents and updates shared under TLP audiences. Errors are RFC 9457 \
                       `application/problem+json`."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(compact_registry::items::ItemKind)),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "auth", description = "Sign-in, tokens, passwords, invitations and the public keys"),
        (name = "me", description = "The caller's own account and second factor"),
        (name = "users", description = "People of an organization"),
        (name = "api-keys", description = "Keys for scripts, with chosen scopes"),
        (name = "registry", description = "Organizations and groups of the Compact"),
        (name = "nominations", description = "Focal-point nominations, the directory and statistics"),
        (name = "documents", description = "Documents shared under TLP audiences, their versions and files"),
        (name = "updates", description = "Short dated posts: the feed"),
        (name = "search", description = "Search and exports over what the caller may see"),
        (name = "subscriptions", description = "Following organizations, groups, tags or everything, by mail"),
    )
)]
struct ApiDoc;

/// `bearer`: an access token from sign-in (or an API key); `api_key`: an API key in
/// `X-Api-Key`. Each operation lists, as scopes, the permission it needs — or `session`
/// (a signed-in person, not an API key) or `authenticated` (any credential) for one's own
/// account; `security: [{}]` marks a public operation.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or cpk_ API key")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
    }
}

/// What every handler can reach.
pub struct AppState {
    pub db: Database,
    pub auth: Arc<Authenticator>,
    pub mail: MailContext,
    pub credential_limit: AddressRateLimit,
    pub caller_limit: CallerRateLimit,
    pub address_limit: AddressRateLimit,
    pub nomination_rules: NominationRules,
    pub settings: Arc<Settings>,
    pub metrics: Metrics,
    /// Totals and facets of searches, kept in memory (registry `search::counts`).
    pub search_counts: Arc<CountIndex>,
    /// The OpenAPI document as served (and as committed in `openapi/openapi.json`).
    pub openapi_json: String,
    routes: RouteTable,
}

impl AppState {
    pub fn new(db: Database, settings: Arc<Settings>, auth: Arc<Authenticator>) -> Self {
        let spec = openapi();
        let routes = RouteTable::from_spec(&spec);
        let mail = MailContext {
            public_url: settings.public_url.clone(),
            message_domain: settings.message_domain(),
        };
        let credential_limit =
            routes::address_rate_limit(settings.login_burst, settings.login_replenish_ms);
        let caller_limit =
            routes::caller_rate_limit(settings.rate_limit_burst, settings.rate_limit_replenish_ms);
        Self {
            db,
            auth,
            mail,
            credential_limit,
            caller_limit,
            address_limit: routes::address_rate_limit(
                settings.address_limit_burst,
                settings.address_limit_replenish_ms,
            ),
            nomination_rules: NominationRules {
                max_alternates: i64::from(settings.max_alternates),
            },
            settings,
            metrics: Metrics::new(),
            search_counts: Arc::default(),
            openapi_json: openapi_pretty_json(&spec),
            routes,
        }
    }
}

/// The OpenAPI document, collected from the registered routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let spec = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure(
            routes::address_rate_limit(1, 1000),
            routes::caller_rate_limit(1, 1000),
        ))
        .split_for_parts()
        .1;
    with_common_problems(spec)
}

/// Problems any `/api/v1` operation may answer, whatever it is: a malformed request, a
/// missing or refused credential, an unknown id, a slow or oversized or mistyped body,
/// invalid fields, the rate limit, the database away. Declared once here rather than on
/// every route, so the document is complete and clients can rely on it.
fn with_common_problems(mut spec: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const COMMON: [(&str, &str); 10] = [
        ("400", "Malformed request"),
        ("401", "No valid credential"),
        ("403", "Not allowed"),
        ("404", "Not found, or not for the caller"),
        ("408", "The body arrived too slowly"),
        ("413", "The body is too large"),
        ("415", "The body is of a type this operation does not take"),
        ("422", "Invalid fields"),
        ("429", "Too many requests; see Retry-After"),
        (
            "503",
            "A service the platform needs is unavailable; see Retry-After",
        ),
    ];
    for (path, item) in spec.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (code, description) in COMMON {
                operation
                    .responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    PROBLEM_JSON,
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build(),
                        )
                    });
            }
        }
    }
    spec
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn openapi_pretty_json(spec: &utoipa::openapi::OpenApi) -> String {
    let mut json = spec
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let docs_enabled = state.settings.docs_enabled;
    let cors = cors(&state.settings.cors_allowed_origins);
    let limit = state.credential_limit.clone();
    let address_limit = state.address_limit.clone();
    let caller_limit = state.caller_limit.clone();
    let app = App::new()
        .app_data(state)
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| ApiError::BadRequest(e.to_string()).into()),
        )
        // Innermost first: errors become problem+json, then headers and metrics, then the
        // request span (outermost, so everything above logs inside it).
        .wrap(from_fn(refuse_nul))
        // Every route, before any credential is looked at.
        .wrap(Governor::new(&address_limit))
        .wrap(ErrorHandlers::new().default_handler(error_as_problem))
        .wrap(from_fn(observe))
        .wrap(Condition::new(cors.is_some(), cors.unwrap_or_default()))
        .wrap(TracingLogger::<RedactedRootSpan>::new())
        .into_utoipa_app()
        .configure(routes::configure(limit, caller_limit))
        .into_app()
        .default_service(web::to(fallback));
    if !docs_enabled {
        return app;
    }
    app.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::Found()
                .insert_header((header::LOCATION, "/docs/"))
                .finish()
        }),
    )
    .service(
        // Swagger UI's assets are compiled in (`vendored`); no validator badge, which would
        // call out to the internet.
        SwaggerUi::new("/docs/{_:.*}")
            .config(Config::new(["/api/v1/openapi.json"]).validator_url("none")),
    )
}

/// CORS for the configured origins only; None when there are none (no CORS headers at all).
fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            HeaderName::from_static("idempotent-replayed"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(3600);
    Some(cors)
}

/// A NUL character has no business in a path or query, and PostgreSQL refuses it in text
/// (which would surface as a 500): refuse it at the door.
async fn refuse_nul(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Raw NUL cannot appear in a request line; its percent-encoding can.
    let uri = req.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        return Err(ApiError::BadRequest("NUL characters are not accepted".into()).into());
    }
    next.call(req).await
}

/// Request metrics and the headers every response carries.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let request_id = req.extensions().get::<RequestId>().map(|id| **id);
    let method = req.method().clone();
    let mut res = next.call(req).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let elapsed = started.elapsed();
    let status = res.status();
    if let Some(state) = state {
        state
            .metrics
            .observe_request(method.as_str(), &route, status.as_str(), elapsed);
    }
    // One access-log line per request, inside the request span (which has the request id).
    tracing::info!(%method, %route, status = status.as_u16(), elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request");
    let headers = res.headers_mut();
    if let Some(id) = request_id {
        let mut text = uuid::Uuid::encode_buffer();
        let text = id.hyphenated().encode_lower(&mut text);
        if let Ok(value) = HeaderValue::from_str(text) {
            headers.insert(HeaderName::from_static("x-request-id"), value);
        }
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}

/// Turns any error response not already problem+json (actix's own, e.g. a bad path
/// parameter) into one, keeping headers such as `Allow` and `Retry-After`.
fn error_as_problem<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = res.response().error().map(ToString::to_string);
    if status.is_server_error() {
        tracing::error!(error = error.as_deref().unwrap_or("-"), %status, "unhandled server error");
    }
    let (req, old) = res.into_parts();
    let mut new = problem_response(&status_problem(status, error));
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, new).map_into_right_body(),
    ))
}

/// No route matched: 405 with `Allow` when the path exists under other methods, else 404.
async fn fallback(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let allow = state.routes.methods_for(req.path());
    if allow.is_empty() || allow.iter().any(|m| m == req.method().as_str()) {
        Err(ApiError::NotFound)
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}

/// Paths and their methods, read from the OpenAPI document so it is always complete.
struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let value = serde_json::to_value(spec).expect("the OpenAPI document serialises");
        let mut routes = Vec::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .into_iter()
                .filter(|m| item.get(m).is_some())
                .map(str::to_ascii_uppercase)
                .collect();
                routes.push((segments, methods));
            }
        }
        Self { routes }
    }

    fn methods_for(&self, path: &str) -> Vec<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut methods: Vec<String> = self
            .routes
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| {
                        (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                    })
            })
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }
}
