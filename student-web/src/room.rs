//! The live room: the active scene (teacher video, the current slide, the whiteboard, images) from
//! the folded state, chat, Q&A, polls, hands, the connection indicator, and for someone joining late
//! the "what you missed" card. With `present`, the teacher's controls too: start and end the class,
//! go live, move through the slides, open and close polls, answer and dismiss questions.
//!
//! The state is `GET …/state` at join, then every live event folded with `shared_types::apply` —
//! the same reducer as the server — so what the page shows is what `GET …/state` says.

use crate::api;
use crate::app::{replay_href, ClassTitle, Me};
use crate::board::{BoardCanvas, SlideImage};
use crate::live::{Link, LiveFeed};
use crate::media_ui::{expose, MediaBroadcast, MediaWatch};
use crate::view::{self, Missed};
use shared_types::dto::{JoinResponse, SessionAction, SessionDto, StateResponse};
use shared_types::events::LayoutItem;
use shared_types::media::AssetDto;
use shared_types::requests::{Hand, LowerHand, Mark, OpenPoll, PostText, ShowSlide, Vote};
use shared_types::state::SessionStatus;
use shared_types::{apply, EventEnvelope, SessionId, SessionState, UserId};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct RoomProps {
    pub session: String,
    pub present: bool,
}

#[derive(Clone, PartialEq)]
enum Phase {
    Loading,
    /// Not live: the session as it is (scheduled or ended).
    Waiting(SessionDto),
    Joined(Rc<JoinResponse>, Rc<SessionDto>),
    Failed(String),
}

/// The folded state shared by the room's parts; `version` changes whenever it does.
#[derive(Clone)]
pub struct Model(pub Rc<RefCell<SessionState>>);

impl PartialEq for Model {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// What the room's panes need: the state (re-rendered on `version`), who I am, how to write.
#[derive(Clone, PartialEq)]
pub(crate) struct Ctx {
    pub session: SessionId,
    pub model: Model,
    pub version: u64,
    pub me: UserId,
    pub present: bool,
    /// The course's people by name (empty until they arrive).
    pub names: Rc<view::Names>,
}

impl Ctx {
    fn state(&self) -> std::cell::Ref<'_, SessionState> {
        self.model.0.borrow()
    }

    /// The class is over: nothing that writes to it can act any more.
    fn ended(&self) -> bool {
        self.state().status == SessionStatus::Ended
    }
}

/// POST one user action; its refusal (problem+json message) goes to `error`, success runs `done`.
fn write(
    path: impl Into<String>,
    body: impl serde::Serialize + 'static,
    error: UseStateHandle<Option<String>>,
    done: impl FnOnce() + 'static,
) {
    let path = path.into();
    spawn_local(async move {
        match api::post::<serde_json::Value>(&path, &body).await {
            Ok(_) => {
                error.set(None);
                done();
            }
            Err(e) => error.set(Some(e.message)),
        }
    });
}

/// A one-line form's submit: POST the body made from the input's text, and clear the input once
/// the server has it (on a refusal the text stays, so nothing typed is lost).
fn submit_text<B: serde::Serialize + 'static>(
    path: String,
    input: NodeRef,
    error: UseStateHandle<Option<String>>,
    body: impl Fn(String) -> B + 'static,
) -> Callback<SubmitEvent> {
    Callback::from(move |e: SubmitEvent| {
        e.prevent_default();
        let text = input.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
        if text.trim().is_empty() {
            return;
        }
        let input = input.clone();
        write(path.clone(), body(text), error.clone(), move || {
            if let Some(i) = input.cast::<HtmlInputElement>() {
                i.set_value("");
            }
        });
    })
}

#[function_component(Room)]
pub fn room(props: &RoomProps) -> Html {
    let me = use_context::<Me>().expect("signed in");
    let phase = use_state(|| Phase::Loading);
    let model = use_mut_ref(SessionState::default);
    let version = use_state(|| 0u64);
    let link = use_state(|| Link::Connecting);
    let missed = use_state(|| None::<Missed>);
    let feed = use_mut_ref(|| None::<LiveFeed>);
    let attempt = use_state(|| 0u32);
    let captions = use_state(|| true);
    let names = use_state(|| Rc::new(view::Names::new()));
    let toggle_captions = {
        let captions = captions.clone();
        Callback::from(move |_| captions.set(!*captions))
    };
    let session_id: Option<SessionId> = props.session.parse().ok();

    {
        let (phase, model, version, link, missed, feed, present, names) = (
            phase.clone(),
            model.clone(),
            version.clone(),
            link.clone(),
            missed.clone(),
            feed.clone(),
            props.present,
            names.clone(),
        );
        let session = props.session.clone();
        use_effect_with((session.clone(), *attempt), move |_| {
            let closing = feed.clone();
            spawn_local(async move {
                let Ok(id) = session.parse::<SessionId>() else {
                    phase.set(Phase::Failed("This link does not name a class.".into()));
                    return;
                };
                let dto = match api::get::<SessionDto>(&format!("/api/sessions/{id}")).await {
                    Ok(d) => d,
                    Err(e) => return phase.set(Phase::Failed(e.message)),
                };
                if dto.status != "live" {
                    return phase.set(Phase::Waiting(dto));
                }
                {
                    // Names for chat and questions; without them the room names people by role.
                    let path = format!("/api/courses/{}/people", dto.course_id);
                    spawn_local(async move {
                        if let Ok(p) = api::get::<shared_types::dto::People>(&path).await {
                            names.set(Rc::new(view::names(&p.people)));
                        }
                    });
                }
                // Join and read the state at once: one round trip less before the first render.
                let (joined, state) = futures::future::join(
                    api::post::<JoinResponse>(
                        "/api/sessions/join",
                        &SessionAction { session_id: id, idempotency_key: None },
                    ),
                    api::get::<StateResponse>(&format!("/api/sessions/{id}/state")),
                )
                .await;
                let (joined, state) = match (joined, state) {
                    (Ok(j), Ok(s)) => (j, s.state),
                    (Err(e), _) | (_, Err(e)) => return phase.set(Phase::Failed(e.message)),
                };
                let head = state.head;
                // Late: the class has been going for two minutes, or a good deal has happened already.
                let running_ms = state.started_at.map(|t| js_sys::Date::now() - t.timestamp_millis() as f64);
                let late = !present && running_ms.is_some() && (head >= 20 || running_ms > Some(120_000.0));
                *model.borrow_mut() = state;
                version.set(head);
                phase.set(Phase::Joined(Rc::new(joined), Rc::new(dto)));
                let on_event = {
                    let (model, version) = (model.clone(), version.clone());
                    Callback::from(move |e: EventEnvelope| {
                        let seq = e.sequence;
                        let _ = apply(&mut model.borrow_mut(), &e);
                        expose("head", &(seq as f64).into());
                        version.set(seq);
                    })
                };
                let on_link = {
                    let link = link.clone();
                    Callback::from(move |l: Link| {
                        expose("link", &l.label().into());
                        link.set(l)
                    })
                };
                *feed.borrow_mut() = Some(LiveFeed::open(&id.to_string(), head, on_event, on_link));
                if late {
                    // Fold the log up to the join into the card, page by page, once the room is on
                    // screen and the socket has had its turn.
                    api::sleep(400).await;
                    let mut events = Vec::new();
                    let mut after = 0;
                    while after < head {
                        let page = api::get::<shared_types::dto::EventsPage>(&format!(
                            "/api/sessions/{id}/events?after={after}&limit=1000"
                        ))
                        .await;
                        let Ok(page) = page else { break };
                        let Some(last) = page.events.last().map(|e| e.sequence) else { break };
                        events.extend(page.events.into_iter().filter(|e| e.sequence <= head));
                        after = last;
                    }
                    let (card, _) = view::missed(&events);
                    if !card.is_empty() {
                        missed.set(Some(card));
                    }
                }
            });
            move || {
                if let Some(f) = closing.borrow_mut().take() {
                    f.close();
                }
            }
        });
    }

    let retry = {
        let attempt = attempt.clone();
        Callback::from(move |_| attempt.set(*attempt + 1))
    };
    let Some(session) = session_id else {
        return html! { <section class="empty card"><h1>{ "Class not found" }</h1><p><a href="#/">{ "Back to my courses" }</a></p></section> };
    };
    match (*phase).clone() {
        Phase::Loading => html! { <p class="muted" aria-live="polite">{ "Joining the class…" }</p> },
        Phase::Failed(e) => html! {
            <section class="empty card">
                <h1>{ "Could not join" }</h1>
                <p class="error" role="alert">{ e }</p>
                <p><button onclick={retry}>{ "Try again" }</button>{ " " }<a href="#/">{ "Back to my courses" }</a></p>
            </section>
        },
        Phase::Waiting(dto) => html! { <Waiting dto={dto} present={props.present} on_live={retry} /> },
        Phase::Joined(joined, dto) => {
            let ctx = Ctx {
                session,
                model: Model(model.clone()),
                version: *version,
                me: me.me.id,
                present: props.present,
                names: (*names).clone(),
            };
            let dismiss = {
                let missed = missed.clone();
                Callback::from(move |_| missed.set(None))
            };
            let ended = ctx.ended();
            let when = ctx.state().started_at.unwrap_or(dto.scheduled_start);
            let what = if ended {
                "Ended"
            } else if props.present {
                "Presenting"
            } else {
                "Live"
            };
            let on_ended = {
                let attempt = attempt.clone();
                Callback::from(move |_| attempt.set(*attempt + 1))
            };
            let has_media = props.present || joined.livekit.is_some();
            let media = if props.present {
                html! { <MediaBroadcast session={props.session.clone()} grant={joined.livekit.clone()} on_ended={on_ended} ended={ended} /> }
            } else {
                html! { <MediaWatch grant={joined.livekit.clone()} /> }
            };
            html! {
                <div class={classes!("room", props.present.then_some("presenting"))} data-head={ctx.version.to_string()}>
                    <header class="room-head">
                        <ClassTitle session={(*dto).clone()} when={when} what={what} />
                        if props.present { <span class="badge">{ "Presenter view" }</span> }
                        if ended {
                            <span id="status" class="link ended" data-status="ended" role="status"><span class="dot" aria-hidden="true"></span>{ "Ended" }</span>
                        } else {
                            <LinkBadge link={*link} />
                        }
                        if !has_media && !ended { <span class="note small" id="no-media">{ "No live audio or video on this server; slides, chat and polls work." }</span> }
                        if !ctx.state().captions.is_empty() {
                            <button id="cc" class="ghost" aria-pressed={captions.to_string()} onclick={toggle_captions}>{ "Captions" }</button>
                        }
                        if !props.present && !ended { <HandButton ctx={ctx.clone()} /> }
                    </header>
                    if ended {
                        <p class="note" role="status">{ "The class has ended. " }<a href={replay_href(&props.session, None)}>{ "Watch the replay" }</a></p>
                    }
                    if let Some(card) = (*missed).clone() {
                        <MissedCard card={card} session={props.session.clone()} on_dismiss={dismiss} />
                    }
                    <div class="room-grid">
                        <div class="stage-col">
                            if props.present {
                                // The presenter's media controls sit beside the stage, not on it.
                                <Stage ctx={ctx.clone()} media={Html::default()} has_media={false} />
                                <section class="card" aria-label="Camera and microphone">{ media }</section>
                                if !ended { <PresenterBar ctx={ctx.clone()} /> }
                                if joined.livekit.is_some() && !ended {
                                    <crate::streams::StreamPanel session={props.session.clone()} streaming={ctx.state().streaming} failure={ctx.state().stream_failure.clone()} />
                                }
                            } else {
                                <Stage ctx={ctx.clone()} media={media} has_media={has_media} captions={*captions} />
                            }
                        </div>
                        <aside class="side" aria-label="Class activity">
                            <PollPane ctx={ctx.clone()} />
                            <QuestionsPane ctx={ctx.clone()} />
                            <ChatPane ctx={ctx.clone()} />
                        </aside>
                    </div>
                </div>
            }
        }
    }
}

#[derive(Properties, PartialEq)]
struct WaitingProps {
    dto: SessionDto,
    present: bool,
    on_live: Callback<MouseEvent>,
}

/// Before the class: students wait (the page checks again every few seconds); the teacher starts it.
#[function_component(Waiting)]
fn waiting(props: &WaitingProps) -> Html {
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    {
        let (status, on_live, present) = (props.dto.status.clone(), props.on_live.clone(), props.present);
        use_effect_with(status.clone(), move |_| {
            let alive = Rc::new(std::cell::Cell::new(true));
            let keep = alive.clone();
            if status == "scheduled" && !present {
                spawn_local(async move {
                    api::sleep(4_000).await;
                    if keep.get() {
                        on_live.emit(MouseEvent::new("click").expect("an event"));
                    }
                });
            }
            move || alive.set(false)
        });
    }
    let start = {
        let (id, error, busy, on_live) = (props.dto.id, error.clone(), busy.clone(), props.on_live.clone());
        Callback::from(move |_| {
            busy.set(true);
            let (error, busy, on_live) = (error.clone(), busy.clone(), on_live.clone());
            spawn_local(async move {
                let r = api::post::<serde_json::Value>(
                    "/api/sessions/start",
                    &SessionAction { session_id: id, idempotency_key: None },
                )
                .await;
                busy.set(false);
                match r {
                    Ok(_) => on_live.emit(MouseEvent::new("click").expect("an event")),
                    Err(e) => error.set(Some(e.message)),
                }
            });
        })
    };
    let id = props.dto.id.to_string();
    let ended = props.dto.status == "ended";
    let what = if ended { "Ended" } else { "Not started" };
    html! {
        <section class="empty card waiting">
            <ClassTitle session={props.dto.clone()} when={props.dto.scheduled_start} what={what} />
            if ended {
                <h2 id="status" data-status="ended">{ "This class has ended" }</h2>
                <p><a class="button primary" href={replay_href(&id, None)}>{ "Watch the replay" }</a></p>
            } else {
                <h2 id="status" data-status="scheduled">{ "The class has not started yet" }</h2>
                <p>{ "Scheduled for " }<time>{ crate::app::local_time(&props.dto.scheduled_start) }</time>{ "." }</p>
                if props.present {
                    <button id="start" class="primary" onclick={start} disabled={*busy}>{ "Start class" }</button>
                    <p id="error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
                } else {
                    <p class="muted" aria-live="polite">{ "This page opens the class as soon as your teacher starts it." }</p>
                }
            }
            <p><a href="#/">{ "Back to my courses" }</a></p>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LinkProps {
    link: Link,
}

#[function_component(LinkBadge)]
fn link_badge(props: &LinkProps) -> Html {
    let label = match props.link {
        Link::Connecting => "Connecting…",
        Link::Live => "Live",
        Link::Reconnecting => "Reconnecting…",
        Link::Offline => "Offline — retrying",
        Link::SignedOut => "Signed out — sign in again",
    };
    html! {
        <span id="link" class={classes!("link", props.link.label().replace(' ', "-"))} data-link={props.link.label()} role="status">
            <span class="dot" aria-hidden="true"></span>{ label }
        </span>
    }
}

#[derive(Properties, PartialEq)]
struct CtxProps {
    ctx: Ctx,
}

#[function_component(HandButton)]
fn hand_button(props: &CtxProps) -> Html {
    let error = use_state(|| None::<String>);
    let raised = { props.ctx.state().participants.get(&props.ctx.me).is_some_and(|p| p.hand_raised) };
    let onclick = {
        let (session, error) = (props.ctx.session, error.clone());
        Callback::from(move |_| {
            write(format!("/api/sessions/{session}/hand"), Hand { raised: !raised }, error.clone(), || ())
        })
    };
    html! {
        <>
            <button id="hand" class={classes!("hand", raised.then_some("on"))} aria-pressed={raised.to_string()} {onclick}>
                { if raised { "Lower hand" } else { "Raise hand" } }
            </button>
            if let Some(e) = (*error).clone() { <span class="error" role="alert">{ e }</span> }
        </>
    }
}

#[derive(Properties, PartialEq)]
struct MissedProps {
    card: Missed,
    session: String,
    on_dismiss: Callback<MouseEvent>,
}

#[function_component(MissedCard)]
fn missed_card(props: &MissedProps) -> Html {
    let c = &props.card;
    let at = |t: f64| replay_href(&props.session, Some(t));
    html! {
        <section id="missed" class="card missed" aria-labelledby="missed-title">
            <div class="row spread">
                <h2 id="missed-title">{ "What you missed" }</h2>
                <button class="ghost" onclick={props.on_dismiss.clone()}>{ "Got it" }</button>
            </div>
            <div class="missed-grid">
                <div>
                    <h3><span id="missed-slides" data-n={c.slides.len().to_string()}>{ c.slides.len() }</span>{ if c.slides.len() == 1 { " slide shown" } else { " slides shown" } }</h3>
                    <ul>{ for c.slides.iter().map(|m| html! { <li><a href={at(m.at_s)}>{ format!("{} ({})", m.label, view::clock(m.at_s)) }</a></li> }) }</ul>
                </div>
                if !c.polls.is_empty() {
                    <div>
                        <h3>{ "Polls" }</h3>
                        <ul>{ for c.polls.iter().map(|p| html! {
                            <li class="missed-poll">
                                <a href={at(p.at_s)}>{ p.prompt.clone() }</a>
                                <span class="result">{ p.options.iter().map(|(o, n)| format!("{o}: {n}")).collect::<Vec<_>>().join(" · ") }</span>
                                if !p.closed { <span class="badge live">{ "open" }</span> }
                            </li>
                        }) }</ul>
                    </div>
                }
                if !c.answered.is_empty() {
                    <div>
                        <h3>{ "Questions answered" }</h3>
                        <ul>{ for c.answered.iter().map(|m| html! { <li><a href={at(m.at_s)}>{ m.label.clone() }</a></li> }) }</ul>
                    </div>
                }
                if !c.highlights.is_empty() {
                    <div>
                        <h3>{ "Highlights" }</h3>
                        <ul>{ for c.highlights.iter().map(|m| html! { <li><a href={at(m.at_s)}>{ format!("{} ({})", m.label, view::clock(m.at_s)) }</a></li> }) }</ul>
                    </div>
                }
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub(crate) struct StageProps {
    pub ctx: Ctx,
    pub media: Html,
    /// Whether there is any media to place (students without a LiveKit grant have none).
    pub has_media: bool,
    /// Show live captions over the stage.
    #[prop_or(true)]
    pub captions: bool,
}

fn place(item: &LayoutItem) -> String {
    let pct = |v: f64| if v <= 1.0 { v * 100.0 } else { v };
    format!("left:{}%;top:{}%;width:{}%;height:{}%", pct(item.x), pct(item.y), pct(item.w), pct(item.h))
}

/// The active scene: each layout item placed on a 16:9 stage. Without a scene: the slide (or a blank
/// page) with the whiteboard over it and the teacher's video in a corner. The media element stays
/// in one place in the page so the attached tracks survive scene changes.
#[function_component(Stage)]
pub(crate) fn stage(props: &StageProps) -> Html {
    let s = props.ctx.state();
    let scene = s.active_scene.and_then(|id| s.scenes.get(&id));
    let layout: Vec<LayoutItem> = match scene {
        Some(sc) if !sc.layout.is_empty() => sc.layout.clone(),
        _ => vec![
            LayoutItem { source: "slide".into(), ref_id: None, x: 0.0, y: 0.0, w: 1.0, h: 1.0 },
            LayoutItem { source: "whiteboard".into(), ref_id: None, x: 0.0, y: 0.0, w: 1.0, h: 1.0 },
            LayoutItem { source: "camera".into(), ref_id: None, x: 0.72, y: 0.70, w: 0.26, h: 0.28 },
        ],
    };
    let camera = layout
        .iter()
        .find(|i| i.source == "camera")
        .filter(|_| props.has_media)
        .map(place)
        .unwrap_or_else(|| "display:none".into());
    let board_id =
        |i: &LayoutItem| i.ref_id.clone().or_else(|| s.boards.keys().next().cloned()).unwrap_or_else(|| "main".into());
    let items = layout.iter().filter(|i| i.source != "camera").map(|i| {
        let style = place(i);
        match i.source.as_str() {
            "slide" => html! { <div class="item slide" {style}><SlideImage slide={s.current_slide} /></div> },
            "whiteboard" => {
                let id = board_id(i);
                let strokes = s.boards.get(&id).map(|b| b.batches.concat()).unwrap_or_default();
                html! { <div class="item board" {style}><BoardCanvas board={id} strokes={Rc::new(strokes)} /></div> }
            }
            "image" => {
                let asset = i.ref_id.as_ref().and_then(|r| r.parse().ok());
                html! { <div class="item image" {style}><crate::board::AssetImage asset={asset} /></div> }
            }
            other => html! { <div class="item placeholder" {style}>{ format!("{other} (shown in the studio)") }</div> },
        }
    });
    html! {
        <section class="stage" aria-label={scene.map(|sc| format!("Scene: {}", sc.name)).unwrap_or_else(|| "Class stage".into())}
                 data-scene={s.active_scene.map(|id| id.to_string()).unwrap_or_default()}>
            <div class="stage-box">
                { for items }
                <div class="item camera" style={camera}>{ props.media.clone() }</div>
            </div>
            // Under the stage, not over it: a caption never covers the teacher's camera or a slide.
            if let Some(c) = s.captions.last().filter(|_| props.captions) {
                <p id="caption" class="caption" aria-live="polite">{ c.text.clone() }</p>
            }
        </section>
    }
}

#[function_component(PresenterBar)]
fn presenter_bar(props: &CtxProps) -> Html {
    let error = use_state(|| None::<String>);
    let prompt = use_node_ref();
    let options = use_node_ref();
    let mark = use_node_ref();
    let file = use_node_ref();
    let uploading = use_state(|| false);
    let s = props.ctx.state();
    let session = props.ctx.session;
    // The deck on screen, else the first one uploaded.
    let deck = s.current_slide.map(|c| c.asset_id).or_else(|| s.decks.keys().next().copied());
    let page = s.current_slide.map(|c| c.page).unwrap_or(0);
    let pages = deck.and_then(|d| s.decks.get(&d)).map(|d| d.page_count).unwrap_or(0);
    let show = |to: u32| {
        let error = error.clone();
        Callback::from(move |_| {
            if let Some(asset_id) = deck {
                write(
                    "/api/studio/slides/show",
                    ShowSlide { session_id: session, asset_id, page: to },
                    error.clone(),
                    || (),
                );
            }
        })
    };
    let open_poll = {
        let (error, prompt, options) = (error.clone(), prompt.clone(), options.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = prompt.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            let opts: Vec<String> = options
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            let (prompt, options) = (prompt.clone(), options.clone());
            write("/api/polls", OpenPoll { session_id: session, prompt: p, options: opts }, error.clone(), move || {
                if let Some(i) = prompt.cast::<HtmlInputElement>() {
                    i.set_value("");
                }
                if let Some(t) = options.cast::<HtmlTextAreaElement>() {
                    t.set_value("");
                }
            });
        })
    };
    let mark_moment =
        submit_text(format!("/api/sessions/{session}/highlights"), mark.clone(), error.clone(), |label| Mark { label });
    let upload = {
        let (error, file, uploading) = (error.clone(), file.clone(), uploading.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(f) = file.cast::<HtmlInputElement>().and_then(|i| i.files()).and_then(|l| l.get(0)) else {
                error.set(Some("Choose a PDF to upload first.".into()));
                return;
            };
            let (error, file, uploading) = (error.clone(), file.clone(), uploading.clone());
            uploading.set(true);
            spawn_local(async move {
                let result: Result<(), api::ApiError> = async {
                    let form = web_sys::FormData::new()
                        .map_err(|_| api::ApiError::from_message("this browser cannot upload files"))?;
                    let _ = form.append_with_str("sessionId", &session.to_string());
                    let _ = form.append_with_str("type", "slide");
                    let _ = form.append_with_str("title", f.name().trim_end_matches(".pdf"));
                    let _ = form.append_with_blob_and_filename("file", &f, &f.name());
                    let deck: AssetDto = api::upload("/api/studio/assets", &form).await?;
                    // Put its first page on screen.
                    let show = ShowSlide { session_id: session, asset_id: deck.id, page: 1 };
                    api::post::<serde_json::Value>("/api/studio/slides/show", &show).await?;
                    Ok(())
                }
                .await;
                uploading.set(false);
                match result {
                    Ok(()) => {
                        error.set(None);
                        if let Some(i) = file.cast::<HtmlInputElement>() {
                            i.set_value("");
                        }
                    }
                    Err(e) => error.set(Some(e.message)),
                }
            });
        })
    };
    let hands: Vec<UserId> = s.raised_hands();
    html! {
        <section class="card presenter" aria-label="Presenter controls">
            <div class="row">
                <span class="label">{ "Slides" }</span>
                <button id="prev" onclick={show(page.saturating_sub(1).max(1))} disabled={deck.is_none() || page <= 1} aria-label="Previous slide">{ "◀ Previous" }</button>
                <span id="page" aria-live="polite">{ if pages > 0 { format!("{page} / {pages}") } else { "no deck uploaded".into() } }</span>
                <button id="next" onclick={show((page + 1).min(pages.max(1)))} disabled={deck.is_none() || page >= pages} aria-label="Next slide">{ "Next ▶" }</button>
                <span class="label">{ format!("Hands up: {}", hands.len()) }</span>
            </div>
            if !hands.is_empty() {
                <div class="hands-row">
                    <span class="label" id="hands-label">{ "Hands up, first raised first" }</span>
                    <ol id="hands" class="hands" aria-labelledby="hands-label">
                        { for hands.iter().map(|u| {
                            let (u, error) = (*u, error.clone());
                            let lower = Callback::from(move |_| {
                                write(format!("/api/sessions/{session}/hand/lower"), LowerHand { user_id: u }, error.clone(), || ())
                            });
                            html! {
                                <li data-user={u.to_string()}>
                                    <span class="name">{ view::who(&s, &props.ctx.names, Some(u), None, Some(props.ctx.me)) }</span>
                                    <button class="ghost" onclick={lower}>{ "Lower" }</button>
                                </li>
                            }
                        }) }
                    </ol>
                </div>
            }
            <form class="row" onsubmit={upload}>
                <label for="deck-file">{ "Slides (PDF)" }</label>
                <input id="deck-file" ref={file} type="file" accept="application/pdf" />
                <button type="submit" disabled={*uploading}>{ if *uploading { "Uploading…" } else { "Upload and show" } }</button>
            </form>
            <details>
                <summary>{ "Open a poll" }</summary>
                <form class="stack" onsubmit={open_poll}>
                    <label for="poll-prompt">{ "Question" }</label>
                    <input id="poll-prompt" ref={prompt} type="text" maxlength="500" />
                    <label for="poll-options">{ "Options, one per line" }</label>
                    <textarea id="poll-options" ref={options} rows="3" />
                    <button class="primary" type="submit">{ "Open poll" }</button>
                </form>
            </details>
            <form class="row" onsubmit={mark_moment}>
                <label for="mark">{ "Mark this moment" }</label>
                <input id="mark" ref={mark} type="text" placeholder="e.g. Newton's first law" maxlength="200" />
                <button type="submit">{ "Mark" }</button>
            </form>
            <p class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </section>
    }
}

#[function_component(PollPane)]
fn poll_pane(props: &CtxProps) -> Html {
    let error = use_state(|| None::<String>);
    let choice = use_state(|| None::<u32>);
    let s = props.ctx.state();
    let Some((id, poll)) = view::current_poll(&s) else {
        return html! {
            <section class="pane" aria-labelledby="poll-title"><h2 id="poll-title">{ "Poll" }</h2><p class="muted">{ "No poll yet." }</p></section>
        };
    };
    let mine = poll.votes.get(&props.ctx.me).copied();
    let show_results = mine.is_some() || poll.closed || props.ctx.present || props.ctx.ended();
    let tally = poll.tally();
    let total: u32 = tally.iter().sum();
    let vote = {
        let (error, choice) = (error.clone(), choice.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(option) = *choice else {
                error.set(Some("Choose an answer first.".into()));
                return;
            };
            write(format!("/api/polls/{id}/responses"), Vote { option }, error.clone(), || ());
        })
    };
    let close = {
        let error = error.clone();
        Callback::from(move |_| write(format!("/api/polls/{id}/close"), serde_json::json!({}), error.clone(), || ()))
    };
    html! {
        <section class="pane poll" id="poll" data-poll={id.to_string()} aria-labelledby="poll-title">
            <h2 id="poll-title">{ "Poll" }{ if poll.closed { " (closed)" } else { "" } }</h2>
            if show_results {
                <p class="prompt">{ poll.prompt.clone() }</p>
                <ul class="tally" id="tally" aria-label="Results">
                    { for poll.options.iter().zip(tally.iter()).enumerate().map(|(i, (o, n))| {
                        let pct = (*n * 100).checked_div(total).unwrap_or(0);
                        html! {
                            <li data-option={i.to_string()} data-votes={n.to_string()} class={classes!((mine == Some(i as u32)).then_some("mine"))}>
                                <span class="opt">{ o.clone() }{ if mine == Some(i as u32) { " (your answer)" } else { "" } }</span>
                                <span class="bar" aria-hidden="true"><span style={format!("width:{pct}%")}></span></span>
                                <span class="n">{ format!("{n} ({pct}%)") }</span>
                            </li>
                        }
                    }) }
                </ul>
                <p class="muted">{ format!("{total} {}", if total == 1 { "vote" } else { "votes" }) }</p>
            } else {
                <form onsubmit={vote}>
                    <fieldset>
                        <legend class="prompt">{ poll.prompt.clone() }</legend>
                        { for poll.options.iter().enumerate().map(|(i, o)| {
                            let choice = choice.clone();
                            let input_id = format!("opt-{i}");
                            html! {
                                <label class="option" for={input_id.clone()}>
                                    <input type="radio" name="poll" id={input_id} value={i.to_string()} checked={*choice == Some(i as u32)}
                                        onchange={Callback::from(move |_| choice.set(Some(i as u32)))} />
                                    { o.clone() }
                                </label>
                            }
                        }) }
                    </fieldset>
                    <button id="vote" class="primary" type="submit">{ "Vote" }</button>
                </form>
            }
            if props.ctx.present && !poll.closed && !props.ctx.ended() {
                <button id="close-poll" onclick={close}>{ "Close poll" }</button>
            }
            <p class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </section>
    }
}

#[function_component(QuestionsPane)]
fn questions_pane(props: &CtxProps) -> Html {
    let error = use_state(|| None::<String>);
    let limit = use_state(|| 30usize);
    let input = use_node_ref();
    let s = props.ctx.state();
    let session = props.ctx.session;
    let ask = submit_text("/api/questions".into(), input.clone(), error.clone(), move |content| PostText {
        session_id: session,
        content,
    });
    let act = |path: String| {
        let error = error.clone();
        Callback::from(move |_| write(&path, serde_json::json!({}), error.clone(), || ()))
    };
    let qs = view::questions_in_order(&s);
    let ended = s.status == SessionStatus::Ended;
    // A long class can hold a thousand questions: the top ones first, the rest on request.
    let hidden = qs.len().saturating_sub(*limit);
    let show_all = {
        let limit = limit.clone();
        Callback::from(move |_| limit.set(usize::MAX))
    };
    html! {
        <section class="pane questions" aria-labelledby="qa-title">
            <h2 id="qa-title">{ "Questions" }</h2>
            if qs.is_empty() { <p class="muted">{ if ended { "No questions were asked." } else { "No questions yet. Ask one below." } }</p> }
            <ul id="questions" class="list">
                { for qs.iter().take(*limit).map(|q| {
                    let voted = q.upvoters.contains(&props.ctx.me);
                    html! {
                        <li class={classes!("question", q.answered.then_some("answered"))} data-question={q.id.to_string()}
                            data-upvotes={q.upvoters.len().to_string()} data-answered={q.answered.to_string()}>
                            <p class="text">{ q.content.clone() }</p>
                            <p class="meta">
                                <span>{ view::who(&s, &props.ctx.names, q.author, q.author_role, Some(props.ctx.me)) }</span>
                                if q.answered { <span class="badge ended">{ "Answered" }</span> }
                                <button class="upvote" aria-pressed={voted.to_string()} disabled={voted || ended}
                                    onclick={act(format!("/api/questions/{}/upvote", q.id))}>
                                    <span class="sr-only">{ "Upvote, now " }</span><span aria-hidden="true">{ "▲ " }</span>{ q.upvoters.len() }
                                </button>
                                if props.ctx.present && !q.answered && !ended {
                                    <button onclick={act(format!("/api/questions/{}/answer", q.id))}>{ "Answered" }</button>
                                    <button class="ghost" onclick={act(format!("/api/questions/{}/dismiss", q.id))}>{ "Dismiss" }</button>
                                }
                            </p>
                        </li>
                    }
                }) }
            </ul>
            if hidden > 0 { <button class="link-button" onclick={show_all}>{ format!("Show {hidden} more questions") }</button> }
            <form class="row" onsubmit={ask}>
                <label class="sr-only" for="ask">{ "Your question" }</label>
                <input id="ask" ref={input} type="text" maxlength="2000" disabled={ended}
                    placeholder={if ended { "The class has ended" } else { "Ask a question" }} />
                <button id="ask-send" type="submit" disabled={ended}>{ "Ask" }</button>
            </form>
            <p class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </section>
    }
}

#[function_component(ChatPane)]
fn chat_pane(props: &CtxProps) -> Html {
    let error = use_state(|| None::<String>);
    let limit = use_state(|| 100usize);
    let input = use_node_ref();
    let list = use_node_ref();
    let s = props.ctx.state();
    let session = props.ctx.session;
    let count = s.chat.len();
    {
        let list = list.clone();
        use_effect_with(count, move |_| {
            if let Some(el) = list.cast::<web_sys::Element>() {
                el.set_scroll_top(el.scroll_height());
            }
        });
    }
    let send = submit_text("/api/chat".into(), input.clone(), error.clone(), move |content| PostText {
        session_id: session,
        content,
    });
    let shown: Vec<_> = s.chat.iter().filter(|m| !m.hidden).collect();
    let ended = s.status == SessionStatus::Ended;
    // The newest messages; earlier ones on request (a long class has thousands).
    let earlier = shown.len().saturating_sub(*limit);
    let more = {
        let limit = limit.clone();
        Callback::from(move |_| limit.set(limit.saturating_add(200)))
    };
    html! {
        <section class="pane chat" aria-labelledby="chat-title">
            <h2 id="chat-title">{ "Chat" }</h2>
            <ol id="chat" class="list chat-list" ref={list} aria-live="polite" tabindex="0" aria-label="Chat messages">
                if shown.is_empty() { <li class="muted">{ "No messages yet." }</li> }
                if earlier > 0 { <li><button class="link-button" onclick={more}>{ format!("Show {} earlier messages", earlier.min(200)) }</button></li> }
                { for shown[earlier..].iter().map(|m| html! {
                    <li data-message={m.id.to_string()}><span class="author">{ view::who(&s, &props.ctx.names, m.author, m.author_role, Some(props.ctx.me)) }</span>{ " " }<span class="text">{ m.content.clone() }</span></li>
                }) }
            </ol>
            <form class="row" onsubmit={send}>
                <label class="sr-only" for="say">{ "Message" }</label>
                <input id="say" ref={input} type="text" maxlength="2000" disabled={ended}
                    placeholder={if ended { "The class has ended" } else { "Say something" }} />
                <button id="say-send" type="submit" disabled={ended}>{ "Send" }</button>
            </form>
            <p class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </section>
    }
}
