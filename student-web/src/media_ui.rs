//! The media panes of the live room: the students' `MediaWatch` (subscribes, attaches the teacher's
//! audio and video) and the presenter's `MediaBroadcast` (publishes microphone and camera and
//! records them in slices kept in this browser until the server has each one, so a closed tab or a
//! dropped network loses at most the slice being made). Each shows the connection state and says
//! plainly when media is unavailable, since chat, polls and slides keep working without it.

use crate::media;
use js_sys::Reflect;
use shared_types::dto::LiveKitGrant;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

/// Expose a value to tests as `window.__studio[key]`.
pub fn expose(key: &str, value: &JsValue) {
    let Some(window) = web_sys::window() else { return };
    let studio = Reflect::get(&window, &"__studio".into()).ok().filter(|v| v.is_object()).unwrap_or_else(|| {
        let o: JsValue = js_sys::Object::new().into();
        let _ = Reflect::set(&window, &"__studio".into(), &o);
        o
    });
    let _ = Reflect::set(&studio, &key.into(), value);
}

fn state_callback(handle: UseStateHandle<String>) -> js_sys::Function {
    Closure::<dyn FnMut(String)>::new(move |s: String| handle.set(s)).into_js_value().into()
}

#[derive(Properties, PartialEq, Clone)]
pub struct WatchProps {
    pub grant: Option<LiveKitGrant>,
}

#[function_component(MediaWatch)]
pub fn media_watch(props: &WatchProps) -> Html {
    let state = use_state(|| "connecting".to_string());
    let hearing = use_state(|| "waiting for the teacher".to_string());
    let error = use_state(|| None::<String>);
    let container = use_node_ref();
    let room = use_mut_ref(|| None::<JsValue>);
    {
        let (grant, state, hearing, error, container, room) =
            (props.grant.clone(), state.clone(), hearing.clone(), error.clone(), container.clone(), room.clone());
        use_effect_with(grant.clone(), move |_| {
            let keep = room.clone();
            spawn_local(async move {
                let result: Result<(), String> = async {
                    let Some(lk) = grant else {
                        state.set("unavailable".into());
                        return Err("Audio and video are unavailable; chat, slides and polls still work.".into());
                    };
                    let el: JsValue = container.get().map(JsValue::from).ok_or("the page is not ready")?;
                    // Which kinds of track arrived so far: (audio, video).
                    let mut got = (false, false);
                    let on_track: js_sys::Function = Closure::<dyn FnMut(String)>::new(move |kind: String| {
                        if kind == "audio" {
                            got.0 = true;
                        } else {
                            got.1 = true;
                        }
                        hearing.set(
                            match got {
                                (true, true) => "hearing and seeing the teacher",
                                (true, false) => "hearing the teacher",
                                _ => "seeing the teacher",
                            }
                            .into(),
                        )
                    })
                    .into_js_value()
                    .into();
                    let r = media::watch(&lk.url, &lk.token, &el, &state_callback(state.clone()), &on_track).await?;
                    expose("room", &r);
                    *room.borrow_mut() = Some(r);
                    Ok(())
                }
                .await;
                if let Err(e) = result {
                    error.set(Some(e));
                }
            });
            move || {
                if let Some(r) = keep.borrow_mut().take() {
                    spawn_local(async move { media::disconnect(&r).await });
                }
            }
        });
    }
    html! {
        <div class="media-pane">
            <div id="media" class="media" ref={container}></div>
            <p class="media-state">
                <span class="state" id="state" data-s={(*state).clone()}>{ (*state).clone() }</span>
                { " · " }<span id="hearing">{ (*hearing).clone() }</span>
            </p>
            if let Some(e) = (*error).clone() { <p id="error" class="note" role="status">{ e }</p> }
        </div>
    }
}

#[derive(Properties, PartialEq, Clone)]
pub struct BroadcastProps {
    pub session: String,
    pub grant: Option<LiveKitGrant>,
    /// Told once the class has ended (after the recording is uploaded).
    pub on_ended: Callback<()>,
    /// The class has ended (here or elsewhere, e.g. in the studio): nothing more to send or end.
    #[prop_or(false)]
    pub ended: bool,
}

/// Where the class recording is (its figures come from the recorder's reports).
#[derive(Clone, Debug, Default, PartialEq)]
enum Rec {
    #[default]
    Off,
    On,
    /// "End class": sending what is left.
    Finishing,
    Done(String),
}

impl Rec {
    /// What the teacher reads beside "Recording:".
    fn text(&self, s: &media::RecordingStatus) -> String {
        let parts = |n: u32| if n == 1 { "1 part".to_string() } else { format!("{n} parts") };
        let doing = match self {
            Rec::Done(d) => return d.clone(),
            Rec::Off if s.waiting == 0 => return "off".into(),
            Rec::Off => "sending what this browser kept",
            Rec::On if s.shows.as_deref() == Some("screen") => "recording the screen",
            Rec::On => "recording",
            Rec::Finishing => "finishing",
        };
        if s.offline {
            format!(
                "{doing} · offline: {} kept in this browser, sent when the network returns · {} saved",
                parts(s.waiting),
                s.saved
            )
        } else {
            format!("{doing} · {} saved · {} waiting", parts(s.saved), s.waiting)
        }
    }
}

/// The broadcast pane's state, cloned into its callbacks whole.
#[derive(Clone)]
struct Pane {
    state: UseStateHandle<String>,
    rec: UseStateHandle<Rec>,
    figures: UseStateHandle<media::RecordingStatus>,
    error: UseStateHandle<Option<String>>,
    live: UseStateHandle<bool>,
    busy: UseStateHandle<bool>,
    room: Rc<RefCell<Option<JsValue>>>,
    recorder: Rc<RefCell<Option<JsValue>>>,
}

impl Pane {
    /// Stop the recorder (its last slices go up, or stay in this browser until they can) and leave
    /// the LiveKit room.
    async fn stop(&self) -> Result<(), String> {
        let handle = self.recorder.borrow_mut().take();
        if let Some(handle) = handle {
            self.rec.set(Rec::Finishing);
            let uploaded = media::stop_recording(&handle).await?;
            expose("uploaded", &media::to_js(&uploaded).unwrap_or(JsValue::TRUE));
            self.rec.set(Rec::Done(match uploaded["waiting"].as_u64() {
                Some(n) => format!(
                    "{n} parts are still in this browser: keep this page open (or reopen it) to send them; \
                     the server keeps what it has"
                ),
                None => "uploaded; the transcript will follow".into(),
            }));
        }
        let r = self.room.borrow().clone();
        if let Some(r) = r {
            media::disconnect(&r).await;
        }
        self.live.set(false);
        Ok(())
    }

    /// Run `work` with the pane busy; its error is shown.
    fn run(&self, work: impl std::future::Future<Output = Result<(), String>> + 'static) {
        let pane = self.clone();
        pane.busy.set(true);
        pane.error.set(None);
        spawn_local(async move {
            if let Err(e) = work.await {
                pane.error.set(Some(e));
            }
            pane.busy.set(false);
        });
    }
}

#[function_component(MediaBroadcast)]
pub fn media_broadcast(props: &BroadcastProps) -> Html {
    let pane = Pane {
        state: use_state(|| "not connected".to_string()),
        rec: use_state(Rec::default),
        figures: use_state(media::RecordingStatus::default),
        error: use_state(|| None::<String>),
        live: use_state(|| false),
        busy: use_state(|| false),
        room: use_mut_ref(|| None::<JsValue>),
        recorder: use_mut_ref(|| None::<JsValue>),
    };
    // Each report of the recorder (or of what an earlier page left here) updates the figures.
    let on_status = {
        let figures = pane.figures.clone();
        use_memo((), move |_| {
            media::on_status(move |s| {
                let seen = serde_json::json!({
                    "saved": s.saved, "waiting": s.waiting, "offline": s.offline, "uploadId": s.upload_id, "shows": s.shows,
                });
                expose("recording", &media::to_js(&seen).unwrap_or(JsValue::NULL));
                figures.set(s)
            })
        })
    };
    {
        // A reloaded or reopened present view first sends what the earlier page left in this browser.
        let (session, on_status, rec) = (props.session.clone(), (*on_status).clone(), pane.rec.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                if let Err(e) = media::flush_pending(&session, &on_status).await {
                    rec.set(Rec::Done(format!("could not read what this browser kept: {e}")));
                }
            });
        });
    }
    let camera = use_state(|| true);
    let toggle_camera = {
        let camera = camera.clone();
        Callback::from(move |_| camera.set(!*camera))
    };
    let go = {
        let (p, grant, with_camera, session, on_status) =
            (pane.clone(), props.grant.clone(), *camera, props.session.clone(), (*on_status).clone());
        Callback::from(move |_| {
            let (p2, grant, session, on_status) = (p.clone(), grant.clone(), session.clone(), on_status.clone());
            p.run(async move {
                let lk = grant.ok_or("live media is not available on this server")?;
                let r = media::broadcast(&lk.url, &lk.token, with_camera, &state_callback(p2.state.clone())).await?;
                expose("room", &r);
                *p2.room.borrow_mut() = Some(r.clone());
                p2.live.set(true);
                let handle = media::record(&r, &session, &on_status).await.map_err(|e| format!("recording: {e}"))?;
                *p2.recorder.borrow_mut() = Some(handle);
                p2.rec.set(Rec::On);
                Ok(())
            });
        })
    };
    // The screen is shared when the recorder says it records it (also after the browser's own
    // "Stop sharing" ended it).
    let sharing = pane.figures.shows.as_deref() == Some("screen");
    let share = {
        let p = pane.clone();
        Callback::from(move |_| {
            let p2 = p.clone();
            p.run(async move {
                let room = p2.room.borrow().clone().ok_or("go live first")?;
                media::share_screen(&room, !sharing).await.map_err(|e| format!("screen sharing: {e}"))?;
                Ok(())
            });
        })
    };
    let end = {
        let (p, session, on_ended) = (pane.clone(), props.session.clone(), props.on_ended.clone());
        Callback::from(move |_| {
            let (p2, session, on_ended) = (p.clone(), session.clone(), on_ended.clone());
            p.run(async move {
                p2.stop().await?;
                let body = shared_types::dto::SessionAction {
                    session_id: session.parse().map_err(|_| "bad session id")?,
                    idempotency_key: None,
                };
                crate::api::post::<serde_json::Value>("/api/sessions/end", &body).await.map_err(|e| e.message)?;
                expose("ended", &JsValue::TRUE);
                on_ended.emit(());
                Ok(())
            });
        })
    };
    {
        // Ended elsewhere (the studio, another tab, an admin): stop recording and leave the room.
        let p = pane.clone();
        use_effect_with(props.ended, move |ended| {
            if *ended && (p.recorder.borrow().is_some() || p.room.borrow().is_some()) {
                let p2 = p.clone();
                p.run(async move { p2.stop().await });
            }
        });
    }
    let ended = props.ended;
    let Pane { state, rec, figures, error, live, busy, .. } = pane;

    html! {
        <div class="media-pane broadcast">
            <p class="media-state">
                { "Media: " }<span class="state" id="state" data-s={(*state).clone()}>{ (*state).clone() }</span>
                { " · Recording: " }
                <span id="rec" role="status" data-saved={figures.saved.to_string()} data-waiting={figures.waiting.to_string()}
                    data-offline={figures.offline.to_string()} class={classes!(figures.offline.then_some("offline"))}>
                    { rec.text(&figures) }
                </span>
            </p>
            <div class="row">
                <label class="check"><input id="camera" type="checkbox" checked={*camera} onclick={toggle_camera} disabled={*live} />{ " Camera" }</label>
                <button id="go" class="primary" onclick={go} disabled={*live || *busy || ended || props.grant.is_none()}>{ "Go live" }</button>
                <button id="share" aria-pressed={sharing.to_string()} onclick={share} disabled={!*live || *busy || ended}
                    title="Students see your screen instead of the camera, and the recording shows it">
                    { if sharing { "Stop sharing" } else { "Share screen" } }
                </button>
                <button id="end" class="danger" onclick={end} disabled={*busy || ended}>{ if ended { "Class ended" } else { "End class" } }</button>
            </div>
            if props.grant.is_none() { <p class="note">{ "Live audio and video are not configured on this server; the class runs without them." }</p> }
            <p id="error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
        </div>
    }
}
