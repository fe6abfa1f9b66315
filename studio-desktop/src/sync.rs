//! The sync engine: drains pending journal entries in order to `POST /api/sessions/{id}/events:batch`,
//! records each entry's server sequence or refusal, and pulls the server's state as the journal's
//! base. Every batch goes under an idempotency key made of its entries' keys, so a batch resent after
//! a lost answer or a restart gets the first answer; entries already in the log answer with their
//! original sequence even inside a different batch.

use crate::journal::{Entry, Journal, JournalError};
use sha2::{Digest, Sha256};
use shared_types::dto::{BatchEvent, BatchRequest, BatchResponse, BatchResult, MeResponse, StateResponse};
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

    /// Drain every pending entry of `session`, oldest first, batch after batch; an entry that
    /// brings a file (an imported deck or image) goes alone, as the upload it stands for.
    pub async fn push(&self, journal: &Journal, session: SessionId) -> Result<Pushed, SyncError> {
        let mut total = Pushed::default();
        loop {
            let mut batch = journal.pending(session, BATCH)?;
            if batch.is_empty() {
                return Ok(total);
            }
            let uploads = journal.pending_uploads(session)?;
            let p = match batch.iter().position(|e| uploads.contains(&e.idempotency_key)) {
                Some(0) => self.upload(journal, session, &batch[0]).await?,
                cut => {
                    batch.truncate(cut.unwrap_or(batch.len()));
                    let answer = self.send(session, &batch).await?;
                    Self::record(journal, &answer)?
                }
            };
            total.synced += p.synced;
            total.refused += p.refused;
            total.head = p.head;
        }
    }

    /// Upload the file `entry` brings to `POST /api/studio/assets` under the entry's key: the server
    /// derives the same asset id from it and appends the same event. A refusal of the file itself
    /// (not a PDF it can read, say) is the entry's refusal.
    pub async fn upload(&self, journal: &Journal, session: SessionId, entry: &Entry) -> Result<Pushed, SyncError> {
        let file = journal
            .attachment(&entry.idempotency_key)?
            .ok_or_else(|| JournalError::Corrupt(format!("entry {} lost its file", entry.local_seq)))?;
        let title = match &entry.event {
            shared_types::SessionEvent::SlideDeckAdded { title, .. }
            | shared_types::SessionEvent::AssetAdded { title, .. } => title.clone(),
            _ => None,
        };
        let part = reqwest::multipart::Part::bytes(file.bytes)
            .file_name(file.name)
            .mime_str(&file.content_type)
            .map_err(|e| SyncError::Offline(e.to_string()))?;
        let mut form = reqwest::multipart::Form::new()
            .text("sessionId", session.to_string())
            .text("type", file.kind)
            .part("file", part);
        if let Some(t) = title {
            form = form.text("title", t);
        }
        let resp = self
            .http
            .post(format!("{}/api/studio/assets", self.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", &entry.idempotency_key)
            .multipart(form)
            .send()
            .await
            .map_err(offline)?;
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            let asset: shared_types::media::AssetDto = resp.json().await.map_err(offline)?;
            let env = asset.event.ok_or_else(|| SyncError::Offline("the upload answered without its event".into()))?;
            journal.mark_synced(&entry.idempotency_key, env.sequence)?;
            return Ok(Pushed { synced: 1, refused: 0, head: env.sequence });
        }
        match refused(resp).await {
            SyncError::Server { code, message, .. } if matches!(status, 400 | 403 | 404 | 413 | 415 | 422) => {
                journal.mark_refused(&entry.idempotency_key, &code, &message)?;
                Ok(Pushed { synced: 0, refused: 1, head: 0 })
            }
            other => Err(other),
        }
    }

    /// The asset's description (signed page URLs), for showing a deck the studio did not render.
    pub async fn asset(&self, id: shared_types::AssetId) -> Result<shared_types::media::AssetDto, SyncError> {
        self.get_json(&format!("/api/studio/assets/{id}")).await
    }

    /// `GET` a JSON resource of the cloud API with the studio's sign-in.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, SyncError> {
        let resp =
            self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        resp.json().await.map_err(offline)
    }

    /// `POST` a JSON body under a fresh idempotency key; the answer.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value, SyncError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", crate::journal::fresh_key())
            .json(body)
            .send()
            .await
            .map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        resp.json().await.map_err(offline)
    }

    /// The bytes at `url` (a signed page URL, absolute or relative to the server).
    pub async fn bytes(&self, url: &str) -> Result<Vec<u8>, SyncError> {
        let url = if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_string() };
        let resp = self.http.get(url).bearer_auth(&self.token).send().await.map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        Ok(resp.bytes().await.map_err(offline)?.to_vec())
    }

    /// Sign in with e-mail and password: the token and who it is.
    pub async fn sign_in(base: &str, email: &str, password: &str) -> Result<(Client, MeResponse), SyncError> {
        let login = shared_types::dto::LoginRequest { email: email.into(), password: password.into() };
        Client::signed_in_by(base, "/api/auth/login", &login).await
    }

    /// POST `body` to a sign-in route of the server (it answers as a login does): the client with
    /// that token, and who it is.
    pub(crate) async fn signed_in_by(
        base: &str,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<(Client, MeResponse), SyncError> {
        let anon = Client::new(base, "");
        let resp = anon.http.post(format!("{}{path}", anon.base)).json(body).send().await.map_err(offline)?;
        if !resp.status().is_success() {
            return Err(refused(resp).await);
        }
        let login: shared_types::dto::LoginResponse = resp.json().await.map_err(offline)?;
        let client = Client::new(base, &login.token);
        let me = client.get_json("/api/auth/me").await?;
        Ok((client, me))
    }

    /// The token this client signs with.
    pub fn token(&self) -> &str {
        &self.token
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
