//! The job loop and the `process_recording` pipeline: fetch → decode → transcribe → align →
//! derive (each deriver on its own: one failing never loses the others) → store → `artifact.ready`.

use crate::agreement::{Agreement, Heard};
use crate::derive::{self, Tagged};
use crate::transcribe::Transcriber;
use crate::{decode, model};
use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};
use shared_types::jobs::{ArtifactKind, ArtifactStatus, JobKind};
use shared_types::media::{HitKind, LectureText, PageTexts};
use shared_types::speech::SpeechModel;
use shared_types::RecordingId;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use studio_store::blob::BlobStore;
use studio_store::{Job, NewJob, Segment, SlideRef, Store};
use tokio::sync::OnceCell;

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub id: String,
    /// Model files by name (`WHISPER_MODEL` for tiny.en, `WHISPER_MODEL_BASE` for base); a model
    /// not named is built and cached by `prepare-model` when a school first needs it.
    pub models: BTreeMap<SpeechModel, PathBuf>,
    pub threads: usize,
    pub lease: Duration,
    pub poll: Duration,
    pub backoff: Duration,
    /// Live captions commit what comes before a pause at once (else only what two passes agree on).
    pub caption_pauses: bool,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl WorkerConfig {
    /// A worker run by a test, a benchmark or a tool on this machine: one thread, a quick poll,
    /// a failed job tried again at once, captions cut at pauses.
    pub fn local(id: impl Into<String>, model: PathBuf, lease: Duration) -> Self {
        WorkerConfig {
            id: id.into(),
            models: BTreeMap::from([(SpeechModel::TinyEn, model)]),
            threads: 1,
            lease,
            poll: Duration::from_millis(100),
            backoff: Duration::ZERO,
            caption_pauses: true,
        }
    }

    /// The same, with `model` read from `path`.
    pub fn with_model(mut self, model: SpeechModel, path: PathBuf) -> Self {
        self.models.insert(model, path);
        self
    }

    pub fn from_env() -> Self {
        WorkerConfig {
            id: std::env::var("WORKER_ID")
                .unwrap_or_else(|_| format!("worker-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple())),
            models: [(SpeechModel::TinyEn, "WHISPER_MODEL"), (SpeechModel::Base, "WHISPER_MODEL_BASE")]
                .into_iter()
                .filter_map(|(m, var)| Some((m, PathBuf::from(std::env::var(var).ok().filter(|p| !p.is_empty())?))))
                .collect(),
            threads: env_num("WHISPER_THREADS", 1) as usize,
            lease: Duration::from_secs(env_num("WORKER_LEASE_SECS", 60)),
            poll: Duration::from_millis(env_num("WORKER_POLL_MS", 1000)),
            backoff: Duration::from_secs(env_num("WORKER_BACKOFF_SECS", 30)),
            caption_pauses: env_num("CAPTION_AT_PAUSES", 1) != 0,
        }
    }
}

pub struct Worker {
    pub store: Arc<Store>,
    pub blobs: Arc<BlobStore>,
    pub cfg: WorkerConfig,
    /// Each model, loaded when first needed and then kept.
    transcribers: BTreeMap<SpeechModel, OnceCell<Transcriber>>,
}

/// What happened to one claimed job.
#[derive(Debug, PartialEq, Eq)]
pub enum Ran {
    Done,
    /// Failed this attempt; the job's new state (`queued` to retry, `failed` when out of attempts).
    Failed(String),
}

impl Worker {
    pub fn new(store: Arc<Store>, blobs: Arc<BlobStore>, cfg: WorkerConfig) -> Self {
        let transcribers = SpeechModel::ALL.iter().map(|m| (*m, OnceCell::new())).collect();
        Worker { store, blobs, cfg, transcribers }
    }

    /// The worker as configured by the environment (the cloud-api variables plus `WHISPER_*`).
    pub async fn from_env() -> Result<Self> {
        let config = studio_store::config::StoreConfig::from_env()?;
        let store = Arc::new(Store::connect(&config.database_url).await?);
        let blobs = Arc::new(studio_store::config::open_blobs(config.s3.as_ref(), &config.data_dir).await?);
        Ok(Worker::new(store, blobs, WorkerConfig::from_env()))
    }

    /// Load the default model now (a running worker has it loaded before a class starts).
    pub async fn warm_up(&self) -> Result<()> {
        self.transcriber(SpeechModel::default()).await.map(|_| ())
    }

    pub(crate) async fn transcriber(&self, model: SpeechModel) -> Result<Transcriber> {
        let (path, threads) = (self.cfg.models.get(&model).cloned(), self.cfg.threads);
        self.transcribers[&model]
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    let path = match path {
                        Some(p) => p,
                        None => model::prepare_model(model)?,
                    };
                    Transcriber::load(&path, threads)
                })
                .await?
            })
            .await
            .cloned()
    }

    /// What a session is transcribed with: the school's model, listening for the class's language
    /// (the school's default unless the class set its own). `Err(why)`: the model does not speak
    /// it — the flag recorded instead of a transcript in the wrong language.
    pub(crate) async fn listener(
        &self,
        tenant: shared_types::TenantId,
        state: &shared_types::SessionState,
    ) -> Result<std::result::Result<Transcriber, String>> {
        let (model, language) = self.class_speech(tenant, state).await?;
        self.listening(model, &language).await
    }

    /// The school's model and the class's language (its own, else the school's default).
    async fn class_speech(
        &self,
        tenant: shared_types::TenantId,
        state: &shared_types::SessionState,
    ) -> Result<(SpeechModel, String)> {
        let settings = self.store.tenant_settings(tenant).await?.unwrap_or_default();
        Ok((settings.transcription_model, state.language.clone().unwrap_or(settings.language)))
    }

    async fn listening(&self, model: SpeechModel, language: &str) -> Result<std::result::Result<Transcriber, String>> {
        if let Some(why) = shared_types::speech::refusal(model, language) {
            return Ok(Err(why));
        }
        Ok(Ok(self.transcriber(model).await?.speaking(language)?))
    }

    /// Claim and run one job; `None` when nothing is runnable.
    pub async fn run_one(&self) -> Result<Option<(Job, Ran)>> {
        let Some(job) = self.store.claim_job(&self.cfg.id, self.cfg.lease).await? else { return Ok(None) };
        let ran = self.execute(&job).await?;
        Ok(Some((job, ran)))
    }

    /// Run a claimed job, keeping its lease, and record how it ended.
    async fn execute(&self, job: &Job) -> Result<Ran> {
        tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, "job claimed");
        // Heartbeats keep the lease while the work runs; a crash lets it expire for another worker.
        let hb = {
            let (store, id, worker, lease) = (self.store.clone(), job.id, self.cfg.id.clone(), self.cfg.lease);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    match store.heartbeat_job(id, &worker, lease).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(job = %id, "lease lost to another worker");
                            return;
                        }
                        Err(e) => tracing::warn!(job = %id, error = %e, "heartbeat failed"),
                    }
                }
            })
        };
        let result = match job.kind {
            JobKind::ProcessRecording => self.process_recording(job).await,
            JobKind::FinalizeSession => self.finalize_session(job).await,
            JobKind::LiveCaptions => self.live_captions(job).await,
        };
        hb.abort();
        Ok(match result {
            Ok(()) => {
                if !self.store.complete_job(job.id, &self.cfg.id).await? {
                    tracing::warn!(job = %job.id, "finished, but the job had been taken over");
                }
                tracing::info!(job = %job.id, "job done");
                Ran::Done
            }
            Err(e) => {
                let msg = format!("{e:#}");
                let state = self.store.fail_job(job.id, &self.cfg.id, &msg, self.cfg.backoff).await?;
                tracing::warn!(job = %job.id, error = %msg, next = %state, "job failed");
                Ran::Failed(state)
            }
        })
    }

    /// Run jobs until none is runnable; how many ran.
    pub async fn drain(&self) -> Result<usize> {
        let mut n = 0;
        while self.run_one().await?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    /// The long-running loop. Live captions run beside it, one task per class for as long as the
    /// class records; every other job runs here, one at a time.
    pub async fn run(self: Arc<Self>) -> Result<()> {
        tracing::info!(worker = %self.cfg.id, "artifact-worker polling for jobs");
        loop {
            match self.store.claim_job(&self.cfg.id, self.cfg.lease).await {
                Ok(Some(job)) if job.kind == JobKind::LiveCaptions => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = me.execute(&job).await {
                            tracing::error!(job = %job.id, error = %e, "live captions stopped");
                        }
                    });
                }
                Ok(Some(job)) => {
                    if let Err(e) = self.execute(&job).await {
                        tracing::error!(error = %e, "job loop error");
                        tokio::time::sleep(self.cfg.poll * 5).await;
                    }
                }
                Ok(None) => tokio::time::sleep(self.cfg.poll).await,
                Err(e) => {
                    tracing::error!(error = %e, "job loop error");
                    tokio::time::sleep(self.cfg.poll * 5).await;
                }
            }
        }
    }

    /// After a room finishes: make sure every recording of the session is queued (once each).
    async fn finalize_session(&self, job: &Job) -> Result<()> {
        for rec in self.store.recordings_of(job.tenant_id, job.session_id).await? {
            let payload = json!({ "recordingId": rec.id });
            let dedupe = format!("recording:{}", rec.id);
            let new = NewJob { kind: JobKind::ProcessRecording, payload: &payload, dedupe_key: Some(&dedupe) };
            self.store.enqueue(job.tenant_id, job.session_id, new).await?;
        }
        Ok(())
    }

    async fn process_recording(&self, job: &Job) -> Result<()> {
        let tenant = job.tenant_id;
        let rid: RecordingId =
            job.payload["recordingId"].as_str().and_then(|s| s.parse().ok()).context("payload has no recordingId")?;
        let rec = self.store.recording(tenant, rid).await?.context("the recording no longer exists")?;
        let bytes = self.blobs.get(&rec.file_key).await.map_err(|e| anyhow!("fetching the recording: {e}"))?;
        let (ct, runs) = (rec.content_type.clone(), rec.runs.clone());
        // What the live captions transcribed while the class ran stands: only the rest is transcribed now.
        let (all_events, _) = self.store.events_after(tenant, rec.session_id, 0, u64::MAX / 2).await?;
        let state = self.store.state(tenant, rec.session_id, None).await?;
        let (model, language) = self.class_speech(tenant, &state).await?;
        let listener = self.listening(model, &language).await?;
        let refused = listener.as_ref().err().cloned();
        if let Some(why) = &refused {
            tracing::warn!(recording = %rid, why, "not transcribed");
        }
        let live = if refused.is_some() { Vec::new() } else { crate::live::captioned(&all_events, rid) };
        let covered = live.last().map_or(0.0, |s| s.end_s);
        // The slides' text: searchable beside the transcript, and their rare terms prime the recogniser.
        let pages = self.deck_pages(tenant, &state).await;
        let terms = match &listener {
            Ok(t) => crate::glossary::terms(&pages, |w| t.pieces(w), crate::glossary::BUDGET_TOKENS),
            Err(_) => Vec::new(),
        };
        if !terms.is_empty() {
            tracing::info!(recording = %rid, ?terms, "transcribing primed with the slides' terms");
        }
        let (mut segments, duration) = tokio::task::spawn_blocking(move || -> Result<_> {
            let (pcm, duration) = decode::to_whisper_runs(bytes, Some(&ct), &runs).context("decoding the recording")?;
            let from = ((covered * crate::transcribe::SAMPLE_RATE as f64) as usize).min(pcm.len());
            let Ok(transcriber) = listener else { return Ok((Vec::new(), duration)) };
            if pcm.len() - from < crate::transcribe::SAMPLE_RATE as usize / 2 {
                return Ok((Vec::new(), duration));
            }
            let glossary = crate::glossary::prompt(&terms, transcriber.language());
            let tail: Vec<_> = transcriber
                .transcribe_primed(&pcm[from..], &glossary, &terms)?
                .into_iter()
                .map(|s| crate::transcribe::Segment { start_s: s.start_s + covered, end_s: s.end_s + covered, ..s })
                .collect();
            Ok((tail, duration))
        })
        .await??;
        if !live.is_empty() {
            tracing::info!(recording = %rid, captioned_s = covered, "transcript from the live captions and the tail");
            // The tail may start inside the last caption's speech: what it says again is cut.
            let heard: Vec<Heard> =
                live.iter().map(|s| Heard { text: s.text.clone(), start_s: s.start_s, end_s: s.end_s }).collect();
            segments = crate::transcribe::after_seam(&mut Agreement::after(covered, &heard), segments);
            segments.splice(0..0, live);
        }
        self.store.set_recording_duration(rid, duration).await?;

        let session = self.store.session(tenant, rec.session_id).await?.context("the session no longer exists")?;
        let mut events = all_events;
        // Derivation works in time order; a studio journal may sync events out of time order.
        events.sort_by_key(|e| e.occurred_at);
        let start = derive::recording_start(rec.started_at, &events).unwrap_or(rec.created_at);
        let timeline = derive::screen_timeline(&events, start);
        let tagged = derive::tag(&segments, &timeline);
        let decks: BTreeMap<String, String> =
            state.decks.iter().filter_map(|(id, d)| d.title.clone().map(|t| (id.to_string(), t))).collect();

        // Each deriver on its own: an error is recorded against its artifact and the rest go on.
        let mut results: Vec<(ArtifactKind, Result<Derived>)> = Vec::new();
        let texts = shared_types::media::lecture_texts(&events, start, duration, &pages);
        // Refused, the slides and questions are still searchable; the transcript carries the flag.
        let stored = self.store_transcript(job, session.course_id, &language, &tagged, &texts).await;
        let flagged = |r: Result<Derived>| match &refused {
            Some(why) => r.and_then(|_| Err(anyhow!("{why}"))),
            None => r,
        };
        results.push((ArtifactKind::Transcript, flagged(stored)));
        results.push((
            ArtifactKind::Chapters,
            to_json(derive::chapters(&tagged, &events, start, duration, &decks, &pages)),
        ));
        results.push((ArtifactKind::Highlights, to_json(derive::highlights(&events, start, duration))));
        results.push((ArtifactKind::QaLinks, to_json(derive::qa_links(&tagged, &events, start))));
        let key = format!("sessions/{}/artifacts/{rid}/captions.vtt", session.id);
        let vtt =
            shared_types::media::webvtt(segments.iter().map(|s| (s.start_s, s.end_s, s.text.as_str()))).into_bytes();
        let captions = match &refused {
            Some(_) => Ok((None, None)),
            None => self.blobs.put(&key, vtt, "text/vtt").await.map(|_| (Some(key), None)),
        };
        results.push((ArtifactKind::Captions, flagged(captions.map_err(|e| anyhow!("storing captions: {e}")))));
        for (kind, r) in results {
            // Each deriver alone: a failure is recorded and the others go on.
            let (status, data_key, data, error) = match r {
                Ok((data_key, data)) => (ArtifactStatus::Ready, data_key, data, None),
                Err(e) => {
                    tracing::warn!(kind = %kind, error = %e, "deriver failed");
                    (ArtifactStatus::Failed, None, None, Some(format!("{e:#}")))
                }
            };
            let (key, value) = (data_key.as_deref(), data.as_ref());
            self.store.record_artifact(tenant, session.id, rid, kind, status, key, value, error.as_deref()).await?;
        }
        Ok(())
    }

    /// The text of every page of the session's slide decks. A deck that cannot be read is left
    /// out (and logged): the transcript does not wait on it.
    pub(crate) async fn deck_pages(
        &self,
        tenant: shared_types::TenantId,
        state: &shared_types::SessionState,
    ) -> PageTexts {
        let mut pages = PageTexts::new();
        for &id in state.decks.keys() {
            let text = async {
                let asset = self.store.asset(tenant, id).await?.context("the deck's asset is gone")?;
                let bytes = self.blobs.get(&asset.content_key).await.map_err(|e| anyhow!("fetching the deck: {e}"))?;
                Ok::<_, anyhow::Error>(
                    tokio::task::spawn_blocking(move || shared_types::deck::deck_text(bytes)).await??,
                )
            };
            match text.await {
                Ok(text) => pages.extend(text.into_iter().enumerate().map(|(i, t)| ((id, i as u32 + 1), t))),
                Err(e) => tracing::warn!(deck = %id, error = %format!("{e:#}"), "the deck's text is not searchable"),
            }
        }
        pages
    }

    async fn store_transcript(
        &self,
        job: &Job,
        course: shared_types::CourseId,
        language: &str,
        tagged: &[Tagged],
        texts: &[LectureText],
    ) -> Result<(Option<String>, Option<Value>)> {
        let rows: Vec<Segment> = tagged
            .iter()
            .map(|t| Segment {
                start_s: t.start_s,
                end_s: t.end_s,
                text: t.text.clone(),
                scene_id: t.screen.scene_id.clone(),
                slide: t.screen.asset_id.clone().map(|asset_id| SlideRef { asset_id, page: t.screen.page }),
            })
            .collect();
        self.store.replace_transcript(job.tenant_id, course, job.session_id, language, &rows, texts).await?;
        let count = |k: HitKind| texts.iter().filter(|t| t.kind == k).count();
        let (slides, questions) = (count(HitKind::Slide), count(HitKind::Question));
        Ok((None, Some(json!({ "segments": rows.len(), "slides": slides, "questions": questions }))))
    }
}

/// What a deriver produced: a blob key and/or inline JSON.
type Derived = (Option<String>, Option<Value>);

fn to_json<T: serde::Serialize>(v: T) -> Result<Derived> {
    Ok((None, Some(serde_json::to_value(v)?)))
}
