//! `cloud-api` serves; `cloud-api demo` seeds demo data first; `cloud-api migrate` only migrates.

use anyhow::Context;
use cloud_api::{app::App, config::Config, demo};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cloud_api::store::config::init_logs("info,sqlx=warn,tower_http=info");
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
