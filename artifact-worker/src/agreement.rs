//! Local agreement (the idea of Whisper-Streaming, Macháček et al. 2023), over whisper's segments:
//! the audio not yet committed is transcribed again each time more arrives, and a segment is
//! committed only when two successive passes agree on it (and on everything before it) and it is
//! not the last one heard — the last may still be cut by the end of the audio so far. What is
//! committed never changes, and the next pass starts where it ended, at a pause whisper heard; so a
//! word at the edge of a slice is neither cut nor written twice. Segments carry whisper's segment
//! times (its timestamp tokens), which hold steadier between passes than its word times.

/// A stretch of speech as heard: text and times on the recording's clock.
#[derive(Clone, Debug, PartialEq)]
pub struct Heard {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// What has been committed so far and the last pass's segments after it.
#[derive(Debug, Default)]
pub struct Agreement {
    /// The last words committed (normalised): a pass that starts by saying them again has them
    /// cut — whisper's segment end came before the speech's, so the next pass began inside it; or,
    /// after a cut in a pause, whisper echoed the end of its prompt (the last words committed)
    /// before the new speech.
    tail: Vec<String>,
    /// Seconds (on the recording's clock) up to which everything is committed; the next pass
    /// starts here.
    pub committed_until: f64,
    /// The previous pass's segments that were not committed.
    pending: Vec<Heard>,
}

/// Text as compared between passes: lower case, letters and digits, single spaces.
fn norm(t: &str) -> String {
    t.split_whitespace()
        .map(|w| w.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A caption as students read it: no stray quotation marks or commas at its edges (whisper adds
/// them to short windows), and a sentence said twice in a row (whisper looping) said once.
pub fn tidy(text: &str) -> String {
    let text = text
        .trim()
        .trim_start_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | ',' | ';' | ':' | '-') || c.is_whitespace())
        .trim_end_matches(|c: char| matches!(c, '"' | '“' | '”') || c.is_whitespace());
    let mut out: Vec<&str> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // One sentence: up to and with its end mark and the space after it.
        let end = rest
            .char_indices()
            .find(|&(i, c)| matches!(c, '.' | '?' | '!') && rest[i + 1..].starts_with(' '))
            .map_or(rest.len(), |(i, _)| i + 2);
        let sentence = &rest[..end];
        if out.last().is_none_or(|last| norm(last) != norm(sentence)) {
            out.push(sentence);
        }
        rest = &rest[end..];
    }
    out.concat().trim().to_string()
}

impl Agreement {
    /// Start committed up to `from` (a captioner resuming after what the log already holds).
    pub fn starting_at(from: f64) -> Self {
        Agreement { committed_until: from, pending: Vec::new(), tail: Vec::new() }
    }

    /// Resuming after `committed` (the captions already written, which end at `from`).
    pub fn after(from: f64, committed: &[Heard]) -> Self {
        let mut a = Agreement::starting_at(from);
        for h in committed {
            a.remember(&h.text);
        }
        a
    }

    pub fn remember(&mut self, text: &str) {
        self.tail.extend(norm(text).split(' ').filter(|w| !w.is_empty()).map(str::to_string));
        let extra = self.tail.len().saturating_sub(TAIL_WORDS);
        self.tail.drain(..extra);
    }

    /// `text` without its first words when they repeat the end of what was committed: the longest
    /// run of at least three that matches the tail with its first word the same and at most one
    /// word in four different.
    pub fn unrepeated(&self, text: &str) -> String {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        // The normalised word of each token that has one, with the token's index.
        let words: Vec<(usize, String)> =
            tokens.iter().enumerate().map(|(i, t)| (i, norm(t))).filter(|(_, w)| !w.is_empty()).collect();
        let max = words.len().min(self.tail.len());
        let cut = (3..=max).rev().find(|&k| {
            let tail = &self.tail[self.tail.len() - k..];
            let differ = words[..k].iter().zip(tail).filter(|((_, a), b)| a != *b).count();
            words[0].1 == tail[0] && differ <= k / 4
        });
        match cut {
            None => text.trim().to_string(),
            Some(k) if k == words.len() => String::new(),
            Some(k) => tokens[words[k].0..].join(" "),
        }
    }

    /// Fold a pass over the audio from `committed_until` (segments on the recording's clock); the
    /// segments newly committed, in order.
    pub fn pass(&mut self, heard: Vec<Heard>, mode: Pass) -> Vec<Heard> {
        let heard: Vec<Heard> = heard.into_iter().filter(|h| !norm(&h.text).is_empty()).collect();
        let n = match mode {
            Pass::Final | Pass::Pause => heard.len(),
            Pass::Stretch => heard.len().saturating_sub(1).max(usize::from(heard.len() == 1)),
            Pass::Live => heard
                .iter()
                .take(heard.len().saturating_sub(1))
                .zip(&self.pending)
                .take_while(|(now, before)| norm(&now.text) == norm(&before.text))
                .count(),
        };
        let mut heard = heard;
        let rest = heard.split_off(n);
        self.pending = rest;
        self.commit(heard)
    }

    /// Commit segments: none starts before what was committed already, none ends before it starts.
    fn commit(&mut self, heard: Vec<Heard>) -> Vec<Heard> {
        let mut out = Vec::new();
        for h in heard {
            let start_s = h.start_s.max(self.committed_until);
            let end_s = h.end_s.max(start_s);
            self.committed_until = end_s;
            let text = tidy(&self.unrepeated(&h.text));
            if text.is_empty() {
                continue; // all of it said already
            }
            self.remember(&text);
            out.push(Heard { text, start_s, end_s });
        }
        out
    }

    /// Nothing worth waiting for before `at` (silence): the next pass starts there.
    pub fn skip_to(&mut self, at: f64) {
        self.pending.clear();
        self.committed_until = self.committed_until.max(at);
    }
}

/// How many committed words a new pass is checked against (a long sentence said again fits).
const TAIL_WORDS: usize = 40;

/// What a pass is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// The class goes on: commit what this pass and the one before agree on.
    Live,
    /// A stretch of a backlog heard once, whole: commit all but its last segment.
    Stretch,
    /// The audio has ended: commit everything.
    Final,
    /// The audio was cut inside a pause, so no word runs past its end: commit everything (the
    /// next pass starts at the cut).
    Pause,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard(list: &[(&str, f64, f64)]) -> Vec<Heard> {
        list.iter().map(|(t, a, b)| Heard { text: t.to_string(), start_s: *a, end_s: *b }).collect()
    }

    fn text(h: &[Heard]) -> Vec<&str> {
        h.iter().map(|h| h.text.as_str()).collect()
    }

    #[test]
    fn only_what_two_passes_agree_on_is_committed() {
        let mut a = Agreement::default();
        // The slice ends inside "energy": the last segment is cut, the first is whole.
        let first = heard(&[("Today we study waves.", 0.0, 2.0), ("A wave carries ener", 2.3, 4.0)]);
        assert!(a.pass(first, Pass::Live).is_empty(), "nothing is committed from one pass");
        let second = heard(&[
            ("Today we study waves.", 0.0, 2.1),
            ("A wave carries energy from one place", 2.3, 5.0),
            ("to another", 5.2, 6.0),
        ]);
        assert_eq!(text(&a.pass(second, Pass::Live)), ["Today we study waves."]);
        assert!((a.committed_until - 2.1).abs() < 1e-9);
        // The next pass starts at 2.1: the edge segment is whole now, and agrees.
        let third = heard(&[("A wave carries energy from one place", 2.3, 5.0), ("to another.", 5.2, 6.1)]);
        assert_eq!(text(&a.pass(third, Pass::Live)), ["A wave carries energy from one place"]);
        assert_eq!(text(&a.pass(heard(&[("to another.", 5.2, 6.1)]), Pass::Final)), ["to another."]);
        assert!(a.pass(Vec::new(), Pass::Final).is_empty(), "nothing twice");
    }

    #[test]
    fn a_disagreement_stops_the_commit_there() {
        let mut a = Agreement::default();
        a.pass(heard(&[("One.", 0.0, 1.0), ("Two.", 1.0, 2.0), ("Thr", 2.0, 3.0)]), Pass::Live);
        let w =
            a.pass(heard(&[("One.", 0.0, 1.0), ("Too.", 1.0, 2.0), ("Three.", 2.0, 3.0), ("F", 3.0, 3.5)]), Pass::Live);
        assert_eq!(text(&w), ["One."]);
    }

    #[test]
    fn a_pass_that_starts_inside_what_was_committed_does_not_say_it_twice() {
        // Heard in a three-minute class: whisper ended a segment before the speech did, so the next
        // stretch began inside the sentence and heard it again (once whole, once with another ending).
        let mut a = Agreement::starting_at(100.0);
        let w = a.pass(
            heard(&[
                ("Constructive interference.", 100.0, 103.0),
                ("A crest meeting a trough.", 103.2, 105.0),
                ("Cut", 106.0, 108.0),
            ]),
            Pass::Stretch,
        );
        assert_eq!(text(&w), ["Constructive interference.", "A crest meeting a trough."]);
        let w = a.pass(
            heard(&[
                ("A crest meeting a trough.", 105.0, 106.5),
                ("A crest meeting a counter-cancel out, which is destructive.", 106.5, 110.0),
                ("Noise", 111.0, 112.0),
            ]),
            Pass::Stretch,
        );
        assert_eq!(text(&w), ["out, which is destructive."], "the repeat is cut, the new words kept");
        // Not what merely starts alike: two words are no repeat.
        let w = a.pass(heard(&[("Which is good.", 112.0, 113.0), ("x", 114.0, 115.0)]), Pass::Stretch);
        assert_eq!(text(&w), ["Which is good."]);
        // A worker taking over remembers what was committed.
        let mut b = Agreement::after(105.0, &heard(&[("A crest meeting a trough.", 103.2, 105.0)]));
        assert!(b.pass(heard(&[("a crest meeting a trough", 105.0, 106.0)]), Pass::Final).is_empty());
    }

    #[test]
    fn a_backlog_is_taken_a_stretch_at_a_time() {
        let mut a = Agreement::starting_at(10.0);
        let w = a.pass(heard(&[("First.", 10.0, 13.0), ("Second.", 13.5, 18.0), ("Cut", 20.0, 22.0)]), Pass::Stretch);
        assert_eq!(text(&w), ["First.", "Second."]);
        assert_eq!(a.committed_until, 18.0);
        // A stretch that is one long segment is taken whole (the window must move on).
        assert_eq!(text(&a.pass(heard(&[("Long.", 18.0, 30.0)]), Pass::Stretch)), ["Long."]);
    }

    #[test]
    fn a_piece_cut_at_a_pause_is_committed_as_heard() {
        let mut a = Agreement::starting_at(2.0);
        let w = a.pass(heard(&[("Energy is conserved.", 2.1, 4.0), ("Momentum too.", 4.3, 5.6)]), Pass::Pause);
        assert_eq!(text(&w), ["Energy is conserved.", "Momentum too."], "no second pass needed");
        a.skip_to(5.8);
        assert_eq!(a.committed_until, 5.8, "the next pass starts at the cut");
    }

    #[test]
    fn a_sentence_built_like_the_last_is_no_repeat() {
        let mut a = Agreement::starting_at(0.0);
        let said = |a: &mut Agreement, t: &str, from: f64, to: f64| {
            text(&a.pass(heard(&[(t, from, to)]), Pass::Stretch)).concat()
        };
        assert_eq!(
            said(&mut a, "Velocity is the rate of change of position.", 0.0, 3.0),
            "Velocity is the rate of change of position."
        );
        // Begun at a segment's end (not a pause) and built the same: its first word differs.
        assert_eq!(
            said(&mut a, "Acceleration is the rate of change of velocity.", 3.0, 6.0),
            "Acceleration is the rate of change of velocity."
        );
        // After a cut in a pause, a pass that starts with the last sentence again is whisper echoing
        // its prompt (the words committed last): cut, the new speech kept. (A teacher saying the very
        // same sentence twice in a row is captioned once.)
        a.skip_to(6.5);
        assert_eq!(
            said(&mut a, "Acceleration is the rate of change of velocity. Mass resists it.", 6.6, 9.0),
            "Mass resists it."
        );
    }

    #[test]
    fn a_long_sentence_heard_again_is_cut_whole() {
        let mut a = Agreement::starting_at(0.0);
        let long = "Sound is a wave of pressure that moves through the air around us and into our ears.";
        assert_eq!(text(&a.pass(heard(&[(long, 0.0, 5.0)]), Pass::Pause)), [long]);
        a.skip_to(5.2);
        let again = heard(&[(long, 5.2, 9.0), ("Light needs no medium.", 9.2, 11.0)]);
        assert_eq!(text(&a.pass(again, Pass::Pause)), ["Light needs no medium."], "17 words said again: cut");
    }

    #[test]
    fn captions_are_tidied() {
        assert_eq!(tidy("\" Energy is conserved."), "Energy is conserved.");
        assert_eq!(tidy(", velocity is the rate."), "velocity is the rate.");
        assert_eq!(tidy("in collisions.\""), "in collisions.");
        assert_eq!(
            tidy("Energy is concerned when no friction acts. Energy is concerned when no friction acts."),
            "Energy is concerned when no friction acts."
        );
        assert_eq!(tidy("One. Two. One."), "One. Two. One.", "only a repeat in a row is dropped");
        assert_eq!(tidy("It is 3.5 m. Yes? Yes!"), "It is 3.5 m. Yes?");
        assert_eq!(tidy("\""), "");
    }

    #[test]
    fn committed_times_never_go_back() {
        let mut a = Agreement::starting_at(5.0);
        let w = a.pass(heard(&[("late", 4.8, 5.6)]), Pass::Final);
        assert_eq!((w[0].start_s, w[0].end_s), (5.0, 5.6));
    }
}
