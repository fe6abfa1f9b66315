//! The account pages: choosing a password from a school's invite or reset link (`#/welcome?token=`),
//! and changing one's own password (`#/account`).

use crate::api::{self, ApiError};
use crate::app::Me;
use crate::view::password_problem;
use wasm_bindgen_futures::spawn_local;
use web_sys::HtmlInputElement;
use yew::prelude::*;

fn value(r: &NodeRef) -> String {
    r.cast::<HtmlInputElement>().map(|i| i.value()).unwrap_or_default()
}

#[derive(Properties, PartialEq)]
pub struct HandoffProps {
    pub token: String,
    /// The app route to land on, without its `#` (`/sessions/…/present`).
    pub next: String,
    pub on_signed_in: Callback<()>,
}

/// The studio opened this browser signed in as its teacher: spend the one-time token, then go on.
#[function_component(Handoff)]
pub fn handoff(props: &HandoffProps) -> Html {
    let error = use_state(|| None::<String>);
    {
        let (token, next, done, error) =
            (props.token.clone(), props.next.clone(), props.on_signed_in.clone(), error.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                let body = shared_types::dto::RedeemHandoff { token };
                match api::post::<shared_types::dto::LoginResponse>("/api/auth/handoff/redeem", &body).await {
                    Ok(_) => {
                        // The token leaves the address bar and the history.
                        let next = if next.starts_with('/') { format!("#{next}") } else { "#/".into() };
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().replace(&next);
                        }
                        done.emit(());
                    }
                    Err(ApiError { code, .. }) if code == "link_invalid" => error.set(Some(
                        "This link from the studio was used already or is more than a minute old. Open it again from the studio.".into(),
                    )),
                    Err(e) => error.set(Some(e.message)),
                }
            });
        });
    }
    html! {
        <section class="signin card" id="handoff">
            <h1>{ if error.is_some() { "This studio link did not work" } else { "Signing you in from the studio…" } }</h1>
            <p id="handoff-error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
            if error.is_some() { <p><a href="#/">{ "Sign in here instead" }</a></p> }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct WelcomeProps {
    pub token: String,
    pub on_signed_in: Callback<()>,
}

/// "Choose your password": the link's token and a password typed twice → signed in, on to courses.
#[function_component(Welcome)]
pub fn welcome(props: &WelcomeProps) -> Html {
    let (new, repeat) = (use_node_ref(), use_node_ref());
    let error = use_state(|| None::<String>);
    let busy = use_state(|| false);
    let submit = {
        let (new, repeat, error, busy) = (new.clone(), repeat.clone(), error.clone(), busy.clone());
        let (token, done) = (props.token.clone(), props.on_signed_in.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (pw, again) = (value(&new), value(&repeat));
            if let Some(p) = password_problem(&pw, &again) {
                error.set(Some(p.into()));
                return;
            }
            let (token, error, busy, done) = (token.clone(), error.clone(), busy.clone(), done.clone());
            busy.set(true);
            spawn_local(async move {
                match api::redeem(&token, &pw).await {
                    Ok(_) => {
                        // The token leaves the address bar and the history.
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().replace("#/");
                        }
                        done.emit(());
                    }
                    Err(ApiError { code, .. }) if code == "link_invalid" => error
                        .set(Some("This link was used already or has expired. Ask your school for a new one.".into())),
                    Err(e) => error.set(Some(e.message)),
                }
                busy.set(false);
            });
        })
    };
    let missing = props.token.is_empty();
    html! {
        <section class="signin card" id="welcome">
            <h1>{ "Choose your password" }</h1>
            if missing {
                <p class="error" role="alert">{ "This link is incomplete. Open the whole link your school sent you." }</p>
            } else {
                <p class="muted">{ "Your school made an account for you. Choose a password to sign in with from now on." }</p>
                <form onsubmit={submit} novalidate=true>
                    <label for="new-password">{ "New password" }</label>
                    <input id="new-password" ref={new} type="password" autocomplete="new-password"
                        minlength="8" required=true aria-describedby="password-rule" />
                    <p id="password-rule" class="muted small">{ "At least 8 characters." }</p>
                    <label for="repeat-password">{ "The same password again" }</label>
                    <input id="repeat-password" ref={repeat} type="password" autocomplete="new-password" required=true />
                    <p id="welcome-error" class="error" role="alert">{ (*error).clone().unwrap_or_default() }</p>
                    <button id="set-password" class="primary" type="submit" disabled={*busy}>
                        { if *busy { "Saving…" } else { "Save and sign in" } }
                    </button>
                </form>
            }
        </section>
    }
}

/// The signed-in user's account: who they are, and a password change (other sessions end).
#[function_component(Account)]
pub fn account() -> Html {
    let me = use_context::<Me>().expect("signed in");
    let (current, new, repeat) = (use_node_ref(), use_node_ref(), use_node_ref());
    let status = use_state(|| None::<Result<String, String>>);
    let busy = use_state(|| false);
    let submit = {
        let (current, new, repeat, status, busy) =
            (current.clone(), new.clone(), repeat.clone(), status.clone(), busy.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let (old, pw, again) = (value(&current), value(&new), value(&repeat));
            if old.is_empty() {
                status.set(Some(Err("Enter your current password.".into())));
                return;
            }
            if let Some(p) = password_problem(&pw, &again) {
                status.set(Some(Err(p.into())));
                return;
            }
            let (status, busy, inputs) = (status.clone(), busy.clone(), [current.clone(), new.clone(), repeat.clone()]);
            busy.set(true);
            spawn_local(async move {
                let body = serde_json::json!({ "currentPassword": old, "newPassword": pw });
                match api::post::<serde_json::Value>("/api/auth/password", &body).await {
                    Ok(_) => {
                        for i in &inputs {
                            if let Some(i) = i.cast::<HtmlInputElement>() {
                                i.set_value("");
                            }
                        }
                        status.set(Some(Ok(
                            "Password changed. You stay signed in here; other devices were signed out.".into(),
                        )))
                    }
                    Err(ApiError { code, .. }) if code == "validation_failed" => {
                        status.set(Some(Err("That is not your current password.".into())))
                    }
                    Err(e) => status.set(Some(Err(e.message))),
                }
                busy.set(false);
            });
        })
    };
    let (ok, err) = match (*status).clone() {
        Some(Ok(m)) => (m, String::new()),
        Some(Err(m)) => (String::new(), m),
        None => (String::new(), String::new()),
    };
    html! {
        <section class="signin card" id="account">
            <h1>{ "Your account" }</h1>
            <p class="muted">{ format!("Signed in as {}", me.me.email) }</p>
            <h2>{ "Change password" }</h2>
            <form onsubmit={submit} novalidate=true>
                <label for="current-password">{ "Current password" }</label>
                <input id="current-password" ref={current} type="password" autocomplete="current-password" required=true />
                <label for="new-password">{ "New password" }</label>
                <input id="new-password" ref={new} type="password" autocomplete="new-password" minlength="8" required=true />
                <label for="repeat-password">{ "The same password again" }</label>
                <input id="repeat-password" ref={repeat} type="password" autocomplete="new-password" required=true />
                <p id="account-error" class="error" role="alert">{ err }</p>
                <p id="account-ok" class="ok" role="status">{ ok }</p>
                <button id="change-password" class="primary" type="submit" disabled={*busy}>
                    { if *busy { "Saving…" } else { "Change password" } }
                </button>
            </form>
            <p><a href="#/">{ "Back to my courses" }</a></p>
        </section>
    }
}
