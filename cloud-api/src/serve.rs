//! Accepting connections with limits a slow or hostile client cannot outlast: a header read
//! timeout, a body idle timeout, declared lengths over the route's limit refused at once (413), and
//! a cap on open connections. Graceful: on shutdown, accepting stops and open connections finish.

use crate::app::AppState;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::idempotency::{is_streamed, is_upload, MAX_BODY};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use shared_types::error::ErrorCode;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a client may take over its request headers, and over each piece of its body.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub body_idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &Config) -> Self {
        Limits {
            header_read: Duration::from_secs(c.header_read_timeout_secs),
            body_idle: Duration::from_secs(c.body_idle_timeout_secs),
            max_connections: c.max_connections,
        }
    }
}

/// Middleware (outermost): a declared `Content-Length` over the route's limit is refused before a
/// byte of the body is read; every body gets an idle timeout.
pub async fn body_guard(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let limit = route_limit(&app.config, req.uri().path());
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::parse::<u64>);
    let idle = Duration::from_secs(app.config.body_idle_timeout_secs);
    let mut resp = match declared {
        Some(Ok(n)) if n > limit as u64 => {
            // A little over the limit: read and discard it, so an ordinary client (which writes the
            // whole body before reading the answer) sees the 413. Far over it: refuse at once.
            if n <= limit as u64 + DRAIN_AT_MOST {
                drain(req.into_body(), idle).await;
            }
            ApiError::new(ErrorCode::PayloadTooLarge, format!("the body may hold at most {limit} bytes"))
                .into_response()
        }
        Some(Err(_)) => ApiError::bad_request("Content-Length is not a number").into_response(),
        _ => {
            let req = req.map(|b| Body::new(tower_http::timeout::TimeoutBody::new(idle, b)));
            next.run(req).await
        }
    };
    // A body refused unread leaves the connection unusable: say so, so clients do not reuse it.
    if matches!(resp.status().as_u16(), 408 | 413) {
        resp.headers_mut().insert(header::CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    resp
}

/// How far over its limit a declared body is still read (and thrown away) before the 413.
const DRAIN_AT_MOST: u64 = 16 * 1024 * 1024;

/// Read a body to its end without keeping it, giving up when it goes quiet for `idle`.
async fn drain(body: Body, idle: Duration) {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(idle, stream.next()).await {}
}

/// The largest body a route takes.
pub fn route_limit(config: &Config, path: &str) -> usize {
    if is_streamed(path) {
        crate::http::idempotency::streamed_limit(config, path)
    } else if is_upload(path) {
        config.max_upload_bytes
    } else {
        MAX_BODY
    }
}

/// Whether a body read failed because the client went quiet (→ 408) rather than sent too much.
pub fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Serve `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    let mut warned_full = false;
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            got = listener.accept() => match got {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if slots.available_permits() == 0 && !warned_full {
            tracing::warn!(max = limits.max_connections, "connection limit reached; new clients wait");
            warned_full = true;
        } else if slots.available_permits() > 0 {
            warned_full = false;
        }
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req.map(Body::new))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), svc).with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => log_conn_end(r, peer),
                _ = async { drop(stop.wait_for(|s| *s).await) } => {
                    conn.as_mut().graceful_shutdown();
                    log_conn_end(conn.await, peer);
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    // Let open requests finish (a bounded wait; sockets are closed by their own loops).
    let all = limits.max_connections.max(1) as u32;
    let _ = tokio::time::timeout(Duration::from_secs(10), slots.acquire_many(all)).await;
    Ok(())
}

fn log_conn_end(r: Result<(), hyper::Error>, peer: SocketAddr) {
    if let Err(e) = r {
        if e.is_timeout() {
            tracing::debug!(%peer, "closed a connection that sent its headers too slowly");
        } else {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}
