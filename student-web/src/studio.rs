//! The teacher's studio window (Tauri): the same yew app in studio mode. Everything it shows comes
//! from the core's snapshot (`shared_types::studio::Snapshot`: the journal's folded state, the sync
//! indicator, the catalogue); every teacher action goes to the core as the event it should become,
//! where the shared `decide` checks it and the journal keeps it — offline or not. The stage, slides
//! and whiteboard are the student web's own components (`room::Stage`, `board`).

use crate::board::{DrawBoard, Tool};
use crate::room::{Ctx, Model, Stage};
use crate::tauri;
use crate::view;
use shared_types::dto::SessionDto;
use shared_types::events::{LayoutItem, Stroke};
use shared_types::state::SessionStatus;
use shared_types::studio::{AppError, Snapshot};
use shared_types::{AssetId, MessageId, PollId, SceneId, SessionEvent, SessionState};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

#[derive(serde::Serialize)]
struct Act<'a> {
    event: &'a SessionEvent,
}

/// Send one action to the core; a refusal (the shared rules' reason) goes to `error`.
fn act(event: SessionEvent, error: Callback<Option<String>>) {
    spawn_local(async move {
        match tauri::invoke::<u64>("act", &Act { event: &event }).await {
            Ok(_) => error.emit(None),
            Err(e) => error.emit(Some(e.message)),
        }
    });
}

fn input_value(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
}

fn clear(r: &NodeRef) {
    if let Some(i) = r.cast::<HtmlInputElement>() {
        i.set_value("");
    }
}

/// What the panes of an open session share.
#[derive(Clone, PartialEq)]
struct Open {
    snap: Rc<Snapshot>,
    session: SessionDto,
    state: Rc<SessionState>,
    error: Callback<Option<String>>,
    /// The course's people by name, from the catalogue (kept for offline use).
    names: Rc<view::Names>,
}

#[function_component(StudioApp)]
pub fn studio_app() -> Html {
    let snap = use_state(|| None::<Rc<Snapshot>>);
    let error = use_state(|| None::<String>);
    {
        let snap = snap.clone();
        use_effect_with((), move |_| {
            let s = snap.clone();
            tauri::listen::<Snapshot>("studio://snapshot", move |v| s.set(Some(Rc::new(v))));
            spawn_local(async move {
                if let Ok(v) = tauri::invoke::<Snapshot>("snapshot", &()).await {
                    snap.set(Some(Rc::new(v)));
                }
            });
        });
    }
    let on_error = {
        let error = error.clone();
        Callback::from(move |e: Option<String>| error.set(e))
    };
    let Some(s) = (*snap).clone() else {
        return html! { <main class="studio"><p class="boot">{ "Opening the studio…" }</p></main> };
    };
    let body = match (&s.signed_in, &s.session, &s.state) {
        (None, _, _) => html! { <SignIn on_error={on_error.clone()} /> },
        (Some(_), Some(session), Some(state)) => {
            let open = Open {
                snap: s.clone(),
                session: session.clone(),
                state: Rc::new(state.clone()),
                error: on_error.clone(),
                names: Rc::new(
                    s.catalog
                        .iter()
                        .find(|c| c.course.id == session.course_id)
                        .map(|c| view::names(&c.people))
                        .unwrap_or_default(),
                ),
            };
            html! { <SessionView {open} /> }
        }
        (Some(_), _, _) => html! { <Picker snap={s.clone()} on_error={on_error.clone()} /> },
    };
    html! {
        <main class="studio" data-version={s.version.to_string()}>
            <Header snap={s.clone()} on_error={on_error.clone()} />
            if let Some(e) = (*error).clone() {
                <p id="studio-error" class="banner error" role="alert">
                    { e }
                    <button class="link" onclick={ { let error = error.clone(); Callback::from(move |_| error.set(None)) } } aria-label="Dismiss">{ "×" }</button>
                </p>
            }
            { body }
        </main>
    }
}

#[derive(Properties, PartialEq)]
struct SnapProps {
    snap: Rc<Snapshot>,
    on_error: Callback<Option<String>>,
}

fn run(cmd: &'static str, on_error: Callback<Option<String>>) -> Callback<MouseEvent> {
    Callback::from(move |_| {
        let on_error = on_error.clone();
        spawn_local(async move {
            if let Err(e) = tauri::invoke::<Snapshot>(cmd, &()).await {
                on_error.emit(Some(e.message));
            }
        });
    })
}

/// The sync indicator, where the sign-in is kept, who is signed in.
#[function_component(Header)]
fn header(props: &SnapProps) -> Html {
    let s = &props.snap;
    let sync = &s.sync;
    let (class, text) = if s.signed_in.is_none() {
        ("idle", "Not signed in".to_string())
    } else if !sync.online {
        ("offline", format!("Offline — {} waiting", sync.pending))
    } else if sync.pending > 0 {
        ("syncing", format!("Syncing {}…", sync.pending))
    } else {
        ("synced", "All changes synced".to_string())
    };
    let last = sync
        .last_synced_at
        .map(|t| format!("last synced {}", t.with_timezone(&chrono::Local).format("%H:%M:%S")))
        .unwrap_or_else(|| "not synced yet".into());
    html! {
        <header class="studio-head">
            <strong class="brand">{ "Teaching Studio" }</strong>
            <span id="sync" class={classes!("sync", class)} data-pending={sync.pending.to_string()} data-online={sync.online.to_string()}
                  role="status" aria-live="polite" title={sync.problem.clone().unwrap_or_default()}>
                <span class="dot" aria-hidden="true"></span>{ text }<span class="muted">{ format!(" · {last}") }</span>
            </span>
            if s.signed_in.is_some() && !sync.online {
                <button id="retry" onclick={run("sync_now", props.on_error.clone())}>{ "Retry now" }</button>
            }
            <span class="spacer"></span>
            if s.vault == "file" {
                <span id="vault" class="badge warn" data-vault="file" title="No keychain service answered on this computer">
                    { "Sign-in kept in a file (no system keychain)" }
                </span>
            } else {
                <span id="vault" class="badge" data-vault="keychain">{ "Sign-in in the system keychain" }</span>
            }
            if let Some(who) = &s.signed_in {
                <span class="muted who" title={format!("Signed in to {}", who.server)}>{ who.email.clone() }</span>
                <button id="sign-out" onclick={run("sign_out", props.on_error.clone())}>{ "Sign out" }</button>
            }
        </header>
    }
}

#[derive(Properties, PartialEq)]
struct ErrProps {
    on_error: Callback<Option<String>>,
}

#[derive(serde::Serialize)]
struct SignInArgs {
    server: String,
    email: String,
    password: String,
}

#[derive(serde::Serialize)]
struct SchoolArgs {
    server: String,
    email: String,
}

#[function_component(SignIn)]
fn sign_in(props: &ErrProps) -> Html {
    let (server, email, password) = (use_node_ref(), use_node_ref(), use_node_ref());
    let busy = use_state(|| false);
    let submit = {
        let (server, email, password, busy, on_error) =
            (server.clone(), email.clone(), password.clone(), busy.clone(), props.on_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let args = SignInArgs {
                server: input_value(&server),
                email: input_value(&email),
                password: input_value(&password),
            };
            let (busy, on_error) = (busy.clone(), on_error.clone());
            busy.set(true);
            spawn_local(async move {
                let r = tauri::invoke::<Snapshot>("sign_in", &args).await;
                busy.set(false);
                on_error.emit(r.err().map(|e| e.message));
            });
        })
    };
    // The school's own provider, in the system browser: the studio waits for it to come back.
    let school = use_state(|| false);
    let with_school = {
        let (server, email, school, on_error) = (server.clone(), email.clone(), school.clone(), props.on_error.clone());
        Callback::from(move |_| {
            let args = SchoolArgs { server: input_value(&server), email: input_value(&email) };
            let (school, on_error) = (school.clone(), on_error.clone());
            school.set(true);
            on_error.emit(None);
            spawn_local(async move {
                let r = tauri::invoke::<Snapshot>("sign_in_with_school", &args).await;
                school.set(false);
                on_error.emit(r.err().map(|e| e.message));
            });
        })
    };
    html! {
        <section class="card narrow" aria-labelledby="signin-title">
            <h1 id="signin-title">{ "Sign in to your school" }</h1>
            <form class="stack" onsubmit={submit}>
                <label for="server">{ "School server" }</label>
                <input id="server" ref={server} type="url" value="http://127.0.0.1:8080" required=true />
                <label for="email">{ "E-mail" }</label>
                <input id="email" ref={email} type="email" autocomplete="username" required=true />
                <label for="password">{ "Password" }</label>
                <input id="password" ref={password} type="password" autocomplete="current-password" required=true />
                <button id="sign-in" class="primary" type="submit" disabled={*busy}>{ if *busy { "Signing in…" } else { "Sign in" } }</button>
            </form>
            <div class="sso-prompt stack">
                <p class="muted">{ "Your school signs you in with its own accounts? Type your e-mail above, then:" }</p>
                <button id="sign-in-school" type="button" onclick={with_school} disabled={*school || *busy}>
                    { if *school { "Waiting for your school's sign-in in the browser…" } else { "Sign in with your school" } }
                </button>
                if *school {
                    <p class="muted" role="status">{ "Finish signing in in the browser window that opened; the studio carries on by itself." }</p>
                }
            </div>
            <p class="muted">{ "Once signed in, you can prepare and run classes without a connection; everything syncs when you are back online." }</p>
        </section>
    }
}

#[derive(serde::Serialize)]
struct OpenArgs {
    session: String,
}

/// Course → lesson → session, from the catalogue the core keeps (works offline).
#[function_component(Picker)]
fn picker(props: &SnapProps) -> Html {
    let open = |id: String| {
        let on_error = props.on_error.clone();
        Callback::from(move |_| {
            let (id, on_error) = (id.clone(), on_error.clone());
            spawn_local(async move {
                if let Err(e) = tauri::invoke::<Snapshot>("open_session", &OpenArgs { session: id }).await {
                    on_error.emit(Some(e.message));
                }
            });
        })
    };
    html! {
        <section class="card" aria-labelledby="picker-title">
            <div class="row">
                <h1 id="picker-title">{ "Choose a class to prepare or run" }</h1>
                <span class="spacer"></span>
                <button id="refresh" onclick={run("refresh_catalog", props.on_error.clone())}>{ "Refresh" }</button>
            </div>
            if props.snap.catalog.is_empty() {
                <p class="muted">{ "No courses yet. Ask your school's admin to add you to a course, then refresh." }</p>
            }
            { for props.snap.catalog.iter().map(|c| html! {
                <div class="course">
                    <h2>{ c.course.title.clone() }</h2>
                    { for c.lessons.iter().map(|l| html! {
                        <div class="lesson">
                            <h3>{ l.lesson.title.clone() }</h3>
                            if l.sessions.is_empty() { <p class="muted">{ "No sessions scheduled." }</p> }
                            <ul class="sessions">
                            { for l.sessions.iter().map(|s| html! {
                                <li>
                                    <button class="session-pick" data-session={s.id.to_string()} onclick={open(s.id.to_string())}>
                                        { s.scheduled_start.with_timezone(&chrono::Local).format("%a %d %b, %H:%M").to_string() }
                                    </button>
                                    <span class={classes!("badge", s.status.clone())}>{ s.status.clone() }</span>
                                </li>
                            }) }
                            </ul>
                        </div>
                    }) }
                </div>
            }) }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct OpenProps {
    open: Open,
}

#[derive(Clone, Copy, PartialEq)]
enum Tab {
    Prepare,
    Live,
}

#[function_component(SessionView)]
fn session_view(props: &OpenProps) -> Html {
    let o = &props.open;
    let live = o.state.status == SessionStatus::Live;
    let tab = use_state(|| if live { Tab::Live } else { Tab::Prepare });
    let tool = use_state(|| Tool::Pen { color: "#1d4ed8".into(), width: 0.004 });
    // Live captions (made by the server from the class recording) show under the stage, as students see them.
    let captions = use_state(|| true);
    let toggle_captions = {
        let captions = captions.clone();
        Callback::from(move |_| captions.set(!*captions))
    };
    let set_tab = |t: Tab| {
        let tab = tab.clone();
        Callback::from(move |_| {
            tab.set(t);
            // The other tab opens at its top (its first controls would be under the header).
            if let Some(w) = web_sys::window() {
                w.scroll_to_with_x_and_y(0.0, 0.0);
            }
        })
    };
    let back = run("close_session", o.error.clone());
    let status = match o.state.status {
        SessionStatus::Live => "Live",
        SessionStatus::Ended => "Ended",
        _ => "Scheduled",
    };
    html! {
        <div class="studio-session" data-status={status.to_lowercase()}>
            <nav class="tabs row" aria-label="Studio">
                <button id="tab-prepare" class={classes!((*tab == Tab::Prepare).then_some("on"))} onclick={set_tab(Tab::Prepare)} aria-pressed={(*tab == Tab::Prepare).to_string()}>{ "Prepare" }</button>
                <button id="tab-live" class={classes!((*tab == Tab::Live).then_some("on"))} onclick={set_tab(Tab::Live)} aria-pressed={(*tab == Tab::Live).to_string()}>{ "Run the class" }</button>
                <span class={classes!("badge", status.to_lowercase())} id="status">{ status }</span>
                if !o.session.lesson_title.is_empty() {
                    <strong id="class-title" class="studio-class">{ o.session.lesson_title.clone() }</strong>
                    <span class="muted" id="class-course">{ o.session.course_title.clone() }</span>
                }
                <span class="muted">{ o.session.scheduled_start.with_timezone(&chrono::Local).format("%a %d %b, %H:%M").to_string() }</span>
                <span class="spacer"></span>
                if !o.state.captions.is_empty() {
                    <button id="cc" class="ghost" aria-pressed={captions.to_string()} onclick={toggle_captions}
                        title="Live captions, as students see them">{ "Captions" }</button>
                }
                <button id="change-class" onclick={back}>{ "Change class" }</button>
            </nav>
            <div class="studio-grid">
                <div class="main-col">
                    if *tab == Tab::Live { <ClassBar open={o.clone()} /> }
                    <StageWithBoard open={o.clone()} tool={(*tool).clone()} captions={*captions} />
                    <Tools tool={tool.clone()} open={o.clone()} />
                </div>
                <aside class="side-col">
                    if *tab == Tab::Prepare {
                        <ClassSettings open={o.clone()} />
                        <Scenes open={o.clone()} />
                        <Decks open={o.clone()} />
                    } else {
                        <PollPanel open={o.clone()} />
                        <QuestionsPanel open={o.clone()} />
                        <HandsPanel open={o.clone()} />
                        <ChatPanel open={o.clone()} />
                    }
                    <Refusals open={o.clone()} />
                </aside>
            </div>
        </div>
    }
}

/// The whiteboard the stage shows: the active scene's, else the first one, else `main`.
fn board_of(s: &SessionState) -> (String, LayoutItem) {
    let scene = s.active_scene.and_then(|id| s.scenes.get(&id));
    let item = scene.and_then(|sc| sc.layout.iter().find(|i| i.source == "whiteboard").cloned());
    let id = item
        .as_ref()
        .and_then(|i| i.ref_id.clone())
        .or_else(|| s.boards.keys().next().cloned())
        .unwrap_or_else(|| "main".into());
    let full = LayoutItem { source: "whiteboard".into(), ref_id: Some(id.clone()), x: 0.0, y: 0.0, w: 1.0, h: 1.0 };
    (id, if scene.is_some() { item.unwrap_or(full) } else { full })
}

#[derive(Properties, PartialEq)]
struct StageBoardProps {
    open: Open,
    tool: Tool,
    captions: bool,
}

#[function_component(StageWithBoard)]
fn stage_with_board(props: &StageBoardProps) -> Html {
    let o = &props.open;
    let model = use_memo(o.state.clone(), |s| Model(Rc::new(RefCell::new((**s).clone()))));
    let me = o.snap.signed_in.as_ref().map(|w| w.me.id).unwrap_or_default();
    let ctx = Ctx {
        session: o.session.id,
        model: (*model).clone(),
        version: o.snap.version,
        me,
        present: true,
        names: o.names.clone(),
    };
    let (board, place) = board_of(&o.state);
    let strokes: Rc<Vec<Stroke>> = Rc::new(o.state.boards.get(&board).map(|b| b.batches.concat()).unwrap_or_default());
    let on_strokes = {
        let (board, error) = (board.clone(), o.error.clone());
        Callback::from(move |strokes: Vec<Stroke>| {
            act(SessionEvent::WhiteboardStrokeAdded { board_id: board.clone(), strokes }, error.clone())
        })
    };
    let on_erase = {
        let (board, error) = (board.clone(), o.error.clone());
        Callback::from(move |stroke_ids: Vec<String>| {
            act(SessionEvent::WhiteboardStrokeErased { board_id: board.clone(), stroke_ids }, error.clone())
        })
    };
    html! {
        <div class="stage-wrap">
            <Stage ctx={ctx} media={html!{ <div class="camera-note">{ "Camera" }</div> }} has_media={true} captions={props.captions} />
            <DrawBoard board={board} place={place} tool={props.tool.clone()} strokes={strokes} {on_strokes} {on_erase} />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ToolProps {
    tool: UseStateHandle<Tool>,
    open: Open,
}

const COLOURS: &[(&str, &str)] =
    &[("#1d4ed8", "Blue"), ("#dc2626", "Red"), ("#15803d", "Green"), ("#111827", "Black"), ("#ea580c", "Orange")];

#[function_component(Tools)]
fn tools(props: &ToolProps) -> Html {
    let o = &props.open;
    let (board, _) = board_of(&o.state);
    let pen = |color: &'static str| {
        let tool = props.tool.clone();
        Callback::from(move |_| tool.set(Tool::Pen { color: color.into(), width: 0.004 }))
    };
    let eraser = {
        let tool = props.tool.clone();
        Callback::from(move |_| tool.set(Tool::Eraser))
    };
    let undo = {
        let (state, board, error) = (o.state.clone(), board.clone(), o.error.clone());
        Callback::from(move |_| {
            if let Some(e) = view::undo_gesture(&state, &board) {
                act(e, error.clone());
            }
        })
    };
    let clear_board = {
        let (board, error) = (board.clone(), o.error.clone());
        Callback::from(move |_| {
            let sure = web_sys::window().and_then(|w| w.confirm_with_message("Clear the whole whiteboard?").ok());
            if sure == Some(true) {
                act(SessionEvent::WhiteboardCleared { board_id: board.clone() }, error.clone());
            }
        })
    };
    // Ctrl+Z undoes, anywhere but in a text field.
    {
        let (state, board, error) = (o.state.clone(), board.clone(), o.error.clone());
        use_effect_with((state, board), move |(state, board)| {
            let (state, board) = (state.clone(), board.clone());
            let listener = gloo_listener("keydown", move |e: web_sys::KeyboardEvent| {
                if typing(&e) {
                    return;
                }
                if (e.ctrl_key() || e.meta_key()) && e.key() == "z" {
                    e.prevent_default();
                    if let Some(ev) = view::undo_gesture(&state, &board) {
                        act(ev, error.clone());
                    }
                }
            });
            move || drop(listener)
        });
    }
    let current = (*props.tool).clone();
    let count = o.state.boards.get(&board).map(|b| b.stroke_ids().count()).unwrap_or(0);
    html! {
        <div class="row tools" role="toolbar" aria-label="Whiteboard tools">
            <span class="label">{ format!("Whiteboard “{board}”") }</span>
            { for COLOURS.iter().map(|(c, name)| {
                let on = matches!(&current, Tool::Pen { color, .. } if color == c);
                html! { <button class={classes!("swatch", on.then_some("on"))} style={format!("--c:{c}")} aria-pressed={on.to_string()}
                                aria-label={format!("{name} pen")} title={format!("{name} pen")} onclick={pen(c)}></button> }
            }) }
            <button id="eraser" class={classes!((current == Tool::Eraser).then_some("on"))} aria-pressed={(current == Tool::Eraser).to_string()} onclick={eraser}>{ "Eraser" }</button>
            <button id="undo" onclick={undo} disabled={count == 0} title="Ctrl+Z">{ "Undo" }</button>
            <button id="clear" onclick={clear_board} disabled={count == 0}>{ "Clear" }</button>
            <span id="stroke-count" class="muted" data-strokes={count.to_string()}>{ format!("{count} strokes") }</span>
        </div>
    }
}

/// True when the key went to a text field (shortcuts stay out of the way of typing).
pub(crate) fn typing(e: &web_sys::KeyboardEvent) -> bool {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .map(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
        .unwrap_or(false)
}

/// A document listener removed when dropped.
pub(crate) struct Listener {
    name: &'static str,
    closure: wasm_bindgen::closure::Closure<dyn Fn(web_sys::KeyboardEvent)>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(d) = web_sys::window().and_then(|w| w.document()) {
            let _ = d.remove_event_listener_with_callback(self.name, self.closure.as_ref().unchecked_ref());
        }
    }
}

pub(crate) fn gloo_listener(name: &'static str, f: impl Fn(web_sys::KeyboardEvent) + 'static) -> Listener {
    let closure = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::KeyboardEvent)>::new(f);
    if let Some(d) = web_sys::window().and_then(|w| w.document()) {
        let _ = d.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    }
    Listener { name, closure }
}

/// The deck on screen, else the first one imported; its page and page count.
fn deck_position(s: &SessionState) -> (Option<AssetId>, u32, u32) {
    let deck = s.current_slide.map(|c| c.asset_id).or_else(|| s.decks.keys().next().copied());
    let page = s.current_slide.filter(|c| Some(c.asset_id) == deck).map(|c| c.page).unwrap_or(0);
    let pages = deck.and_then(|d| s.decks.get(&d)).map(|d| d.page_count).unwrap_or(0);
    (deck, page, pages)
}

/// Start and end, the scene on air, the slides (← → keys), marking a moment (H).
#[function_component(ClassBar)]
fn class_bar(props: &OpenProps) -> Html {
    let o = &props.open;
    let s = &o.state;
    let mark = use_node_ref();
    let (deck, page, pages) = deck_position(s);
    let show = move |to: u32, error: Callback<Option<String>>| {
        if let Some(asset_id) = deck {
            act(SessionEvent::SlideShown { asset_id, page: to }, error);
        }
    };
    let start = run("start_class", o.error.clone());
    let end = {
        let end = run("end_class", o.error.clone());
        Callback::from(move |e: MouseEvent| {
            let sure = web_sys::window().and_then(|w| w.confirm_with_message("End the class for everyone?").ok());
            if sure == Some(true) {
                end.emit(e);
            }
        })
    };
    let mark_now = {
        let (mark, error) = (mark.clone(), o.error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let label = input_value(&mark);
            let label = if label.trim().is_empty() { "Highlight".to_string() } else { label.trim().to_string() };
            act(SessionEvent::HighlightMarked { label }, error.clone());
            clear(&mark);
        })
    };
    {
        let error = o.error.clone();
        use_effect_with((deck, page, pages), move |&(deck, page, pages)| {
            let listener = gloo_listener("keydown", move |e: web_sys::KeyboardEvent| {
                if typing(&e) || e.ctrl_key() || e.meta_key() || e.alt_key() {
                    return;
                }
                let to = match e.key().as_str() {
                    "ArrowRight" | "PageDown" if page < pages => page + 1,
                    "ArrowLeft" | "PageUp" if page > 1 => page - 1,
                    "h" | "H" => {
                        act(SessionEvent::HighlightMarked { label: "Highlight".into() }, error.clone());
                        return;
                    }
                    _ => return,
                };
                if let Some(asset_id) = deck {
                    e.prevent_default();
                    act(SessionEvent::SlideShown { asset_id, page: to }, error.clone());
                }
            });
            move || drop(listener)
        });
    }
    let mut scenes: Vec<_> = s.scenes.iter().collect();
    scenes.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    let (prev, next) = {
        let (e1, e2) = (o.error.clone(), o.error.clone());
        (
            Callback::from(move |_| show(page.saturating_sub(1).max(1), e1.clone())),
            Callback::from(move |_| show((page + 1).min(pages.max(1)), e2.clone())),
        )
    };
    html! {
        <section class="card classbar" aria-label="Class controls">
            <div class="row">
                { match s.status {
                    SessionStatus::Live => html! { <button id="end" class="danger" onclick={end}>{ "End class" }</button> },
                    SessionStatus::Ended => html! { <span class="muted">{ "This class has ended." }</span> },
                    _ => html! { <button id="start" class="primary" onclick={start}>{ "Start class" }</button> },
                } }
                <span class="label">{ "Scene" }</span>
                if scenes.is_empty() { <span class="muted">{ "default stage" }</span> }
                { for scenes.iter().map(|(id, sc)| {
                    let on = s.active_scene == Some(**id);
                    let (id, error) = (**id, o.error.clone());
                    html! { <button class={classes!("scene-pick", on.then_some("on"))} aria-pressed={on.to_string()}
                        onclick={Callback::from(move |_| act(SessionEvent::SceneChanged { scene_id: id }, error.clone()))}>{ sc.name.clone() }</button> }
                }) }
            </div>
            <div class="row">
                <span class="label">{ "Slides" }</span>
                <button id="prev" onclick={prev} disabled={deck.is_none() || page <= 1} aria-label="Previous slide" title="←">{ "◀" }</button>
                <span id="page" aria-live="polite">{ if pages > 0 { format!("{page} / {pages}") } else { "no deck".into() } }</span>
                <button id="next" onclick={next} disabled={deck.is_none() || page >= pages} aria-label="Next slide" title="→">{ "▶" }</button>
                <form class="row" onsubmit={mark_now}>
                    <label for="mark" class="label">{ "Highlight" }</label>
                    <input id="mark" ref={mark} type="text" placeholder="label (or press H)" maxlength="200" />
                    <button type="submit">{ "Mark" }</button>
                </form>
                <span class="muted">{ format!("{} highlights", s.highlights.len()) }</span>
            </div>
            <div class="row media-row">
                <span class="label">{ "Camera and microphone" }</span>
                <button id="present-browser" onclick={run("present_in_browser", o.error.clone())}>{ "Present in the browser" }</button>
                { match o.snap.browser_opened_at {
                    Some(t) => html! { <span id="browser-state" class="muted" data-opened="true">
                        { format!("Opened in your browser at {} — camera and microphone are published there.", t.with_timezone(&chrono::Local).format("%H:%M")) }
                    </span> },
                    None => html! { <span id="browser-state" class="muted" data-opened="false">
                        { "This window cannot publish media on Linux; your browser does it, signed in for you." }
                    </span> },
                } }
            </div>
        </section>
    }
}

/// Layout presets for a new scene (positions are fractions of the 16:9 stage).
fn preset(name: &str, board: &str) -> Vec<LayoutItem> {
    let item = |source: &str, ref_id: Option<&str>, x: f64, y: f64, w: f64, h: f64| LayoutItem {
        source: source.into(),
        ref_id: ref_id.map(String::from),
        x,
        y,
        w,
        h,
    };
    match name {
        "board" => {
            vec![item("whiteboard", Some(board), 0.0, 0.0, 0.75, 1.0), item("camera", None, 0.75, 0.0, 0.25, 0.3)]
        }
        "camera" => vec![item("camera", None, 0.0, 0.0, 1.0, 1.0)],
        "slides-board" => vec![
            item("slide", None, 0.0, 0.0, 1.0, 1.0),
            item("whiteboard", Some(board), 0.0, 0.0, 1.0, 1.0),
            item("camera", None, 0.72, 0.7, 0.26, 0.28),
        ],
        _ => vec![item("slide", None, 0.0, 0.0, 0.75, 1.0), item("camera", None, 0.75, 0.0, 0.25, 0.3)],
    }
}

#[function_component(Scenes)]
fn scenes(props: &OpenProps) -> Html {
    let o = &props.open;
    let name = use_node_ref();
    let layout = use_node_ref();
    let editing = use_state(|| None::<SceneId>);
    let create = {
        let (name, layout, error, n) = (name.clone(), layout.clone(), o.error.clone(), o.state.scenes.len());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let title = input_value(&name);
            if title.trim().is_empty() {
                error.emit(Some("Give the scene a name.".into()));
                return;
            }
            let kind = layout.cast::<HtmlSelectElement>().map(|s| s.value()).unwrap_or_default();
            let event = SessionEvent::SceneCreated {
                scene_id: SceneId::new(),
                name: title.trim().into(),
                layout: preset(&kind, &format!("board-{}", n + 1)),
                metadata: serde_json::json!({}),
            };
            act(event, error.clone());
            clear(&name);
        })
    };
    let mut list: Vec<_> = o.state.scenes.iter().collect();
    list.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    html! {
        <section class="card pane" aria-labelledby="scenes-title">
            <h2 id="scenes-title">{ "Scenes" }</h2>
            if list.is_empty() { <p class="muted">{ "No scenes yet: the stage shows the slide, the whiteboard and your camera." }</p> }
            <ul class="scenes">
            { for list.iter().map(|(id, sc)| {
                let on = o.state.active_scene == Some(**id);
                let (sid, error, editing2) = (**id, o.error.clone(), editing.clone());
                html! {
                    <li class={classes!(on.then_some("on"))} data-scene={id.to_string()}>
                        <span>{ sc.name.clone() }</span>
                        <span class="muted">{ format!("{} sources", sc.layout.len()) }</span>
                        <button onclick={Callback::from(move |_| editing2.set(Some(sid)))}>{ "Arrange" }</button>
                        <button class="activate" disabled={on} onclick={Callback::from(move |_| act(SessionEvent::SceneChanged { scene_id: sid }, error.clone()))}>
                            { if on { "On stage" } else { "Put on stage" } }
                        </button>
                    </li>
                }
            }) }
            </ul>
            if let Some(id) = *editing {
                if let Some(sc) = o.state.scenes.get(&id) {
                    <LayoutEditor scene={id} layout={sc.layout.clone()} error={o.error.clone()}
                        close={ { let editing = editing.clone(); Callback::from(move |_| editing.set(None)) } } />
                }
            }
            <form class="stack" onsubmit={create}>
                <label for="scene-name">{ "New scene" }</label>
                <input id="scene-name" ref={name} type="text" placeholder="e.g. Slides and me" maxlength="100" />
                <select id="scene-layout" ref={layout} aria-label="Layout">
                    <option value="slides">{ "Slides and camera" }</option>
                    <option value="board">{ "Whiteboard and camera" }</option>
                    <option value="slides-board">{ "Slides with the whiteboard over them" }</option>
                    <option value="camera">{ "Camera only" }</option>
                </select>
                <button id="add-scene" type="submit">{ "Add scene" }</button>
            </form>
        </section>
    }
}

/// What the class is: the language it is taught in (what its transcript and captions are made in).
/// Set offline like the rest: a journal entry.
#[function_component(ClassSettings)]
fn class_settings(props: &OpenProps) -> Html {
    let o = &props.open;
    let current = o.state.language.clone();
    let change = {
        let (error, current) = (o.error.clone(), current.clone());
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<HtmlSelectElement>() else { return };
            let language = select.value();
            if !language.is_empty() && Some(&language) != current.as_ref() {
                act(SessionEvent::SessionLanguageSet { language }, error.clone());
            }
        })
    };
    let mut languages: Vec<(&str, &str)> = shared_types::speech::LANGUAGES.to_vec();
    languages.sort_by_key(|(_, name)| *name);
    html! {
        <section class="card pane" aria-labelledby="class-settings-title">
            <h2 id="class-settings-title">{ "Class settings" }</h2>
            <div class="stack">
                <label for="class-language">{ "Language of the class" }</label>
                <select id="class-language" onchange={change} data-language={current.clone().unwrap_or_default()}>
                    if current.is_none() { <option value="" selected=true>{ "The school's default" }</option> }
                    { for languages.iter().map(|(code, name)| html! {
                        <option value={*code} selected={current.as_deref() == Some(*code)}>{ *name }</option>
                    }) }
                </select>
                <p class="muted">{ "The transcript and live captions are made in this language." }</p>
            </div>
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct LayoutProps {
    scene: SceneId,
    layout: Vec<LayoutItem>,
    error: Callback<Option<String>>,
    close: Callback<()>,
}

/// Drag a source to move it, its corner to resize it; the new layout is saved on release.
#[function_component(LayoutEditor)]
fn layout_editor(props: &LayoutProps) -> Html {
    let items = use_state(|| props.layout.clone());
    let drag = use_mut_ref(|| None::<(usize, bool, f64, f64, LayoutItem)>);
    let frame = use_node_ref();
    {
        let items = items.clone();
        use_effect_with(props.layout.clone(), move |l| items.set(l.clone()));
    }
    let down = |i: usize, resize: bool| {
        let (drag, items) = (drag.clone(), items.clone());
        Callback::from(move |e: PointerEvent| {
            e.stop_propagation();
            if let Some(t) = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                let _ = t.set_pointer_capture(e.pointer_id());
            }
            *drag.borrow_mut() = Some((i, resize, e.client_x() as f64, e.client_y() as f64, items[i].clone()));
        })
    };
    let moved = {
        let (drag, items, frame) = (drag.clone(), items.clone(), frame.clone());
        Callback::from(move |e: PointerEvent| {
            let Some((i, resize, x0, y0, start)) = drag.borrow().clone() else { return };
            let Some(rect) = frame.cast::<web_sys::Element>().map(|f| f.get_bounding_client_rect()) else { return };
            let dx = (e.client_x() as f64 - x0) / rect.width().max(1.0);
            let dy = (e.client_y() as f64 - y0) / rect.height().max(1.0);
            let mut next = (*items).clone();
            let it = &mut next[i];
            if resize {
                it.w = (start.w + dx).clamp(0.05, 1.0 - start.x);
                it.h = (start.h + dy).clamp(0.05, 1.0 - start.y);
            } else {
                it.x = (start.x + dx).clamp(0.0, 1.0 - start.w);
                it.y = (start.y + dy).clamp(0.0, 1.0 - start.h);
            }
            items.set(next);
        })
    };
    let up = {
        let (drag, items, scene, error) = (drag.clone(), items.clone(), props.scene, props.error.clone());
        Callback::from(move |_: PointerEvent| {
            if drag.borrow_mut().take().is_some() {
                let round = |v: f64| (v * 1000.0).round() / 1000.0;
                let layout = items
                    .iter()
                    .map(|i| LayoutItem { x: round(i.x), y: round(i.y), w: round(i.w), h: round(i.h), ..i.clone() })
                    .collect();
                act(
                    SessionEvent::SceneUpdated { scene_id: scene, name: None, layout: Some(layout), assets: None },
                    error.clone(),
                );
            }
        })
    };
    let pct = |v: f64| v * 100.0;
    html! {
        <div class="layout-editor">
            <div class="layout-frame" ref={frame} onpointermove={moved} onpointerup={up.clone()} onpointercancel={up}>
                { for items.iter().enumerate().map(|(i, it)| html! {
                    <div class={classes!("layout-item", it.source.clone())} onpointerdown={down(i, false)}
                         style={format!("left:{}%;top:{}%;width:{}%;height:{}%", pct(it.x), pct(it.y), pct(it.w), pct(it.h))}>
                        <span>{ it.source.clone() }</span>
                        <span class="handle" onpointerdown={down(i, true)} aria-label="Resize"></span>
                    </div>
                }) }
            </div>
            <p class="muted">{ "Drag a source to move it, its corner to resize it." }</p>
            <button onclick={ { let close = props.close.clone(); Callback::from(move |_| close.emit(())) } }>{ "Done" }</button>
        </div>
    }
}

#[derive(serde::Serialize)]
struct ImportArgs {
    name: String,
    kind: String,
    data: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    asset_id: AssetId,
}

/// Read a chosen file and hand it to the core (rendered and kept locally, uploaded when online).
async fn import(file: web_sys::File, kind: &str) -> Result<Imported, AppError> {
    let buf = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| AppError::new("file", "the file could not be read"))?;
    let bytes = js_sys::Uint8Array::new(&buf).to_vec();
    let data = base64_encode(&bytes);
    tauri::invoke("import_file", &ImportArgs { name: file.name(), kind: kind.into(), data }).await
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[function_component(Decks)]
fn decks(props: &OpenProps) -> Html {
    let o = &props.open;
    let file = use_node_ref();
    let busy = use_state(|| false);
    let choose = {
        let (file, busy, error) = (file.clone(), busy.clone(), o.error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(f) = file.cast::<HtmlInputElement>().and_then(|i| i.files()).and_then(|l| l.get(0)) else {
                error.emit(Some("Choose a PDF or an image first.".into()));
                return;
            };
            let (file, busy, error) = (file.clone(), busy.clone(), error.clone());
            busy.set(true);
            spawn_local(async move {
                let kind = if f.name().to_lowercase().ends_with(".pdf") { "slide" } else { "image" };
                let r = import(f, kind).await;
                busy.set(false);
                match r {
                    Ok(done) => {
                        if kind == "slide" {
                            act(SessionEvent::SlideShown { asset_id: done.asset_id, page: 1 }, error.clone());
                        }
                        if let Some(i) = file.cast::<HtmlInputElement>() {
                            i.set_value("");
                        }
                    }
                    Err(e) => error.emit(Some(e.message)),
                }
            });
        })
    };
    let s = &o.state;
    html! {
        <section class="card pane" aria-labelledby="decks-title">
            <h2 id="decks-title">{ "Slides and images" }</h2>
            if s.decks.is_empty() && s.images.is_empty() { <p class="muted">{ "Nothing imported yet." }</p> }
            <ul class="decks">
            { for s.decks.iter().map(|(id, d)| {
                let (id, error) = (*id, o.error.clone());
                let on = s.current_slide.map(|c| c.asset_id) == Some(id);
                html! {
                    <li class="deck" data-asset={id.to_string()} data-pages={d.page_count.to_string()}>
                        <img class="thumb" src={crate::board::studio_src(id, 1)} alt="" />
                        <span>{ format!("{} · {} pages", d.title.clone().unwrap_or_else(|| "Slides".into()), d.page_count) }</span>
                        <button disabled={on} onclick={Callback::from(move |_| act(SessionEvent::SlideShown { asset_id: id, page: 1 }, error.clone()))}>
                            { if on { "On screen" } else { "Show" } }
                        </button>
                    </li>
                }
            }) }
            { for s.images.iter().map(|(id, kind)| html! { <li class="image" data-asset={id.to_string()}><img class="thumb" src={crate::board::studio_src(*id, 0)} alt="" /><span>{ kind.clone() }</span></li> }) }
            </ul>
            <form class="stack" onsubmit={choose}>
                <label for="import-file">{ "Import a PDF deck or an image" }</label>
                <input id="import-file" ref={file} type="file" accept="application/pdf,image/png,image/jpeg" />
                <button id="import" type="submit" disabled={*busy}>{ if *busy { "Rendering…" } else { "Import" } }</button>
            </form>
        </section>
    }
}

#[function_component(PollPanel)]
fn poll_panel(props: &OpenProps) -> Html {
    let o = &props.open;
    let (prompt, options) = (use_node_ref(), use_node_ref());
    let open_poll = {
        let (prompt, options, error) = (prompt.clone(), options.clone(), o.error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let p = input_value(&prompt);
            let opts: Vec<String> = options
                .cast::<HtmlTextAreaElement>()
                .map(|t| t.value())
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
            act(
                SessionEvent::PollOpened { poll_id: PollId::new(), prompt: p.trim().into(), options: opts },
                error.clone(),
            );
            clear(&prompt);
            if let Some(t) = options.cast::<HtmlTextAreaElement>() {
                t.set_value("");
            }
        })
    };
    let current = view::current_poll(&o.state);
    html! {
        <section class="card pane" aria-labelledby="poll-title">
            <h2 id="poll-title">{ "Poll" }</h2>
            if let Some((id, poll)) = current {
                <div id="poll" data-poll={id.to_string()} data-closed={poll.closed.to_string()}>
                    <p><strong>{ poll.prompt.clone() }</strong>{ if poll.closed { " (closed)" } else { "" } }</p>
                    { {
                        let tally = poll.tally();
                        let total: u32 = tally.iter().sum();
                        html! { <ul class="tally" data-tally={tally.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")}>
                            { for poll.options.iter().zip(tally.iter()).map(|(opt, n)| {
                                let pct = if total > 0 { *n as f64 * 100.0 / total as f64 } else { 0.0 };
                                html! { <li>
                                    <span class="opt">{ opt.clone() }</span>
                                    <span class="n">{ format!("{n} · {pct:.0}%") }</span>
                                    <span class="bar" aria-hidden="true"><span style={format!("width:{pct:.0}%")}></span></span>
                                </li> }
                            }) }
                        </ul> }
                    } }
                    if !poll.closed {
                        <button id="close-poll" onclick={ { let error = o.error.clone(); Callback::from(move |_| act(SessionEvent::PollClosed { poll_id: id }, error.clone())) } }>{ "Close poll" }</button>
                    }
                </div>
            } else {
                <p class="muted">{ "No poll yet." }</p>
            }
            <details open={current.is_none()}>
                <summary>{ "Open a poll" }</summary>
                <form class="stack" onsubmit={open_poll}>
                    <label for="poll-prompt">{ "Question" }</label>
                    <input id="poll-prompt" ref={prompt} type="text" maxlength="500" />
                    <label for="poll-options">{ "Options, one per line" }</label>
                    <textarea id="poll-options" ref={options} rows="3" />
                    <button id="open-poll" class="primary" type="submit">{ "Open poll" }</button>
                </form>
            </details>
        </section>
    }
}

#[function_component(QuestionsPanel)]
fn questions_panel(props: &OpenProps) -> Html {
    let o = &props.open;
    let me = o.snap.signed_in.as_ref().map(|w| w.me.id);
    let qs = view::questions_in_order(&o.state);
    html! {
        <section class="card pane" aria-labelledby="qa-title">
            <h2 id="qa-title">{ format!("Questions ({})", qs.iter().filter(|q| !q.answered).count()) }</h2>
            if qs.is_empty() { <p class="muted">{ "No questions yet." }</p> }
            <ol class="questions">
            { for qs.iter().map(|q| {
                let (id, e1, e2) = (q.id, o.error.clone(), o.error.clone());
                html! {
                    <li class={classes!(q.answered.then_some("answered"))}>
                        <span class="votes" title="upvotes">{ format!("▲ {}", q.upvoters.len()) }</span>
                        <span>{ q.content.clone() }</span>
                        <span class="muted author">{ view::who(&o.state, &o.names, q.author, q.author_role, me) }</span>
                        if !q.answered {
                            <button onclick={Callback::from(move |_| act(SessionEvent::QuestionAnswered { question_id: id }, e1.clone()))}>{ "Answered" }</button>
                        }
                        <button onclick={Callback::from(move |_| act(SessionEvent::QuestionDismissed { question_id: id }, e2.clone()))}>{ "Dismiss" }</button>
                    </li>
                }
            }) }
            </ol>
        </section>
    }
}

#[function_component(HandsPanel)]
fn hands_panel(props: &OpenProps) -> Html {
    let o = &props.open;
    let me = o.snap.signed_in.as_ref().map(|w| w.me.id);
    // First raised, first served (the state keeps when each hand went up).
    let hands = o.state.raised_hands();
    let present = o.state.participants.values().filter(|p| p.present).count();
    html! {
        <section class="card pane" aria-labelledby="hands-title">
            <h2 id="hands-title">{ format!("Hands up ({}) · {present} here", hands.len()) }</h2>
            if hands.is_empty() { <p class="muted">{ "No hands raised." }</p> }
            <ol class="hands">
            { for hands.iter().map(|u| {
                let (u, error) = (*u, o.error.clone());
                html! { <li data-user={u.to_string()}><span class="name">{ view::who(&o.state, &o.names, Some(u), None, me) }</span>
                    <button onclick={Callback::from(move |_| act(SessionEvent::HandLowered { user_id: Some(u) }, error.clone()))}>{ "Lower" }</button></li> }
            }) }
            </ol>
        </section>
    }
}

#[function_component(ChatPanel)]
fn chat_panel(props: &OpenProps) -> Html {
    let o = &props.open;
    let me = o.snap.signed_in.as_ref().map(|w| w.me.id);
    let text = use_node_ref();
    let post = {
        let (text, error) = (text.clone(), o.error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let t = input_value(&text);
            if t.trim().is_empty() {
                return;
            }
            act(SessionEvent::ChatPosted { message_id: MessageId::new(), content: t.trim().into() }, error.clone());
            clear(&text);
        })
    };
    let msgs: Vec<_> = o.state.chat.iter().rev().take(50).collect();
    html! {
        <section class="card pane" aria-labelledby="chat-title">
            <h2 id="chat-title">{ "Chat" }</h2>
            if msgs.is_empty() { <p class="muted">{ "No messages yet." }</p> }
            <ul class="chat">
            { for msgs.iter().rev().map(|m| {
                let (id, error) = (m.id, o.error.clone());
                html! { <li class={classes!(m.hidden.then_some("hidden"))}>
                    <strong>{ view::who(&o.state, &o.names, m.author, m.author_role, me) }</strong>{ ": " }
                    { if m.hidden { "(hidden)".to_string() } else { m.content.clone() } }
                    if !m.hidden {
                        <button class="link" onclick={Callback::from(move |_| act(SessionEvent::ChatHidden { message_id: id }, error.clone()))}>{ "Hide" }</button>
                    }
                </li> }
            }) }
            </ul>
            <form class="row" onsubmit={post}>
                <input id="chat-text" ref={text} type="text" maxlength="2000" aria-label="Message" placeholder="Write to the class" />
                <button type="submit">{ "Send" }</button>
            </form>
        </section>
    }
}

/// What the server refused, and why (the entry stays in the journal, marked).
#[function_component(Refusals)]
fn refusals(props: &OpenProps) -> Html {
    let r = &props.open.snap.sync.refused;
    if r.is_empty() {
        return html! {};
    }
    html! {
        <section id="refusals" class="card pane warn" aria-labelledby="refused-title">
            <h2 id="refused-title">{ format!("Not accepted by the server ({})", r.len()) }</h2>
            <ul>{ for r.iter().map(|x| html! { <li data-type={x.event_type.clone()}><code>{ x.event_type.clone() }</code>{ format!(" — {}", x.message) }</li> }) }</ul>
        </section>
    }
}

/// Mount the studio UI into `#app` (the Tauri window's `desktop.html`).
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn start_studio() {
    crate::board::use_studio_assets();
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app")).expect("#app");
    yew::Renderer::<StudioApp>::with_root(root).render();
}
