//! In-process fan-out of committed events to live sockets, per session, over bounded broadcast
//! channels. A receiver that lags or sees a gap re-reads from the store, so nothing is skipped.
//! Across nodes, PostgreSQL NOTIFY (see `store::listen`) feeds the same hub.

use bytes::Bytes;
use shared_types::{EventEnvelope, SessionId};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Bounded per session: a socket more than this far behind is re-fed from the store.
pub const CHANNEL_CAPACITY: usize = 512;

/// One committed event, serialised once as the socket message `{"kind":"event","event":…}` (UTF-8;
/// every socket shares these bytes).
#[derive(Clone, Debug)]
pub struct Published {
    pub sequence: u64,
    pub text: Bytes,
    /// When the server recorded the event (for the fan-out lag: record → socket send).
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// The socket message an event goes out as.
#[derive(serde::Serialize)]
struct EventMessage<'a> {
    kind: &'static str,
    event: &'a EventEnvelope,
}

impl Published {
    pub fn new(env: &EventEnvelope) -> Self {
        // Straight to bytes (no JSON tree in between): this runs once per event, on the write path.
        let text = serde_json::to_vec(&EventMessage { kind: "event", event: env }).expect("an event serialises");
        Published { sequence: env.sequence, text: Bytes::from(text), recorded_at: env.recorded_at }
    }
}

struct Topic {
    tx: broadcast::Sender<Published>,
    /// Highest sequence published here, so the same event from two sources goes out once.
    last: u64,
}

pub struct Fanout {
    topics: Mutex<HashMap<SessionId, Topic>>,
    capacity: usize,
}

impl Default for Fanout {
    fn default() -> Self {
        Self::with_capacity(CHANNEL_CAPACITY)
    }
}

impl Fanout {
    /// A hub whose per-session channels hold `capacity` events (tests shrink it to force lag).
    pub fn with_capacity(capacity: usize) -> Self {
        Fanout { topics: Mutex::default(), capacity: capacity.max(1) }
    }

    pub fn subscribe(&self, session: SessionId) -> broadcast::Receiver<Published> {
        let mut t = self.topics.lock().expect("fanout");
        let cap = self.capacity;
        t.entry(session).or_insert_with(|| Topic { tx: broadcast::channel(cap).0, last: 0 }).tx.subscribe()
    }

    /// Drop the session's topic once no socket listens.
    pub fn release(&self, session: SessionId) {
        let mut t = self.topics.lock().expect("fanout");
        if t.get(&session).is_some_and(|topic| topic.tx.receiver_count() == 0) {
            t.remove(&session);
        }
    }

    /// The highest sequence published for a session that has listeners; `None` when nobody listens.
    pub fn listening(&self, session: SessionId) -> Option<u64> {
        self.topics.lock().expect("fanout").get(&session).map(|t| t.last)
    }

    /// Sessions that have listeners, with their last published sequence.
    pub fn listened(&self) -> Vec<(SessionId, u64)> {
        self.topics.lock().expect("fanout").iter().map(|(s, t)| (*s, t.last)).collect()
    }

    /// Publish committed events (ascending); ones already published are skipped.
    pub fn publish<'a>(&self, events: impl IntoIterator<Item = &'a EventEnvelope>) {
        let mut t = self.topics.lock().expect("fanout");
        for env in events {
            let Some(topic) = t.get_mut(&env.session_id) else { continue };
            if env.sequence <= topic.last {
                continue;
            }
            topic.last = env.sequence;
            // No receiver is fine: the socket that subscribes next catches up from the store.
            let _ = topic.tx.send(Published::new(env));
        }
    }

    /// Number of sessions with listeners (a metric).
    pub fn sessions(&self) -> usize {
        self.topics.lock().expect("fanout").len()
    }
}
