//! `/metrics`: a small Prometheus registry (counters, gauges, histograms with fixed buckets,
//! label sets) and the controller's own metrics.
//!
//! Why our own and not `prometheus-client`: we need five metric families and the text
//! exposition format 0.0.4, which is a page of code and stable since 2014; the crate would add
//! a derive macro and its OpenMetrics output for no gain here, and it has no bound on label
//! cardinality. Ours does (TigerBeetle's rule: everything has a limit): each family holds at most
//! [`MAX_SERIES`] label sets, label values are cut to [`MAX_LABEL_VALUE_LEN`] bytes, and label
//! sets beyond the cap are dropped and counted in `hotspot_metrics_series_dropped_total`.
//!
//! Handles ([`Counter`], [`Gauge`], [`Histogram`]) are cheap to clone and share one series map
//! behind a mutex; recording takes the lock once and allocates only its lookup key. Output is
//! in registration order, then sorted by label values.

mod registry;

pub use self::registry::{
    CONTENT_TYPE, Counter, Gauge, Histogram, MAX_LABEL_VALUE_LEN, MAX_SERIES, Registry,
    escape_label,
};

/// Buckets of [`Metrics::routeros_call_seconds`], in seconds.
pub const ROUTEROS_CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The controller's metrics, registered once at start-up.
#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    /// `hotspot_vouchers_issued_total{origin="central"|"site"}`.
    pub vouchers_issued: Counter,
    /// `hotspot_queue_depth{site}`: commands in a site's outbox not yet acknowledged.
    pub queue_depth: Gauge,
    /// `hotspot_sites_online`.
    pub sites_online: Gauge,
    /// `hotspot_routeros_call_seconds{op}`.
    pub routeros_call_seconds: Histogram,
    /// `hotspot_http_requests_total{route,status}` (route = the matched path template).
    pub http_requests: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        Metrics {
            vouchers_issued: r.counter(
                "hotspot_vouchers_issued_total",
                "Vouchers issued, by where they were made (central or site).",
                &["origin"],
            ),
            queue_depth: r.gauge(
                "hotspot_queue_depth",
                "Messages in a site's outbox waiting for the agent's acknowledgement.",
                &["site"],
            ),
            sites_online: r.gauge(
                "hotspot_sites_online",
                "Sites whose agent is connected.",
                &[],
            ),
            routeros_call_seconds: r.histogram(
                "hotspot_routeros_call_seconds",
                "RouterOS operation latency as reported by agents, by operation.",
                &["op"],
                ROUTEROS_CALL_BUCKETS,
            ),
            http_requests: r.counter(
                "hotspot_http_requests_total",
                "HTTP requests answered, by route template and status code.",
                &["route", "status"],
            ),
            registry: r,
        }
    }

    /// The `/metrics` body (see [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        self.registry.encode()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
