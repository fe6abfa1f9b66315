//! Loudness of audio in 20 ms frames, and where it can be cut between words: the live captions
//! cut a window in its last pause, the primed transcription a recording into pieces whisper takes
//! whole.

use crate::transcribe::SAMPLE_RATE;

/// Below this level (RMS) a window is silence and is not transcribed.
pub const SILENCE_RMS: f32 = 0.004;
/// Pauses are looked for in frames of 20 ms.
const FRAMES_PER_S: usize = 50;
/// Quiet at least this long between words is a pause the audio may be cut in.
const PAUSE_S: f64 = 0.3;
/// A piece cut at a pause is at least this long (a shorter one waits for more speech).
const MIN_PIECE_S: f64 = 1.0;

pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
}

/// A window's loudness in 20 ms frames, and the level under which a frame is quiet: a tenth of
/// the window's loud level (its 90th percentile frame), at least [`SILENCE_RMS`], so a steady
/// background hum does not hide a pause.
pub struct Levels {
    frames: Vec<f32>,
    quiet: f32,
}

impl Levels {
    pub fn of(window: &[f32]) -> Levels {
        let frames: Vec<f32> = window.chunks(SAMPLE_RATE as usize / FRAMES_PER_S).map(rms).collect();
        let mut sorted = frames.clone();
        sorted.sort_by(f32::total_cmp);
        let loud = sorted.get(sorted.len().saturating_sub(1) * 9 / 10).copied().unwrap_or(0.0);
        Levels { frames, quiet: SILENCE_RMS.max(loud * 0.1) }
    }

    /// Where the window can be cut between words: seconds from its start to a point inside its
    /// last pause ([`PAUSE_S`] of quiet frames) that follows speech, at least [`MIN_PIECE_S`] in.
    /// The cut is 0.2 s into the pause (or its middle, if shorter), so the piece ends after the
    /// last word and the next starts before the next one.
    pub fn last_pause(&self) -> Option<f64> {
        let need = (PAUSE_S * FRAMES_PER_S as f64).round() as usize;
        let (mut found, mut run, mut spoke) = (None, None::<usize>, false);
        // A loud sentinel closes a pause that runs to the window's end.
        for (i, &level) in self.frames.iter().chain([f32::INFINITY].iter()).enumerate() {
            if level < self.quiet {
                run.get_or_insert(i);
                continue;
            }
            if let Some(first) = run.take() {
                if spoke && i - first >= need {
                    found = Some((first, i - first));
                }
            }
            spoke = true;
        }
        let (first, len) = found?;
        let cut = (first as f64 + (len as f64 / 2.0).min(0.2 * FRAMES_PER_S as f64)) / FRAMES_PER_S as f64;
        (cut >= MIN_PIECE_S).then_some(cut)
    }

    /// Seconds of sound (frames that are not quiet) between two points of the window.
    pub fn sound_between(&self, from_s: f64, to_s: f64) -> f64 {
        let at = |s: f64| ((s.max(0.0) * FRAMES_PER_S as f64) as usize).min(self.frames.len());
        let (a, b) = (at(from_s), at(to_s));
        self.frames[a..b.max(a)].iter().filter(|&&l| l >= self.quiet).count() as f64 / FRAMES_PER_S as f64
    }
}
