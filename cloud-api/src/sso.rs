//! Sign-in through a school's own OpenID provider (OpenID Connect Core, authorization code flow with
//! PKCE, RFC 7636): discovery and the provider's keys, fetched and kept (keys fetched again when a
//! token names one not seen — the provider rotated), the code redeemed for tokens, the ID token
//! checked here (RS256 signature against the provider's JWKS, `iss`, `aud`, `azp`, `exp`, `iat`,
//! `nonce`), and the person's email and whether it is verified read from the userinfo endpoint.
//!
//! Nothing here is kept longer than a sign-in but discovery and keys; no token, code or secret is
//! logged — a refusal's detail names what failed, never the values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long discovery documents and key sets are kept before they are fetched again.
const KEEP: Duration = Duration::from_secs(3600);
/// Clock difference allowed between the provider and us.
const LEEWAY_S: i64 = 60;

/// What a provider's discovery document says (the parts a relying party needs).
#[derive(Clone, Debug, Deserialize)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

#[derive(Clone, Debug, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

/// Why a sign-in through the provider was refused: a code for the audit trail and the logs, and
/// words for the person.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The `state` is unknown, used or expired (a replayed or forged callback).
    State,
    /// The provider answered the redirect with an error (the person cancelled, …).
    Provider(String),
    /// The provider could not be reached or answered nonsense.
    Unreachable(String),
    /// The tokens did not check out (signature, issuer, audience, expiry, nonce, code).
    Token(String),
    /// The provider does not vouch for the email.
    Unverified,
    /// The email's domain is not one the school signs in.
    Domain(String),
    /// No account with this email at this school.
    NoAccount,
    /// The account is switched off.
    Deactivated,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::State => "state_invalid",
            Refusal::Provider(_) => "provider_error",
            Refusal::Unreachable(_) => "provider_unreachable",
            Refusal::Token(_) => "token_invalid",
            Refusal::Unverified => "email_unverified",
            Refusal::Domain(_) => "domain_not_allowed",
            Refusal::NoAccount => "no_account",
            Refusal::Deactivated => "deactivated",
        }
    }

    /// What went wrong, for the logs and the audit trail (never a token or code).
    pub fn detail(&self) -> &str {
        match self {
            Refusal::Provider(d) | Refusal::Unreachable(d) | Refusal::Token(d) | Refusal::Domain(d) => d,
            _ => "",
        }
    }

    /// What the person is told.
    pub fn words(&self) -> String {
        match self {
            Refusal::State => "This sign-in has expired or was used already. Start again from the sign-in page.".into(),
            Refusal::Provider(_) => {
                "Your school's sign-in service did not sign you in. Start again from the sign-in page \
                 (or ask your school's IT if it keeps happening)."
                    .into()
            }
            Refusal::Unreachable(_) => "Your school's sign-in service did not answer. Try again in a minute.".into(),
            Refusal::Token(_) => "Your school's sign-in service sent an answer we could not verify, so you were not \
                 signed in. Start again from the sign-in page."
                .into(),
            Refusal::Unverified => "Your school's sign-in service has not verified your email address, so it cannot \
                 sign you in here. Ask your school's IT to verify it."
                .into(),
            Refusal::Domain(d) => {
                format!("Email addresses at {d} do not sign in to this school. Sign in with your school email.")
            }
            Refusal::NoAccount => "You signed in with your school, but this school has no account for you here yet. \
                 Ask your teacher or your school's admin to add you."
                .into(),
            Refusal::Deactivated => "Your account at this school is switched off. Ask your school's admin.".into(),
        }
    }

    /// The HTTP status the refusal page is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::State | Refusal::Provider(_) => 400,
            Refusal::Unreachable(_) => 502,
            Refusal::Token(_) => 401,
            _ => 403,
        }
    }
}

/// The claims of a checked ID token that sign-in uses.
#[derive(Clone, Debug, PartialEq)]
pub struct IdToken {
    pub sub: String,
    /// All its claims (an LTI launch reads its own from them).
    pub claims: serde_json::Value,
}

/// What the userinfo endpoint says of the person.
#[derive(Clone, Debug, Deserialize)]
pub struct UserInfo {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: bool,
    /// Everything the endpoint said (a school's role claim is read from it).
    #[serde(skip)]
    pub claims: serde_json::Value,
}

/// Some providers send `"true"` for `email_verified`.
fn lenient_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    })
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

struct Kept<T> {
    value: Arc<T>,
    at: Instant,
}

/// The relying party: one per server, shared by every school's provider.
pub struct Oidc {
    http: reqwest::Client,
    providers: Mutex<HashMap<String, Kept<Provider>>>,
    keys: Mutex<HashMap<String, Kept<Vec<Jwk>>>>,
}

impl Default for Oidc {
    fn default() -> Self {
        Self::new()
    }
}

impl Oidc {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Oidc { http, providers: Mutex::default(), keys: Mutex::default() }
    }

    /// The client the relying party calls providers (and LTI platforms) with: no redirects followed.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The provider's discovery document (kept an hour), whose `issuer` must be the one configured.
    pub async fn discover(&self, issuer: &str) -> Result<Arc<Provider>, Refusal> {
        if let Some(k) = self.providers.lock().expect("providers").get(issuer).filter(|k| k.at.elapsed() < KEEP) {
            return Ok(k.value.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let p: Provider = self.get_json(&url).await?;
        if p.issuer != issuer {
            return Err(Refusal::Unreachable(format!(
                "discovery names issuer {} where {issuer} was configured",
                p.issuer
            )));
        }
        let p = Arc::new(p);
        self.providers.lock().expect("providers").insert(issuer.into(), Kept { value: p.clone(), at: Instant::now() });
        Ok(p)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, Refusal> {
        let r = self.http.get(url).send().await.map_err(|e| Refusal::Unreachable(format!("{url}: {e}")))?;
        if !r.status().is_success() {
            return Err(Refusal::Unreachable(format!("{url} answered {}", r.status())));
        }
        r.json().await.map_err(|e| Refusal::Unreachable(format!("{url}: {e}")))
    }

    async fn key_set(&self, p: &Provider, fresh: bool) -> Result<Arc<Vec<Jwk>>, Refusal> {
        if !fresh {
            if let Some(k) = self.keys.lock().expect("keys").get(&p.jwks_uri).filter(|k| k.at.elapsed() < KEEP) {
                return Ok(k.value.clone());
            }
        }
        let set: Jwks = self.get_json(&p.jwks_uri).await?;
        let keys = Arc::new(set.keys);
        self.keys.lock().expect("keys").insert(p.jwks_uri.clone(), Kept { value: keys.clone(), at: Instant::now() });
        Ok(keys)
    }

    /// Redeem the authorization code (client_secret_basic, with the PKCE verifier); the ID token
    /// checked, and the userinfo endpoint's answer for the same subject.
    pub async fn redeem(
        &self,
        p: &Provider,
        client: (&str, &str),
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        nonce: &str,
    ) -> Result<(IdToken, UserInfo), Refusal> {
        let (client_id, secret) = client;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let r = self
            .http
            .post(&p.token_endpoint)
            .basic_auth(form_encode(client_id), Some(form_encode(secret)))
            .form(&form)
            .send()
            .await
            .map_err(|e| Refusal::Unreachable(format!("token endpoint: {e}")))?;
        let status = r.status();
        if !status.is_success() {
            // The provider's error code (invalid_grant for a used or wrong code) — not its body.
            let error = r.json::<serde_json::Value>().await.ok().and_then(|v| v["error"].as_str().map(str::to_string));
            return Err(Refusal::Token(format!("token endpoint answered {status} {}", error.unwrap_or_default())));
        }
        let t: TokenAnswer = r.json().await.map_err(|e| Refusal::Token(format!("token answer: {e}")))?;
        let id_token = t.id_token.ok_or_else(|| Refusal::Token("no id_token in the token answer".into()))?;
        let claims = self.check_id_token(p, &id_token, client_id, nonce).await?;
        let access = t.access_token.ok_or_else(|| Refusal::Token("no access_token in the token answer".into()))?;
        let endpoint =
            p.userinfo_endpoint.as_deref().ok_or_else(|| Refusal::Unreachable("no userinfo endpoint".into()))?;
        let r = self
            .http
            .get(endpoint)
            .bearer_auth(access)
            .send()
            .await
            .map_err(|e| Refusal::Unreachable(format!("userinfo: {e}")))?;
        if !r.status().is_success() {
            return Err(Refusal::Token(format!("userinfo answered {}", r.status())));
        }
        let said: serde_json::Value = r.json().await.map_err(|e| Refusal::Token(format!("userinfo answer: {e}")))?;
        let mut info: UserInfo =
            serde_json::from_value(said.clone()).map_err(|e| Refusal::Token(format!("userinfo answer: {e}")))?;
        info.claims = said;
        if info.sub != claims.sub {
            return Err(Refusal::Token("userinfo is about another subject than the ID token".into()));
        }
        Ok((claims, info))
    }

    /// Check an ID token: RS256 only, signed by a key of the provider's set (fetched again once when
    /// the token names a key not in the set kept), issued by the provider for this client, not
    /// expired, with the sign-in's nonce.
    pub async fn check_id_token(
        &self,
        p: &Provider,
        token: &str,
        client_id: &str,
        nonce: &str,
    ) -> Result<IdToken, Refusal> {
        let bad = |why: &str| Refusal::Token(why.to_string());
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad("the ID token is not a signed JWT"));
        };
        let header: serde_json::Value = decode_json(h).ok_or_else(|| bad("the ID token's header is unreadable"))?;
        if header["alg"] != "RS256" {
            return Err(bad("the ID token is not signed with RS256"));
        }
        let kid = header["kid"].as_str();
        let signature = B64URL.decode(s).map_err(|_| bad("the ID token's signature is unreadable"))?;
        let signed = &token[..h.len() + 1 + c.len()];
        let mut keys = self.key_set(p, false).await?;
        if !keys.iter().any(|k| k.kid.as_deref() == kid) {
            keys = self.key_set(p, true).await?;
        }
        let key = keys
            .iter()
            .filter(|k| k.kty == "RSA" && k.use_.as_deref().is_none_or(|u| u == "sig"))
            .find(|k| kid.is_none() || k.kid.as_deref() == kid)
            .ok_or_else(|| bad("the ID token is signed with a key the provider does not publish"))?;
        let (Some(n), Some(e)) = (key.n.as_deref(), key.e.as_deref()) else {
            return Err(bad("the provider's key has no modulus or exponent"));
        };
        let (n, e) = (B64URL.decode(n), B64URL.decode(e));
        let (Ok(n), Ok(e)) = (n, e) else { return Err(bad("the provider's key is unreadable")) };
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| bad("the ID token's signature does not verify"))?;

        let claims: serde_json::Value = decode_json(c).ok_or_else(|| bad("the ID token's claims are unreadable"))?;
        if claims["iss"] != p.issuer.as_str() {
            return Err(bad("the ID token is from another issuer"));
        }
        let audiences: Vec<&str> = match &claims["aud"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&client_id) {
            return Err(bad("the ID token is for another client"));
        }
        let azp = claims["azp"].as_str();
        if azp.is_some_and(|a| a != client_id) || (audiences.len() > 1 && azp.is_none()) {
            return Err(bad("the ID token was issued to another party (azp)"));
        }
        let now = chrono::Utc::now().timestamp();
        let exp = claims["exp"].as_i64().ok_or_else(|| bad("the ID token has no expiry"))?;
        if exp + LEEWAY_S < now {
            return Err(bad("the ID token has expired"));
        }
        if claims["iat"].as_i64().is_some_and(|iat| iat > now + LEEWAY_S) {
            return Err(bad("the ID token is issued in the future"));
        }
        if claims["nonce"].as_str() != Some(nonce) {
            return Err(bad("the ID token's nonce is not this sign-in's"));
        }
        let sub = claims["sub"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| bad("the ID token has no subject"))?;
        Ok(IdToken { sub: sub.to_string(), claims })
    }
}

fn decode_json(part: &str) -> Option<serde_json::Value> {
    serde_json::from_slice(&B64URL.decode(part).ok()?).ok()
}

/// client_secret_basic encodes id and secret as form values before Basic (RFC 6749 §2.3.1).
fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A random value for `state`, `nonce` and the PKCE verifier (256 bits, URL-safe).
pub fn random() -> String {
    crate::auth::new_token().0
}

/// The PKCE challenge of a verifier (S256).
pub fn challenge(verifier: &str) -> String {
    B64URL.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn refusals_have_words_and_codes() {
        for r in [
            Refusal::State,
            Refusal::Provider("access_denied".into()),
            Refusal::Unreachable("x".into()),
            Refusal::Token("x".into()),
            Refusal::Unverified,
            Refusal::Domain("gmail.com".into()),
            Refusal::NoAccount,
            Refusal::Deactivated,
        ] {
            assert!(r.words().ends_with('.') && !r.code().is_empty() && r.status() >= 400, "{r:?}");
        }
    }
}
