//! The replay page: the recording from its signed URL with its WebVTT captions, the transcript that
//! follows playback and seeks on click, search in it, chapters and highlights on a timeline, Q→A
//! links, and the slide, whiteboard and chat as they were at the playhead — the shared reducer
//! folding the log up to that moment (`view::Timeline`). The transcript and chapters come first;
//! the log is fetched page by page after them.

use crate::api;
use crate::board::{BoardCanvas, SlideImage};
use crate::view::{self, Timeline};
use chrono::{DateTime, Duration, Utc};
use shared_types::dto::EventsPage;
use shared_types::media::ReplayDto;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlMediaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ReplayProps {
    pub session: String,
    /// Seconds from the class start to open at (links from "what you missed").
    pub start_at: Option<f64>,
    /// Seconds on the recording's clock to open at (a search hit: transcript times).
    #[prop_or_default]
    pub recording_at: Option<f64>,
}

#[derive(Clone)]
struct Log(Rc<Timeline>);

impl PartialEq for Log {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

#[function_component(Replay)]
pub fn replay(props: &ReplayProps) -> Html {
    let replay = use_state(|| None::<Result<Rc<ReplayDto>, String>>);
    let log = use_state(|| None::<Log>);
    let now = use_state(|| 0.0f64);
    let duration = use_state(|| 0.0f64);
    let query = use_state(String::new);
    let names = use_state(|| Rc::new(view::Names::new()));
    let player = use_node_ref();
    let transcript = use_node_ref();
    {
        let (replay, log, session, names) = (replay.clone(), log.clone(), props.session.clone(), names.clone());
        use_effect_with(session.clone(), move |_| {
            spawn_local(async move {
                let got = api::get::<ReplayDto>(&format!("/api/replays/{session}")).await;
                let head = got.as_ref().map(|r| r.state.head).unwrap_or(0);
                if let Ok(r) = &got {
                    // Names for the chat; without them it names people by role.
                    let path = format!("/api/courses/{}/people", r.session.course_id);
                    spawn_local(async move {
                        if let Ok(p) = api::get::<shared_types::dto::People>(&path).await {
                            names.set(Rc::new(view::names(&p.people)));
                        }
                    });
                }
                replay.set(Some(got.map(Rc::new).map_err(|e| e.message)));
                let mut events = Vec::new();
                let mut after = 0;
                while after < head {
                    let Ok(page) =
                        api::get::<EventsPage>(&format!("/api/sessions/{session}/events?after={after}&limit=1000"))
                            .await
                    else {
                        break;
                    };
                    let Some(last) = page.events.last().map(|e| e.sequence) else { break };
                    events.extend(page.events);
                    after = last;
                }
                log.set(Some(Log(Rc::new(Timeline::new(events)))));
            });
        });
    }
    let r = match (*replay).clone() {
        None => return html! { <p class="muted" aria-live="polite">{ "Loading the replay…" }</p> },
        Some(Err(e)) => {
            return html! {
                <section class="empty card"><h1>{ "Replay unavailable" }</h1><p class="error" role="alert">{ e }</p><p><a href="#/">{ "Back to my courses" }</a></p></section>
            }
        }
        Some(Ok(r)) => r,
    };
    let recording = r.recordings.first().cloned();
    // Where playback time 0 is on the log's clock, and where the class started.
    let rec_start: Option<DateTime<Utc>> = recording.as_ref().and_then(|x| x.started_at).or(r.state.started_at);
    let class_start = r.state.started_at.or(rec_start);
    let offset = match (rec_start, class_start) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    let seek = {
        let player = player.clone();
        Callback::from(move |t: f64| {
            if let Some(p) = player.cast::<HtmlMediaElement>() {
                p.set_current_time(t.max(0.0));
            }
        })
    };
    let on_time = {
        let (now, player) = (now.clone(), player.clone());
        Callback::from(move |_: Event| {
            if let Some(p) = player.cast::<HtmlMediaElement>() {
                now.set(p.current_time());
            }
        })
    };
    let on_meta = {
        let (duration, player, seek, start_at, at) =
            (duration.clone(), player.clone(), seek.clone(), props.start_at, props.recording_at);
        Callback::from(move |_: Event| {
            if let Some(p) = player.cast::<HtmlMediaElement>() {
                duration.set(p.duration());
                if let Some(at) = at {
                    seek.emit(at);
                } else if let Some(t) = start_at {
                    seek.emit(t + offset);
                }
            }
        })
    };
    let segments: &[shared_types::media::Segment] = r.transcript.as_ref().map(|t| t.segments.as_slice()).unwrap_or(&[]);
    let active = view::segment_at(segments, *now);
    {
        let transcript = transcript.clone();
        let searching = !query.is_empty();
        use_effect_with(active, move |active| {
            if let (Some(i), false) = (active, searching) {
                if let Some(el) = transcript
                    .cast::<web_sys::Element>()
                    .and_then(|t| t.query_selector(&format!("[data-seg='{i}']")).ok().flatten())
                {
                    let opts = web_sys::ScrollIntoViewOptions::new();
                    opts.set_block(web_sys::ScrollLogicalPosition::Nearest);
                    el.scroll_into_view_with_scroll_into_view_options(&opts);
                }
            }
        });
    }
    let on_search = {
        let query = query.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(i) = e.target().and_then(|t| t.dyn_into::<HtmlInputElement>().ok()) {
                query.set(i.value());
            }
        })
    };
    let shown: Vec<usize> =
        if query.trim().is_empty() { (0..segments.len()).collect() } else { view::search(segments, &query) };
    let total = if *duration > 0.0 && duration.is_finite() {
        *duration
    } else {
        recording.as_ref().and_then(|x| x.duration_s).or(segments.last().map(|s| s.end_s)).unwrap_or(1.0)
    };
    let pct = |t: f64| (t / total * 100.0).clamp(0.0, 100.0);
    let at_playhead = log.as_ref().zip(rec_start).map(|(l, start)| {
        let when = start + Duration::milliseconds((*now * 1000.0) as i64);
        l.0.state_at(when)
    });
    let failed = r.artifacts.iter().any(|a| a.status == shared_types::jobs::ArtifactStatus::Failed);
    // A class in a language the school's recogniser does not transcribe: said as it is.
    let refused = r
        .artifacts
        .iter()
        .filter_map(|a| a.error.as_deref())
        .find(|e| shared_types::speech::is_refusal(e))
        .map(str::to_string);
    // A recording is there but the pipeline has not finished with it yet.
    let processing = !r.recordings.is_empty() && r.transcript.is_none() && !failed;

    html! {
        <div class="replay">
            <header class="room-head">
                <crate::app::ClassTitle session={r.session.clone()} when={class_start.unwrap_or(r.session.scheduled_start)} what="Replay" />
                <span class="badge">{ "Replay" }</span>
                <a class="button ghost" href="#/">{ "My courses" }</a>
            </header>
            <div class="replay-grid">
                <div class="stage-col">
                    if let Some(rec) = recording.clone() {
                        <video id="player" ref={player} class={classes!("player", rec.content_type.starts_with("audio/").then_some("audio"))} controls=true preload="metadata" src={rec.url.clone()}
                            ontimeupdate={on_time.clone()} onseeked={on_time} onloadedmetadata={on_meta}>
                            if let Some(c) = r.captions_url.clone() {
                                <track kind="captions" src={c} srclang="en" label="English" default=true />
                            }
                        </video>
                    } else {
                        <p class="note">{ "No recording of this class was uploaded." }</p>
                    }
                    <div class="timeline" aria-label="Chapters and highlights">
                        { for r.chapters.iter().enumerate().map(|(i, c)| html! {
                            <span class={classes!("chapter-span", (i % 2 == 1).then_some("alt"))} style={format!("left:{}%;width:{}%", pct(c.start_s), pct(c.end_s) - pct(c.start_s))} title={c.title.clone()}></span>
                        }) }
                        { for r.highlights.iter().map(|h| {
                            let seek = seek.clone();
                            let t = h.at_s;
                            html! { <button class="marker" style={format!("left:{}%", pct(t))} aria-label={format!("Highlight at {}: {}", view::clock(t), h.label)} onclick={move |_| seek.emit(t)}></button> }
                        }) }
                        <span class="playhead" style={format!("left:{}%", pct(*now))} aria-hidden="true"></span>
                    </div>
                    <div class="at-playhead">
                        <section class="pane" aria-labelledby="then-slide">
                            <h2 id="then-slide">{ "Slide at this moment" }</h2>
                            if let Some(s) = at_playhead.as_ref() {
                                <div class="stage-box small">
                                    <div class="item slide"><SlideImage slide={s.current_slide} /></div>
                                    {
                                        match s.boards.iter().next() {
                                            Some((id, b)) => html! { <div class="item board"><BoardCanvas board={id.clone()} strokes={Rc::new(b.batches.concat())} /></div> },
                                            None => html! {},
                                        }
                                    }
                                </div>
                            } else {
                                <p class="muted">{ "Loading the class's slides and chat…" }</p>
                            }
                        </section>
                        <section class="pane" aria-labelledby="then-chat">
                            <h2 id="then-chat">{ "Chat so far" }</h2>
                            <ol id="replay-chat" class="list chat-list" tabindex="0" aria-label="Chat up to this moment">
                                { for at_playhead.iter().flat_map(|s| { let shown: Vec<_> = s.chat.iter().filter(|m| !m.hidden).collect(); shown[shown.len().saturating_sub(30)..].iter().map(|m| html! {
                                    <li><span class="author">{ view::who(s, &names, m.author, m.author_role, None) }</span>{ " " }{ m.content.clone() }</li>
                                }).collect::<Vec<_>>() }) }
                            </ol>
                        </section>
                    </div>
                </div>
                <aside class="side" aria-label="Transcript and chapters">
                    <section class="pane" aria-labelledby="chapters-title">
                        <h2 id="chapters-title">{ "Chapters" }</h2>
                        if r.chapters.is_empty() { <p class="muted">{ if processing { "Chapters are being made…" } else { "No chapters." } }</p> }
                        <ol id="chapters" class="list">
                            { for r.chapters.iter().map(|c| {
                                let seek = seek.clone();
                                let t = c.start_s;
                                let current = *now >= c.start_s && *now < c.end_s;
                                html! { <li><button class={classes!("link-button", current.then_some("now"))} data-start={t.to_string()} onclick={move |_| seek.emit(t)}>
                                    <span class="time">{ view::clock(t) }</span>{ c.title.clone() }</button></li> }
                            }) }
                        </ol>
                    </section>
                    if !r.highlights.is_empty() {
                        <section class="pane" aria-labelledby="hl-title">
                            <h2 id="hl-title">{ "Highlights" }</h2>
                            <ul id="highlights" class="list">
                                { for r.highlights.iter().map(|h| {
                                    let seek = seek.clone();
                                    let t = h.at_s;
                                    html! { <li><button class="link-button" onclick={move |_| seek.emit(t)}><span class="time">{ view::clock(t) }</span>{ h.label.clone() }</button></li> }
                                }) }
                            </ul>
                        </section>
                    }
                    if !r.qa_links.is_empty() {
                        <section class="pane" aria-labelledby="qa-title">
                            <h2 id="qa-title">{ "Questions and answers" }</h2>
                            <ul class="list">
                                { for r.qa_links.iter().map(|q| {
                                    let seek = seek.clone();
                                    let t = q.start_s;
                                    html! { <li><p class="text">{ q.question.clone() }</p><button class="link-button" onclick={move |_| seek.emit(t)}>
                                        { format!("Answered at {}", view::clock(t)) }</button></li> }
                                }) }
                            </ul>
                        </section>
                    }
                    <section class="pane transcript" aria-labelledby="tr-title">
                        <h2 id="tr-title">{ "Transcript" }</h2>
                        if segments.is_empty() {
                            if let Some(why) = &refused {
                                <p class="muted" id="transcript-refused">{ why.clone() }</p>
                            } else {
                            <p class="muted">{ if processing { "The transcript is being made; it appears here when ready." } else if failed { "The transcript could not be made; your school's admin can retry it." } else { "No transcript for this class." } }</p>
                            }
                        } else {
                            <label class="sr-only" for="search">{ "Search the transcript" }</label>
                            <input id="search" type="search" placeholder="Search the transcript" oninput={on_search} />
                            if !query.trim().is_empty() { <p class="muted" aria-live="polite">{ format!("{} matches", shown.len()) }</p> }
                            <ol id="transcript" class="list segments" ref={transcript} tabindex="0" aria-label="Transcript segments">
                                { for shown.iter().map(|&i| {
                                    let s = &segments[i];
                                    let seek = seek.clone();
                                    let t = s.start_s;
                                    let now = active == Some(i);
                                    html! { <li><button class={classes!("segment", now.then_some("now"))} data-seg={i.to_string()} aria-current={now.then_some("true")}
                                        onclick={move |_| seek.emit(t)}><span class="time">{ view::clock(t) }</span>{ s.text.clone() }</button></li> }
                                }) }
                            </ol>
                        }
                    </section>
                </aside>
            </div>
        </div>
    }
}
