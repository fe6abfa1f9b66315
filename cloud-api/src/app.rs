//! Application state, the assembled router, and serving.

use crate::auth::{self, Limits};
use crate::blob::BlobStore;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::{self, idempotency, routes::ApiRouter};
use crate::store::Store;
use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use shared_types::error::ErrorCode;
use shared_types::{Role, RoleGrant, Scope};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::compression::predicate::{Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<Config>,
    pub limiter: Arc<Limits>,
    /// Bounds how many password hashes run at once (each holds 19 MiB).
    pub hashing: Arc<auth::HashPool>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub blobs: Arc<BlobStore>,
    pub livekit: Option<Arc<crate::livekit::LiveKit>>,
    pub sealer: Arc<crate::secrets::Sealer>,
    /// Replay answers, gzipped once per version of a session.
    pub replays: Arc<crate::replays::ReplayCache>,
    /// The relying party of schools' OpenID providers (their discovery and keys kept).
    pub oidc: Arc<crate::sso::Oidc>,
    /// The live sockets of each session on this node and the tasks writing to them.
    pub rooms: Arc<crate::rooms::Rooms>,
}

impl AppState {
    /// Refuses (with the reason) when a key file is unusable.
    pub fn new(store: Arc<Store>, config: Config, blobs: BlobStore) -> anyhow::Result<Self> {
        let limiter = Arc::new(
            Limits::new(store.clone(), config.login_account_limit, config.login_ip_limit_per_min)
                .with_write_limit(config.write_limit_per_min),
        );
        let metrics: Arc<crate::metrics::Metrics> = Arc::default();
        let livekit = config.livekit.clone().map(|c| Arc::new(crate::livekit::LiveKit::new(c, metrics.clone())));
        let sealer = crate::secrets::Sealer::open(config.secrets_key.as_deref(), &config.data_dir)?;
        let rooms = Arc::new(crate::rooms::Rooms::new(config.live_seats_per_writer));
        Ok(Self {
            store,
            hashing: Arc::new(auth::HashPool::new(config.password_hash_concurrency)),
            config: Arc::new(config),
            limiter,
            metrics,
            blobs: Arc::new(blobs),
            livekit,
            sealer: Arc::new(sealer),
            replays: Arc::default(),
            oidc: Arc::default(),
            rooms,
        })
    }
}

impl AppState {
    /// Append to a session's log, timed (`studio_event_append_seconds`).
    pub async fn append(
        &self,
        tenant: shared_types::TenantId,
        session: shared_types::SessionId,
        events: Vec<crate::store::NewEvent>,
    ) -> Result<(Vec<crate::store::AppendOutcome>, Arc<shared_types::SessionState>), crate::store::StoreError> {
        let t = std::time::Instant::now();
        let out = self.store.append(tenant, session, events).await;
        self.metrics.append.observe(t.elapsed());
        out
    }

    /// How long a request waits for a password-hashing slot.
    pub fn hash_wait(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.config.password_hash_queue_secs)
    }
}

/// The server, built once from its configuration: the one start-up path for `main`, the tests and
/// the benchmarks.
pub struct App {
    pub state: AppState,
    pub addr: SocketAddr,
    listener: TcpListener,
}

impl App {
    /// Open the store (migrations, bootstrap admin), the blobs and the keys, and bind the address.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = prepare(&config).await.context("opening the store")?;
        let blobs = open_blobs(&config).await.context("opening the blob store")?;
        let listener =
            TcpListener::bind(config.bind_addr).await.with_context(|| format!("binding {}", config.bind_addr))?;
        let addr = listener.local_addr()?;
        let state = AppState::new(store, config, blobs)?;
        Ok(App { state, addr, listener })
    }

    /// Serve until ctrl-c.
    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await
    }

    /// Serve until `shutdown` completes, with the background tasks (purges, heartbeats).
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        spawn_purge(self.state.clone());
        spawn_upload_finisher(self.state.clone());
        self.state.store.spawn_heartbeat();
        crate::egress::spawn_watch(self.state.clone());
        let limits = crate::serve::Limits::from_config(&self.state.config);
        let app = router(self.state);
        crate::serve::serve(self.listener, app, limits, shutdown).await
    }
}

/// The configured blob store: S3 when `S3_*` is set, else `DATA_DIR/blobs`.
pub async fn open_blobs(config: &Config) -> anyhow::Result<BlobStore> {
    studio_store::config::open_blobs(config.s3.as_ref(), &config.data_dir).await
}

/// The OpenAPI document `/api/openapi.json` serves.
pub fn openapi_document() -> serde_json::Value {
    http::api().openapi()
}

/// Answers are gzipped for clients that accept it when they are text (JSON, problems, HTML,
/// JavaScript, wasm, captions) and over 1 KiB. Media and images are sent as they are: they are
/// compressed already, and recordings are served with byte ranges.
fn compression() -> CompressionLayer<impl Predicate> {
    fn text(
        _: axum::http::StatusCode,
        _: axum::http::Version,
        h: &axum::http::HeaderMap,
        _: &axum::http::Extensions,
    ) -> bool {
        let ct = h.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        ct.starts_with("application/json")
            || ct.starts_with("application/problem+json")
            || ct.starts_with("text/")
            || ct.starts_with("application/javascript")
            || ct.starts_with("application/wasm")
    }
    CompressionLayer::new().compress_when(SizeAbove::new(1024).and(text))
}

/// What the browser may load for the app: scripts and wasm only from this origin (no inline
/// script), styles from here plus inline style attributes (the stage places items with them),
/// pictures and media also from signed storage URLs and `blob:`, sockets to LiveKit; never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; media-src 'self' blob: http: https:; \
    connect-src 'self' ws: wss: http: https:; object-src 'none'; base-uri 'self'; form-action 'self'; \
    frame-ancestors 'none'";

/// Security headers on every answer (a handler's own win); HSTS when the public URL is https.
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    if state.config.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    resp
}

/// HTTP latency by method and route (`studio_http_request_duration_seconds`); unmatched paths share one
/// label, so a scan cannot grow the series without bound.
async fn http_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|m| m.as_str().to_string());
    let labels = format!(
        "method=\"{}\",route=\"{}\",",
        req.method().as_str(),
        crate::metrics::label(route.as_deref().unwrap_or("unmatched"))
    );
    let t = std::time::Instant::now();
    let resp = next.run(req).await;
    state.metrics.http.observe(&labels, t.elapsed());
    resp
}

/// Cross-origin calls from the configured web origins only (credentials allowed, so never `*`).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-recording-started-at"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([HeaderName::from_static("x-request-id"), HeaderName::from_static("idempotent-replayed")])
}

/// The full router with its middleware.
pub fn router(state: AppState) -> Router {
    let mut api: ApiRouter = http::api();
    let openapi = api.openapi();
    let audited = api.audit_actions();
    let mut router = api.router.route("/api/openapi.json", get(move || async move { Json(openapi) }));
    if let Some(dir) = state.config.student_web_dir.clone().filter(|d| d.join("index.html").exists()) {
        // The app is one page with hash routes; `/` forwards to it (`meta::index`).
        router = router.nest_service("/app", tower_http::services::ServeDir::new(dir));
    }
    if let Some(dir) = state.config.media_dir.clone() {
        router = router.nest_service("/media", tower_http::services::ServeDir::new(dir));
    }
    router
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ErrorCode::MethodNotAllowed, "this route does not take that method")
        })
        .layer(from_fn_with_state(state.clone(), idempotency::idempotency))
        .layer(from_fn_with_state((state.clone(), audited), crate::audit::record))
        .layer(from_fn_with_state(state.clone(), auth::resolve_caller))
        .layer(from_fn_with_state(state.clone(), http_metrics))
        .layer(DefaultBodyLimit::max(idempotency::MAX_BODY))
        .layer(from_fn_with_state(state.clone(), crate::serve::body_guard))
        .layer(compression())
        .layer(from_fn_with_state(state.clone(), security_headers))
        // Every request has an id (the client's `x-request-id`, else a fresh UUID): in its log span
        // and echoed on the answer, so a report from a school can be found in the logs.
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<axum::body::Body>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(cors(&state.config.web_origins))
        .with_state(state)
}

/// Connect the store, create the bootstrap admin when the platform has no user yet.
pub async fn prepare(config: &Config) -> anyhow::Result<Arc<Store>> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let mut store = Store::connect(&config.database_url).await?;
    store.fanout = Arc::new(crate::fanout::Fanout::with_capacity(config.live_channel_capacity));
    let store = Arc::new(store);
    store.spawn_listener();
    if let Some((email, password)) = &config.bootstrap_admin {
        if store.count_users().await? == 0 {
            create_platform_admin(&store, email, password).await?;
            tracing::info!(%email, "created the bootstrap platform admin");
        }
    }
    Ok(store)
}

pub async fn create_platform_admin(store: &Store, email: &str, password: &str) -> anyhow::Result<()> {
    let tenant = match store.tenant_by_name("Platform").await? {
        Some(t) => t,
        None => store.create_tenant("Platform").await?,
    };
    let hash = auth::hash_password(password)?;
    let user = store.create_user(tenant.id, email, Some("Platform admin"), &hash, true).await?;
    store
        .grant(tenant.id, user.id, RoleGrant { role: Role::Admin, scope: Scope::Tenant, scope_id: Some(tenant.id.0) })
        .await?;
    Ok(())
}

/// Finish the recording uploads that pages left behind when their class ended, checked a few
/// times per grace period (every node does it; the recording's id and event make it happen once).
fn spawn_upload_finisher(state: AppState) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs((state.config.upload_grace_secs / 4).clamp(1, 30));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = crate::recordings::finish_abandoned(&state).await {
                tracing::warn!(error = %e, "finishing abandoned recording uploads failed");
            }
        }
    });
}

/// Hourly: forget idempotency keys past their retention, webhook ids older than a week, stopped
/// nodes; sweep old upload parts and spool files.
fn spawn_purge(state: AppState) {
    tokio::spawn(async move {
        let keep = chrono::Duration::hours(state.config.idempotency_keep_hours);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match state.store.idem_purge(keep).await {
                Ok(n) if n > 0 => tracing::info!(purged = n, "old idempotency keys purged"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
            }
            if let Err(e) = state.store.purge_webhooks(chrono::Duration::days(7)).await {
                tracing::warn!(error = %e, "webhook id purge failed");
            }
            if let Err(e) = state.store.purge_rate_counters().await {
                tracing::warn!(error = %e, "rate counter purge failed");
            }
            if let Err(e) = state.store.purge_nodes().await {
                tracing::warn!(error = %e, "server node purge failed");
            }
            let keep = chrono::Duration::days(state.config.upload_keep_days);
            match crate::http::replay::sweep_uploads(&state, keep).await {
                Ok((0, 0)) => {}
                Ok((uploads, files)) => tracing::info!(uploads, files, "swept old upload parts and spool files"),
                Err(e) => tracing::warn!(error = %e, "upload sweep failed"),
            }
            match crate::sweep::sweep_orphans(&state, keep).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(blobs = n, "swept orphaned blobs"),
                Err(e) => tracing::warn!(error = %e, "orphaned blob sweep failed"),
            }
        }
    });
}
