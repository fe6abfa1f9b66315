//! The HTTP API from the browser: same-origin `fetch` (the login cookie authenticates), answers
//! typed with shared-types, refusals read from problem+json. A write carries one Idempotency-Key
//! for all its attempts and is retried while the network or the server is down, so a vote or a
//! question typed during a blip is neither lost nor counted twice.

use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestCredentials, RequestInit, Response};

#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// 0 when the server could not be reached.
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    fn network() -> Self {
        ApiError {
            status: 0,
            code: "network".into(),
            message: "The server cannot be reached. Check your connection; we keep trying.".into(),
        }
    }

    pub fn from_message(message: &str) -> Self {
        ApiError { status: 0, code: "client".into(), message: message.into() }
    }

    fn unreadable(e: impl std::fmt::Display) -> Self {
        ApiError {
            status: 0,
            code: "unreadable".into(),
            message: format!("The server's answer was not understood: {e}"),
        }
    }

    /// Worth trying again with the same key: nothing answered, the server is overloaded or failing.
    fn transient(&self) -> bool {
        self.status == 0 && self.code == "network" || self.status == 429 || self.status >= 500
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A fresh key for one user action.
pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn sleep(ms: i32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(p).await;
}

/// A request body: JSON text, or a multipart form (the browser sets its content type).
enum Payload<'a> {
    Json(&'a str),
    Form(&'a web_sys::FormData),
}

async fn send(method: &str, path: &str, body: Option<Payload<'_>>, key: Option<&str>) -> ApiResult<String> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = web_sys::Headers::new().map_err(|_| ApiError::network())?;
    let _ = headers.set("Accept", "application/json");
    match body {
        Some(Payload::Json(b)) => {
            let _ = headers.set("Content-Type", "application/json");
            init.set_body(&JsValue::from_str(b));
        }
        Some(Payload::Form(f)) => init.set_body(f),
        None => {}
    }
    if let Some(k) = key {
        let _ = headers.set("Idempotency-Key", k);
    }
    init.set_headers(&headers);
    let req = Request::new_with_str_and_init(path, &init).map_err(|_| ApiError::network())?;
    let window = web_sys::window().ok_or_else(ApiError::network)?;
    let resp: Response = JsFuture::from(window.fetch_with_request(&req))
        .await
        .map_err(|_| ApiError::network())?
        .dyn_into()
        .map_err(|_| ApiError::network())?;
    let text = match resp.text() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()).unwrap_or_default(),
        Err(_) => String::new(),
    };
    if resp.ok() {
        return Ok(text);
    }
    let problem: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let status = resp.status();
    Err(ApiError {
        status,
        code: problem["code"].as_str().unwrap_or("error").into(),
        message: problem["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("The server answered {status}.")),
    })
}

fn parse<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(if text.trim().is_empty() { "null" } else { text }).map_err(ApiError::unreadable)
}

pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<T> {
    parse(&send("GET", path, None, None).await?)
}

/// A write under `key`, retried (same key) while the failure is transient: up to about a minute.
pub async fn write_with<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &impl Serialize,
    key: &str,
) -> ApiResult<T> {
    let body = serde_json::to_string(body).map_err(ApiError::unreadable)?;
    let mut wait = 400;
    for attempt in 0.. {
        match send(method, path, Some(Payload::Json(&body)), Some(key)).await {
            Ok(text) => return parse(&text),
            Err(e) if e.transient() && attempt < 8 => {
                sleep(wait).await;
                wait = (wait * 2).min(10_000);
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// POST one user action under a fresh key.
pub async fn post<T: DeserializeOwned>(path: &str, body: &impl Serialize) -> ApiResult<T> {
    write_with("POST", path, body, &new_key()).await
}

/// Log in (no idempotency key: login is exempt and must not be retried blindly).
pub async fn login(email: &str, password: &str) -> ApiResult<shared_types::dto::LoginResponse> {
    let body = serde_json::json!({ "email": email, "password": password }).to_string();
    parse(&send("POST", "/api/auth/login", Some(Payload::Json(&body)), None).await?)
}

/// Use an invite or reset link's token: set the password and sign in (exempt from keys like login;
/// the token itself works once).
pub async fn redeem(token: &str, password: &str) -> ApiResult<shared_types::dto::LoginResponse> {
    let body = serde_json::json!({ "token": token, "password": password }).to_string();
    parse(&send("POST", "/api/auth/redeem", Some(Payload::Json(&body)), None).await?)
}

/// Upload a multipart form (slides) under one key, retried like any write.
pub async fn upload<T: DeserializeOwned>(path: &str, form: &web_sys::FormData) -> ApiResult<T> {
    let key = new_key();
    let mut wait = 400;
    for attempt in 0.. {
        match send("POST", path, Some(Payload::Form(form)), Some(&key)).await {
            Ok(text) => return parse(&text),
            Err(e) if e.transient() && attempt < 4 => {
                sleep(wait).await;
                wait *= 2;
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

pub async fn logout() -> ApiResult<()> {
    send("POST", "/api/auth/logout", None, None).await.map(|_| ())
}
