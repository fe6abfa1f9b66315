//! `artifact-worker` (run the job loop) · `artifact-worker once` (process what is queued, then exit)
//! · `artifact-worker prepare-model` (build and cache the dev model; prints its path last).

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    studio_store::config::init_logs("info,sqlx=warn,whisper_rs=warn");
    let cmd = std::env::args().nth(1).unwrap_or_else(|| "run".into());
    match cmd.as_str() {
        "prepare-model" => {
            let path = tokio::task::spawn_blocking(artifact_worker::model::prepare).await??;
            println!("{}", path.display());
            Ok(())
        }
        "run" | "once" => {
            let worker = artifact_worker::pipeline::Worker::from_env().await.context("starting the worker")?;
            if cmd == "once" {
                let n = worker.drain().await?;
                tracing::info!(jobs = n, "queue drained");
                Ok(())
            } else {
                std::sync::Arc::new(worker).run().await
            }
        }
        other => anyhow::bail!("unknown command `{other}` (use: run | once | prepare-model)"),
    }
}
