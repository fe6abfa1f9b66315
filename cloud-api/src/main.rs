//! `cloud-api` serves; `cloud-api demo` seeds demo data first; `cloud-api migrate` only migrates.

use anyhow::Context;
use cloud_api::{app, config::Config, demo};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    let cmd = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let config = Config::from_env().context("reading configuration")?;
    let store = app::prepare(&config).await.context("opening the store")?;
    match cmd.as_str() {
        "migrate" => {
            println!("migrations applied");
            return Ok(());
        }
        "demo" => demo::seed(&store).await.context("seeding demo data")?,
        "serve" => {}
        other => anyhow::bail!("unknown command `{other}` (use: serve | demo | migrate)"),
    }
    let listener =
        TcpListener::bind(config.bind_addr).await.with_context(|| format!("binding {}", config.bind_addr))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?store.backend, "cloud-api listening");
    if cmd == "demo" {
        demo::print_logins(addr);
    }
    let blobs = app::open_blobs(&config).await.context("opening the blob store")?;
    app::serve(listener, app::AppState::new(store, config, blobs)).await
}
