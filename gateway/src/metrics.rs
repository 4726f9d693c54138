//! Prometheus metrics (prometheus-client): requests by action and code, latency by
//! action, backend errors, requests in flight, audit backlog, remembered nonces, and
//! the last VerifyStore pass of the periodic verifier.

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
    verify_key_versions: Gauge,
    verify_key_problems: Gauge,
    verify_secret_versions: Gauge,
    verify_value_problems: Gauge,
    verify_last_run: Gauge,
    verify_failures: Counter,
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
        let verify_key_versions = Gauge::default();
        let verify_key_problems = Gauge::default();
        let verify_secret_versions = Gauge::default();
        let verify_value_problems = Gauge::default();
        let verify_last_run = Gauge::default();
        let verify_failures = Counter::default();
        registry.register(
            "verify_key_versions",
            "Key versions the last VerifyStore pass probed in their backend",
            verify_key_versions.clone(),
        );
        registry.register(
            "verify_key_problems",
            "Key versions whose backend did not answer the last VerifyStore pass's probe",
            verify_key_problems.clone(),
        );
        registry.register(
            "verify_secret_versions",
            "Secret versions the last VerifyStore pass opened or tried to",
            verify_secret_versions.clone(),
        );
        registry.register(
            "verify_value_problems",
            "Secret values that did not open in the last VerifyStore pass",
            verify_value_problems.clone(),
        );
        registry.register(
            "verify_last_run_timestamp_seconds",
            "When the last VerifyStore pass ended (Unix seconds; 0: none yet)",
            verify_last_run.clone(),
        );
        registry.register(
            "verify_failures",
            "VerifyStore passes that failed as a whole (the store refused the call)",
            verify_failures.clone(),
        );
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
            verify_key_versions,
            verify_key_problems,
            verify_secret_versions,
            verify_value_problems,
            verify_last_run,
            verify_failures,
        }
    }

    /// Sets the gauges of a finished VerifyStore pass, ended at `now_s`.
    pub fn record_verify(&self, r: &strongroom::api::VerifyStoreResponse, now_s: u64) {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let len = |v: usize| i64::try_from(v).unwrap_or(i64::MAX);
        self.verify_key_versions.set(n(r.key_versions));
        self.verify_key_problems.set(len(r.key_problems.len()));
        self.verify_secret_versions.set(n(r.secret_versions));
        self.verify_value_problems.set(len(r.problems.len()));
        self.verify_last_run.set(n(now_s));
    }

    /// Counts a VerifyStore pass that failed as a whole.
    pub fn record_verify_failure(&self) {
        self.verify_failures.inc();
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
