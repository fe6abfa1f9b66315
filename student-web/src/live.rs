//! The live socket (`/api/sessions/{id}/live?after=SEQ`): every event after the last one seen, in
//! order, exactly once. A dropped socket reconnects with backoff from the last sequence folded, a
//! gap asks the server to resume, a duplicate is skipped — so the page never loses or repeats an
//! event however often the network or the server goes away.

use shared_types::requests::LiveClientMessage;
use shared_types::EventEnvelope;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};
use yew::Callback;

/// What the connection indicator shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    Reconnecting,
    Offline,
    /// The token was revoked or expired: sign in again.
    SignedOut,
}

impl Link {
    pub fn label(self) -> &'static str {
        match self {
            Link::Connecting => "connecting",
            Link::Live => "live",
            Link::Reconnecting => "reconnecting",
            Link::Offline => "offline",
            Link::SignedOut => "signed out",
        }
    }
}

struct Inner {
    session: String,
    head: u64,
    ws: Option<WebSocket>,
    failures: u32,
    stopped: bool,
    on_event: Callback<EventEnvelope>,
    on_link: Callback<Link>,
}

/// One live subscription; dropping the last clone does not close it, `close()` does.
#[derive(Clone)]
pub struct LiveFeed(Rc<RefCell<Inner>>);

impl PartialEq for LiveFeed {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

fn socket_url(session: &str, after: u64) -> String {
    let loc = web_sys::window().map(|w| w.location());
    let host = loc.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let scheme = match loc.and_then(|l| l.protocol().ok()).as_deref() {
        Some("https:") => "wss",
        _ => "ws",
    };
    format!("{scheme}://{host}/api/sessions/{session}/live?after={after}")
}

impl LiveFeed {
    /// Subscribe to `session` after sequence `after`.
    pub fn open(session: &str, after: u64, on_event: Callback<EventEnvelope>, on_link: Callback<Link>) -> Self {
        let feed = LiveFeed(Rc::new(RefCell::new(Inner {
            session: session.to_string(),
            head: after,
            ws: None,
            failures: 0,
            stopped: false,
            on_event,
            on_link,
        })));
        feed.connect();
        feed
    }

    pub fn close(&self) {
        let ws = {
            let mut i = self.0.borrow_mut();
            i.stopped = true;
            i.ws.take()
        };
        if let Some(ws) = ws {
            let _ = ws.close();
        }
    }

    fn connect(&self) {
        let (url, link) = {
            let i = self.0.borrow();
            if i.stopped {
                return;
            }
            (socket_url(&i.session, i.head), i.on_link.clone())
        };
        if self.0.borrow().failures == 0 {
            link.emit(Link::Connecting);
        }
        let Ok(ws) = WebSocket::new(&url) else {
            self.retry();
            return;
        };
        let me = self.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |m: MessageEvent| {
            if let Some(text) = m.data().as_string() {
                me.message(&text);
            }
        });
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();
        let me = self.clone();
        let this_ws = ws.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |c: CloseEvent| {
            let current = me.0.borrow().ws.as_ref().is_some_and(|w| w == &this_ws);
            if !current {
                return;
            }
            me.0.borrow_mut().ws = None;
            if c.code() == 4001 {
                let link = me.0.borrow().on_link.clone();
                me.0.borrow_mut().stopped = true;
                link.emit(Link::SignedOut);
                return;
            }
            me.retry();
        });
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        on_close.forget();
        self.0.borrow_mut().ws = Some(ws);
    }

    /// Reconnect after 0.5, 1, 2, 4 s, then every 5 s; "offline" after the third failure.
    fn retry(&self) {
        let (failures, link, stopped) = {
            let mut i = self.0.borrow_mut();
            i.failures += 1;
            (i.failures, i.on_link.clone(), i.stopped)
        };
        if stopped {
            return;
        }
        link.emit(if failures > 3 { Link::Offline } else { Link::Reconnecting });
        let wait = (250 * 2i32.pow(failures.min(5))).min(5_000);
        let me = self.clone();
        let again = Closure::once_into_js(move || me.connect());
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), wait);
        }
    }

    fn send(&self, msg: &LiveClientMessage) {
        if let (Some(ws), Ok(text)) = (self.0.borrow().ws.as_ref(), serde_json::to_string(msg)) {
            let _ = ws.send_with_str(&text);
        }
    }

    fn message(&self, text: &str) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { return };
        match v["kind"].as_str() {
            Some("event") => {
                let Ok(e) = serde_json::from_value::<EventEnvelope>(v["event"].clone()) else { return };
                let (head, on_event) = {
                    let i = self.0.borrow();
                    (i.head, i.on_event.clone())
                };
                if e.sequence <= head {
                    return;
                }
                if e.sequence > head + 1 {
                    self.send(&LiveClientMessage::Resume { after: head });
                    return;
                }
                self.0.borrow_mut().head = e.sequence;
                on_event.emit(e);
            }
            Some("ready") => {
                let link = {
                    let mut i = self.0.borrow_mut();
                    i.failures = 0;
                    i.on_link.clone()
                };
                link.emit(Link::Live);
            }
            Some("ping") => self.send(&LiveClientMessage::Pong),
            _ => {}
        }
    }
}
