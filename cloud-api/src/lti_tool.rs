//! The tool's own side of LTI Advantage: its RS256 signing keys — made the first time one is needed,
//! kept sealed with the server's secrets key, rotated by a platform admin; the newest signs and the
//! newest few are published, so a platform that fetched the set before a rotation still verifies —
//! and the services it calls with them: a platform's token endpoint (client credentials with a signed
//! assertion, 1EdTech Security Framework §4.1) and its Names and Role Provisioning Service (2.0).

use crate::secrets::Sealer;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use shared_types::Role;
use studio_store::{LtiPlatform, Store};

/// How many of the newest keys `/api/lti/jwks` publishes (the newest signs).
pub const PUBLISHED: usize = 3;
/// The scope of a course's member list.
pub const NRPS_SCOPE: &str = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly";
const NRPS_MEDIA: &str = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json";
/// Pages of members followed at most (a `Link: rel="next"` each).
const MAX_PAGES: usize = 100;

/// One of the tool's signing keys.
pub struct ToolKey {
    pub kid: String,
    pair: RsaKeyPair,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl ToolKey {
    fn from_der(kid: String, der: &[u8]) -> anyhow::Result<ToolKey> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| anyhow::anyhow!("tool key {kid}: {e}"))?;
        let key = rsa::RsaPrivateKey::from_pkcs8_der(der)?;
        Ok(ToolKey { kid, pair, n: key.n().to_bytes_be(), e: key.e().to_bytes_be() })
    }

    /// Its public half, as a JWK.
    pub fn jwk(&self) -> Value {
        json!({ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                "n": B64URL.encode(&self.n), "e": B64URL.encode(&self.e) })
    }

    /// `claims` as a JWT signed RS256 under this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let input = format!("{}.{}", B64URL.encode(header.to_string()), B64URL.encode(claims.to_string()));
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), input.as_bytes(), &mut signature)
            .expect("an RSA signature of a valid key");
        format!("{input}.{}", B64URL.encode(signature))
    }
}

/// A new key (RSA 2048), kept sealed: it signs from now on.
pub async fn rotate(store: &Store, sealer: &Sealer) -> anyhow::Result<ToolKey> {
    let key = tokio::task::spawn_blocking(|| rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)).await??;
    let der = key.to_pkcs8_der()?.as_bytes().to_vec();
    let kid = crate::sso::random()[..16].to_string();
    store.add_lti_tool_key(&kid, &sealer.seal(&B64.encode(&der))).await?;
    tracing::info!(kid, "the LTI tool has a new signing key");
    ToolKey::from_der(kid, &der)
}

/// The published keys, newest (the signing one) first; the first is made when there is none.
pub async fn keys(store: &Store, sealer: &Sealer) -> anyhow::Result<Vec<ToolKey>> {
    let kept = store.lti_tool_keys().await?;
    if kept.is_empty() {
        return Ok(vec![rotate(store, sealer).await?]);
    }
    kept.into_iter()
        .take(PUBLISHED)
        .map(|(kid, sealed)| {
            let b64 = sealer.open_sealed(&sealed).ok_or_else(|| anyhow::anyhow!("tool key {kid} does not unseal"))?;
            ToolKey::from_der(kid, &B64.decode(b64)?)
        })
        .collect()
}

/// A member of a platform's course, read from its NRPS answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
}

/// What a platform's member list held: the members we place, and how many were passed over (no
/// role we place, or not active).
#[derive(Debug, Default)]
pub struct Roster {
    pub members: Vec<Member>,
    pub skipped: usize,
}

/// An access token of the platform's for `scope`: client credentials, the client authenticated by
/// an assertion signed with the tool's key.
pub async fn access_token(
    http: &reqwest::Client,
    p: &LtiPlatform,
    key: &ToolKey,
    scope: &str,
) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let assertion = key.sign(&json!({
        "iss": p.client_id, "sub": p.client_id, "aud": p.token_url,
        "iat": now, "exp": now + 300, "jti": crate::sso::random(),
    }));
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
        ("scope", scope),
    ];
    let r = http.post(&p.token_url).form(&form).send().await.map_err(|e| format!("token endpoint: {e}"))?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("the token endpoint answered {status} {}", body["error"].as_str().unwrap_or_default()));
    }
    let granted = body["scope"].as_str().unwrap_or(scope);
    if !granted.split(' ').any(|s| s == scope) {
        return Err("the platform did not grant the members scope".into());
    }
    body["access_token"].as_str().map(str::to_string).ok_or_else(|| "no access_token in the token answer".into())
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty() && s.len() <= max).map(str::to_string)
}

/// Read one page of a membership container.
pub fn read_members(page: &Value, into: &mut Roster) {
    for m in page["members"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let active = m["status"].as_str().is_none_or(|s| s == "Active");
        let roles = m["roles"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>());
        let role = crate::lti::role_of(roles.unwrap_or_default());
        match (text(&m["user_id"], 255), role) {
            (Some(sub), Some(role)) if active => into.members.push(Member {
                sub,
                email: text(&m["email"], 254).map(|e| e.to_lowercase()).filter(|e| e.contains('@')),
                name: text(&m["name"], 200),
                role,
            }),
            _ => into.skipped += 1,
        }
    }
}

/// The `rel="next"` target of a `Link` header.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find(|l| l.contains("rel=\"next\"")).and_then(|l| {
        let (start, end) = (l.find('<')?, l.find('>')?);
        Some(l[start + 1..end].to_string())
    })
}

/// A course's members, every page, from the platform's names and roles service at `url`.
pub async fn roster(http: &reqwest::Client, p: &LtiPlatform, url: &str, key: &ToolKey) -> Result<Roster, String> {
    let token = access_token(http, p, key, NRPS_SCOPE).await?;
    let mut roster = Roster::default();
    let mut next = Some(url.to_string());
    for _ in 0..MAX_PAGES {
        let Some(url) = next.take() else { break };
        let r = http
            .get(&url)
            .bearer_auth(&token)
            .header(reqwest::header::ACCEPT, NRPS_MEDIA)
            .send()
            .await
            .map_err(|e| format!("names and roles service: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("the names and roles service answered {}", r.status()));
        }
        next = next_link(r.headers());
        let page: Value = r.json().await.map_err(|e| format!("names and roles answer: {e}"))?;
        read_members(&page, &mut roster);
    }
    Ok(roster)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_we_place() {
        let m = "http://purl.imsglobal.org/vocab/lis/v2/membership";
        let page = json!({ "members": [
            { "user_id": "u1", "roles": [format!("{m}#Learner")], "name": "Lea", "email": "Lea@X.test" },
            { "user_id": "u2", "roles": [format!("{m}#Instructor")], "status": "Active" },
            { "user_id": "u3", "roles": [format!("{m}#Learner")], "status": "Inactive" },
            { "user_id": "u4", "roles": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"] },
            { "roles": [format!("{m}#Learner")] },
        ]});
        let mut r = Roster::default();
        read_members(&page, &mut r);
        assert_eq!(r.skipped, 3);
        assert_eq!(r.members.len(), 2);
        assert_eq!((r.members[0].email.as_deref(), r.members[0].role), (Some("lea@x.test"), Role::Student));
        assert_eq!((r.members[1].sub.as_str(), r.members[1].role), ("u2", Role::Teacher));
    }

    #[test]
    fn next_pages() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "<https://lms.test/m?p=1>; rel=\"prev\", <https://lms.test/m?p=3>; rel=\"next\"".parse().unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://lms.test/m?p=3"));
        assert_eq!(next_link(&reqwest::header::HeaderMap::new()), None);
    }
}
