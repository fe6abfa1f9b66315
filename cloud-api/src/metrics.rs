//! Counters and gauges exposed at `/metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

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
    logins_shed: AtomicU64,
    ws_revoked: AtomicU64,
    rooms_created: AtomicU64,
    recordings_requested: AtomicU64,
    audit_write_failures: AtomicU64,
}

impl Metrics {
    pub fn ws_open(&self) {
        self.ws_connections.fetch_add(1, Relaxed);
        self.ws_opened.fetch_add(1, Relaxed);
    }
    pub fn ws_closed(&self) {
        self.ws_connections.fetch_sub(1, Relaxed);
    }
    /// A socket that lagged or saw a gap and was re-fed from the store.
    pub fn ws_refed(&self) {
        self.ws_refed.fetch_add(1, Relaxed);
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

    /// An audit entry that could not be written (the action itself went through).
    pub fn audit_write_failed(&self) {
        self.audit_write_failures.fetch_add(1, Relaxed);
    }

    /// A class recording (LiveKit egress) that could not start.
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
            "Sockets re-fed from the store after a lag or gap.",
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
        line("studio_joins_total{result=\"ok\"}", "counter", "Session joins.", self.joins_ok.load(Relaxed).to_string());
        let _ = writeln!(out, "studio_joins_total{{result=\"failed\"}} {}", self.joins_failed.load(Relaxed));
        let counters: [(&str, &str, &AtomicU64); 6] = [
            (
                "studio_audit_write_failures_total",
                "Audit entries that could not be written.",
                &self.audit_write_failures,
            ),
            ("studio_recording_failures_total", "Class recordings that could not start.", &self.recording_failures),
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
        out
    }
}
