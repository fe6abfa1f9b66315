//! Speech to text with whisper-rs: segments with word timings merged from BPE token timestamps.

use crate::agreement::{Agreement, Heard};
use crate::levels::Levels;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// Whisper's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// The longest piece of a primed transcription (whisper's window is 30 s).
const PIECE_S: f64 = 28.0;
/// The words said before a piece that prime it, after the glossary.
const PROMPT_WORDS: usize = 30;

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

/// `segments` (heard after a seam: a live caption's end, a piece's cut) without the words at their
/// start that repeat what was heard before the seam (whisper began inside that speech, or echoed
/// its prompt): the first segment left is cut, and its words with it.
pub(crate) fn after_seam(seam: &mut Agreement, segments: Vec<Segment>) -> Vec<Segment> {
    let mut kept = Vec::with_capacity(segments.len());
    let mut cutting = true;
    for mut s in segments {
        if cutting {
            s.text = seam.unrepeated(&s.text);
            if s.text.is_empty() {
                continue;
            }
            // Its words too: the ones cut were the first.
            let cut = s.words.len().saturating_sub(s.text.split_whitespace().count());
            s.words.drain(..cut);
            seam.remember(&s.text);
            cutting = false;
        }
        kept.push(s);
    }
    kept
}

/// How many sentences back a word-for-word repeat counts as whisper's loop.
const LOOP_WINDOW: usize = 3;

/// Whisper's repetition loop: stuck on its own output (mostly where speech stops), it writes the
/// same sentence or two again and again. A segment of three words or more that says word for word
/// what one of the last [`LOOP_WINDOW`] kept ones said is dropped; `recent` carries those across
/// calls (one transcription's pieces).
pub(crate) fn without_loops(segments: Vec<Segment>, recent: &mut Vec<Vec<String>>) -> Vec<Segment> {
    segments
        .into_iter()
        .filter(|s| {
            let words = crate::text::words(&s.text);
            if words.len() >= 3 && recent.contains(&words) {
                tracing::debug!(text = %s.text, "dropped a repeat (whisper's loop)");
                return false;
            }
            recent.push(words);
            if recent.len() > LOOP_WINDOW {
                recent.remove(0);
            }
            true
        })
        .collect()
}

/// Lines that follow each other without overlapping: a line ends where the next begins at the
/// latest. Whisper times the last word before a pause up to the next word, so a sentence cut from
/// a segment may run into the next one — and a player marks the line still running when a search hit
/// opens the replay at the next line's start.
fn one_after_another(mut segments: Vec<Segment>) -> Vec<Segment> {
    for i in 1..segments.len() {
        let next = segments[i].start_s;
        let s = &mut segments[i - 1];
        s.end_s = s.end_s.min(next).max(s.start_s);
        if let Some(w) = s.words.last_mut() {
            w.end_s = w.end_s.min(s.end_s).max(w.start_s);
        }
    }
    segments
}

/// Different words a piece needs per second of sound not to be [`thin`]: speech gives two or three
/// (a slow teacher still more than one), whisper that lost the speech far fewer.
const THIN_WORDS_PER_SOUND_S: f64 = 0.8;

fn distinct_words(segments: &[Segment]) -> usize {
    segments.iter().flat_map(|s| crate::text::words(&s.text)).collect::<std::collections::HashSet<_>>().len()
}

fn texts(segments: &[Segment]) -> String {
    segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// Whether what was heard in a piece with `sound_s` seconds of sound is too little to be its speech
/// (nothing, whisper's `[BLANK_AUDIO]`, or a word said over and over): a second or more of sound
/// with fewer than [`THIN_WORDS_PER_SOUND_S`] different words a second.
fn thin(heard: &[Segment], sound_s: f64) -> bool {
    sound_s >= 1.0 && (distinct_words(heard) as f64) < sound_s * THIN_WORDS_PER_SOUND_S
}

/// Whether a segment is only whisper's note of what it heard instead of words: `[BLANK_AUDIO]`,
/// `(music)`, `[ Silence ]`.
fn annotation(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('(') && t.ends_with(')'))
}

/// A segment cut into its sentences, timed by their words (primed, whisper may give a whole
/// piece as one segment: a transcript line, a caption and a search hit are a sentence). Unchanged
/// when its words do not spell its text.
fn sentences(s: Segment) -> Vec<Segment> {
    let spelled = s.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
    if s.words.len() < 2 || crate::text::words(&spelled) != crate::text::words(&s.text) {
        return vec![s];
    }
    let mut out: Vec<Segment> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let last = s.words.len() - 1;
    for (i, w) in s.words.into_iter().enumerate() {
        let ends = w.text.ends_with(['.', '?', '!']);
        words.push(w);
        if ends || i == last {
            let start_s = if out.is_empty() { s.start_s } else { words[0].start_s };
            let end_s = if i == last {
                s.end_s.min(words[words.len() - 1].end_s.max(start_s))
            } else {
                words[words.len() - 1].end_s
            };
            let text = words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            out.push(Segment { start_s, end_s, text, words: std::mem::take(&mut words) });
        }
    }
    out
}

/// A loaded model and the language it listens for. Clones share the model.
#[derive(Clone)]
pub struct Transcriber {
    ctx: Arc<WhisperContext>,
    threads: i32,
    language: String,
}

impl Transcriber {
    /// Load a model; it listens for English until told otherwise ([`Transcriber::speaking`]).
    pub fn load(model: &Path, threads: usize) -> Result<Self> {
        whisper_rs::install_logging_hooks();
        let path = model.to_str().context("model path is not UTF-8")?;
        let ctx = WhisperContext::new_with_params(path, WhisperContextParameters::default())
            .with_context(|| format!("loading the Whisper model {}", model.display()))?;
        Ok(Transcriber { ctx: Arc::new(ctx), threads: threads.max(1) as i32, language: "en".into() })
    }

    /// The same model listening for `language` (an ISO 639-1 code). An English-only model is
    /// refused anything else: it would write any speech as English.
    pub fn speaking(&self, language: &str) -> Result<Transcriber> {
        if language != "en" && !self.ctx.is_multilingual() {
            anyhow::bail!("this model transcribes English only, not `{language}`");
        }
        if whisper_rs::get_lang_id(language).is_none() {
            anyhow::bail!("the recogniser does not know the language `{language}`");
        }
        Ok(Transcriber { language: language.to_string(), ..self.clone() })
    }

    /// The language it listens for.
    pub fn language(&self) -> &str {
        &self.language
    }

    /// Whether the model knows languages other than English.
    pub fn multilingual(&self) -> bool {
        self.ctx.is_multilingual()
    }

    /// Transcribe 16 kHz mono samples in [-1, 1].
    pub fn transcribe(&self, pcm: &[f32]) -> Result<Vec<Segment>> {
        self.run(pcm, None, false)
    }

    /// Transcribe a recording, primed with the lecture's terms (a [`crate::glossary`] prompt, or
    /// none). Whisper keeps an initial prompt for its first 30 s only, and left to seek through a
    /// long recording by itself it may lose a stretch of speech for good (a sentence heard as
    /// "Voila. Voila. Voila."), so the audio goes in pieces of at most [`PIECE_S`] cut in pauses,
    /// each primed with the glossary and the words said just before it. A piece heard too thinly
    /// for the sound in it ([`thin`]) is heard again without the prompt, and the fuller hearing kept.
    pub fn transcribe_primed(&self, pcm: &[f32], glossary: &str, terms: &[String]) -> Result<Vec<Segment>> {
        let rate = SAMPLE_RATE as usize;
        let mut out: Vec<Segment> = Vec::new();
        let mut said_last = Vec::new();
        let mut at = 0usize;
        while at < pcm.len() {
            let mut end = (at + (PIECE_S * rate as f64) as usize).min(pcm.len());
            if end < pcm.len() {
                // Cut in the last pause of the piece (none: at its end).
                if let Some(cut) = Levels::of(&pcm[at..end]).last_pause() {
                    end = at + (cut * rate as f64) as usize;
                }
            }
            let piece = &pcm[at..end];
            if crate::levels::rms(piece) >= crate::levels::SILENCE_RMS {
                let said: Vec<&str> = out.iter().flat_map(|s| s.text.split_whitespace()).collect();
                let recent = said[said.len().saturating_sub(PROMPT_WORDS)..].join(" ");
                let offset = at as f64 / rate as f64;
                // Whisper may say the end of its prompt again before the piece's own words.
                let before: Vec<Heard> = out[out.len().saturating_sub(8)..]
                    .iter()
                    .map(|s| Heard { text: s.text.clone(), start_s: s.start_s, end_s: s.end_s })
                    .collect();
                let span = piece.len() as f64 / rate as f64;
                let hear = |prompt: Option<&str>, loops: &mut Vec<Vec<String>>| -> Result<Vec<Segment>> {
                    let heard = self.run(piece, prompt, false)?;
                    let heard = heard.into_iter().filter(|s| !crate::glossary::echoes(&s.text, terms)).collect();
                    let heard = after_seam(&mut Agreement::after(offset, &before), heard);
                    let heard = heard.into_iter().map(|s| Segment { end_s: s.end_s.min(span), ..s });
                    Ok(without_loops(heard.flat_map(sentences).collect(), loops))
                };
                let prompt = format!("{glossary} {recent}");
                let mut loops = said_last.clone();
                let mut heard = hear(Some(prompt.trim()), &mut loops)?;
                let sound = Levels::of(piece).sound_between(0.0, span);
                if thin(&heard, sound) {
                    let mut again_loops = said_last.clone();
                    let again = hear(None, &mut again_loops)?;
                    tracing::debug!(sound, first = %texts(&heard), again = %texts(&again), "a thin piece heard again");
                    if distinct_words(&again) > distinct_words(&heard) {
                        (heard, loops) = (again, again_loops);
                    }
                }
                said_last = loops;
                out.extend(heard.into_iter().map(|s| self.spell(s, terms)).map(|s| {
                    Segment {
                        start_s: s.start_s + offset,
                        end_s: s.end_s + offset,
                        words: s
                            .words
                            .into_iter()
                            .map(|w| Word { start_s: w.start_s + offset, end_s: w.end_s + offset, ..w })
                            .collect(),
                        ..s
                    }
                }));
            }
            at = end;
        }
        Ok(one_after_another(out))
    }

    /// `s` with the glossary's spellings of terms whisper wrote as it heard them
    /// ([`crate::glossary::correct`]); its word timings follow.
    pub fn spell(&self, mut s: Segment, terms: &[String]) -> Segment {
        if terms.is_empty() {
            return s;
        }
        let words: Vec<&str> = s.text.split_whitespace().collect();
        let fixed = crate::glossary::correct(&words, terms, |w| self.pieces(w) == 1);
        if fixed.len() == words.len() && fixed.iter().zip(&words).all(|((f, _), w)| f == w) {
            return s;
        }
        if s.words.len() == words.len() {
            let timed = |r: &std::ops::Range<usize>| (s.words[r.start].start_s, s.words[r.end - 1].end_s);
            s.words = fixed
                .iter()
                .map(|(w, r)| {
                    let (start_s, end_s) = timed(r);
                    Word { text: w.clone(), start_s, end_s }
                })
                .collect();
        }
        s.text = fixed.into_iter().map(|(w, _)| w).collect::<Vec<_>>().join(" ");
        s
    }

    /// How many tokens the model's vocabulary needs to write `text` (one for a word it knows whole).
    pub fn pieces(&self, text: &str) -> usize {
        self.ctx.tokenize(text, 64).map_or(1, |t| t.len())
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
        params.set_language(Some(&self.language));
        params.set_token_timestamps(true);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        state.full(params, pcm).context("running Whisper")?;
        let eot = self.ctx.token_eot();
        let mut out = Vec::new();
        for seg in state.as_iter() {
            // Words as bytes first: a BPE piece may hold part of a character (é, ß, ñ are two bytes
            // that byte-level BPE can split), so text is made of a whole word's bytes.
            let mut words: Vec<(Vec<u8>, f64, f64)> = Vec::new();
            for t in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(t) else { continue };
                if tok.token_id() >= eot {
                    continue; // timestamps and other special tokens
                }
                let data = tok.token_data();
                let bytes = tok.to_bytes().unwrap_or_default();
                let (t0, t1) = (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
                // A BPE piece that starts with a space begins a new word; others continue the last.
                match words.last_mut() {
                    Some(w) if !bytes.is_empty() && bytes[0] != b' ' => {
                        w.0.extend_from_slice(bytes);
                        w.2 = w.2.max(t1);
                    }
                    _ if !bytes.trim_ascii().is_empty() => words.push((bytes.to_vec(), t0, t1.max(t0))),
                    _ => {}
                }
            }
            let words: Vec<Word> = words
                .into_iter()
                .map(|(b, start_s, end_s)| Word {
                    text: String::from_utf8_lossy(b.trim_ascii()).into_owned(),
                    start_s,
                    end_s,
                })
                .collect();
            let text = seg.to_str_lossy().map(|c| c.trim().to_string()).unwrap_or_default();
            if text.is_empty() || annotation(&text) {
                continue;
            }
            out.push(Segment {
                start_s: seg.start_timestamp() as f64 / 100.0,
                end_s: seg.end_timestamp() as f64 / 100.0,
                text,
                words,
            });
        }
        Ok(without_loops(out, &mut Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str) -> Segment {
        Segment { start_s: 0.0, end_s: 1.0, text: text.into(), words: Vec::new() }
    }

    #[test]
    fn whispers_loop_is_cut_and_real_speech_kept() {
        let texts = |s: Vec<Segment>| s.into_iter().map(|s| s.text).collect::<Vec<_>>();
        let looped = [
            "Sound cannot travel through space.",
            "That is why astronauts use radios.",
            "Sound cannot travel through space.",
            "That is why astronauts use radios.",
            "sound cannot travel through space",
        ];
        let mut recent = Vec::new();
        assert_eq!(
            texts(without_loops(looped.iter().map(|t| seg(t)).collect(), &mut recent)),
            ["Sound cannot travel through space.", "That is why astronauts use radios."]
        );
        // Carried across pieces: the next piece starting with the loop is cut too.
        assert!(without_loops(vec![seg("That is why astronauts use radios.")], &mut recent).is_empty());
        // Short answers may repeat ("Yes. Yes."), and a sentence said again later is kept.
        let mut fresh = Vec::new();
        let said = [
            "Yes.",
            "Yes.",
            "Velocity is a vector.",
            "Speed is not.",
            "It has no direction.",
            "Mass is a scalar.",
            "Velocity is a vector.",
        ];
        assert_eq!(texts(without_loops(said.iter().map(|t| seg(t)).collect(), &mut fresh)).len(), said.len());
    }

    #[test]
    fn a_piece_heard_as_a_word_over_and_over_is_thin() {
        let heard = |t: &[&str]| t.iter().map(|t| seg(t)).collect::<Vec<_>>();
        // What CI's egress class once made of ten seconds of "Finally, acceleration. …".
        let lost = heard(&["File.", "Voila.", "Voila.", "Voila.", "Voila."]);
        assert!(thin(&lost, 9.0));
        assert!(thin(&[], 3.0), "sound and no words");
        let said = heard(&[
            "Finally, acceleration.",
            "Acceleration is the rate of change of velocity.",
            "A ball that falls speeds up by about ten meters per second every second.",
        ]);
        assert!(!thin(&said, 9.0), "{} different words for 9 s of sound", distinct_words(&said));
        // A short answer in a short piece is speech, and a piece of silence owes no words.
        assert!(!thin(&heard(&["Yes."]), 0.6));
        assert!(!thin(&[], 0.4));
    }

    #[test]
    fn whispers_notes_are_not_words() {
        for note in ["[BLANK_AUDIO]", " [ Silence ] ", "(music)", "[MUSIC PLAYING]"] {
            assert!(annotation(note), "{note}");
        }
        for words in ["Velocity [is] a vector.", "(That is) all for today", "Good morning."] {
            assert!(!annotation(words), "{words}");
        }
    }

    #[test]
    fn lines_follow_each_other() {
        let timed = |text: &str, start_s: f64, end_s: f64| Segment {
            start_s,
            end_s,
            text: text.into(),
            words: vec![Word { text: text.into(), start_s, end_s }],
        };
        let out = one_after_another(vec![
            timed("A chosen origin.", 8.0, 11.9),
            timed("Now let us talk about velocity.", 11.6, 13.5),
            timed("Velocity is a rate.", 14.0, 16.0),
        ]);
        let spans: Vec<(f64, f64)> = out.iter().map(|s| (s.start_s, s.end_s)).collect();
        assert_eq!(spans, [(8.0, 11.6), (11.6, 13.5), (14.0, 16.0)], "a gap stays, an overlap goes");
        assert_eq!(out[0].words[0].end_s, 11.6, "its last word with it");
    }
}
