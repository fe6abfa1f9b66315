//! The app shell: hash routes, who is signed in, the top bar, sign-in and the course list.

use crate::api::{self, ApiError};
use shared_types::dto::{CourseDto, LessonDto, MeResponse, SessionDto};
use shared_types::{Role, Scope};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    Courses,
    Room(String),
    Present(String),
    /// The session, and a moment to open at: seconds from the class start (`t=`, "what you
    /// missed"), or on the recording's clock, as transcript times are (`at=`, a search hit).
    Replay(String, Option<f64>, Option<f64>),
    /// An invite or reset link: choose a password.
    Welcome(String),
    /// The studio handing its teacher over (one-time token, then the app route to land on).
    Handoff(String, String),
    /// One's account: change the password.
    Account,
    NotFound,
}

impl Route {
    pub fn parse(hash: &str) -> Route {
        let hash = hash.trim_start_matches('#');
        let (path, query) = hash.split_once('?').unwrap_or((hash, ""));
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let num = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse::<f64>().ok());
        let (t, at) = (num("t="), num("at="));
        match parts.as_slice() {
            [] | ["courses"] | ["signin"] => Route::Courses,
            ["sessions", id] => Route::Room(id.to_string()),
            ["sessions", id, "present"] => Route::Present(id.to_string()),
            ["sessions", id, "replay"] => Route::Replay(id.to_string(), t, at),
            ["welcome"] => {
                let token = query.split('&').find_map(|kv| kv.strip_prefix("token=")).unwrap_or_default();
                Route::Welcome(token.to_string())
            }
            ["handoff"] => {
                let get = |k: &str| query.split('&').find_map(|kv| kv.strip_prefix(k)).unwrap_or_default().to_string();
                Route::Handoff(get("token="), get("next="))
            }
            ["account"] => Route::Account,
            _ => Route::NotFound,
        }
    }
}

pub fn room_href(id: &str) -> String {
    format!("#/sessions/{id}")
}
pub fn present_href(id: &str) -> String {
    format!("#/sessions/{id}/present")
}
pub fn replay_href(id: &str, t: Option<f64>) -> String {
    match t {
        Some(t) => format!("#/sessions/{id}/replay?t={t:.1}"),
        None => format!("#/sessions/{id}/replay"),
    }
}
/// The replay at a second of the recording (a transcript time).
pub fn replay_at_href(id: &str, at: f64) -> String {
    format!("#/sessions/{id}/replay?at={at:.1}")
}

fn current_route() -> Route {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    Route::parse(&hash)
}

/// Who is signed in, for every page.
#[derive(Clone, PartialEq)]
pub struct Me {
    pub me: Rc<MeResponse>,
    pub sign_out: Callback<()>,
}

impl Me {
    /// Teacher, assistant or admin of this course (or of the whole school).
    pub fn presents(&self, course: &shared_types::CourseId) -> bool {
        self.me.roles.iter().any(|g| {
            matches!(g.role, Role::Teacher | Role::Assistant | Role::Admin)
                && (g.scope == Scope::Tenant || g.scope_id == Some(course.0))
        })
    }
}

/// A local date and time, e.g. "1 Dec 2026, 09:00".
pub fn local_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(t.timestamp_millis() as f64));
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&opts, &"timeStyle".into(), &"short".into());
    d.to_locale_string("en-GB", &opts).as_string().unwrap_or_default()
}

/// A local date, e.g. "1 Dec 2026".
pub fn local_date(t: &chrono::DateTime<chrono::Utc>) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(t.timestamp_millis() as f64));
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"dateStyle".into(), &"medium".into());
    d.to_locale_string("en-GB", &opts).as_string().unwrap_or_default()
}

/// What the browser tab says while the calling page is shown. Not reset when the page goes: the
/// next class page sets its own (a reset in between showed the app's name for a moment, e.g. when the
/// present view turns into the ended class's page), and [`App`] names the tab on every other page.
#[hook]
pub fn use_tab_title(title: Option<String>) {
    use_effect_with(title, |t| {
        let doc = web_sys::window().and_then(|w| w.document());
        if let (Some(doc), Some(t)) = (&doc, t) {
            doc.set_title(t);
        }
    });
}

/// The app's name, the tab's title outside a class.
pub const APP_NAME: &str = "Teaching studio";

/// A class page's heading: the lesson's title, and under it the course and the date.
#[derive(Properties, PartialEq)]
pub struct ClassTitleProps {
    pub session: SessionDto,
    /// When the class was (its start, else its scheduled start).
    pub when: chrono::DateTime<chrono::Utc>,
    /// What the page is, for the tab ("Live", "Presenting", "Replay", "Ended").
    pub what: AttrValue,
}

#[function_component(ClassTitle)]
pub fn class_title(props: &ClassTitleProps) -> Html {
    let s = &props.session;
    let date = local_date(&props.when);
    use_tab_title(Some(crate::view::tab_title(&s.lesson_title, &s.course_title, &date, &props.what)));
    let lesson = if s.lesson_title.is_empty() { "Class".to_string() } else { s.lesson_title.clone() };
    html! {
        <div class="class-title">
            <h1 id="class-title">{ lesson }</h1>
            <p class="muted small" id="class-course">
                { s.course_title.clone() }{ if s.course_title.is_empty() { "" } else { " · " } }<time>{ date }</time>
            </p>
        </div>
    }
}

#[function_component(App)]
pub fn app() -> Html {
    let route = use_state(current_route);
    // None: still asking; Some(None): signed out.
    let me = use_state(|| None::<Option<Rc<MeResponse>>>);
    {
        let route = route.clone();
        use_effect_with((), move |_| {
            let listener = Closure::<dyn FnMut()>::new(move || route.set(current_route()));
            if let Some(w) = web_sys::window() {
                let _ = w.add_event_listener_with_callback("hashchange", listener.as_ref().unchecked_ref());
            }
            listener.forget();
        });
    }
    let refresh = {
        let me = me.clone();
        Callback::from(move |_: ()| {
            let me = me.clone();
            spawn_local(async move {
                match api::get::<MeResponse>("/api/auth/me").await {
                    Ok(m) => me.set(Some(Some(Rc::new(m)))),
                    Err(_) => me.set(Some(None)),
                }
            });
        })
    };
    {
        let refresh = refresh.clone();
        use_effect_with((), move |_| refresh.emit(()));
    }
    let sign_out = {
        let me = me.clone();
        Callback::from(move |_: ()| {
            let me = me.clone();
            spawn_local(async move {
                let _ = api::logout().await;
                me.set(Some(None));
            });
        })
    };
    // A class page names the tab after its class (`ClassTitle`); every other page, and signing out,
    // gives it back the app's name.
    let class_page =
        matches!(*me, Some(Some(_))) && matches!(*route, Route::Room(_) | Route::Present(_) | Route::Replay(..));
    use_effect_with(class_page, |&class_page| {
        if !class_page {
            if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
                doc.set_title(APP_NAME);
            }
        }
    });
    let body = match (*me).clone() {
        // A link from the school comes first, whoever is signed in on this browser.
        _ if matches!(*route, Route::Welcome(_)) => {
            let Route::Welcome(token) = (*route).clone() else { unreachable!("matched above") };
            html! { <crate::account::Welcome token={token} on_signed_in={refresh.clone()} /> }
        }
        _ if matches!(*route, Route::Handoff(..)) => {
            let Route::Handoff(token, next) = (*route).clone() else { unreachable!("matched above") };
            html! { <crate::account::Handoff token={token} next={next} on_signed_in={refresh.clone()} /> }
        }
        None => html! { <p class="muted" aria-live="polite">{ "Loading…" }</p> },
        Some(None) => html! { <SignIn on_signed_in={refresh.clone()} /> },
        Some(Some(m)) => {
            let ctx = Me { me: m, sign_out: sign_out.clone() };
            let page = match (*route).clone() {
                Route::Courses => html! { <Courses /> },
                Route::Room(id) => {
                    html! { <crate::room::Room key={format!("r{id}")} session={id.clone()} present={false} /> }
                }
                Route::Present(id) => {
                    html! { <crate::room::Room key={format!("p{id}")} session={id.clone()} present={true} /> }
                }
                Route::Replay(id, t, at) => {
                    html! { <crate::replay::Replay key={format!("v{id}")} session={id.clone()} start_at={t} recording_at={at} /> }
                }
                Route::Account => html! { <crate::account::Account /> },
                Route::Welcome(_) | Route::Handoff(..) => html! {},
                Route::NotFound => html! {
                    <section class="empty"><h1>{ "Page not found" }</h1><p><a href="#/">{ "Back to my courses" }</a></p></section>
                },
            };
            html! { <ContextProvider<Me> context={ctx}>{ page }</ContextProvider<Me>> }
        }
    };
    let who = (*me).clone().flatten();
    let skip = Callback::from(|e: MouseEvent| {
        e.prevent_default();
        if let Some(main) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("main")) {
            if let Ok(main) = main.dyn_into::<web_sys::HtmlElement>() {
                let _ = main.focus();
            }
        }
    });
    let out = sign_out.clone();
    html! {
        <>
            <a class="skip" href="#/" onclick={skip}>{ "Skip to content" }</a>
            <header class="topbar">
                <a class="brand" href="#/"><span class="logo" aria-hidden="true">{ "◐" }</span>{ "Teaching studio" }</a>
                if let Some(m) = who {
                    <nav class="account" aria-label="Account">
                        <a class="who" id="who" href="#/account" title="Your account">{ m.email.clone() }</a>
                        <button class="ghost" id="signout" onclick={move |_| out.emit(())}>{ "Sign out" }</button>
                    </nav>
                }
            </header>
            <main id="main" tabindex="-1">{ body }</main>
        </>
    }
}

#[derive(Properties, PartialEq)]
struct SignInProps {
    on_signed_in: Callback<()>,
}

#[function_component(SignIn)]
fn sign_in(props: &SignInProps) -> Html {
    let email = use_node_ref();
    let password = use_node_ref();
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let submit = {
        let (email, password, error, busy, done) =
            (email.clone(), password.clone(), error.clone(), busy.clone(), props.on_signed_in.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let value = |r: &NodeRef| r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            let (em, pw) = (value(&email), value(&password));
            if em.trim().is_empty() || pw.is_empty() {
                error.set(Some("Enter your email and password.".into()));
                return;
            }
            let (error, busy, done) = (error.clone(), busy.clone(), done.clone());
            busy.set(true);
            spawn_local(async move {
                match api::login(em.trim(), &pw).await {
                    Ok(_) => {
                        error.set(None);
                        done.emit(());
                    }
                    Err(ApiError { status: 401, .. }) => {
                        error.set(Some("That email and password do not match an account.".into()))
                    }
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        })
    };
    // A school with its own accounts: off to its sign-in service, found by the email's domain (the
    // server answers with a page in words when no school signs that domain in).
    let with_school = {
        let (email, error) = (email.clone(), error.clone());
        Callback::from(move |_: MouseEvent| {
            let em = email.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default();
            let em = em.trim();
            if !em.contains('@') {
                error.set(Some("Enter your school email first, then choose \"Sign in with your school\".".into()));
                return;
            }
            let q = String::from(js_sys::encode_uri_component(em));
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_href(&format!("/api/auth/sso/start?email={q}&next=%23%2F"));
            }
        })
    };
    html! {
        <section class="signin card">
            <h1>{ "Sign in" }</h1>
            <p class="muted">{ "Use the account your school gave you." }</p>
            <form onsubmit={submit} novalidate=true>
                <label for="email">{ "Email" }</label>
                <input id="email" ref={email} type="email" autocomplete="username" required=true />
                <label for="password">{ "Password" }</label>
                <input id="password" ref={password} type="password" autocomplete="current-password" required=true />
                <p id="signin-error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
                <button id="signin" class="primary" type="submit" disabled={*busy}>
                    { if *busy { "Signing in…" } else { "Sign in" } }
                </button>
            </form>
            <p class="muted sso-prompt">{ "Does your school have its own accounts?" }</p>
            <button id="sso" class="ghost" type="button" onclick={with_school}>{ "Sign in with your school" }</button>
        </section>
    }
}

#[function_component(Courses)]
fn courses() -> Html {
    let courses = use_state(|| None::<Result<Vec<CourseDto>, String>>);
    {
        let courses = courses.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                courses.set(Some(api::get::<Vec<CourseDto>>("/api/courses").await.map_err(|e| e.message)));
            });
        });
    }
    let body = match (*courses).clone() {
        None => html! { <p class="muted" aria-live="polite">{ "Loading your courses…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        Some(Ok(list)) if list.is_empty() => html! {
            <div class="empty card">
                <h2>{ "No courses yet" }</h2>
                <p>{ "When your school enrols you in a course, it appears here with its lessons and classes." }</p>
            </div>
        },
        Some(Ok(list)) => html! {
            <div class="courses">{ for list.into_iter().map(|c| html! { <CourseCard key={c.id.to_string()} course={c.clone()} /> }) }</div>
        },
    };
    html! {
        <section>
            <h1>{ "My courses" }</h1>
            { body }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct CourseProps {
    course: CourseDto,
}

type LessonRows = Vec<(LessonDto, Vec<SessionDto>)>;

#[function_component(CourseCard)]
fn course_card(props: &CourseProps) -> Html {
    let me = use_context::<Me>().expect("signed in");
    let lessons = use_state(|| None::<Result<LessonRows, String>>);
    {
        let (lessons, id) = (lessons.clone(), props.course.id);
        use_effect_with(id, move |_| {
            spawn_local(async move {
                let got: Result<LessonRows, ApiError> = async {
                    let mut rows = Vec::new();
                    for l in api::get::<Vec<LessonDto>>(&format!("/api/courses/{id}/lessons")).await? {
                        let s = api::get::<Vec<SessionDto>>(&format!("/api/lessons/{}/sessions", l.id)).await?;
                        rows.push((l, s));
                    }
                    Ok(rows)
                }
                .await;
                lessons.set(Some(got.map_err(|e| e.message)));
            });
        });
    }
    let presents = me.presents(&props.course.id);
    let rows = match (*lessons).clone() {
        None => html! { <p class="muted">{ "Loading lessons…" }</p> },
        Some(Err(e)) => html! { <p class="error" role="alert">{ e }</p> },
        Some(Ok(rows)) if rows.is_empty() => html! { <p class="muted">{ "No lessons in this course yet." }</p> },
        Some(Ok(rows)) => html! {
            <ol class="lessons">
                { for rows.into_iter().map(|(l, sessions)| html! {
                    <li class="lesson">
                        <h3>{ l.title.clone() }</h3>
                        if sessions.is_empty() {
                            <p class="muted">{ "No class scheduled." }</p>
                        } else {
                            <ul class="sessions">{ for sessions.iter().map(|s| session_row(s, presents)) }</ul>
                        }
                    </li>
                }) }
            </ol>
        },
    };
    html! {
        <article class="card course">
            <h2>{ props.course.title.clone() }</h2>
            <CourseSearch course={props.course.id} />
            { rows }
        </article>
    }
}

#[derive(Properties, PartialEq)]
struct SearchProps {
    course: shared_types::CourseId,
}

/// Search what was said in the course's lectures, as you type (a quarter second after the last
/// key; Enter at once); each hit opens the replay at that second. "/" anywhere on the page but in a
/// text field goes to the first course's search box.
/// What a hit is, when it is not something said: the slide page, or a question from the class.
fn hit_kind(h: &shared_types::media::SearchHit) -> Html {
    use shared_types::media::HitKind;
    match h.kind {
        HitKind::Speech => html! {},
        HitKind::Slide => {
            html! { <span class="hit-kind">{ h.page.map_or("Slide".to_string(), |p| format!("Slide {p}")) }</span> }
        }
        HitKind::Question => html! { <span class="hit-kind">{ "Question" }</span> },
    }
}

#[function_component(CourseSearch)]
fn course_search(props: &SearchProps) -> Html {
    /// The query, its hits so far (or why there are none), and the cursor of the next page.
    type Found = (String, Result<Vec<shared_types::media::SearchHit>, String>, Option<String>);
    let input = use_node_ref();
    let found = use_state(|| None::<Found>);
    let busy = use_state(|| false);
    // The latest query asked: an answer to an older one is dropped.
    let asked = use_mut_ref(|| 0u32);
    let run = {
        let (found, busy, asked, course) = (found.clone(), busy.clone(), asked.clone(), props.course);
        Callback::from(move |(q, wait): (String, i32)| {
            let q = q.trim().to_string();
            let n = {
                let mut a = asked.borrow_mut();
                *a += 1;
                *a
            };
            if q.is_empty() {
                busy.set(false);
                found.set(None);
                return;
            }
            if q.chars().count() < 2 {
                busy.set(false);
                found.set(Some((q, Err("Type at least two letters.".into()), None)));
                return;
            }
            let (found, busy, asked) = (found.clone(), busy.clone(), asked.clone());
            spawn_local(async move {
                if wait > 0 {
                    api::sleep(wait).await;
                    if *asked.borrow() != n {
                        return;
                    }
                }
                busy.set(true);
                let path = format!("/api/courses/{course}/search?q={}", js_sys::encode_uri_component(&q));
                let r = api::get::<shared_types::media::SearchHits>(&path).await;
                if *asked.borrow() == n {
                    busy.set(false);
                    found.set(Some(match r {
                        Ok(h) => (q, Ok(h.hits), h.next_cursor),
                        Err(e) => (q, Err(e.message), None),
                    }));
                }
            });
        })
    };
    let value = {
        let input = input.clone();
        move || input.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
    };
    let submit = {
        let (run, value) = (run.clone(), value.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            run.emit((value(), 0));
        })
    };
    let typed = {
        let run = run.clone();
        Callback::from(move |_: InputEvent| run.emit((value(), 250)))
    };
    {
        let input = input.clone();
        use_effect_with((), move |_| {
            let listener = crate::studio::gloo_listener("keydown", move |e: web_sys::KeyboardEvent| {
                if e.key() != "/" || crate::studio::typing(&e) || e.ctrl_key() || e.meta_key() || e.alt_key() {
                    return;
                }
                // The first search box on the page answers.
                let first = web_sys::window()
                    .and_then(|w| w.document())
                    .and_then(|d| d.query_selector(".course-search input").ok().flatten());
                if let (Some(first), Some(mine)) = (first, input.cast::<web_sys::Element>()) {
                    if first == mine {
                        e.prevent_default();
                        let _ = mine.dyn_into::<web_sys::HtmlElement>().map(|el| el.focus());
                    }
                }
            });
            move || drop(listener)
        });
    }
    // The next page, after the hits shown.
    let more = {
        let (found, busy, asked, course) = (found.clone(), busy.clone(), asked.clone(), props.course);
        Callback::from(move |_: MouseEvent| {
            let Some((q, Ok(shown), Some(cursor))) = (*found).clone() else { return };
            let n = *asked.borrow();
            let (found, busy, asked) = (found.clone(), busy.clone(), asked.clone());
            busy.set(true);
            spawn_local(async move {
                let path = format!(
                    "/api/courses/{course}/search?q={}&cursor={}",
                    js_sys::encode_uri_component(&q),
                    js_sys::encode_uri_component(&cursor)
                );
                let r = api::get::<shared_types::media::SearchHits>(&path).await;
                if *asked.borrow() == n {
                    busy.set(false);
                    found.set(Some(match r {
                        Ok(h) => (q, Ok(shown.into_iter().chain(h.hits).collect()), h.next_cursor),
                        Err(e) => (q, Err(e.message), None),
                    }));
                }
            });
        })
    };
    let id = format!("search-{}", props.course);
    let results = match (*found).clone() {
        None => html! {},
        Some((_, Err(e), _)) => html! { <p class="error" role="alert">{ e }</p> },
        Some((q, Ok(hits), _)) if hits.is_empty() => html! {
            <p class="muted search-empty" role="status">{ format!("Nothing in this course's lectures matches “{q}”.") }</p>
        },
        Some((_, Ok(hits), next)) => html! {
            <>
                <p class="muted sr-only" role="status">{ format!("{} moments found", hits.len()) }</p>
                <ol class="search-hits" aria-label="Search results">
                    { for hits.iter().map(|h| html! {
                        <li class="search-hit">
                            <a href={replay_at_href(&h.session_id.to_string(), h.at_s)} data-at={format!("{:.1}", h.at_s)} data-kind={h.kind.as_str()}>
                                <span class="muted">
                                    { hit_kind(h) }
                                    { format!("{} · {} · at {}", h.lesson_title, h.held_at.with_timezone(&chrono::Local).format("%-d %b %Y"), crate::view::clock(h.at_s)) }
                                </span>
                                <span class="snippet" lang={h.language.clone()}>{ for crate::view::marked(&h.snippet).into_iter().map(|(t, m)| if m { html! { <mark>{ t }</mark> } } else { html! { { t } } }) }</span>
                            </a>
                        </li>
                    }) }
                </ol>
                if next.is_some() {
                    <button class="ghost search-more" onclick={more} disabled={*busy}>{ "More results" }</button>
                }
            </>
        },
    };
    html! {
        <div class="course-search">
            <form class="row" role="search" onsubmit={submit}>
                <label for={id.clone()} class="sr-only">{ "Search the lectures" }</label>
                <input id={id} ref={input} type="search" placeholder="Search what was said, shown and asked  ( / )" maxlength="100"
                    autocomplete="off" oninput={typed} aria-keyshortcuts="/" />
                <button type="submit" disabled={*busy}>{ if *busy { "Searching…" } else { "Search" } }</button>
            </form>
            { results }
        </div>
    }
}

fn session_row(s: &SessionDto, presents: bool) -> Html {
    let id = s.id.to_string();
    let (badge, class) = match s.status.as_str() {
        "live" => ("Live now", "badge live"),
        "ended" => ("Ended", "badge ended"),
        _ => ("Scheduled", "badge"),
    };
    html! {
        <li class="session" data-session={id.clone()} data-status={s.status.clone()}>
            <span class={class}>{ badge }</span>
            <time datetime={s.scheduled_start.to_rfc3339()}>{ local_time(&s.scheduled_start) }</time>
            <span class="actions">
                if s.status == "live" {
                    <a class="button primary" href={room_href(&id)}>{ "Join class" }</a>
                }
                if presents && s.status != "ended" {
                    <a class="button" href={present_href(&id)}>{ if s.status == "live" { "Present" } else { "Start and present" } }</a>
                }
                if s.status == "ended" {
                    <a class="button" href={replay_href(&id, None)}>{ "Watch replay" }</a>
                }
                if s.status == "scheduled" && !presents {
                    <span class="muted">{ "Opens when the teacher starts the class" }</span>
                }
            </span>
        </li>
    }
}

/// Mount the app into `#app`.
#[wasm_bindgen]
pub fn start_app() {
    let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id("app")).expect("#app");
    yew::Renderer::<App>::with_root(root).render();
}
