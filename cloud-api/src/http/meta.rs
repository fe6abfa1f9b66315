//! Health, readiness, and the landing page.

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::response::Html;
use axum::Json;
use shared_types::error::ErrorCode;
use shared_types::media::Health;

pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into(), store: None })
}

pub async fn readyz(State(app): State<AppState>) -> ApiResult<Json<Health>> {
    // At once, not when the pool gives up: a load balancer asks every few seconds.
    let ping = tokio::time::timeout(std::time::Duration::from_secs(2), app.store.ping()).await;
    ping.map_err(|_| "no answer within 2 s".to_string()).and_then(|r| r.map_err(|e| e.to_string())).map_err(|e| {
        tracing::warn!(error = %e, "store not reachable");
        ApiError::new(ErrorCode::NotReady, "the store is not reachable")
    })?;
    Ok(Json(Health { status: "ready".into(), store: Some(format!("{:?}", app.store.backend).to_lowercase()) }))
}

/// The root: with the browser app built it forwards there at once (`/app/`); until then it says how
/// to build it and where the API is.
pub async fn index(State(app): State<AppState>) -> Html<&'static str> {
    if app.config.student_web_dir.is_some() {
        Html(include_str!("app-redirect.html"))
    } else {
        Html(include_str!("index.html"))
    }
}

pub async fn metrics(State(app): State<AppState>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let mut text = app.metrics.render(app.store.fanout.sessions());
    match app.store.queue_depth().await {
        Ok((depth, age)) => text.push_str(&format!(
            "# HELP studio_job_queue_depth Queued and running pipeline jobs.\n\
             # TYPE studio_job_queue_depth gauge\nstudio_job_queue_depth {depth}\n\
             # HELP studio_job_oldest_age_seconds Age of the oldest unfinished job.\n\
             # TYPE studio_job_oldest_age_seconds gauge\nstudio_job_oldest_age_seconds {age}\n"
        )),
        Err(e) => tracing::warn!(error = %e, "queue depth unavailable"),
    }
    match app.store.job_failures().await {
        Ok(rows) => {
            let name = "studio_job_failures_total";
            text.push_str(&format!("# HELP {name} Failed pipeline job attempts, by kind.\n# TYPE {name} counter\n"));
            for (kind, n) in rows {
                text.push_str(&format!("{name}{{kind=\"{}\"}} {n}\n", crate::metrics::label(&kind)));
            }
        }
        Err(e) => tracing::warn!(error = %e, "job failures unavailable"),
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
