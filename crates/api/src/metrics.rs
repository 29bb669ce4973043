//! Prometheus metrics, in a registry per app (no global state, so tests do not mix).

use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use compact_db::Database;
use compact_registry::search::counts::CountIndex;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_in_use: IntGauge,
    pool_idle: IntGauge,
    outbox_pending: IntGauge,
    outbox_failed: IntGauge,
    search_index_items: IntGauge,
    search_index_bytes: IntGauge,
    search_cache_bytes: IntGauge,
    search_index_limited: IntGauge,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("compact".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let metrics = Self {
            pool_in_use: gauge(
                "db_pool_connections_in_use",
                "Database connections checked out",
            ),
            pool_idle: gauge(
                "db_pool_connections_idle",
                "Database connections idle in the pool",
            ),
            outbox_pending: gauge("outbox_pending_messages", "Mail waiting to be sent"),
            outbox_failed: gauge(
                "outbox_failed_messages",
                "Mail given up after its last attempt",
            ),
            search_index_items: gauge(
                "search_count_index_items",
                "Items the search count index holds (0 until it is loaded)",
            ),
            search_index_bytes: gauge(
                "search_count_index_bytes",
                "About the bytes the search count index's catalog takes (0 until it is loaded)",
            ),
            search_cache_bytes: gauge(
                "search_count_cache_bytes",
                "About the bytes the caches of searched texts and counted searches take",
            ),
            search_index_limited: gauge(
                "search_count_index_limited",
                "1 while searches count in SQL because the data went past the count index's limits",
            ),
            registry,
            requests,
            latency,
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.latency.clone()),
            Box::new(metrics.pool_in_use.clone()),
            Box::new(metrics.pool_idle.clone()),
            Box::new(metrics.outbox_pending.clone()),
            Box::new(metrics.outbox_failed.clone()),
            Box::new(metrics.search_index_items.clone()),
            Box::new(metrics.search_index_bytes.clone()),
            Box::new(metrics.search_cache_bytes.clone()),
            Box::new(metrics.search_index_limited.clone()),
        ] {
            metrics
                .registry
                .register(collector)
                .expect("unique metric names");
        }
        metrics
    }

    pub fn observe_request(&self, method: &str, route: &str, status: &str, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, status])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Reads the pool and the outbox (blocking: call off the async workers) and renders
    /// everything in the Prometheus text format. The outbox gauges keep their last value
    /// while the database is away.
    pub fn render(&self, db: &Database, search_counts: &CountIndex) -> String {
        let pool = db.status();
        self.pool_idle.set(i64::from(pool.idle));
        self.pool_in_use
            .set(i64::from(pool.connections.saturating_sub(pool.idle)));
        if let Ok(mut conn) = db.get_timeout(Duration::from_secs(1))
            && let Ok(counts) = compact_db::outbox::counts(&mut conn)
        {
            self.outbox_pending.set(counts.pending);
            self.outbox_failed.set(counts.failed);
        }
        // Not while a load holds the catalog: the gauge keeps its last value then.
        if let Some(items) = search_counts.held_items_now() {
            self.search_index_items
                .set(i64::try_from(items).unwrap_or(i64::MAX));
        }
        if let Some(bytes) = search_counts.held_bytes_now() {
            self.search_index_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        self.search_cache_bytes
            .set(i64::try_from(search_counts.cached_bytes()).unwrap_or(i64::MAX));
        self.search_index_limited
            .set(i64::from(search_counts.limited().is_some()));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encode metrics");
        String::from_utf8(out).expect("metrics are UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
