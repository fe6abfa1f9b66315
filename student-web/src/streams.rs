//! The teacher's multistream panel in the present view: where the class goes out (RTMP
//! destinations; stream keys go in and never come back), go live to the chosen ones, change them
//! while live, stop. Each destination says whether it is live; a stream that failed says why
//! (`stream.failed`, from the folded state, so it shows the moment the server logs it).

use crate::api::{self, ApiError};
use shared_types::dto::{DestinationDto, DestinationList};
use shared_types::media::StreamAnswer;
use shared_types::requests::{NewDestination, StreamTo};
use std::collections::BTreeSet;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct StreamProps {
    pub session: String,
    /// The folded state's `streaming` and `streamFailure`.
    pub streaming: bool,
    pub failure: Option<String>,
}

async fn delete(path: &str) -> Result<(), ApiError> {
    api::write_with::<serde_json::Value>("DELETE", path, &(), &api::new_key()).await.map(|_| ())
}

fn value(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
}

#[function_component(StreamPanel)]
pub fn stream_panel(props: &StreamProps) -> Html {
    let list = use_state(|| None::<Vec<DestinationDto>>);
    let chosen = use_state(BTreeSet::<uuid::Uuid>::new);
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let refresh = use_state(|| 0u32);
    let (name, url, key) = (use_node_ref(), use_node_ref(), use_node_ref());
    let base = format!("/api/sessions/{}", props.session);

    // The list, again after every change and whenever the stream starts, stops or fails.
    {
        let (list, chosen, base) = (list.clone(), chosen.clone(), base.clone());
        use_effect_with((*refresh, props.streaming, props.failure.clone()), move |_| {
            spawn_local(async move {
                if let Ok(l) = api::get::<DestinationList>(&format!("{base}/destinations")).await {
                    if chosen.is_empty() {
                        chosen.set(l.destinations.iter().filter(|d| d.live == Some(true)).map(|d| d.id).collect());
                    }
                    list.set(Some(l.destinations));
                }
            });
        });
    }
    // Run one request with the panel busy; its error shown, the list reloaded after.
    let run = {
        let (busy, error, refresh) = (busy.clone(), error.clone(), refresh.clone());
        move |work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ApiError>>>>| {
            let (busy, error, refresh) = (busy.clone(), error.clone(), refresh.clone());
            busy.set(true);
            error.set(None);
            spawn_local(async move {
                if let Err(e) = work.await {
                    error.set(Some(e.message));
                }
                busy.set(false);
                refresh.set(*refresh + 1);
            });
        }
    };
    let add = {
        let (run, base, name, url, key) = (run.clone(), base.clone(), name.clone(), url.clone(), key.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let body = NewDestination { name: value(&name), rtmp_url: value(&url), stream_key: value(&key) };
            let path = format!("{base}/destinations");
            let key_input = key.clone();
            run(Box::pin(async move {
                api::post::<DestinationDto>(&path, &body).await?;
                if let Some(i) = key_input.cast::<HtmlInputElement>() {
                    i.set_value("");
                }
                Ok(())
            }));
        })
    };
    let go_live = {
        let (run, base, chosen) = (run.clone(), base.clone(), chosen.clone());
        Callback::from(move |_| {
            let body = StreamTo { destination_ids: chosen.iter().copied().collect() };
            let path = format!("{base}/stream");
            run(Box::pin(async move { api::post::<StreamAnswer>(&path, &body).await.map(|_| ()) }));
        })
    };
    let stop = {
        let (run, base) = (run.clone(), base.clone());
        Callback::from(move |_| {
            let path = format!("{base}/stream");
            run(Box::pin(async move { delete(&path).await }));
        })
    };
    let rows = match &*list {
        None => html! { <p class="muted">{ "Loading destinations…" }</p> },
        Some(ds) if ds.is_empty() => html! {
            <p class="muted" id="no-destinations">{ "No destinations yet. Add the RTMP address and stream key your platform gives you (YouTube, Twitch, a school server)." }</p>
        },
        Some(ds) => html! {
            <ul class="destinations">
                { for ds.iter().map(|d| {
                    let id = d.id;
                    let toggle = {
                        let chosen = chosen.clone();
                        Callback::from(move |_| {
                            let mut c = (*chosen).clone();
                            if !c.remove(&id) {
                                c.insert(id);
                            }
                            chosen.set(c);
                        })
                    };
                    let remove = {
                        let (run, base) = (run.clone(), base.clone());
                        Callback::from(move |_| {
                            let path = format!("{base}/destinations/{id}");
                            run(Box::pin(async move { delete(&path).await }));
                        })
                    };
                    let live = d.live == Some(true);
                    html! {
                        <li class="destination" data-id={id.to_string()} data-live={live.to_string()}>
                            <label class="check">
                                <input type="checkbox" checked={chosen.contains(&id)} onclick={toggle} disabled={*busy} />
                                { " " }<strong>{ &d.name }</strong>
                            </label>
                            <span class="muted small">{ format!(" {} · key {}", d.rtmp_url, d.stream_key_hint) }</span>
                            <span class={classes!("badge", live.then_some("live"))}>{ if live { "Live" } else { "Off" } }</span>
                            <button class="ghost small" aria-label={format!("Remove {}", d.name)} onclick={remove} disabled={*busy}>{ "Remove" }</button>
                        </li>
                    }
                }) }
            </ul>
        },
    };
    let status = if props.streaming {
        html! { <span class="badge live" id="stream-status">{ "Streaming" }</span> }
    } else if let Some(why) = &props.failure {
        html! { <span class="badge warn" id="stream-status" title={why.clone()}>{ format!("Stream failed: {why}") }</span> }
    } else {
        html! { <span class="badge" id="stream-status">{ "Not streaming" }</span> }
    };
    let label = if props.streaming { "Update destinations" } else { "Go live" };
    html! {
        <section class="card stream-panel" aria-label="Stream to other platforms">
            <h2>{ "Stream " }{ status }</h2>
            { rows }
            <div class="row">
                <button id="stream-go" class="primary" onclick={go_live} disabled={*busy || chosen.is_empty()}>{ label }</button>
                if props.streaming {
                    <button id="stream-stop" class="danger" onclick={stop} disabled={*busy}>{ "Stop stream" }</button>
                }
            </div>
            <details>
                <summary>{ "Add a destination" }</summary>
                <form class="stack" onsubmit={add}>
                    <label class="stack">{ "Name" }<input ref={name} type="text" required=true maxlength="100" placeholder="YouTube" /></label>
                    <label class="stack">{ "RTMP address" }<input ref={url} type="url" required=true placeholder="rtmp://a.rtmp.youtube.com/live2" /></label>
                    <label class="stack">{ "Stream key" }<input ref={key} required=true type="password" autocomplete="off" /></label>
                    <div class="row"><button type="submit" disabled={*busy}>{ "Add destination" }</button></div>
                </form>
            </details>
            <p class="error" role="alert" id="stream-error">{ (*error).clone().unwrap_or_default() }</p>
        </section>
    }
}
