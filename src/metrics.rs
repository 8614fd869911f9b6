//! What an operator graphs and alerts on, in Prometheus' format: requests by route and status with their
//! latency, codes issued / verified / failed, SMS delivery by provider and outcome with its latency, throttle
//! refusals, the database pool, group-commit batch sizes and delivery jobs by state. Each service instance
//! has its own registry (several live in one test process); the only global is none.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Distinct routes kept as labels; RPC paths name a method the client chose, so an unknown one could
/// otherwise make a series per request.
const MAX_ROUTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SmsLabels {
    provider: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallingCodeLabels {
    calling_code: u16,
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// What happened to a code, as `phoneverify_codes_total{outcome}` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// A code went into the outbox for an SMS.
    IssuedBySms,
    /// A code was returned in the response (no SMS).
    IssuedReturned,
    Verified,
    /// A wrong guess.
    VerifyFailed,
    /// A guess on a code that had expired (counted here, not under `verify_failed`; the API answers both alike).
    VerifyExpired,
    /// Its SMS was given up: out of attempts or expired before delivery.
    Undeliverable,
}

impl CodeOutcome {
    fn label(self) -> &'static str {
        match self {
            CodeOutcome::IssuedBySms => "issued_sms",
            CodeOutcome::IssuedReturned => "issued_returned",
            CodeOutcome::Verified => "verified",
            CodeOutcome::VerifyFailed => "verify_failed",
            CodeOutcome::VerifyExpired => "verify_expired",
            CodeOutcome::Undeliverable => "undeliverable",
        }
    }
}

/// Database pool occupancy at the time of a scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram>,
    routes: Mutex<HashSet<String>>,
    codes: Family<OutcomeLabels, Counter>,
    sms: Family<SmsLabels, Counter>,
    sms_delivery_seconds: Histogram,
    throttled: Family<ReasonLabels, Counter>,
    by_calling_code: Family<CallingCodeLabels, Counter>,
    jobs: Family<StateLabels, Gauge>,
    pool: Family<StateLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    /// A registry with every metric; `commit_batch_sizes` is the store's own histogram, if it batches.
    pub fn new(commit_batch_sizes: Option<Histogram>) -> Self {
        let mut registry = Registry::with_prefix("phoneverify");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by method, route and HTTP status",
            requests.clone(),
        );
        let request_seconds =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request, by method and route",
            request_seconds.clone(),
        );
        let codes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "codes",
            "Verification codes issued, verified, failed, expired or undeliverable",
            codes.clone(),
        );
        let sms = Family::<SmsLabels, Counter>::default();
        registry.register(
            "sms_attempts",
            "SMS delivery attempts by provider and outcome",
            sms.clone(),
        );
        let sms_delivery_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 14));
        registry.register(
            "sms_delivery_seconds",
            "Time from a code's creation to its SMS being accepted by the provider",
            sms_delivery_seconds.clone(),
        );
        let throttled = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "throttled",
            "Sends refused by a throttle, by reason",
            throttled.clone(),
        );
        let by_calling_code = Family::<CallingCodeLabels, Counter>::default();
        registry.register(
            "codes_by_calling_code",
            "Codes sent by SMS and verified, by the number's calling code: many sends and few verifications \
             to one country is what SMS pumping looks like",
            by_calling_code.clone(),
        );
        let jobs = Family::<StateLabels, Gauge>::default();
        registry.register(
            "sms_jobs",
            "SMS delivery jobs in the database, by state",
            jobs.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections, in use or idle",
            pool.clone(),
        );
        if let Some(batches) = commit_batch_sizes {
            registry.register(
                "commit_batch_size",
                "Commits written together in one transaction (group commit)",
                batches,
            );
        }
        Self {
            registry,
            requests,
            request_seconds,
            routes: Mutex::new(HashSet::new()),
            codes,
            sms,
            sms_delivery_seconds,
            throttled,
            by_calling_code,
            jobs,
            pool,
        }
    }

    pub fn request(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let route = self.bounded_route(route);
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route,
            })
            .observe(latency.as_secs_f64());
    }

    fn bounded_route(&self, route: &str) -> String {
        let Ok(mut seen) = self.routes.lock() else {
            return "other".to_owned();
        };
        if seen.contains(route) {
            return route.to_owned();
        }
        if seen.len() < MAX_ROUTES {
            seen.insert(route.to_owned());
            return route.to_owned();
        }
        "other".to_owned()
    }

    pub fn code(&self, outcome: CodeOutcome) {
        self.codes
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
            .inc();
    }

    /// One delivery attempt: `outcome` is `sent`, `failed` (to be retried), `given_up` or `dropped`.
    pub fn sms_attempt(&self, provider: &'static str, outcome: &'static str) {
        self.sms
            .get_or_create(&SmsLabels { provider, outcome })
            .inc();
    }

    pub fn sms_delivered_after(&self, delay: Duration) {
        self.sms_delivery_seconds.observe(delay.as_secs_f64());
    }

    /// A code sent by SMS (`sms_issued`) or verified (`verified`) for a number with this calling code.
    pub fn by_calling_code(&self, calling_code: u16, outcome: &'static str) {
        self.by_calling_code
            .get_or_create(&CallingCodeLabels {
                calling_code,
                outcome,
            })
            .inc();
    }

    /// A send refused by a throttle (`cooldown`, `daily_cap`, ...).
    pub fn throttled(&self, reason: &'static str) {
        self.throttled.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// The text a scrape answers, with the gauges read now.
    pub fn render(&self, jobs: &[(&'static str, i64)], pool: PoolState) -> String {
        for (state, n) in jobs {
            self.jobs.get_or_create(&StateLabels { state }).set(*n);
        }
        let idle = i64::from(pool.idle);
        let in_use = i64::from(pool.size).saturating_sub(idle);
        self.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(in_use);
        self.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(idle);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_shows_each_family_with_its_labels() {
        let batches = Histogram::new([1.0, 2.0, 4.0]);
        let m = Metrics::new(Some(batches.clone()));
        m.request(
            "POST",
            "/v2/users/{userId}/phone/resend",
            200,
            Duration::from_millis(3),
        );
        m.request(
            "POST",
            "/v2/users/{userId}/phone/resend",
            429,
            Duration::from_millis(1),
        );
        m.code(CodeOutcome::IssuedBySms);
        m.code(CodeOutcome::IssuedBySms);
        m.sms_attempt("log", "sent");
        m.throttled("cooldown");
        batches.observe(3.0);
        let text = m.render(&[("pending", 2)], PoolState { size: 5, idle: 3 });
        for line in [
            "phoneverify_http_requests_total{method=\"POST\",route=\"/v2/users/{userId}/phone/resend\",status=\"200\"} 1",
            "phoneverify_http_requests_total{method=\"POST\",route=\"/v2/users/{userId}/phone/resend\",status=\"429\"} 1",
            "phoneverify_http_request_duration_seconds_count{method=\"POST\",route=\"/v2/users/{userId}/phone/resend\"} 2",
            "phoneverify_codes_total{outcome=\"issued_sms\"} 2",
            "phoneverify_sms_attempts_total{provider=\"log\",outcome=\"sent\"} 1",
            "phoneverify_throttled_total{reason=\"cooldown\"} 1",
            "phoneverify_sms_jobs{state=\"pending\"} 2",
            "phoneverify_db_pool_connections{state=\"in_use\"} 2",
            "phoneverify_db_pool_connections{state=\"idle\"} 3",
            "phoneverify_commit_batch_size_count 1",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
    }

    #[test]
    fn routes_beyond_the_cap_share_one_label() {
        let m = Metrics::new(None);
        for i in 0..MAX_ROUTES + 10 {
            m.request("POST", &format!("/svc/M{i}"), 404, Duration::ZERO);
        }
        let text = m.render(&[], PoolState::default());
        assert!(
            text.contains("route=\"other\",status=\"404\"} 10"),
            "{text}"
        );
    }
}
