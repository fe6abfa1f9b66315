//! What the pages show, computed from the log and the folded state with no I/O, so it is the same
//! on every target and unit-tested natively: the "what you missed" card, the replay's state at a
//! playback time (the shared reducer folding events up to it, from the nearest checkpoint), the
//! transcript segment under the playhead, transcript search, and the order questions and polls are
//! listed in.

use chrono::{DateTime, Utc};
use shared_types::media::Segment;
use shared_types::state::{Poll, Question};
use shared_types::{apply, AssetId, EventEnvelope, PollId, Role, SessionEvent, SessionState, UserId};

/// A moment of the class, as seconds from its start (what replay links carry as `?t=`).
#[derive(Clone, Debug, PartialEq)]
pub struct Moment {
    pub label: String,
    pub at_s: f64,
}

/// A poll as the card shows it: options with their votes.
#[derive(Clone, Debug, PartialEq)]
pub struct PollResult {
    pub id: PollId,
    pub prompt: String,
    pub options: Vec<(String, u32)>,
    pub closed: bool,
    pub at_s: f64,
}

/// The "what you missed" card for someone joining a class already under way.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Missed {
    /// Distinct slide pages shown so far, in the order first shown.
    pub slides: Vec<Moment>,
    pub polls: Vec<PollResult>,
    /// Questions the teacher marked answered.
    pub answered: Vec<Moment>,
    pub highlights: Vec<Moment>,
    /// How many events the card was folded from.
    pub events: u64,
}

impl Missed {
    pub fn is_empty(&self) -> bool {
        self.slides.is_empty() && self.polls.is_empty() && self.answered.is_empty() && self.highlights.is_empty()
    }
}

/// Seconds from the class start (or from the first event when it has not started).
pub fn seconds_since(start: Option<DateTime<Utc>>, at: DateTime<Utc>) -> f64 {
    start.map(|s| ((at - s).num_milliseconds() as f64 / 1000.0).max(0.0)).unwrap_or(0.0)
}

/// Fold `events` (the log from sequence 1, ascending) into the card. The polls' tallies come from
/// the same fold, so they are the results at the last event given.
pub fn missed(events: &[EventEnvelope]) -> (Missed, SessionState) {
    let mut state = SessionState::default();
    let mut card = Missed::default();
    let mut seen: Vec<(AssetId, u32)> = Vec::new();
    let mut titles: Vec<(shared_types::QuestionId, String)> = Vec::new();
    for e in events {
        if apply(&mut state, e).is_err() {
            continue;
        }
        card.events += 1;
        let at_s = seconds_since(state.started_at, e.occurred_at);
        match &e.event {
            SessionEvent::SlideShown { asset_id, page } if !seen.contains(&(*asset_id, *page)) => {
                seen.push((*asset_id, *page));
                let deck = state.decks.get(asset_id).and_then(|d| d.title.clone()).unwrap_or_else(|| "Slides".into());
                card.slides.push(Moment { label: format!("{deck} · page {page}"), at_s });
            }
            SessionEvent::QuestionAsked { question_id, content } => titles.push((*question_id, content.clone())),
            SessionEvent::QuestionAnswered { question_id } => {
                if let Some((_, q)) = titles.iter().find(|(id, _)| id == question_id) {
                    card.answered.push(Moment { label: q.clone(), at_s });
                }
            }
            SessionEvent::HighlightMarked { label } => card.highlights.push(Moment { label: label.clone(), at_s }),
            _ => {}
        }
    }
    card.polls = polls_in_order(&state)
        .into_iter()
        .map(|(id, p)| PollResult {
            id,
            prompt: p.prompt.clone(),
            options: p.options.iter().cloned().zip(p.tally()).collect(),
            closed: p.closed,
            at_s: events
                .iter()
                .find(|e| e.sequence == p.sequence)
                .map(|e| seconds_since(state.started_at, e.occurred_at))
                .unwrap_or(0.0),
        })
        .collect();
    (card, state)
}

/// A search snippet's runs: `(text, matched)`, the matched words being those between `«` and `»`.
pub fn marked(snippet: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = snippet;
    while let Some(open) = rest.find('«') {
        if open > 0 {
            out.push((rest[..open].to_string(), false));
        }
        let after = &rest[open + '«'.len_utf8()..];
        match after.find('»') {
            Some(close) => {
                out.push((after[..close].to_string(), true));
                rest = &after[close + '»'.len_utf8()..];
            }
            None => {
                out.push((after.to_string(), false));
                rest = "";
            }
        }
    }
    if !rest.is_empty() {
        out.push((rest.to_string(), false));
    }
    out
}

/// Polls in the order they opened.
pub fn polls_in_order(state: &SessionState) -> Vec<(PollId, &Poll)> {
    let mut polls: Vec<(PollId, &Poll)> = state.polls.iter().map(|(id, p)| (*id, p)).collect();
    polls.sort_by_key(|(_, p)| p.sequence);
    polls
}

/// The poll a student should see: the newest open one, else the newest closed one.
pub fn current_poll(state: &SessionState) -> Option<(PollId, &Poll)> {
    let polls = polls_in_order(state);
    polls.iter().rev().find(|(_, p)| !p.closed).or_else(|| polls.last()).map(|(id, p)| (*id, *p))
}

/// Questions as the Q&A pane lists them: open ones most upvoted first (older first on a tie), then
/// answered ones; dismissed ones are not shown.
pub fn questions_in_order(state: &SessionState) -> Vec<&Question> {
    let mut qs: Vec<&Question> = state.questions.iter().filter(|q| !q.dismissed).collect();
    qs.sort_by_key(|q| (q.answered, std::cmp::Reverse(q.upvoters.len()), q.sequence));
    qs
}

/// Names of a course's people by id (`GET /api/courses/{id}/people`); empty when not known (offline
/// before the first fetch, or a server that does not say).
pub type Names = std::collections::BTreeMap<UserId, String>;

pub fn names(people: &[shared_types::dto::PersonDto]) -> Names {
    people.iter().filter_map(|p| Some((p.user_id, p.name.clone()?))).collect()
}

/// How a participant is named in chat, Q&A and the hand queue: by name when the course's people say
/// it (with "(teacher)" for staff), else by their role when they wrote (`role`) or in the room.
pub fn who(
    state: &SessionState,
    names: &Names,
    user: Option<UserId>,
    role: Option<Role>,
    me: Option<UserId>,
) -> String {
    let Some(u) = user else { return "System".into() };
    if Some(u) == me {
        return "You".into();
    }
    let role = role.or_else(|| state.participants.get(&u).map(|p| p.role));
    match (names.get(&u), role) {
        (Some(n), Some(Role::Teacher)) => format!("{n} (teacher)"),
        (Some(n), Some(Role::Assistant)) => format!("{n} (assistant)"),
        (Some(n), _) => n.clone(),
        (None, Some(Role::Teacher)) => "Teacher".into(),
        (None, Some(Role::Assistant)) => "Assistant".into(),
        (None, _) => format!("Student {}", &u.0.simple().to_string()[..4]),
    }
}

/// The replay's events with checkpoints: the state at any playback time is the nearest checkpoint
/// before it plus a fold of at most `EVERY` events, the same reducer the server runs.
pub struct Timeline {
    events: Vec<EventEnvelope>,
    /// `prefix_max[i]`: the latest `occurredAt` among events `0..=i` (studio events synced late may
    /// carry earlier times than the events before them).
    prefix_max: Vec<DateTime<Utc>>,
    /// (number of events folded, state after them), every `EVERY` events.
    checkpoints: Vec<(usize, SessionState)>,
}

impl Timeline {
    pub const EVERY: usize = 500;

    pub fn new(events: Vec<EventEnvelope>) -> Self {
        let mut prefix_max = Vec::with_capacity(events.len());
        let mut checkpoints = vec![(0, SessionState::default())];
        let mut state = SessionState::default();
        for (i, e) in events.iter().enumerate() {
            let latest = prefix_max.last().map_or(e.occurred_at, |m: &DateTime<Utc>| (*m).max(e.occurred_at));
            prefix_max.push(latest);
            let _ = apply(&mut state, e);
            if (i + 1) % Self::EVERY == 0 {
                checkpoints.push((i + 1, state.clone()));
            }
        }
        Timeline { events, prefix_max, checkpoints }
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// How many events had happened by `t`.
    pub fn count_at(&self, t: DateTime<Utc>) -> usize {
        self.prefix_max.partition_point(|m| *m <= t)
    }

    /// The folded state after the first `n` events.
    pub fn state_after(&self, n: usize) -> SessionState {
        let n = n.min(self.events.len());
        let i = self.checkpoints.partition_point(|(k, _)| *k <= n) - 1;
        let (k, base) = &self.checkpoints[i];
        let mut state = base.clone();
        for e in &self.events[*k..n] {
            let _ = apply(&mut state, e);
        }
        state
    }

    /// The state as it was at `t`.
    pub fn state_at(&self, t: DateTime<Utc>) -> SessionState {
        self.state_after(self.count_at(t))
    }
}

/// How far after a moment a line may start and still count as begun: links carry times to the
/// tenth of a second, so a search hit on a line starting at 11.64 s opens the replay at 11.6.
const LINE_LEAD_S: f64 = 0.05;

/// The segment being spoken at `t` seconds: the last one starting at or before it (or within
/// [`LINE_LEAD_S`] after it).
pub fn segment_at(segments: &[Segment], t: f64) -> Option<usize> {
    let n = segments.partition_point(|s| s.start_s <= t + LINE_LEAD_S);
    (n > 0).then(|| n - 1)
}

/// Segments whose text contains every word of `q` (case-insensitive), in playback order.
pub fn search(segments: &[Segment], q: &str) -> Vec<usize> {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return Vec::new();
    }
    segments
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            let text = s.text.to_lowercase();
            words.iter().all(|w| text.contains(w.as_str()))
        })
        .map(|(i, _)| i)
        .collect()
}

/// `m:ss` or `h:mm:ss`.
pub fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (h, m, s) = (s / 3600, (s / 60) % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// What is wrong with a new password and its repetition, as the form says it (the server's rule:
/// 8 to 1024 characters).
pub fn password_problem(new: &str, repeat: &str) -> Option<&'static str> {
    if new.chars().count() < 8 {
        Some("Choose a password of at least 8 characters.")
    } else if new.len() > 1024 {
        Some("That password is too long.")
    } else if new != repeat {
        Some("The two passwords are not the same.")
    } else {
        None
    }
}

/// How near (a fraction of the board) the eraser must pass to a stroke's point to take it.
pub const ERASE_RADIUS: f64 = 0.015;

/// The strokes with a point within the eraser's reach of `at` (board coordinates 0..1).
pub fn erase_hits(strokes: &[shared_types::events::Stroke], at: [f64; 2]) -> Vec<String> {
    strokes
        .iter()
        .filter(|s| s.points.iter().any(|p| (p[0] - at[0]).hypot(p[1] - at[1]) <= ERASE_RADIUS))
        .map(|s| s.id.clone())
        .collect()
}

/// The studio's undo: the newest stroke's whole gesture (segments `<gesture>~<n>`, sent while the
/// pen moved) erased in one event; a stroke from elsewhere (no `~`) undoes its batch.
pub fn undo_gesture(s: &SessionState, board: &str) -> Option<SessionEvent> {
    let b = s.boards.get(board)?;
    let last = b.batches.iter().flatten().last()?;
    match last.id.rsplit_once('~') {
        Some((gesture, _)) => {
            let prefix = format!("{gesture}~");
            let ids = b.stroke_ids().filter(|id| id.starts_with(&prefix)).map(String::from).collect();
            Some(SessionEvent::WhiteboardStrokeErased { board_id: board.into(), stroke_ids: ids })
        }
        None => Some(SessionEvent::WhiteboardUndone { board_id: board.into() }),
    }
}

/// The browser tab's title for a class page: the lesson first (what tells three tabs apart when
/// they are narrow), then the course and the date, then what the page is ("Live", "Replay", …).
pub fn tab_title(lesson: &str, course: &str, date: &str, what: &str) -> String {
    let lesson = if lesson.trim().is_empty() { "Class" } else { lesson.trim() };
    let mut t = lesson.to_string();
    if !course.trim().is_empty() {
        t.push_str(" — ");
        t.push_str(course.trim());
    }
    if !date.is_empty() {
        t.push_str(", ");
        t.push_str(date);
    }
    format!("{t} · {what}")
}

#[cfg(test)]
mod tests {

    #[test]
    fn people_are_named_by_name_when_the_course_says_it() {
        let (ana, ted, anon) = (UserId::new(), UserId::new(), UserId::new());
        let people = vec![
            shared_types::dto::PersonDto { user_id: ana, name: Some("Ana Lima".into()), role: Role::Student },
            shared_types::dto::PersonDto { user_id: ted, name: Some("Ted Marsh".into()), role: Role::Teacher },
            shared_types::dto::PersonDto { user_id: anon, name: None, role: Role::Student },
        ];
        let n = names(&people);
        let s = SessionState::default();
        assert_eq!(who(&s, &n, Some(ana), Some(Role::Student), None), "Ana Lima");
        assert_eq!(who(&s, &n, Some(ted), Some(Role::Teacher), None), "Ted Marsh (teacher)");
        assert_eq!(who(&s, &n, Some(ana), None, Some(ana)), "You");
        assert!(who(&s, &n, Some(anon), Some(Role::Student), None).starts_with("Student "));
        assert_eq!(who(&s, &Names::new(), Some(ted), Some(Role::Teacher), None), "Teacher");
        assert_eq!(who(&s, &n, None, None, None), "System");
    }

    #[test]
    fn tab_titles_name_the_lesson_first() {
        assert_eq!(tab_title("Forces", "Physics 101", "4 Dec 2026", "Live"), "Forces — Physics 101, 4 Dec 2026 · Live");
        assert_eq!(tab_title(" ", "", "", "Replay"), "Class · Replay");
    }

    #[test]
    fn snippet_marks_split_into_runs() {
        let runs = super::marked("The «Calvin» «cycle» fixes carbon");
        let want = [("The ", false), ("Calvin", true), (" ", false), ("cycle", true), (" fixes carbon", false)];
        assert_eq!(runs, want.map(|(t, m)| (t.to_string(), m)).to_vec());
        assert_eq!(super::marked("no marks"), vec![("no marks".to_string(), false)]);
        assert_eq!(super::marked("open «end"), vec![("open ".to_string(), false), ("end".to_string(), false)]);
    }

    use shared_types::events::Stroke;

    fn stroke(id: &str, points: &[[f64; 2]]) -> Stroke {
        Stroke { id: id.into(), points: points.to_vec(), color: "#000".into(), width: 0.004 }
    }

    #[test]
    fn the_eraser_takes_what_it_touches_only() {
        let strokes = vec![stroke("a", &[[0.1, 0.1], [0.2, 0.2]]), stroke("b", &[[0.8, 0.8]])];
        assert_eq!(super::erase_hits(&strokes, [0.2, 0.21]), vec!["a".to_string()]);
        assert_eq!(super::erase_hits(&strokes, [0.5, 0.5]), Vec::<String>::new());
        assert_eq!(super::erase_hits(&strokes, [0.8 + super::ERASE_RADIUS * 0.9, 0.8]), vec!["b".to_string()]);
    }

    #[test]
    fn undo_takes_the_whole_last_gesture() {
        let mut s = shared_types::SessionState::default();
        let board = s.boards.entry("main".into()).or_default();
        board.batches.push(vec![stroke("g-1~1", &[[0.1, 0.1]])]);
        board.batches.push(vec![stroke("g-2~1", &[[0.2, 0.2]])]);
        board.batches.push(vec![stroke("g-2~2", &[[0.3, 0.3]])]);
        match super::undo_gesture(&s, "main") {
            Some(shared_types::SessionEvent::WhiteboardStrokeErased { board_id, stroke_ids }) => {
                assert_eq!(board_id, "main");
                assert_eq!(stroke_ids, vec!["g-2~1".to_string(), "g-2~2".to_string()], "g-1 stays");
            }
            other => panic!("{other:?}"),
        }
        s.boards.get_mut("main").unwrap().batches.push(vec![stroke("from-the-api", &[[0.4, 0.4]])]);
        assert!(matches!(super::undo_gesture(&s, "main"), Some(shared_types::SessionEvent::WhiteboardUndone { .. })));
        assert_eq!(super::undo_gesture(&s, "empty"), None);
    }

    use super::*;
    use chrono::Duration;
    use shared_types::{QuestionId, SessionId};

    struct Log {
        session: SessionId,
        t0: DateTime<Utc>,
        events: Vec<EventEnvelope>,
    }

    impl Log {
        fn new() -> Self {
            Log { session: SessionId::new(), t0: "2026-12-01T09:00:00Z".parse().unwrap(), events: vec![] }
        }
        fn push(&mut self, at_s: i64, actor: Option<UserId>, role: Option<Role>, event: SessionEvent) {
            let sequence = self.events.len() as u64 + 1;
            let at = self.t0 + Duration::seconds(at_s);
            self.events.push(EventEnvelope {
                session_id: self.session,
                sequence,
                idempotency_key: format!("k{sequence}"),
                version: 1,
                actor_id: actor,
                actor_role: role,
                occurred_at: at,
                recorded_at: at,
                event,
            });
        }
    }

    fn class() -> (Log, UserId, Vec<UserId>, AssetId) {
        let mut log = Log::new();
        let teacher = UserId::new();
        let students: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
        let t = (Some(teacher), Some(Role::Teacher));
        log.push(
            -600,
            t.0,
            t.1,
            SessionEvent::SessionScheduled { scheduled_start: log.t0, scheduled_end: log.t0 + Duration::hours(1) },
        );
        log.push(0, t.0, t.1, SessionEvent::SessionStarted { room: None });
        for s in &students {
            log.push(
                1,
                Some(*s),
                Some(Role::Student),
                SessionEvent::ParticipantJoined { user_id: *s, role: Role::Student },
            );
        }
        let deck = AssetId::new();
        log.push(
            2,
            t.0,
            t.1,
            SessionEvent::SlideDeckAdded { asset_id: deck, page_count: 5, title: Some("Motion".into()) },
        );
        (log, teacher, students, deck)
    }

    #[test]
    fn the_missed_card_counts_distinct_slides_and_shows_poll_results() {
        let (mut log, teacher, students, deck) = class();
        let t = (Some(teacher), Some(Role::Teacher));
        for (at, page) in [(10, 1), (60, 2), (90, 1), (120, 3)] {
            log.push(at, t.0, t.1, SessionEvent::SlideShown { asset_id: deck, page });
        }
        let poll = PollId::new();
        let options = vec!["Yes".to_string(), "No".to_string()];
        log.push(130, t.0, t.1, SessionEvent::PollOpened { poll_id: poll, prompt: "Ready?".into(), options });
        for (s, option) in students.iter().zip([0, 0, 1]) {
            log.push(140, Some(*s), Some(Role::Student), SessionEvent::PollVoted { poll_id: poll, option });
        }
        let q = QuestionId::new();
        log.push(
            150,
            Some(students[0]),
            Some(Role::Student),
            SessionEvent::QuestionAsked { question_id: q, content: "Why is velocity a vector?".into() },
        );
        log.push(
            151,
            Some(students[1]),
            Some(Role::Student),
            SessionEvent::QuestionAsked { question_id: QuestionId::new(), content: "Still open".into() },
        );
        log.push(180, t.0, t.1, SessionEvent::QuestionAnswered { question_id: q });
        log.push(200, t.0, t.1, SessionEvent::HighlightMarked { label: "Newton's first law".into() });

        let (card, state) = missed(&log.events);
        assert_eq!(card.events, log.events.len() as u64);
        assert_eq!(state.head, log.events.len() as u64);
        let labels: Vec<&str> = card.slides.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["Motion · page 1", "Motion · page 2", "Motion · page 3"]);
        assert_eq!(card.slides.iter().map(|m| m.at_s).collect::<Vec<_>>(), [10.0, 60.0, 120.0]);
        assert_eq!(card.polls.len(), 1);
        assert_eq!(card.polls[0].options, [("Yes".to_string(), 2), ("No".to_string(), 1)]);
        assert_eq!(card.polls[0].at_s, 130.0);
        assert_eq!(card.answered, [Moment { label: "Why is velocity a vector?".into(), at_s: 180.0 }]);
        assert_eq!(card.highlights, [Moment { label: "Newton's first law".into(), at_s: 200.0 }]);
        assert!(!card.is_empty());
    }

    #[test]
    fn a_fresh_class_misses_nothing() {
        let (log, ..) = class();
        let (card, _) = missed(&log.events);
        assert!(card.is_empty());
    }

    #[test]
    fn state_at_a_time_equals_folding_the_log_up_to_it() {
        let (mut log, teacher, ..) = class();
        let t = (Some(teacher), Some(Role::Teacher));
        let deck = *log
            .events
            .iter()
            .find_map(|e| match &e.event {
                SessionEvent::SlideDeckAdded { asset_id, .. } => Some(asset_id),
                _ => None,
            })
            .unwrap();
        for i in 0..2_000i64 {
            log.push(10 + i, t.0, t.1, SessionEvent::SlideShown { asset_id: deck, page: (i % 5) as u32 + 1 });
        }
        let events = log.events.clone();
        let timeline = Timeline::new(events.clone());
        for at in [0i64, 9, 10, 11, 509, 510, 1_337, 2_009, 5_000] {
            let when = log.t0 + Duration::seconds(at);
            let n = events.iter().filter(|e| e.occurred_at <= when).count();
            let full = shared_types::fold(&events[..n]).unwrap();
            assert_eq!(timeline.state_at(when), full, "at {at} s");
        }
        let at = log.t0 + Duration::seconds(10 + 1_337);
        assert_eq!(timeline.state_at(at).current_slide.unwrap().page, (1_337 % 5) as u32 + 1);
    }

    #[test]
    fn questions_open_most_upvoted_first_then_answered() {
        let (mut log, teacher, students, _) = class();
        let t = (Some(teacher), Some(Role::Teacher));
        let ids: Vec<QuestionId> = (0..3).map(|_| QuestionId::new()).collect();
        for (i, id) in ids.iter().enumerate() {
            log.push(
                10,
                Some(students[i]),
                Some(Role::Student),
                SessionEvent::QuestionAsked { question_id: *id, content: format!("q{i}") },
            );
        }
        log.push(11, Some(students[0]), Some(Role::Student), SessionEvent::QuestionUpvoted { question_id: ids[2] });
        log.push(12, Some(students[1]), Some(Role::Student), SessionEvent::QuestionUpvoted { question_id: ids[0] });
        log.push(13, Some(students[2]), Some(Role::Student), SessionEvent::QuestionUpvoted { question_id: ids[0] });
        log.push(14, t.0, t.1, SessionEvent::QuestionAnswered { question_id: ids[0] });
        let state = shared_types::fold(&log.events).unwrap();
        let order: Vec<&str> = questions_in_order(&state).iter().map(|q| q.content.as_str()).collect();
        assert_eq!(order, ["q2", "q1", "q0"]);
    }

    #[test]
    fn the_current_poll_is_the_newest_open_one() {
        let (mut log, teacher, ..) = class();
        let t = (Some(teacher), Some(Role::Teacher));
        let (a, b) = (PollId::new(), PollId::new());
        let opts = || vec!["x".to_string(), "y".to_string()];
        log.push(10, t.0, t.1, SessionEvent::PollOpened { poll_id: a, prompt: "A".into(), options: opts() });
        log.push(20, t.0, t.1, SessionEvent::PollOpened { poll_id: b, prompt: "B".into(), options: opts() });
        let state = shared_types::fold(&log.events).unwrap();
        assert_eq!(current_poll(&state).unwrap().1.prompt, "B");
        log.push(30, t.0, t.1, SessionEvent::PollClosed { poll_id: b });
        let state = shared_types::fold(&log.events).unwrap();
        assert_eq!(current_poll(&state).unwrap().1.prompt, "A");
        log.push(40, t.0, t.1, SessionEvent::PollClosed { poll_id: a });
        let state = shared_types::fold(&log.events).unwrap();
        assert_eq!(current_poll(&state).unwrap().1.prompt, "B", "all closed: the newest");
    }

    #[test]
    fn segments_follow_the_playhead_and_search_matches_every_word() {
        let seg = |a: f64, b: f64, text: &str| Segment {
            start_s: a,
            end_s: b,
            text: text.into(),
            scene_id: None,
            slide: None,
        };
        let segs = vec![
            seg(0.0, 4.0, "Good morning class"),
            seg(4.0, 9.0, "Velocity is a vector"),
            seg(9.5, 12.0, "A vector has direction"),
        ];
        assert_eq!(segment_at(&segs, -1.0), None);
        assert_eq!(segment_at(&segs, 0.0), Some(0));
        assert_eq!(segment_at(&segs, 4.0), Some(1));
        assert_eq!(segment_at(&segs, 9.2), Some(1));
        assert_eq!(segment_at(&segs, 100.0), Some(2));
        // A link to a line rounds its start to the tenth: the line it names is the one marked.
        let hit = vec![seg(8.0, 11.64, "A chosen origin"), seg(11.64, 13.0, "Now velocity")];
        assert_eq!(segment_at(&hit, 11.6), Some(1));
        assert_eq!(segment_at(&hit, 11.5), Some(0));
        assert_eq!(search(&segs, "VECTOR"), [1, 2]);
        assert_eq!(search(&segs, "vector direction"), [2]);
        assert!(search(&segs, "  ").is_empty());
        assert_eq!(clock(65.4), "1:05");
        assert_eq!(clock(3_725.0), "1:02:05");
    }

    #[test]
    fn a_new_password_is_long_enough_and_typed_twice_alike() {
        assert!(password_problem("short", "short").unwrap().contains("8 characters"));
        assert!(password_problem("long enough", "long enougH").unwrap().contains("not the same"));
        assert!(password_problem(&"x".repeat(1025), &"x".repeat(1025)).is_some());
        assert_eq!(password_problem("long enough", "long enough"), None);
        // Characters, not bytes: eight accented letters are enough.
        assert_eq!(password_problem("éééééééé", "éééééééé"), None);
    }
}
