//! Prometheus metrics (prometheus-client): requests by action and code, latency by
//! action, backend errors, requests in flight, audit backlog, remembered nonces.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionCode {
    action: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabel {
    action: &'static str,
}

/// The gateway's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<ActionCode, Counter>,
    latency: Family<ActionLabel, Histogram, fn() -> Histogram>,
    backend_errors: Counter,
    /// Requests being answered.
    pub in_flight: Gauge,
    audit_backlog: Gauge,
    nonces: Gauge,
}

fn latency_histogram() -> Histogram {
    // 50 µs … ~6.5 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("strongroom");
        let requests = Family::<ActionCode, Counter>::default();
        let latency: Family<ActionLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let backend_errors = Counter::default();
        let in_flight = Gauge::default();
        let audit_backlog = Gauge::default();
        let nonces = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by action and code (Success for answers without error)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from the request's arrival to its answer, by action",
            latency.clone(),
        );
        registry.register(
            "backend_errors",
            "Calls that failed because the key backend was unavailable or broke its protocol",
            backend_errors.clone(),
        );
        registry.register(
            "in_flight_requests",
            "Requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "audit_backlog_events",
            "Audit events waiting to be written",
            audit_backlog.clone(),
        );
        registry.register(
            "replay_nonces",
            "Signature nonces remembered to refuse replays",
            nonces.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            backend_errors,
            in_flight,
            audit_backlog,
            nonces,
        }
    }

    /// Counts one answered request.
    pub fn observe(&self, action: &'static str, code: &'static str, seconds: f64) {
        self.requests
            .get_or_create(&ActionCode { action, code })
            .inc();
        self.latency
            .get_or_create(&ActionLabel { action })
            .observe(seconds);
        if code.starts_with("Rejected.Backend") {
            self.backend_errors.inc();
        }
    }

    /// The text exposition, with the gauges read now.
    #[must_use]
    pub fn render(&self, audit_backlog: u64, nonces: usize) -> String {
        self.audit_backlog
            .set(i64::try_from(audit_backlog).unwrap_or(i64::MAX));
        self.nonces.set(i64::try_from(nonces).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
