//! Prometheus text for `/metrics`: requests by route and status, a latency
//! histogram per route, and open WebSocket connections.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    websockets: AtomicI64,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        drop(requests);
        let secs = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency
            .entry(route.to_string())
            .or_insert_with(|| Histogram {
                counts: vec![0; BUCKETS.len()],
                ..Default::default()
            });
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn websocket_opened(&self) {
        self.websockets.fetch_add(1, Ordering::Relaxed);
    }

    pub fn websocket_closed(&self) {
        self.websockets.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP ea_crm_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE ea_crm_http_requests_total counter\n");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(out, "ea_crm_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
        }
        out.push_str(
            "# HELP ea_crm_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE ea_crm_http_request_duration_seconds histogram\n");
        for (route, h) in self
            .latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            for (bound, n) in BUCKETS.iter().zip(&h.counts) {
                let _ = writeln!(out, "ea_crm_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "ea_crm_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "ea_crm_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "ea_crm_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP ea_crm_websocket_connections Open WebSocket connections.\n");
        out.push_str("# TYPE ea_crm_websocket_connections gauge\n");
        let _ = writeln!(
            out,
            "ea_crm_websocket_connections {}",
            self.websockets.load(Ordering::Relaxed)
        );
        out
    }
}

/// The route label of an answer: the template of the route that answered
/// (`/api/v1/users/:id`, from poem's `PathPattern`), so there are as many
/// label values as routes whatever paths clients send. An answer no route
/// gave (refused before routing) and every 404 is `unmatched`.
pub fn route_label(pattern: Option<&str>, status: u16) -> String {
    match pattern {
        _ if status == 404 => "unmatched".into(),
        None => "unmatched".into(),
        Some(pattern) => {
            let trimmed = pattern.trim_end_matches('/');
            if trimmed.is_empty() {
                "/".into()
            } else {
                trimmed.into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_route_templates_or_unmatched() {
        assert_eq!(
            route_label(Some("/api/v1/users/:id"), 401),
            "/api/v1/users/:id"
        );
        assert_eq!(route_label(Some("/api/v1/users/"), 200), "/api/v1/users");
        assert_eq!(route_label(Some(""), 200), "/");
        assert_eq!(route_label(Some("/api/v1/leads/:id"), 404), "unmatched");
        assert_eq!(route_label(None, 429), "unmatched");
    }

    #[test]
    fn render_has_counters_histogram_and_gauge() {
        let m = Metrics::default();
        m.record("GET", "/healthz", 200, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains(
            "ea_crm_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"
        ));
        assert!(text.contains(
            "ea_crm_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("ea_crm_websocket_connections 0"));
    }
}
