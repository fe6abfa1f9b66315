//! `artifact-worker` (run the job loop) · `artifact-worker once` (process what is queued, then exit)
//! · `artifact-worker prepare-model [tiny.en|base]` (build and cache a model, tiny.en unless named;
//! prints its path last).

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    studio_store::config::init_logs("info,sqlx=warn,whisper_rs=warn");
    let cmd = std::env::args().nth(1).unwrap_or_else(|| "run".into());
    match cmd.as_str() {
        "prepare-model" => {
            use shared_types::speech::SpeechModel;
            let name = std::env::args().nth(2).unwrap_or_else(|| SpeechModel::TinyEn.as_str().into());
            let model = SpeechModel::parse(&name).with_context(|| {
                let known: Vec<_> = SpeechModel::ALL.iter().map(|m| m.as_str()).collect();
                format!("unknown model `{name}` (use: {})", known.join(" | "))
            })?;
            let path = tokio::task::spawn_blocking(move || artifact_worker::model::prepare_model(model)).await??;
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
