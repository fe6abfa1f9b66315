//! Live captions while the class runs (job `live_captions`, one per recording upload): the upload's
//! parts are fetched as they arrive and decoded as one growing stream per recorder run (a reloaded
//! page starts a new run, placed at its own second); the audio not yet committed is transcribed
//! again whenever about a second more has come, and the words two passes agree on
//! ([`Agreement`]) become `caption.added` events. The job ends once the upload is complete (by the
//! page, or by the server after the class ended) and its last words are committed. A worker that
//! stops mid-class loses its lease; the next one decodes the parts again and commits only after the
//! last caption the log holds, so none is written twice.

use crate::agreement::Agreement;
use crate::decode::{self, StreamResampler};
use crate::pipeline::Worker;
use crate::transcribe::{Transcriber, Word, SAMPLE_RATE};
use anyhow::{Context, Result};
use shared_types::{RecordingId, SessionActor, SessionCommand, SessionEvent};
use std::io::{Read, Seek, SeekFrom};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;
use studio_store::{Job, NewEvent};

/// New audio (seconds) that starts another pass.
const PASS_EVERY_S: f64 = 1.0;
/// Once the audio being transcribed is longer than this, it starts again at the committed time
/// (until then it keeps its start, so the words at the committed edge are heard whole).
const TRIM_S: f64 = 8.0;
/// The longest stretch not committed; past it, what never agreed is committed as heard.
const MAX_WINDOW_S: f64 = 16.0;
/// Below this level (RMS) a window is silence and is not transcribed.
const SILENCE_RMS: f32 = 0.004;

/// Bytes that arrive over time, read in order: a read waits for more until the feed closes.
struct Growing {
    rx: Mutex<mpsc::Receiver<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for Growing {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            let next = self.rx.lock().map_err(|_| std::io::Error::other("feed poisoned"))?.recv();
            match next {
                Ok(bytes) => (self.buf, self.pos) = (bytes, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Seek for Growing {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "a live stream cannot seek"))
    }
}

impl symphonia::core::io::MediaSource for Growing {
    fn is_seekable(&self) -> bool {
        false
    }
    fn byte_len(&self) -> Option<u64> {
        None
    }
}

/// The class's audio at 16 kHz on the recording's clock, as decoded so far.
#[derive(Default)]
struct Timeline {
    samples: Vec<f32>,
    /// Every run is fed and decoded: nothing more will come.
    ended: bool,
}

type Shared = Arc<(Mutex<Timeline>, Condvar)>;

fn with<T>(shared: &Shared, f: impl FnOnce(&mut Timeline) -> T) -> T {
    let mut t = shared.0.lock().unwrap_or_else(|p| p.into_inner());
    let out = f(&mut t);
    shared.1.notify_all();
    out
}

/// One recorder run being decoded on its own thread.
struct Run {
    feed: mpsc::Sender<Vec<u8>>,
    thread: std::thread::JoinHandle<()>,
}

fn start_run(shared: Shared, at_s: f64) -> Run {
    let (feed, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        with(&shared, |t| {
            let at = (at_s.max(0.0) * SAMPLE_RATE as f64) as usize;
            if t.samples.len() < at {
                t.samples.resize(at, 0.0);
            }
        });
        let source = Growing { rx: Mutex::new(rx), buf: Vec::new(), pos: 0 };
        let mut resampler: Option<StreamResampler> = None;
        let decoded = decode::decode_source(Box::new(source), None, |chunk, rate| {
            let out = resampler.get_or_insert_with(|| StreamResampler::new(rate)).push(chunk);
            if !out.is_empty() {
                with(&shared, |t| t.samples.extend_from_slice(&out));
            }
            true
        });
        if let Some(mut r) = resampler {
            let out = r.finish();
            with(&shared, |t| t.samples.extend_from_slice(&out));
        }
        if let Err(e) = decoded {
            tracing::warn!(error = %format!("{e:#}"), "a live recorder run stopped decoding");
        }
    });
    Run { feed, thread }
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// The last words committed before `before`, to prime a pass (whisper's prompt).
fn prompt_of(committed: &[Word], before: f64) -> String {
    let upto = committed.iter().rposition(|w| w.end_s <= before + 0.01).map_or(0, |i| i + 1);
    let from = upto.saturating_sub(30);
    committed[from..upto].iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Transcribe the timeline as it grows; each batch of committed words goes to `out`.
fn transcribe_live(
    shared: Shared,
    transcriber: &Transcriber,
    mut agreement: Agreement,
    out: &tokio::sync::mpsc::UnboundedSender<Vec<Word>>,
) -> Result<()> {
    let rate = SAMPLE_RATE as f64;
    let step = (PASS_EVERY_S * rate) as usize;
    let mut heard = 0usize;
    let mut buffer_start = agreement.committed_until;
    let mut committed: Vec<Word> = Vec::new();
    let send = |words: Vec<Word>, committed: &mut Vec<Word>| {
        if !words.is_empty() {
            committed.extend(words.iter().cloned());
            let _ = out.send(words);
        }
    };
    loop {
        let (window, ended) = {
            let mut t = shared.0.lock().unwrap_or_else(|p| p.into_inner());
            while !t.ended && t.samples.len() < heard + step {
                t = shared.1.wait_timeout(t, Duration::from_secs(1)).unwrap_or_else(|p| p.into_inner()).0;
            }
            let len = t.samples.len();
            let now = len as f64 / rate;
            if now - agreement.committed_until > MAX_WINDOW_S {
                drop(t);
                let forced = agreement.force_before(now - MAX_WINDOW_S / 2.0);
                send(forced, &mut committed);
                buffer_start = agreement.committed_until;
                continue;
            }
            if now - buffer_start > TRIM_S {
                buffer_start = agreement.committed_until;
            }
            heard = len;
            let from = ((buffer_start * rate) as usize).min(len);
            (t.samples[from..len].to_vec(), t.ended)
        };
        let fresh = window.len() as f64 / rate - (agreement.committed_until - buffer_start).max(0.0);
        if rms(&window) >= SILENCE_RMS && (fresh >= PASS_EVERY_S / 2.0 || ended) {
            let words = transcriber.window(&window, &prompt_of(&committed, buffer_start))?;
            let words = words
                .into_iter()
                .map(|w| Word { start_s: w.start_s + buffer_start, end_s: w.end_s + buffer_start, text: w.text })
                .collect();
            let agreed = agreement.pass(words);
            send(agreed, &mut committed);
        } else if fresh > 2.0 {
            // Silence: nothing in it to wait for.
            let forced = agreement.force_before(buffer_start + window.len() as f64 / rate - 0.5);
            send(forced, &mut committed);
            buffer_start = agreement.committed_until;
        }
        if ended {
            let rest = agreement.finish();
            send(rest, &mut committed);
            return Ok(());
        }
    }
}

/// The live captions of a recording joined into transcript segments: a sentence each (or a stretch
/// of about 20 words, or up to a pause), in order.
pub fn captioned(events: &[shared_types::EventEnvelope], recording: RecordingId) -> Vec<crate::transcribe::Segment> {
    let mut out: Vec<crate::transcribe::Segment> = Vec::new();
    let mut open = false;
    for e in events {
        let SessionEvent::CaptionAdded { recording_id, start_s, end_s, text } = &e.event else { continue };
        if *recording_id != recording {
            continue;
        }
        match out.last_mut() {
            Some(last) if open && *start_s - last.end_s < 1.5 && last.text.split_whitespace().count() < 20 => {
                last.text = format!("{} {}", last.text, text.trim());
                last.end_s = last.end_s.max(*end_s);
            }
            _ => out.push(crate::transcribe::Segment {
                start_s: *start_s,
                end_s: *end_s,
                text: text.trim().to_string(),
                words: Vec::new(),
            }),
        }
        open = !text.trim_end().ends_with(['.', '?', '!']);
    }
    out
}

/// A caption from committed words, on the recording's clock.
fn caption(recording_id: RecordingId, words: &[Word]) -> Option<SessionCommand> {
    let (first, last) = (words.first()?, words.last()?);
    let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    Some(SessionCommand::AddCaption {
        recording_id,
        start_s: first.start_s.max(0.0),
        end_s: last.end_s.max(first.start_s.max(0.0)),
        text: text.trim().to_string(),
    })
}

impl Worker {
    /// Caption one recording upload while its class runs (see the module's header).
    pub(crate) async fn live_captions(&self, job: &Job) -> Result<()> {
        let tenant = job.tenant_id;
        let upload: uuid::Uuid =
            job.payload["uploadId"].as_str().and_then(|s| s.parse().ok()).context("payload has no uploadId")?;
        let up = self.store.upload(tenant, upload).await?.context("the upload no longer exists")?;
        let recording_id = up.recording_id();
        // Resume after the captions of this recording the log already holds.
        let (events, _) = self.store.events_after(tenant, up.session_id, 0, u64::MAX / 2).await?;
        let resume_from = events
            .iter()
            .filter_map(|e| match &e.event {
                SessionEvent::CaptionAdded { recording_id: r, end_s, .. } if *r == recording_id => Some(*end_s),
                _ => None,
            })
            .fold(0.0f64, f64::max);
        let transcriber = self.transcriber().await?;
        let shared: Shared = Arc::default();
        let (words_tx, mut words_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Word>>();
        let listener = {
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || {
                transcribe_live(shared, &transcriber, Agreement::starting_at(resume_from), &words_tx)
            })
        };
        let mut run: Option<Run> = None;
        let mut next = 1u32;
        let poll = self.cfg.poll.min(Duration::from_millis(500));
        loop {
            while let Ok(words) = words_rx.try_recv() {
                self.append_caption(job, recording_id, &words).await?;
            }
            let up = self.store.upload(tenant, upload).await?.context("the upload no longer exists")?;
            let from = next;
            for p in up.contiguous().iter().filter(|p| p.n >= from) {
                let key = studio_store::upload_part_key(up.session_id, up.id, p.n);
                let bytes = self.blobs.get(&key).await.map_err(|e| anyhow::anyhow!("fetching part {}: {e}", p.n))?;
                let new_run = p.n == 1 || (p.run_started_at.is_some() && run.is_some());
                if new_run {
                    if let Some(old) = run.take() {
                        drop(old.feed);
                        tokio::task::spawn_blocking(move || old.thread.join()).await?.ok();
                    }
                    let at_s = up.runs(&up.parts[..p.n as usize]).last().map_or(0.0, |r| r.at_s);
                    run = Some(start_run(shared.clone(), at_s));
                }
                if let Some(r) = &run {
                    let _ = r.feed.send(bytes);
                }
                next = p.n + 1;
            }
            // Complete (by the page or the server): what it was made of is all fed. An upload that
            // never got its first part cannot become a recording: done once the class is over.
            if up.recording_id.is_some() {
                break;
            }
            if up.contiguous().is_empty() {
                let session = self.store.session(tenant, up.session_id).await?;
                if session.is_none_or(|s| s.status == "ended") {
                    break;
                }
            }
            tokio::select! {
                Some(words) = words_rx.recv() => self.append_caption(job, recording_id, &words).await?,
                _ = tokio::time::sleep(poll) => {}
            }
        }
        if let Some(old) = run.take() {
            drop(old.feed);
            tokio::task::spawn_blocking(move || old.thread.join()).await?.ok();
        }
        with(&shared, |t| t.ended = true);
        while let Some(words) = words_rx.recv().await {
            self.append_caption(job, recording_id, &words).await?;
        }
        listener.await?
    }

    /// Append committed words as one `caption.added` (the server's own fact, once per start time).
    async fn append_caption(&self, job: &Job, recording_id: RecordingId, words: &[Word]) -> Result<()> {
        let Some(command) = caption(recording_id, words) else { return Ok(()) };
        let SessionCommand::AddCaption { start_s, .. } = &command else { return Ok(()) };
        let key = format!("caption/{recording_id}/{}", (start_s * 1000.0).round() as i64);
        let event = NewEvent {
            idempotency_key: key,
            actor_id: None,
            actor_role: None,
            occurred_at: None,
            event: shared_types::decide::authorize(&SessionActor::system(), command)?,
        };
        let outcome = self.store.append(job.tenant_id, job.session_id, vec![event]).await?;
        tracing::debug!(?outcome, "live caption appended");
        Ok(())
    }
}
