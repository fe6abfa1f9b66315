//! What course search finds beside the transcript: slide pages from when they were first shown
//! during the recording, questions from when they were asked (not dismissed ones).

use chrono::{DateTime, Duration, TimeZone, Utc};
use shared_types::media::{lecture_texts, HitKind, PageTexts};
use shared_types::*;

fn at(start: DateTime<Utc>, s: f64) -> DateTime<Utc> {
    start + Duration::milliseconds((s * 1000.0) as i64)
}

fn log(start: DateTime<Utc>, events: Vec<(f64, SessionEvent)>) -> Vec<EventEnvelope> {
    let session = SessionId(uuid::Uuid::from_u128(1));
    events
        .into_iter()
        .enumerate()
        .map(|(i, (s, event))| EventEnvelope {
            session_id: session,
            sequence: i as u64 + 1,
            idempotency_key: format!("k{i}"),
            version: 1,
            actor_id: None,
            actor_role: None,
            occurred_at: at(start, s),
            recorded_at: at(start, s),
            event,
        })
        .collect()
}

#[test]
fn slides_from_their_first_showing_and_questions_when_asked() {
    let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let (deck, other) = (AssetId(uuid::Uuid::from_u128(7)), AssetId(uuid::Uuid::from_u128(8)));
    let shown = |asset_id, page| SessionEvent::SlideShown { asset_id, page };
    let (q1, q2, q3) = (
        QuestionId(uuid::Uuid::from_u128(11)),
        QuestionId(uuid::Uuid::from_u128(12)),
        QuestionId(uuid::Uuid::from_u128(13)),
    );
    let ask = |question_id, content: &str| SessionEvent::QuestionAsked { question_id, content: content.into() };
    let events = log(
        start,
        vec![
            (-20.0, shown(deck, 1)), // before the recording: only page 1's time on it counts
            (-10.0, ask(q1, "Is the first page on the test?")),
            (5.0, shown(deck, 2)),
            (5.5, shown(deck, 2)),  // the same page again is the same showing
            (30.0, shown(deck, 3)), // no text: not searchable
            (40.0, ask(q2, "Why is the sky blue?")),
            (45.0, shown(deck, 2)), // shown again: the first showing stands
            (50.0, shown(other, 1)),
            (55.0, SessionEvent::QuestionAnswered { question_id: q2 }),
            (58.0, ask(q3, "Off topic")),
            (59.0, SessionEvent::QuestionDismissed { question_id: q3 }),
        ],
    );
    let pages: PageTexts = [
        ((deck, 1), "Optics".to_string()),
        ((deck, 2), "Rayleigh scattering".to_string()),
        ((deck, 3), " ".to_string()),
        ((other, 1), "Summary".to_string()),
    ]
    .into();
    let texts = lecture_texts(&events, start, 70.0, &pages);
    let got: Vec<(HitKind, f64, f64, &str, Option<u32>)> = texts
        .iter()
        .map(|t| (t.kind, t.start_s, t.end_s, t.text.as_str(), t.slide.as_ref().and_then(|s| s.page)))
        .collect();
    assert_eq!(
        got,
        vec![
            (HitKind::Slide, 0.0, 5.0, "Optics", Some(1)),
            (HitKind::Question, 0.0, 0.0, "Is the first page on the test?", None),
            (HitKind::Slide, 5.0, 30.0, "Rayleigh scattering", Some(2)),
            (HitKind::Question, 40.0, 55.0, "Why is the sky blue?", None),
            (HitKind::Slide, 50.0, 70.0, "Summary", Some(1)),
        ]
    );
    // Shown only before the recording began: not in it.
    let early = log(start, vec![(-20.0, shown(deck, 1)), (-5.0, shown(deck, 2))]);
    let texts = lecture_texts(&early, start, 70.0, &pages);
    assert_eq!(texts.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["Rayleigh scattering"]);
}
