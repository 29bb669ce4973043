//! Structured logs through `tracing`, as text for people or JSON for log shippers.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber once; later calls (tests) are no-ops.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The request span: like tracing-actix-web's default, but naming the route pattern
/// (`/api/v1/invitations/{token}/accept`) instead of the path, so tokens in paths never
/// reach the logs.
pub struct RedactedRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = Empty,
            http.client_ip = Empty,
            request_id = Empty,
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        );
        // Matching the route again and formatting the address and id cost more than the rest
        // of a cached request's middleware: only when the span is logged.
        if span.is_disabled() {
            return span;
        }
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "<unmatched>".to_owned());
        span.record("http.route", tracing::field::display(&route));
        if let Some(addr) = request.connection_info().peer_addr() {
            span.record("http.client_ip", tracing::field::display(addr));
        }
        if let Some(id) = request.extensions().get::<tracing_actix_web::RequestId>() {
            span.record("request_id", tracing::field::display(id));
        }
        span
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::{App, HttpResponse, test, web};
    use compact_db::testing::CapturedLog;
    use tracing_actix_web::TracingLogger;

    use super::RedactedRootSpan;

    async fn logged_request(level: &str) -> String {
        let captured = CapturedLog::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(level))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        tracing::callsite::rebuild_interest_cache();
        let app = test::init_service(
            App::new()
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .route(
                    "/invitations/{token}/accept",
                    web::get().to(|| async {
                        tracing::warn!("inside the handler");
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/invitations/sEcReT-InViTaTiOn/accept")
            .peer_addr("203.0.113.7:4711".parse().expect("an address"))
            .to_request();
        assert!(
            test::call_service(&app, request)
                .await
                .status()
                .is_success()
        );
        captured.text()
    }

    /// One test, both levels in turn: tracing caches which callsites are enabled for the
    /// whole process, and two tests setting different levels at once could race on it.
    #[actix_web::test]
    async fn the_request_span_names_the_route_pattern_the_address_and_the_id_never_the_path() {
        let logged = logged_request("info").await;
        assert!(logged.contains("inside the handler"), "{logged}");
        assert!(
            logged.contains("http.route=/invitations/{token}/accept"),
            "{logged}"
        );
        assert!(logged.contains("http.client_ip=203.0.113.7"), "{logged}");
        assert!(logged.contains("request_id="), "{logged}");
        assert!(!logged.contains("sEcReT"), "{logged}");

        // Below info the span is not built; the handler's own events still log.
        let logged = logged_request("warn").await;
        assert!(logged.contains("inside the handler"), "{logged}");
        assert!(!logged.contains("HTTP request"), "{logged}");
    }
}
