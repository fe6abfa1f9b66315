//! Counters and gauges exposed at `/metrics` in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds (Prometheus `le`), 1 ms to 10 s.
pub const BUCKETS: [f64; 14] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// A Prometheus histogram: counts per bucket (not cumulative; summed when rendered), sum and count.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    /// Sum of the observations, microseconds.
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        self.observe_many(d, 1);
    }

    /// `n` observations of the same duration (a frame sent to `n` sockets at once).
    pub fn observe_many(&self, d: Duration, n: u64) {
        if n == 0 {
            return;
        }
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(n, Relaxed);
        }
        self.sum_us.fetch_add(d.as_micros() as u64 * n, Relaxed);
        self.count.fetch_add(n, Relaxed);
    }

    /// `name_bucket{labels,le=…}`, `name_sum`, `name_count` lines (`labels` like `route="/x",` or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let bare = labels.trim_end_matches(',');
        let braces = if bare.is_empty() { String::new() } else { format!("{{{bare}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_us.load(Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Histograms by a label set (HTTP latency by method and route), created on first use.
#[derive(Default)]
pub struct HistogramVec {
    by: RwLock<BTreeMap<String, Histogram>>,
}

impl HistogramVec {
    /// Observe under `labels` (rendered label pairs, each followed by a comma).
    pub fn observe(&self, labels: &str, d: Duration) {
        if let Some(h) = self.by.read().expect("histograms").get(labels) {
            h.observe(d);
            return;
        }
        self.by.write().expect("histograms").entry(labels.to_string()).or_default().observe(d);
    }

    fn render(&self, out: &mut String, name: &str) {
        for (labels, h) in self.by.read().expect("histograms").iter() {
            h.render(out, name, labels);
        }
    }
}

/// A label value with `\`, `"` and line breaks escaped.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[derive(Default)]
pub struct Metrics {
    ws_connections: AtomicI64,
    ws_opened: AtomicU64,
    ws_refed: AtomicU64,
    appends: AtomicU64,
    append_rejections: AtomicU64,
    joins_ok: AtomicU64,
    joins_failed: AtomicU64,
    recording_failures: AtomicU64,
    stream_failures: AtomicU64,
    logins_shed: AtomicU64,
    ws_revoked: AtomicU64,
    rooms_created: AtomicU64,
    recordings_requested: AtomicU64,
    audit_write_failures: AtomicU64,
    webhook_signature_failures: AtomicU64,
    livekit_errors: RwLock<BTreeMap<&'static str, u64>>,
    pub http: HistogramVec,
    pub session_start: Histogram,
    pub append: Histogram,
    pub fanout_lag: Histogram,
}

impl Metrics {
    pub fn ws_open(&self) {
        self.ws_connections.fetch_add(1, Relaxed);
        self.ws_opened.fetch_add(1, Relaxed);
    }
    pub fn ws_closed(&self) {
        self.ws_connections.fetch_sub(1, Relaxed);
    }
    /// A socket that lagged, saw a gap or filled its send buffer, and was re-fed from the store.
    pub fn ws_refed(&self, sockets: u64) {
        if sockets > 0 {
            self.ws_refed.fetch_add(sockets, Relaxed);
        }
    }
    pub fn appended(&self, n: u64, rejected: u64) {
        self.appends.fetch_add(n, Relaxed);
        self.append_rejections.fetch_add(rejected, Relaxed);
    }
    pub fn join(&self, ok: bool) {
        if ok { &self.joins_ok } else { &self.joins_failed }.fetch_add(1, Relaxed);
    }

    /// A LiveKit room created (or re-created) for a started class.
    pub fn room_created(&self) {
        self.rooms_created.fetch_add(1, Relaxed);
    }

    /// A class recording asked of LiveKit Egress.
    pub fn recording_requested(&self) {
        self.recordings_requested.fetch_add(1, Relaxed);
    }

    /// A live socket closed because its access was revoked.
    pub fn ws_revoked(&self) {
        self.ws_revoked.fetch_add(1, Relaxed);
    }

    /// A login refused with 503 because every hashing slot stayed busy.
    pub fn login_shed(&self) {
        self.logins_shed.fetch_add(1, Relaxed);
    }

    /// A webhook whose signature did not verify.
    pub fn webhook_signature_failed(&self) {
        self.webhook_signature_failures.fetch_add(1, Relaxed);
    }

    /// A LiveKit API call (`call`: create_room, egress, …) that failed.
    pub fn livekit_error(&self, call: &'static str) {
        *self.livekit_errors.write().expect("livekit errors").entry(call).or_default() += 1;
    }

    /// An audit entry that could not be written (the action itself went through).
    pub fn audit_write_failed(&self) {
        self.audit_write_failures.fetch_add(1, Relaxed);
    }

    /// A class recording (LiveKit egress) that could not start.
    /// A live stream's egress died or LiveKit gave up on it.
    pub fn stream_failed(&self) {
        self.stream_failures.fetch_add(1, Relaxed);
    }

    pub fn recording_failed(&self) {
        self.recording_failures.fetch_add(1, Relaxed);
    }

    pub fn render(&self, live_sessions: usize) -> String {
        let mut out = String::new();
        let mut line = |name: &str, kind: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        line("studio_ws_connections", "gauge", "Open live WebSockets.", self.ws_connections.load(Relaxed).to_string());
        line("studio_ws_opened_total", "counter", "Live WebSockets opened.", self.ws_opened.load(Relaxed).to_string());
        line(
            "studio_ws_refed_total",
            "counter",
            "Sockets re-fed from the store after a lag, a gap or a full send buffer.",
            self.ws_refed.load(Relaxed).to_string(),
        );
        line(
            "studio_live_sessions",
            "gauge",
            "Sessions with at least one live socket on this node.",
            live_sessions.to_string(),
        );
        line(
            "studio_events_appended_total",
            "counter",
            "Events appended to session logs.",
            self.appends.load(Relaxed).to_string(),
        );
        line(
            "studio_events_rejected_total",
            "counter",
            "Events refused by the reducer.",
            self.append_rejections.load(Relaxed).to_string(),
        );
        let _ = writeln!(
            out,
            "# HELP studio_joins_total Session joins, by result.\n# TYPE studio_joins_total counter\n\
             studio_joins_total{{result=\"ok\"}} {}\nstudio_joins_total{{result=\"failed\"}} {}",
            self.joins_ok.load(Relaxed),
            self.joins_failed.load(Relaxed)
        );
        let counters: [(&str, &str, &AtomicU64); 7] = [
            (
                "studio_audit_write_failures_total",
                "Audit entries that could not be written.",
                &self.audit_write_failures,
            ),
            (
                "studio_recording_failures_total",
                "Class recordings that could not start or failed.",
                &self.recording_failures,
            ),
            ("studio_stream_failures_total", "Live streams whose egress died or failed.", &self.stream_failures),
            (
                "studio_logins_shed_total",
                "Logins answered 503 because every password-hashing slot stayed busy.",
                &self.logins_shed,
            ),
            ("studio_livekit_rooms_created_total", "LiveKit rooms created for started classes.", &self.rooms_created),
            (
                "studio_recordings_requested_total",
                "Class recordings requested from LiveKit Egress.",
                &self.recordings_requested,
            ),
            (
                "studio_ws_revoked_total",
                "Live sockets closed because their token or role was revoked.",
                &self.ws_revoked,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        }
        let name = "studio_webhook_signature_failures_total";
        let _ = writeln!(
            out,
            "# HELP {name} Webhooks refused because their signature did not verify.\n# TYPE {name} counter\n{name} {}",
            self.webhook_signature_failures.load(Relaxed)
        );
        let name = "studio_livekit_errors_total";
        let _ = writeln!(out, "# HELP {name} LiveKit API calls that failed, by call.\n# TYPE {name} counter");
        for (call, n) in self.livekit_errors.read().expect("livekit errors").iter() {
            let _ = writeln!(out, "{name}{{call=\"{call}\"}} {n}");
        }
        let histograms: [(&str, &str, &Histogram); 3] = [
            ("studio_session_start_seconds", "Time to start a class (POST /api/sessions/start).", &self.session_start),
            (
                "studio_event_append_seconds",
                "Time to append a command or journal batch to a session log.",
                &self.append,
            ),
            (
                "studio_fanout_lag_seconds",
                "From an event being recorded to its send on a live socket.",
                &self.fanout_lag,
            ),
        ];
        for (name, help, h) in histograms {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            h.render(&mut out, name, "");
        }
        let name = "studio_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} HTTP answers by method and route.\n# TYPE {name} histogram");
        self.http.render(&mut out, name);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(800));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"/a\",");
        assert!(out.contains("x_bucket{route=\"/a\",le=\"0.001\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/a\",le=\"0.025\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/a\",le=\"30\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{route=\"/a\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count{route=\"/a\"} 3\n"), "{out}");
        assert!(out.contains("x_sum{route=\"/a\"} 60.0208\n"), "{out}");
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
