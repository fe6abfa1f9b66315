//! Speech to text with whisper-rs: segments with word timings merged from BPE token timestamps.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Word {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Segment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub words: Vec<Word>,
}

pub struct Transcriber {
    ctx: WhisperContext,
    threads: i32,
}

impl Transcriber {
    pub fn load(model: &Path, threads: usize) -> Result<Self> {
        whisper_rs::install_logging_hooks();
        let path = model.to_str().context("model path is not UTF-8")?;
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .with_context(|| format!("loading the Whisper model {}", model.display()))?;
        Ok(Transcriber { ctx, threads: threads.max(1) as i32 })
    }

    /// Transcribe 16 kHz mono samples in [-1, 1].
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Vec<Segment>> {
        self.run(pcm, None, false)
    }

    /// Transcribe a short window of a live class: primed with the words committed before it, and
    /// the encoder given only as much context as the window needs (whisper otherwise pays for 30 s
    /// whatever the length of the audio).
    pub fn window(&self, pcm: &[f32], prompt: &str) -> Result<Vec<Segment>> {
        self.run(pcm, Some(prompt), true)
    }

    fn run(&self, pcm: &[f32], prompt: Option<&str>, short: bool) -> Result<Vec<Segment>> {
        let mut state = self.ctx.create_state().context("creating a Whisper state")?;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        if let Some(p) = prompt.filter(|p| !p.is_empty()) {
            params.set_initial_prompt(p);
        }
        if short {
            // 1,500 encoder frames are 30 s; a little headroom over the window, rounded up.
            let frames = ((pcm.len() as f64 / SAMPLE_RATE as f64 + 1.0) * 50.0).ceil() as i32;
            params.set_audio_ctx(frames.clamp(256, 1500));
            params.set_no_context(true);
        }
        params.set_n_threads(self.threads);
        params.set_language(Some("en"));
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        state.full(params, pcm).context("running Whisper")?;
        let eot = self.ctx.token_eot();
        let mut out = Vec::new();
        for seg in state.as_iter() {
            let mut words: Vec<Word> = Vec::new();
            for t in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(t) else { continue };
                if tok.token_id() >= eot {
                    continue; // timestamps and other special tokens
                }
                let data = tok.token_data();
                let text = tok.to_str_lossy().map(|c| c.into_owned()).unwrap_or_default();
                let (t0, t1) = (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
                // A BPE piece that starts with a space begins a new word; others continue the last.
                match words.last_mut() {
                    Some(w) if !text.starts_with(' ') && !text.is_empty() => {
                        w.text.push_str(&text);
                        w.end_s = w.end_s.max(t1);
                    }
                    _ => {
                        let trimmed = text.trim();
                        if !trimmed.is_empty() {
                            words.push(Word { text: trimmed.to_string(), start_s: t0, end_s: t1.max(t0) });
                        }
                    }
                }
            }
            let text = seg.to_str_lossy().map(|c| c.trim().to_string()).unwrap_or_default();
            if text.is_empty() {
                continue;
            }
            out.push(Segment {
                start_s: seg.start_timestamp() as f64 / 100.0,
                end_s: seg.end_timestamp() as f64 / 100.0,
                text,
                words,
            });
        }
        Ok(out)
    }
}
