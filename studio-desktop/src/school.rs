//! Signing in with the school's own provider through the system browser, as a native app does
//! (RFC 8252): the studio listens on a loopback port, opens the browser at the server's
//! `/api/auth/sso/start` with that address, a PKCE challenge and a state of its own, and waits for
//! the browser to come back with a one-time code, which only its verifier trades for a session
//! (`POST /api/auth/sso/token`). The studio never sees the password; the browser shows a page that
//! says to go back to the studio (or why it was refused).

use crate::sync::{Client, SyncError};
use base64::Engine;
use sha2::{Digest, Sha256};
use shared_types::dto::{MeResponse, SsoToken};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The path of the loopback address the browser comes back to.
const LANDING: &str = "/signed-in";

/// What the browser brought back to the loopback address.
#[derive(Debug, PartialEq)]
enum Landing {
    Code(String),
    /// Refused at the school or by the server: the words to show, and the reason's code.
    Refused {
        words: String,
        reason: String,
    },
}

/// A PKCE verifier (64 unreserved characters) and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Sign in as `email` with the school's provider: `open` is given the URL to show in the system
/// browser; the sign-in waits up to `wait` for the browser to come back.
pub async fn sign_in_with_school(
    base: &str,
    email: &str,
    open: impl FnOnce(&str) -> Result<(), SyncError>,
    wait: Duration,
) -> Result<(Client, MeResponse), SyncError> {
    let base = base.trim_end_matches('/');
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| local(format!("no loopback port: {e}")))?;
    let port = listener.local_addr().map_err(|e| local(e.to_string()))?.port();
    let redirect = format!("http://127.0.0.1:{port}{LANDING}");
    let (verifier, challenge) = pkce();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let start = reqwest::Url::parse_with_params(
        &format!("{base}/api/auth/sso/start"),
        &[
            ("email", email.trim()),
            ("redirect_uri", redirect.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", state.as_str()),
        ],
    )
    .map_err(|_| SyncError::Server {
        status: 400,
        code: "validation".into(),
        message: "not a server address".into(),
    })?;
    open(start.as_str())?;
    let code = match landing(&listener, &state, wait).await? {
        Landing::Code(code) => code,
        Landing::Refused { words, reason } => {
            return Err(SyncError::Server { status: 403, code: reason, message: words });
        }
    };
    Client::signed_in_by(base, "/api/auth/sso/token", &SsoToken { code, code_verifier: verifier }).await
}

fn local(message: String) -> SyncError {
    SyncError::Server { status: 500, code: "loopback".into(), message }
}

/// Wait for the browser at the loopback address: the request that carries this sign-in's state.
/// Anything else (a favicon, another tab, a stale or forged state) is answered and waited past.
async fn landing(listener: &TcpListener, state: &str, wait: Duration) -> Result<Landing, SyncError> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let accepted = tokio::time::timeout(left, listener.accept()).await.map_err(|_| SyncError::Server {
            status: 408,
            code: "sign_in_timed_out".into(),
            message: "the school's sign-in did not come back in time; try again".into(),
        })?;
        let Ok((mut sock, _)) = accepted else { continue };
        let Some(target) = request_target(&mut sock).await else { continue };
        match read_landing(&target, state) {
            Some(Ok(landing)) => {
                let page = match &landing {
                    Landing::Code(_) => page("You are signed in", "Go back to the studio: it has your sign-in."),
                    Landing::Refused { words, .. } => page("You are not signed in", words),
                };
                answer(&mut sock, "200 OK", &page).await;
                return Ok(landing);
            }
            Some(Err(())) => {
                answer(&mut sock, "400 Bad Request", &page("Not this sign-in", "Start again from the studio.")).await
            }
            None => answer(&mut sock, "404 Not Found", &page("Nothing here", "This address is the studio's.")).await,
        }
    }
}

/// The request line's target (`/signed-in?code=…`), read within 10 s and 16 KiB.
async fn request_target(sock: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read).await.ok()??;
    let head = String::from_utf8_lossy(&buf);
    let mut line = head.lines().next()?.split_whitespace();
    (line.next()? == "GET").then_some(())?;
    line.next().map(str::to_string)
}

/// What a request to the loopback address says: `None` when it is not the landing, `Err` when its
/// state is not this sign-in's.
fn read_landing(target: &str, state: &str) -> Option<Result<Landing, ()>> {
    let url = reqwest::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != LANDING {
        return None;
    }
    let get = |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
    if get("state").as_deref() != Some(state) {
        return Some(Err(()));
    }
    Some(Ok(match (get("code"), get("error")) {
        (Some(code), None) if !code.is_empty() => Landing::Code(code),
        (_, error) => Landing::Refused {
            words: get("error_description").unwrap_or_else(|| "Your school's sign-in did not complete.".into()),
            reason: get("error_reason").or(error).unwrap_or_else(|| "access_denied".into()),
        },
    }))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(title: &str, words: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} · Teaching studio</title>\
         <link rel=\"icon\" href=\"data:,\"></head>\
         <body style=\"font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5\">\
         <main><h1>{t}</h1><p id=\"studio-sign-in\">{w}</p></main></body></html>\n",
        t = escape(title),
        w = escape(words)
    )
}

async fn answer(sock: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(body.as_bytes()).await;
    let _ = sock.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_landing_is_read_for_this_sign_in_only() {
        assert_eq!(read_landing("/signed-in?code=abc&state=s1", "s1"), Some(Ok(Landing::Code("abc".into()))));
        assert_eq!(read_landing("/signed-in?code=abc&state=other", "s1"), Some(Err(())), "another state");
        assert_eq!(read_landing("/signed-in?code=abc", "s1"), Some(Err(())), "no state");
        assert_eq!(read_landing("/favicon.ico", "s1"), None);
        let refused = read_landing(
            "/signed-in?error=access_denied&error_description=No+account+here&error_reason=no_account&state=s1",
            "s1",
        );
        assert_eq!(
            refused,
            Some(Ok(Landing::Refused { words: "No account here".into(), reason: "no_account".into() }))
        );
    }

    #[test]
    fn pkce_is_rfc_7636_s256() {
        let (verifier, challenge) = pkce();
        assert!(verifier.len() >= 43 && verifier.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(challenge.len(), 43);
        // RFC 7636 appendix B's example pair, through the same encoding.
        let v = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let c = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
        assert_eq!(c, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
