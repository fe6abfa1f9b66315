//! regenerate-demo: writes the `artifacts` of `cloud-api/demo/lecture.json` — what the real pipeline
//! (the model `prepare-model` fetches, one thread) makes of the demo's shipped lecture today. It seeds
//! the demo in a throwaway SQLite data dir, runs the worker once on the demo recording and reads the
//! transcript, chapters, highlights and Q→A links back from the store.
//!
//! Run it through `bash scripts/regenerate-demo.sh`, then read the diff: the test
//! (`artifact-worker/tests/demo_lecture.rs`) holds the results against the script that was spoken,
//! not against this program's earlier output.

use artifact_worker::model;
use artifact_worker::pipeline::{Worker, WorkerConfig};
use cloud_api::app::AppState;
use cloud_api::blob::{BlobStore, LocalBlobs};
use cloud_api::demo::{LectureArtifacts, LECTURE_SCRIPT, TENANT};
use cloud_api::store::Store;
use serde::de::DeserializeOwned;
use shared_types::jobs::{ArtifactKind, ArtifactStatus};
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1).unwrap_or_else(|| "cloud-api/demo/lecture.json".into());
    let dir = std::env::temp_dir().join(format!("regenerate-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let result = regenerate(&dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let made = result?;
    let mut script: serde_json::Value = serde_json::from_str(LECTURE_SCRIPT)?;
    script["artifacts"] = serde_json::to_value(&made)?;
    std::fs::write(&out, serde_json::to_string_pretty(&script)? + "\n")?;
    println!(
        "wrote {out}: {} segments, {} chapters, {} highlights, {} Q→A links",
        made.segments.len(),
        made.chapters.len(),
        made.highlights.len(),
        made.qa_links.len()
    );
    Ok(())
}

async fn regenerate(dir: &std::path::Path) -> anyhow::Result<LectureArtifacts> {
    let store = Arc::new(Store::connect(&format!("sqlite://{}?mode=rwc", dir.join("demo.db").display())).await?);
    let blobs = BlobStore::Local(LocalBlobs::in_data_dir(dir)?);
    let state = AppState::new(store.clone(), cloud_api::config::Config::from_env()?, blobs)?;
    cloud_api::demo::seed(&state).await?;
    let tenant = store.tenant_by_name(TENANT).await?.ok_or_else(|| anyhow::anyhow!("the demo school"))?.id;
    let mut ended = None;
    for course in store.courses(tenant).await? {
        for lesson in store.lessons(tenant, course.id).await? {
            let sessions = store.sessions_of_lesson(tenant, lesson.id).await?;
            ended = ended.or(sessions.into_iter().find(|s| s.status == "ended"));
        }
    }
    let session = ended.ok_or_else(|| anyhow::anyhow!("the demo has no finished class"))?.id;
    let cfg = WorkerConfig::local("regenerate-demo", model::prepare()?, Duration::from_secs(300));
    Worker::new(store.clone(), state.blobs.clone(), cfg)
        .run_one()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no job was queued"))?;
    let artifacts = store.artifacts_of(tenant, session).await?;
    fn data<T: DeserializeOwned>(a: &[cloud_api::store::Artifact], kind: ArtifactKind) -> anyhow::Result<Vec<T>> {
        let a = a
            .iter()
            .find(|a| a.kind == kind && a.status == ArtifactStatus::Ready)
            .ok_or_else(|| anyhow::anyhow!("no ready {kind:?}"))?;
        Ok(serde_json::from_value(a.data.clone().unwrap_or_default())?)
    }
    Ok(LectureArtifacts {
        segments: store.transcript(tenant, session).await?,
        chapters: data(&artifacts, ArtifactKind::Chapters)?,
        highlights: data(&artifacts, ArtifactKind::Highlights)?,
        qa_links: data(&artifacts, ArtifactKind::QaLinks)?,
    })
}
