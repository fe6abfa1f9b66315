//! `GET /api/sessions/{id}/live?after=SEQ`: the events after SEQ from the store, then live ones, in
//! order, with keep-alives. A gap, a lagging channel or a client's `resume` re-reads from the store.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::fanout::Published;
use crate::http::authorize;
use crate::http::extract::{ApiPath, ApiQuery};
use crate::rooms::Line;
use crate::store::Revoked;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures::stream::SplitStream;
use futures::{SinkExt, StreamExt};
use shared_types::error::ErrorCode;
use shared_types::policy::Action;
use shared_types::requests::{LiveClientMessage, LiveQuery};
use shared_types::{SessionId, TenantId};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub const PING_EVERY: Duration = Duration::from_secs(15);
const PAGE: u64 = 500;

pub async fn socket(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
    ApiQuery(q): ApiQuery<LiveQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> ApiResult<Response> {
    let target = authorize(&app, &caller, id, Action::ReadEvents).await?;
    let ws = ws.map_err(|_| {
        ApiError::new(ErrorCode::UpgradeRequired, "this route is a WebSocket: send an Upgrade: websocket request")
    })?;
    // Clients send only small control messages; small buffers keep 1,000 idle sockets cheap.
    let ws =
        ws.read_buffer_size(4 * 1024).write_buffer_size(8 * 1024).max_message_size(64 * 1024).max_frame_size(64 * 1024);
    Ok(ws.on_upgrade(move |socket| async move {
        app.metrics.ws_open();
        if let Err(e) = run(&app, socket, &caller, target.tenant, id, q.after).await {
            tracing::debug!(error = %e, session = %id, "live socket closed");
        }
        app.metrics.ws_closed();
    }))
}

/// The client's side of a socket, read by a task of its own: the `resume`s it asks for, in order;
/// the channel closes when the client does. Polling the socket's read half costs a read attempt
/// (and tungstenite zeroes its read buffer for it): in the send loop it was paid on every event,
/// for every socket; here it runs only when the client has sent something. The task ends when the
/// returned guard is dropped.
fn read_client(mut stream: SplitStream<WebSocket>) -> (tokio::sync::mpsc::Receiver<u64>, Reading) {
    // Bounded: a client sending faster than its resumes are served waits (TCP pushes back on it).
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let reading = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Close(_) => break,
                Message::Text(t) => {
                    if let Ok(LiveClientMessage::Resume { after }) = serde_json::from_str::<LiveClientMessage>(&t) {
                        if tx.send(after).await.is_err() {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
    });
    (rx, Reading(reading))
}

/// The task reading a client's side of a socket; dropping this ends it (and so the connection,
/// whose read half it holds).
struct Reading(tokio::task::JoinHandle<()>);

impl Drop for Reading {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Send every stored event after `line.last` (page by page, a flush a page), advancing it. Also
/// sends what a writer left in the socket's buffer.
async fn catch_up(app: &AppState, line: &mut Line, tenant: TenantId, session: SessionId) -> anyhow::Result<()> {
    anyhow::ensure!(!line.broken, "the connection broke");
    line.sink.flush().await?;
    line.unflushed = false;
    loop {
        let (events, _) = app.store.events_after(tenant, session, line.last, PAGE).await?;
        if events.is_empty() {
            return Ok(());
        }
        for e in &events {
            let p = Published::new(e);
            line.sink.feed(Message::Text(axum::extract::ws::Utf8Bytes::try_from(p.text)?)).await?;
            line.last = e.sequence;
        }
        line.sink.flush().await?;
    }
}

/// Close code for a socket whose token or role was revoked (application range 4000–4999).
pub const CLOSE_REVOKED: u16 = 4001;

async fn run(
    app: &AppState,
    socket: WebSocket,
    caller: &Caller,
    tenant: TenantId,
    session: SessionId,
    after: u64,
) -> anyhow::Result<()> {
    // Revocations as a stream kept across turns of the loop: its wait stays registered, instead of
    // a fresh `recv` joining (and leaving) the one process-wide channel's waiters each time.
    let revoked = futures::stream::unfold(app.store.revoked.subscribe(), |mut rx| async move {
        match rx.recv().await {
            Err(RecvError::Closed) => None,
            r => Some((r, rx)),
        }
    });
    tokio::pin!(revoked);
    let (sink, stream) = socket.split();
    let (mut resumes, _reading) = read_client(stream);
    // Seated (so subscribed) before reading the store, so nothing committed in between is missed;
    // the room's writers send to this socket from when its line is let go.
    let (place, mut line) = app.rooms.join(&app.store.fanout, &app.metrics, session, sink, after);
    catch_up(app, &mut line, tenant, session).await?;
    let head = line.last;
    line.sink.send(Message::Text(format!("{{\"kind\":\"ready\",\"head\":{head}}}").into())).await?;
    drop(line);
    let seat = &place.seat;
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
    loop {
        tokio::select! {
            // A writer could not serve this socket (it was busy here, behind, or full): the store has it all.
            _ = seat.poked() => catch_up(app, &mut *seat.line().await, tenant, session).await?,
            resume = resumes.recv() => match resume {
                // The client closed (or its connection broke).
                None => return Ok(()),
                Some(after) => {
                    let mut line = seat.line().await;
                    line.last = after;
                    catch_up(app, &mut line, tenant, session).await?;
                }
            },
            Some(r) = revoked.next() => {
                let gone = match r {
                    Ok(Revoked::Token(h)) => h == caller.token_hash,
                    Ok(Revoked::User(u)) => u == caller.user.id,
                    // Missed some: ask the store whether this token still works.
                    Err(RecvError::Lagged(_)) => app.store.token_owner(&caller.token_hash).await?.is_none(),
                    Err(RecvError::Closed) => false, // ends the stream: not seen here
                };
                if gone {
                    app.metrics.ws_revoked();
                    let frame = CloseFrame { code: CLOSE_REVOKED, reason: "access revoked; sign in again".into() };
                    let _ = seat.line().await.sink.send(Message::Close(Some(frame))).await;
                    return Ok(());
                }
            }
            _ = ping.tick() => {
                seat.line().await.sink.send(Message::Text("{\"kind\":\"ping\"}".into())).await?;
            }
        }
    }
}
