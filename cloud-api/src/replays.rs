//! Replay answers, gzipped once per version of a session and kept a while: after class every
//! student opens the same replay, and its answer (the folded state of a whole class, the
//! transcript) is megabytes of JSON that only change when the log or an artifact does.
//!
//! A version is everything the answer is built from — the session row (its head), the recordings
//! and the artifacts with their times — so a new event, a finished transcript or a new recording
//! builds a new answer. Kept at most [`KEEP_FOR`] (the recordings' signed URLs in it live an hour)
//! and [`MAX_BYTES`] in all, oldest out first.

use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use shared_types::SessionId;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a built answer is served: a quarter of the signed URLs' life, so a URL handed out from
/// the cache is still good for at least 45 minutes.
pub const KEEP_FOR: Duration = Duration::from_secs(15 * 60);
/// Compressed bytes kept across sessions (a 2-hour class is ≈ 0.3 MB gzipped).
pub const MAX_BYTES: usize = 32 << 20;

struct Entry {
    version: [u8; 32],
    built: Instant,
    gzip: Bytes,
}

#[derive(Default)]
pub struct ReplayCache {
    entries: Mutex<HashMap<SessionId, Entry>>,
}

/// The fingerprint of what an answer is built from (its JSON).
pub fn version<T: serde::Serialize>(parts: &T) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(parts).unwrap_or_default()).into()
}

impl ReplayCache {
    /// The gzipped answer for `session` at `version`, while it is fresh.
    pub fn get(&self, session: SessionId, version: &[u8; 32]) -> Option<Bytes> {
        let map = self.entries.lock().expect("replay cache");
        map.get(&session).filter(|e| &e.version == version && e.built.elapsed() < KEEP_FOR).map(|e| e.gzip.clone())
    }

    /// Compress `json` and keep it for `session` at `version`; returns the gzip bytes.
    pub fn put(&self, session: SessionId, version: [u8; 32], json: &[u8]) -> std::io::Result<Bytes> {
        let gzip = Bytes::from(gzip(json)?);
        let mut map = self.entries.lock().expect("replay cache");
        map.insert(session, Entry { version, built: Instant::now(), gzip: gzip.clone() });
        let mut total: usize = map.values().map(|e| e.gzip.len()).sum();
        while total > MAX_BYTES {
            let Some(oldest) = map.iter().min_by_key(|(_, e)| e.built).map(|(s, _)| *s) else { break };
            total -= map.remove(&oldest).map(|e| e.gzip.len()).unwrap_or(0);
        }
        Ok(gzip)
    }
}

fn gzip(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 6), flate2::Compression::default());
    enc.write_all(json)?;
    enc.finish()
}

/// Whether the request's `Accept-Encoding` takes gzip.
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|c| {
            let mut it = c.split(';');
            let name = it.next().unwrap_or("").trim();
            let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

/// A JSON answer, gzipped (the compression layer leaves an encoded answer alone).
pub fn gzipped_json(gzip: Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
            (header::VARY, "accept-encoding"),
        ],
        gzip,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
        accepts_gzip(&h)
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accept("gzip, deflate, br"));
        assert!(accept("br;q=1.0, GZIP;q=0.5"));
        assert!(accept("*"));
        assert!(!accept("gzip;q=0"));
        assert!(!accept("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn an_answer_is_kept_per_version_and_evicted_oldest_first() {
        let cache = ReplayCache::default();
        let s = SessionId::new();
        let v1 = version(&(1u64, "a"));
        let v2 = version(&(2u64, "a"));
        assert_ne!(v1, v2);
        let gz = cache.put(s, v1, br#"{"a":1}"#).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
        assert_eq!(back, r#"{"a":1}"#);
        assert_eq!(cache.get(s, &v1), Some(gz));
        assert_eq!(cache.get(s, &v2), None, "another version is not served");
        // Incompressible answers past the budget push the oldest out.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..MAX_BYTES / 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let others: Vec<SessionId> = (0..4).map(|_| SessionId::new()).collect();
        for o in &others {
            cache.put(*o, v1, &noise).unwrap();
        }
        assert_eq!(cache.get(s, &v1), None, "the oldest went first");
        assert!(cache.get(others[3], &v1).is_some(), "the newest stays");
    }
}
