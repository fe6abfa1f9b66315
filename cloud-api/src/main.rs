//! `cloud-api` serves; `cloud-api demo` seeds demo data first; `cloud-api migrate` only migrates.

use anyhow::Context;
use cloud_api::{app::App, config::Config, demo};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into());
    // Logs on stderr; stdout is for what a person reads (the URL and logins of `demo`).
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        // One JSON object a line, with the request span (method, path, request id) on each.
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
    let cmd = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    if !matches!(cmd.as_str(), "serve" | "demo" | "migrate") {
        anyhow::bail!("unknown command `{cmd}` (use: serve | demo | migrate)");
    }
    if cmd == "demo" {
        demo::build_web_if_stale();
    }
    let config = Config::from_env().context("reading configuration")?;
    if cmd == "migrate" {
        cloud_api::app::prepare(&config).await.context("opening the store")?;
        println!("migrations applied");
        return Ok(());
    }
    let app = App::build(config).await?;
    if cmd == "demo" {
        demo::seed(&app.state).await.context("seeding demo data")?;
    }
    tracing::info!(addr = %app.addr, backend = ?app.state.store.backend, "cloud-api listening");
    if cmd == "demo" {
        demo::print_logins(app.addr);
    }
    app.run().await
}
