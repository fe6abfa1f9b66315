//! Alignment and derivation: pure functions from (transcript, event log, recording start) to
//! tagged segments, chapters (titled by the slide page's heading when it has text), highlights,
//! WebVTT captions and question→answer links.

use crate::text;
use crate::transcribe::Segment;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared_types::media::PageTexts;
pub use shared_types::media::{Chapter, Highlight, QaLink};
use shared_types::{EventEnvelope, SessionEvent};
use std::collections::BTreeMap;

/// Seconds from the recording's first sample to `t`.
pub fn rel(t: DateTime<Utc>, start: DateTime<Utc>) -> f64 {
    (t - start).num_milliseconds() as f64 / 1000.0
}

/// When the recording started, in event-log time: the upload's own claim, else the latest
/// `recording.started` before the class ended, else `session.started`, else the first event.
pub fn recording_start(claimed: Option<DateTime<Utc>>, events: &[EventEnvelope]) -> Option<DateTime<Utc>> {
    claimed
        .or_else(|| {
            events
                .iter()
                .rev()
                .find_map(|e| matches!(e.event, SessionEvent::RecordingStarted { .. }).then_some(e.occurred_at))
        })
        .or_else(|| {
            events.iter().find_map(|e| matches!(e.event, SessionEvent::SessionStarted { .. }).then_some(e.occurred_at))
        })
        .or_else(|| events.first().map(|e| e.occurred_at))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnScreen {
    pub scene_id: Option<String>,
    pub asset_id: Option<String>,
    pub page: Option<u32>,
}

/// What was on screen from each moment on (recording-relative seconds, ascending).
pub fn screen_timeline(events: &[EventEnvelope], start: DateTime<Utc>) -> Vec<(f64, OnScreen)> {
    let mut cur = OnScreen { scene_id: None, asset_id: None, page: None };
    let mut out: Vec<(f64, OnScreen)> = vec![(f64::NEG_INFINITY, cur.clone())];
    for e in events {
        let changed = match &e.event {
            SessionEvent::SlideShown { asset_id, page } => {
                cur.asset_id = Some(asset_id.to_string());
                cur.page = Some(*page);
                true
            }
            SessionEvent::SceneChanged { scene_id } => {
                cur.scene_id = Some(scene_id.to_string());
                true
            }
            _ => false,
        };
        if changed {
            out.push((rel(e.occurred_at, start), cur.clone()));
        }
    }
    out
}

fn at(timeline: &[(f64, OnScreen)], t: f64) -> &OnScreen {
    let i = timeline.partition_point(|(s, _)| *s <= t);
    &timeline[i.saturating_sub(1)].1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tagged {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    pub screen: OnScreen,
}

/// Tag each segment with what was on screen at its midpoint.
pub fn tag(segments: &[Segment], timeline: &[(f64, OnScreen)]) -> Vec<Tagged> {
    segments
        .iter()
        .map(|s| Tagged {
            start_s: s.start_s,
            end_s: s.end_s,
            text: s.text.clone(),
            screen: at(timeline, (s.start_s + s.end_s) / 2.0).clone(),
        })
        .collect()
}

/// Chapters start at slide and scene changes; long stretches without one are split where the
/// words shift topic. Titles use the deck's title and page when known, plus the key terms spoken.
pub fn chapters(
    tagged: &[Tagged],
    events: &[EventEnvelope],
    start: DateTime<Utc>,
    duration: f64,
    deck_titles: &BTreeMap<String, String>,
    pages: &PageTexts,
) -> Vec<Chapter> {
    const MIN_GAP: f64 = 8.0;
    let mut bounds: Vec<(f64, String)> = vec![(0.0, "start".into())];
    for e in events {
        let reason = match e.event {
            SessionEvent::SlideShown { .. } => "slide",
            SessionEvent::SceneChanged { .. } => "scene",
            _ => continue,
        };
        let t = rel(e.occurred_at, start).clamp(0.0, duration);
        if t >= duration - MIN_GAP / 2.0 {
            continue;
        }
        match bounds.last_mut() {
            // Changes close together (a scene switch then its slide) open one chapter.
            Some(last) if t - last.0 < MIN_GAP => {
                if last.1 == "start" && t < MIN_GAP {
                    last.1 = reason.into();
                }
            }
            _ => bounds.push((t, reason.into())),
        }
    }
    // Topic shifts inside long chapters: where the words before and after share the least.
    let mut refined = Vec::new();
    for (i, b) in bounds.iter().enumerate() {
        refined.push(b.clone());
        let end = bounds.get(i + 1).map(|n| n.0).unwrap_or(duration);
        if end - b.0 < 120.0 {
            continue;
        }
        let inside: Vec<&Tagged> = tagged.iter().filter(|s| s.start_s >= b.0 && s.start_s < end).collect();
        let mut best: Option<(f64, f64)> = None;
        for k in 2..inside.len().saturating_sub(2) {
            let t = inside[k].start_s;
            if t - b.0 < 45.0 || end - t < 45.0 {
                continue;
            }
            let before: String =
                inside[k.saturating_sub(4)..k].iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
            let after: String =
                inside[k..(k + 4).min(inside.len())].iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
            let o = text::overlap(&before, &after);
            if best.is_none_or(|(_, bo)| o < bo) {
                best = Some((t, o));
            }
        }
        if let Some((t, o)) = best {
            if o < 0.05 {
                refined.push((t, "topic".into()));
            }
        }
    }
    let timeline = screen_timeline(events, start);
    refined
        .iter()
        .enumerate()
        .map(|(i, (s, reason))| {
            let e = refined.get(i + 1).map(|n| n.0).unwrap_or(duration);
            let spoken: String = tagged
                .iter()
                .filter(|x| x.start_s >= *s - 0.5 && x.start_s < e)
                .map(|x| x.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let screen = at(&timeline, s + 0.5);
            // The slide page's own heading (its first line), when it has text.
            let heading = screen.asset_id.as_ref().and_then(|a| {
                let key = (a.parse().ok()?, screen.page.unwrap_or(1));
                pages.get(&key)?.lines().map(str::trim).find(|l| !l.is_empty()).map(str::to_string)
            });
            if let Some(heading) = heading {
                // The words said most, but for those the heading has.
                let shown = text::words(&heading);
                let terms: Vec<String> =
                    text::key_terms(&spoken, 6).into_iter().filter(|t| !shown.contains(t)).take(3).collect();
                let title = if terms.is_empty() { heading } else { format!("{heading}: {}", terms.join(", ")) };
                return Chapter { start_s: *s, end_s: e, title, reason: reason.clone() };
            }
            let terms = text::key_terms(&spoken, 3);
            let slide =
                screen.asset_id.as_ref().and_then(|a| deck_titles.get(a).map(|t| (t, screen.page.unwrap_or(1))));
            let title = match (slide, terms.is_empty()) {
                (Some((deck, page)), false) => format!("{deck}, slide {page}: {}", terms.join(", ")),
                (Some((deck, page)), true) => format!("{deck}, slide {page}"),
                (None, false) => capitalise(&terms.join(", ")),
                (None, true) => format!("Part {}", i + 1),
            };
            Chapter { start_s: *s, end_s: e, title, reason: reason.clone() }
        })
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// One interaction: when, what kind, and the poll it was about.
type Interaction = (f64, &'static str, Option<String>);

/// Teacher marks, plus bursts: 30-second windows with at least 4 interactions and at least twice
/// the class's average per window.
pub fn highlights(events: &[EventEnvelope], start: DateTime<Utc>, duration: f64) -> Vec<Highlight> {
    const WINDOW: f64 = 30.0;
    let mut out: Vec<Highlight> = events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::HighlightMarked { label } => Some(Highlight {
                at_s: rel(e.occurred_at, start).clamp(0.0, duration),
                label: label.clone(),
                reason: "marked".into(),
            }),
            _ => None,
        })
        .collect();
    let polls: BTreeMap<String, String> = events
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::PollOpened { poll_id, prompt, .. } => Some((poll_id.to_string(), prompt.clone())),
            _ => None,
        })
        .collect();
    // kind of interaction per window
    let mut windows: BTreeMap<i64, Vec<Interaction>> = BTreeMap::new();
    for e in events {
        let (kind, poll) = match &e.event {
            SessionEvent::QuestionAsked { .. } | SessionEvent::QuestionUpvoted { .. } => ("questions", None),
            SessionEvent::PollVoted { poll_id, .. } => ("poll", Some(poll_id.to_string())),
            SessionEvent::ChatPosted { .. } => ("chat", None),
            SessionEvent::HandRaised {} => ("hands", None),
            _ => continue,
        };
        let t = rel(e.occurred_at, start);
        if !(0.0..=duration).contains(&t) {
            continue;
        }
        windows.entry((t / WINDOW).floor() as i64).or_default().push((t, kind, poll));
    }
    let n_windows = (duration / WINDOW).ceil().max(1.0);
    let total: usize = windows.values().map(Vec::len).sum();
    let mean = total as f64 / n_windows;
    let mut last_burst: Option<i64> = None;
    for (w, items) in &windows {
        if items.len() < 4 || (items.len() as f64) < 2.0 * mean {
            continue;
        }
        if last_burst == Some(w - 1) {
            last_burst = Some(*w);
            continue; // one highlight per run of busy windows
        }
        last_burst = Some(*w);
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, k, _) in items {
            *counts.entry(k).or_default() += 1;
        }
        let top = counts.iter().max_by_key(|(_, n)| **n).map(|(k, _)| *k).unwrap_or("chat");
        let label = match top {
            "poll" => {
                let prompt = items.iter().find_map(|(_, _, p)| p.as_ref().and_then(|p| polls.get(p)));
                format!("Poll activity: {}", prompt.map(String::as_str).unwrap_or("votes"))
            }
            "questions" => "Burst of questions".into(),
            "hands" => "Many hands raised".into(),
            _ => "Lively chat".into(),
        };
        out.push(Highlight { at_s: items[0].0, label, reason: "activity".into() });
    }
    out.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    out
}

/// For each answered question, the transcript span where the teacher answered it: within the time
/// between asking and marking answered (plus a little), the run of segments sharing the most words
/// with the question; failing any overlap, the segments just before it was marked answered.
pub fn qa_links(tagged: &[Tagged], events: &[EventEnvelope], start: DateTime<Utc>) -> Vec<QaLink> {
    let mut asked: BTreeMap<String, (f64, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for e in events {
        match &e.event {
            SessionEvent::QuestionAsked { question_id, content } => {
                asked.insert(question_id.to_string(), (rel(e.occurred_at, start), content.clone()));
            }
            SessionEvent::QuestionAnswered { question_id } => {
                let Some((t_ask, q)) = asked.get(&question_id.to_string()) else { continue };
                let t_ans = rel(e.occurred_at, start);
                let window: Vec<&Tagged> =
                    tagged.iter().filter(|s| s.end_s >= *t_ask && s.start_s <= t_ans + 15.0).collect();
                if window.is_empty() {
                    continue;
                }
                let scores: Vec<f64> = window.iter().map(|s| text::overlap(q, &s.text)).collect();
                let best = scores.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
                let (from, to) = if scores[best] > 0.0 {
                    // Grow the span while neighbours still share words with the question.
                    let mut from = best;
                    while from > 0 && scores[from - 1] > 0.0 {
                        from -= 1;
                    }
                    let mut to = best;
                    while to + 1 < window.len() && scores[to + 1] > 0.0 {
                        to += 1;
                    }
                    (from, to)
                } else {
                    let last = window.iter().rposition(|s| s.start_s <= t_ans).unwrap_or(window.len() - 1);
                    (last.saturating_sub(1), last)
                };
                let text = window[from..=to].iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
                out.push(QaLink {
                    question_id: question_id.to_string(),
                    question: q.clone(),
                    start_s: window[from].start_s,
                    end_s: window[to].end_s,
                    text,
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(a: f64, b: f64, t: &str) -> Segment {
        Segment { start_s: a, end_s: b, text: t.into(), words: vec![] }
    }

    #[test]
    fn vtt_is_well_formed() {
        let segs = [seg(0.0, 1.5, "Hello there."), seg(61.25, 3725.0, "Bye --> now")];
        let v = shared_types::media::webvtt(segs.iter().map(|s| (s.start_s, s.end_s, s.text.as_str())));
        assert!(v.starts_with("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.500\nHello there.\n\n"));
        assert!(v.contains("2\n00:01:01.250 --> 01:02:05.000\nBye -> now\n"));
    }
}
