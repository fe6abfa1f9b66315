//! Live captions while the class runs (job `live_captions`, one per recording upload): the upload's
//! parts are fetched as they arrive and decoded as one growing stream per recorder run (a reloaded
//! page starts a new run, placed at its own second); the audio not yet committed is transcribed
//! again whenever about a second more has come. What lies before the last pause in it (a speaker
//! between sentences) is committed at once, as heard; speech without a pause waits until two
//! passes agree on whole whisper segments ([`Agreement`]); a backlog over 16 s goes a 12 s stretch
//! at a time. Each commit becomes `caption.added` events. The job ends once the upload is complete (by the
//! page, or by the server after the class ended) and its last words are committed. A worker that
//! stops mid-class loses its lease; the next one decodes the parts again and commits only after the
//! last caption the log holds, so none is written twice.

use crate::agreement::{Agreement, Heard, Pass};
use crate::decode::{self, StreamResampler};
use crate::levels::{rms, Levels, SILENCE_RMS};
use crate::pipeline::Worker;
use crate::transcribe::{Transcriber, SAMPLE_RATE};
use anyhow::{Context, Result};
use shared_types::{RecordingId, SessionActor, SessionCommand, SessionEvent};
use std::io::{Read, Seek, SeekFrom};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;
use studio_store::{Job, NewEvent};

/// New audio (seconds) that starts another pass.
const PASS_EVERY_S: f64 = 1.0;
/// The longest stretch not committed: past it (a worker catching up on a backlog, or passes that
/// keep changing their minds), the audio is transcribed a stretch of [`CHUNK_S`] at a time, each
/// committed as heard but for its last segment.
const MAX_WINDOW_S: f64 = 16.0;
const CHUNK_S: f64 = 12.0;
/// Sound after a piece's last segment that means whisper left words out.
const MISSED_S: f64 = 0.3;

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

/// The last words committed, to prime a pass (whisper's prompt): about 30.
fn prompt_of(committed: &[Heard]) -> String {
    let mut words: Vec<&str> = committed.iter().rev().flat_map(|h| h.text.split_whitespace().rev()).take(30).collect();
    words.reverse();
    words.join(" ")
}

/// Transcribe the timeline as it grows; each batch of committed segments goes to `out`.
/// `committed`: the captions the log already holds (a worker taking over), which end at `from`.
fn transcribe_live(
    shared: Shared,
    transcriber: &Transcriber,
    terms: &[String],
    from: f64,
    mut committed: Vec<Heard>,
    out: &tokio::sync::mpsc::UnboundedSender<Vec<Heard>>,
    pauses: bool,
) -> Result<()> {
    let rate = SAMPLE_RATE as f64;
    let step = (PASS_EVERY_S * rate) as usize;
    let mut agreement = Agreement::after(from, &committed);
    let glossary = crate::glossary::prompt(terms, transcriber.language());
    let mut heard = 0usize;
    loop {
        let (window, start, mode) = {
            let mut t = shared.0.lock().unwrap_or_else(|p| p.into_inner());
            while !t.ended && t.samples.len() < heard + step {
                t = shared.1.wait_timeout(t, Duration::from_secs(1)).unwrap_or_else(|p| p.into_inner()).0;
            }
            let len = t.samples.len();
            let start = agreement.committed_until;
            let behind = len as f64 / rate - start > MAX_WINDOW_S;
            let end = if behind { ((start + CHUNK_S) * rate) as usize } else { len };
            if !behind {
                heard = len;
            }
            let mode = if behind {
                Pass::Stretch
            } else if t.ended {
                Pass::Final
            } else {
                Pass::Live
            };
            let from = ((start * rate) as usize).min(len);
            (t.samples[from..end.min(len)].to_vec(), start, mode)
        };
        let span = window.len() as f64 / rate;
        if rms(&window) < SILENCE_RMS {
            // Silence: nothing in it to wait for (a little is kept, in case a word starts there).
            if span > 2.0 || mode != Pass::Live {
                agreement.skip_to(start + (span - 0.5).max(0.0));
            }
        } else {
            // Up to the last pause every word is whole: that piece is committed as heard, at once,
            // and the next pass starts at the cut. Without a pause, passes must agree. Only while
            // the class runs: a backlog (a worker catching up) goes by whole stretches, where whisper
            // has the context of 12 s (short pieces cut at pauses lost and repeated sentences there).
            let levels = Levels::of(&window);
            let (piece, pass) = match levels.last_pause().filter(|_| pauses && mode == Pass::Live) {
                Some(cut) => (&window[..(cut * rate) as usize], Pass::Pause),
                _ => (&window[..], mode),
            };
            let span = piece.len() as f64 / rate;
            let prompt = format!("{glossary} {}", prompt_of(&committed));
            let segments = transcriber.window(piece, prompt.trim())?;
            let segments: Vec<Heard> = segments
                .into_iter()
                .filter(|s| !crate::glossary::echoes(&s.text, terms))
                .map(|s| transcriber.spell(s, terms))
                .map(|s| Heard { text: s.text, start_s: s.start_s + start, end_s: (s.end_s + start).min(start + span) })
                .collect();
            tracing::debug!(start, span, ?pass, heard = ?segments, "live pass");
            let done = agreement.pass(segments, pass);
            // Whisper sometimes stops early in a short window, leaving speech after its last segment
            // unsaid: then the next pass starts where it stopped. Else at the cut.
            let missed = levels.sound_between(agreement.committed_until - start, span);
            if pass == Pass::Pause && missed < MISSED_S {
                agreement.skip_to(start + span);
            }
            // A stretch of a backlog that gave nothing to commit (noise, or whisper hearing only
            // echoes of its prompt) is passed over: heard again it would give nothing again, for
            // ever (it did: the outage class's worker once spun on one stretch for 20 minutes).
            if pass == Pass::Stretch && agreement.committed_until <= start {
                agreement.skip_to(start + (span - 1.0).max(span / 2.0));
            }
            if !done.is_empty() {
                committed.extend(done.iter().cloned());
                let _ = out.send(done);
            }
        }
        if mode == Pass::Final {
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

/// A caption from a committed segment, on the recording's clock.
fn caption(recording_id: RecordingId, h: &Heard) -> Option<SessionCommand> {
    let text = h.text.trim();
    (!text.is_empty()).then(|| SessionCommand::AddCaption {
        recording_id,
        start_s: h.start_s.max(0.0),
        end_s: h.end_s.max(h.start_s.max(0.0)),
        text: text.to_string(),
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
        // Resume after the captions of this recording the log already holds (a worker taking over).
        let (events, _) = self.store.events_after(tenant, up.session_id, 0, u64::MAX / 2).await?;
        let logged: Vec<Heard> = events
            .iter()
            .filter_map(|e| match &e.event {
                SessionEvent::CaptionAdded { recording_id: r, start_s, end_s, text } if *r == recording_id => {
                    Some(Heard { text: text.clone(), start_s: *start_s, end_s: *end_s })
                }
                _ => None,
            })
            .collect();
        let resume_from = logged.iter().map(|h| h.end_s).fold(0.0f64, f64::max);
        // The decks shown so far: their rare terms prime every pass.
        let state = self.store.state(tenant, up.session_id, None).await?;
        let transcriber = match self.listener(tenant, &state).await? {
            Ok(t) => t,
            Err(why) => {
                // No captions rather than captions in the wrong language; the transcript job flags it.
                tracing::warn!(session = %up.session_id, why, "no live captions");
                return Ok(());
            }
        };
        let pages = self.deck_pages(tenant, &state).await;
        let terms = crate::glossary::terms(&pages, |w| transcriber.pieces(w), crate::glossary::BUDGET_TOKENS);
        let shared: Shared = Arc::default();
        let (words_tx, mut words_rx) = tokio::sync::mpsc::unbounded_channel::<Vec<Heard>>();
        let listener = {
            let (shared, pauses) = (shared.clone(), self.cfg.caption_pauses);
            tokio::task::spawn_blocking(move || {
                transcribe_live(shared, &transcriber, &terms, resume_from, logged, &words_tx, pauses)
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

    /// Append each committed segment as a `caption.added` (the server's own fact, once per start).
    async fn append_caption(&self, job: &Job, recording_id: RecordingId, heard: &[Heard]) -> Result<()> {
        let mut events = Vec::new();
        for h in heard {
            let Some(command) = caption(recording_id, h) else { continue };
            events.push(NewEvent {
                idempotency_key: format!("caption/{recording_id}/{}", (h.start_s * 1000.0).round() as i64),
                actor_id: None,
                actor_role: None,
                occurred_at: None,
                event: shared_types::decide::authorize(&SessionActor::system(), command)?,
            });
        }
        if !events.is_empty() {
            let outcome = self.store.append(job.tenant_id, job.session_id, events).await?;
            tracing::debug!(?outcome, "live captions appended");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backlog whisper hears nothing in (loud noise, the recording already over) ends: each
    /// stretch is passed over once, not transcribed again for ever.
    #[test]
    fn a_backlog_of_noise_is_passed_over() {
        let path = crate::model::prepare_model(shared_types::speech::SpeechModel::TinyEn).unwrap();
        let transcriber = Transcriber::load(&path, 1).unwrap();
        let mut x = 0x2545_f491_u64;
        let noise: Vec<f32> = (0..40 * SAMPLE_RATE as usize)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 2001) as f32 / 1000.0 - 1.0) * 0.4
            })
            .collect();
        assert!(rms(&noise) > SILENCE_RMS);
        let shared: Shared = Arc::new((Mutex::new(Timeline { samples: noise, ended: true }), Condvar::new()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run = std::thread::spawn(move || transcribe_live(shared, &transcriber, &[], 0.0, Vec::new(), &tx, true));
        let t0 = std::time::Instant::now();
        while !run.is_finished() {
            assert!(t0.elapsed() < Duration::from_secs(240), "still transcribing 40 s of noise after 4 minutes");
            std::thread::sleep(Duration::from_millis(200));
        }
        run.join().unwrap().unwrap();
        let mut said = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            said.extend(batch.into_iter().map(|h| h.text));
        }
        println!("heard in noise: {said:?}");
    }

    /// `parts` of (seconds, amplitude): a tone for speech, 0 for quiet, a little noise everywhere.
    fn audio(parts: &[(f64, f32)]) -> Vec<f32> {
        let mut out = Vec::new();
        for &(secs, amp) in parts {
            for i in 0..(secs * SAMPLE_RATE as f64) as usize {
                let t = i as f32 / SAMPLE_RATE as f32;
                let noise = 0.002 * ((i * 7919 % 101) as f32 / 50.0 - 1.0);
                out.push(amp * (2.0 * std::f32::consts::PI * 220.0 * t).sin() + noise);
            }
        }
        out
    }

    #[test]
    fn a_window_is_cut_inside_its_last_pause() {
        let w = audio(&[(1.5, 0.1), (0.5, 0.0), (1.2, 0.1), (0.6, 0.0), (0.8, 0.1)]);
        let cut = Levels::of(&w).last_pause().expect("two pauses");
        assert!((cut - 3.4).abs() < 0.03, "0.2 s into the second pause (3.2 s), got {cut}");
        // A pause at the end of what came so far: the speaker stopped.
        let cut = Levels::of(&audio(&[(2.0, 0.1), (0.4, 0.0)])).last_pause().expect("a trailing pause");
        assert!((cut - 2.2).abs() < 0.03, "got {cut}");
        // A short pause is cut in its middle.
        let cut = Levels::of(&audio(&[(2.0, 0.1), (0.3, 0.0), (1.0, 0.1)])).last_pause().expect("a short pause");
        assert!((cut - 2.15).abs() < 0.03, "got {cut}");
    }

    #[test]
    fn no_cut_without_a_pause_after_speech() {
        assert_eq!(Levels::of(&audio(&[(4.0, 0.1)])).last_pause(), None, "speech throughout");
        assert_eq!(
            Levels::of(&audio(&[(2.0, 0.1), (0.2, 0.0), (2.0, 0.1)])).last_pause(),
            None,
            "a gap shorter than a pause"
        );
        assert_eq!(Levels::of(&audio(&[(1.0, 0.0), (3.0, 0.1)])).last_pause(), None, "quiet before any speech");
        assert_eq!(
            Levels::of(&audio(&[(0.5, 0.1), (1.0, 0.0), (3.0, 0.1)])).last_pause(),
            None,
            "a piece under a second"
        );
        assert_eq!(Levels::of(&[]).last_pause(), None);
        // A louder room: quiet is relative to the speech.
        let hum: Vec<f32> = audio(&[(2.0, 0.3), (0.5, 0.02), (1.0, 0.3)]);
        assert!(Levels::of(&hum).last_pause().is_some(), "a hum at a fifteenth of the voice is still a pause");
    }

    #[test]
    fn sound_left_after_the_last_segment_is_measured() {
        let l = Levels::of(&audio(&[(1.0, 0.1), (1.0, 0.0), (1.0, 0.1)]));
        assert!((l.sound_between(0.0, 3.0) - 2.0).abs() < 0.05);
        assert!(l.sound_between(1.0, 2.0) < 0.05, "the pause is quiet");
        assert!((l.sound_between(1.5, 9.0) - 1.0).abs() < 0.05, "clamped to the window");
        assert_eq!(l.sound_between(2.5, 1.0), 0.0);
    }
}
