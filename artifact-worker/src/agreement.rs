//! Local agreement (the idea of Whisper-Streaming, Macháček et al. 2023): the audio not yet
//! committed is transcribed again each time more arrives, and only the words two successive passes
//! agree on, from the start, are committed. A word at the edge of a slice changes between passes
//! until it is whole, so it is neither cut nor written twice; what is committed never changes.

use crate::transcribe::Word;

/// What has been committed so far and the last pass's words after it.
#[derive(Debug, Default)]
pub struct Agreement {
    /// Seconds (on the recording's clock) up to which everything is committed.
    pub committed_until: f64,
    /// The previous pass's words that were not committed yet.
    pending: Vec<Word>,
    /// The last words committed (normalised), to recognise them when a pass hears them again.
    tail: Vec<String>,
}

/// Words a pass may repeat from the end of what was committed.
const TAIL: usize = 5;

/// A word as compared between passes: lower case, letters and digits only.
fn norm(w: &str) -> String {
    w.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

impl Agreement {
    /// Start committed up to `from` (a captioner resuming after what the log already holds).
    pub fn starting_at(from: f64) -> Self {
        Agreement { committed_until: from, ..Agreement::default() }
    }

    /// A pass's words that are new: those heard after the committed time (by their middle, as
    /// timings move a little between passes), less a repeat of the last committed words.
    fn fresh(&self, words: Vec<Word>) -> Vec<Word> {
        let mut words: Vec<Word> =
            words.into_iter().filter(|w| (w.start_s + w.end_s) / 2.0 > self.committed_until).collect();
        let near = words.first().is_some_and(|w| w.start_s < self.committed_until + 1.0);
        if near {
            let repeated = (1..=TAIL.min(self.tail.len()).min(words.len()))
                .rev()
                .find(|&k| self.tail[self.tail.len() - k..].iter().zip(&words[..k]).all(|(a, b)| *a == norm(&b.text)));
            if let Some(k) = repeated {
                words.drain(..k);
            }
        }
        words
    }

    fn commit(&mut self, words: &[Word]) {
        if let Some(last) = words.last() {
            self.committed_until = self.committed_until.max(last.end_s);
        }
        self.tail.extend(words.iter().map(|w| norm(&w.text)));
        let extra = self.tail.len().saturating_sub(TAIL);
        self.tail.drain(..extra);
    }

    /// Fold a pass over the audio not yet committed (it may start a little before
    /// `committed_until`; its words on the recording's clock); the words newly committed, in order.
    pub fn pass(&mut self, words: Vec<Word>) -> Vec<Word> {
        let mut words = self.fresh(words);
        let agreed = self
            .pending
            .iter()
            .zip(&words)
            .take_while(|(a, b)| {
                let (a, b) = (norm(&a.text), norm(&b.text));
                !a.is_empty() && a == b
            })
            .count();
        self.pending = words.split_off(agreed);
        self.commit(&words);
        words
    }

    /// The audio ended: everything the last pass heard is committed.
    pub fn finish(&mut self) -> Vec<Word> {
        let words = std::mem::take(&mut self.pending);
        self.commit(&words);
        words
    }

    /// Give up on the words heard before `before` without agreement (noise, a long monologue
    /// whisper keeps rewording): they are committed as last heard, so the window stays short.
    pub fn force_before(&mut self, before: f64) -> Vec<Word> {
        let n = self.pending.iter().take_while(|w| w.end_s <= before).count();
        let words: Vec<Word> = self.pending.drain(..n).collect();
        self.pending.clear();
        self.commit(&words);
        self.committed_until = self.committed_until.max(before);
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(list: &[(&str, f64)]) -> Vec<Word> {
        list.iter().map(|(t, s)| Word { text: t.to_string(), start_s: *s, end_s: s + 0.4 }).collect()
    }

    fn text(w: &[Word]) -> String {
        w.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn only_what_two_passes_agree_on_is_committed() {
        let mut a = Agreement::default();
        // The slice cut "energy" in two: the first pass hears "ener".
        assert_eq!(text(&a.pass(words(&[("A", 0.0), ("wave", 0.5), ("carries", 1.0), ("ener", 1.5)]))), "");
        let second = a.pass(words(&[("A", 0.0), ("wave", 0.5), ("carries", 1.0), ("energy", 1.5), ("from", 2.0)]));
        assert_eq!(text(&second), "A wave carries");
        assert!((a.committed_until - 1.4).abs() < 1e-9);
        // The next pass starts after "carries": the edge word now agrees, once.
        let third = a.pass(words(&[("energy.", 1.5), ("From", 2.0), ("one", 2.5)]));
        assert_eq!(text(&third), "energy. From");
        assert_eq!(text(&a.finish()), "one");
        assert_eq!(text(&a.finish()), "", "nothing twice");
    }

    #[test]
    fn words_before_the_committed_time_are_not_committed_again() {
        let mut a = Agreement::starting_at(2.0);
        a.pass(words(&[("old", 1.0), ("new", 2.5)]));
        let w = a.pass(words(&[("old", 1.0), ("new", 2.5), ("more", 3.0)]));
        assert_eq!(text(&w), "new");
    }

    #[test]
    fn a_pass_that_hears_committed_words_again_skips_them() {
        let mut a = Agreement::default();
        a.pass(words(&[("Velocity", 0.0), ("is", 0.5), ("the", 1.0), ("rate", 1.5)]));
        assert_eq!(
            text(&a.pass(words(&[("Velocity", 0.0), ("is", 0.5), ("the", 1.0), ("rate", 1.5)]))),
            "Velocity is the rate"
        );
        // The next window starts a little earlier (the buffer keeps its start); timings shift.
        a.pass(words(&[("rate", 1.45), ("of", 2.0), ("change", 2.5)]));
        let w = a.pass(words(&[("the", 1.1), ("rate", 1.62), ("of", 2.0), ("change.", 2.5), ("If", 3.0)]));
        assert_eq!(text(&w), "of change.");
    }

    #[test]
    fn a_window_that_never_agrees_is_cut_short() {
        let mut a = Agreement::default();
        a.pass(words(&[("um", 0.0), ("so", 1.0), ("well", 9.0)]));
        let forced = a.force_before(5.0);
        assert_eq!(text(&forced), "um so");
        assert!(a.committed_until >= 5.0);
    }
}
