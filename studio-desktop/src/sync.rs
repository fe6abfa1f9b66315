//! The sync engine: drains pending journal entries in order to `POST /api/sessions/{id}/events:batch`,
//! records each entry's server sequence or refusal, and pulls the server's state as the journal's
//! base. Every batch goes under an idempotency key made of its entries' keys, so a batch resent after
//! a lost answer or a restart gets the first answer; entries already in the log answer with their
//! original sequence even inside a different batch.

use crate::journal::{Entry, Journal, JournalError};
use sha2::{Digest, Sha256};
use shared_types::dto::{BatchEvent, BatchRequest, BatchResponse, BatchResult, StateResponse};
use shared_types::SessionId;
use std::time::Duration;

/// Entries per batch (the server takes up to 1,000).
pub const BATCH: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer (the server or the network is down): try again later; nothing changed.
    #[error("offline: {0}")]
    Offline(String),
    /// The server refused the whole request (signed out, no longer a presenter, …).
    #[error("the server answered {status}: {message}")]
    Server { status: u16, code: String, message: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl SyncError {
    /// Worth retrying by itself (else the teacher must act: sign in again, say).
    pub fn transient(&self) -> bool {
        match self {
            SyncError::Offline(_) => true,
            SyncError::Server { status, .. } => *status >= 500 || *status == 429 || *status == 409,
            SyncError::Journal(_) => false,
        }
    }
}

/// What one push did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pushed {
    pub synced: usize,
    pub refused: usize,
    /// The session's head on the server after the last batch.
    pub head: u64,
}

pub struct Client {
    http: reqwest::Client,
    /// `http://host:port` of the cloud API.
    pub base: String,
    token: String,
}

fn offline(e: reqwest::Error) -> SyncError {
    SyncError::Offline(if e.is_timeout() { "timed out".into() } else { "cannot reach the server".into() })
}

async fn refused(resp: reqwest::Response) -> SyncError {
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    SyncError::Server {
        status,
        code: v["code"].as_str().unwrap_or("error").to_string(),
        message: v["message"].as_str().unwrap_or("").to_string(),
    }
}

/// The idempotency key of a batch: the same entries → the same key → the first answer again.
pub fn batch_key(entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.idempotency_key.as_bytes());
        h.update(b"\n");
    }
    format!("studio-batch-{}", &hex::encode(h.finalize())[..40])
}

impl Client {
    pub fn new(base: &str, token: &str) -> Client {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("http client");
        Client { http, base: base.trim_end_matches('/').to_string(), token: token.to_string() }
    }

    /// Send one batch; the server's answer (nothing is recorded in the journal).
    pub async fn send(&self, session: SessionId, entries: &[Entry]) -> Result<BatchResponse, SyncError> {
        let events = entries
            .iter()
            .map(|e| BatchEvent {
                idempotency_key: e.idempotency_key.clone(),
                event_type: e.event.event_type().to_string(),
                occurred_at: Some(e.occurred_at),
                payload: e.event.payload(),
            })
            .collect();
        let resp = self
            .http
            .post(format!("{}/api/sessions/{session}/events:batch", self.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", batch_key(entries))
            .json(&BatchRequest { events, idempotency_key: None })
            .send()
            .await
            .map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        resp.json().await.map_err(offline)
    }

    /// Note the server's answer to a batch in the journal.
    pub fn record(journal: &Journal, answer: &BatchResponse) -> Result<Pushed, SyncError> {
        let mut pushed = Pushed { head: answer.head, ..Pushed::default() };
        for r in &answer.results {
            match r {
                BatchResult::Ok { idempotency_key, sequence } => {
                    journal.mark_synced(idempotency_key, *sequence)?;
                    pushed.synced += 1;
                }
                BatchResult::Err { idempotency_key, error } => {
                    journal.mark_refused(idempotency_key, &error.code, &error.message)?;
                    pushed.refused += 1;
                }
            }
        }
        Ok(pushed)
    }

    /// Drain every pending entry of `session`, oldest first, batch after batch.
    pub async fn push(&self, journal: &Journal, session: SessionId) -> Result<Pushed, SyncError> {
        let mut total = Pushed::default();
        loop {
            let batch = journal.pending(session, BATCH)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let answer = self.send(session, &batch).await?;
            let p = Self::record(journal, &answer)?;
            total.synced += p.synced;
            total.refused += p.refused;
            total.head = p.head;
        }
    }

    /// Take the server's folded state as the journal's base (what students and others wrote).
    pub async fn pull(&self, journal: &Journal, session: SessionId) -> Result<u64, SyncError> {
        let resp = self
            .http
            .get(format!("{}/api/sessions/{session}/state", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        let state: StateResponse = resp.json().await.map_err(offline)?;
        journal.set_base(session, &state.state)?;
        Ok(state.state.head)
    }

    /// Push until nothing is pending, waiting between tries (0.5 s doubling to 30 s) while offline;
    /// gives up after `patience` with the last error.
    pub async fn push_until_synced(
        &self,
        journal: &Journal,
        session: SessionId,
        patience: Duration,
    ) -> Result<Pushed, SyncError> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut wait = Duration::from_millis(500);
        loop {
            match self.push(journal, session).await {
                Err(e) if e.transient() && tokio::time::Instant::now() + wait < deadline => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                other => return other,
            }
        }
    }
}

/// The session's live socket: the server's events after a sequence, as they are committed.
pub struct Live {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Live {
    /// The next event, `None` when the socket closed (reconnect with the journal's base head).
    pub async fn next(&mut self) -> Option<shared_types::EventEnvelope> {
        use futures::StreamExt;
        while let Some(msg) = self.ws.next().await {
            let Ok(tokio_tungstenite::tungstenite::Message::Text(t)) = msg else {
                if msg.is_err() {
                    return None;
                }
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(&t).ok()?;
            if v["kind"] == "event" {
                return serde_json::from_value(v["event"].clone()).ok();
            }
        }
        None
    }
}

impl Client {
    /// Open the live socket of `session` after sequence `after` (the journal base's head).
    pub async fn listen(&self, session: SessionId, after: u64) -> Result<Live, SyncError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/api/sessions/{session}/live?after={after}", self.base.replacen("http", "ws", 1));
        let mut req = url.into_client_request().map_err(|e| SyncError::Offline(e.to_string()))?;
        let auth = format!("Bearer {}", self.token).parse().map_err(|_| SyncError::Offline("bad token".into()))?;
        req.headers_mut().insert("authorization", auth);
        let (ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| SyncError::Offline(e.to_string()))?;
        Ok(Live { ws })
    }
}
