//! LTI 1.3 (1EdTech Core and Security Framework): what a platform's launch says, read from its
//! checked id_token (the signature, `iss`, `aud`, `azp`, `exp` and `nonce` are checked by
//! [`crate::sso::Oidc::check_id_token`], as a school's sign-in is), and why a launch is refused.

use serde_json::Value;
use shared_types::Role;

const CLAIM: &str = "https://purl.imsglobal.org/spec/lti/claim/";

/// What a resource-link launch says: who, in which role, from which course and link.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Role,
    pub deployment_id: String,
    /// The platform's course: id and title.
    pub context: (String, String),
    /// The platform's link: id and title (a resource-link launch's).
    pub link: Option<(String, String)>,
    /// Where the platform lists the course's members (NRPS), when it says.
    pub memberships_url: Option<String>,
    /// A deep-linking request's settings (an instructor placing a class in the course).
    pub deep_link: Option<DeepLink>,
    /// The class a link placed by deep linking names (its custom `lesson`).
    pub lesson_hint: Option<uuid::Uuid>,
}

/// What a deep-linking request asks (LTI Deep Linking 2.0, `deep_linking_settings`).
#[derive(Clone, Debug, PartialEq)]
pub struct DeepLink {
    /// Where the answer is posted.
    pub return_url: String,
    /// Given back as it came.
    pub data: Option<Value>,
}

/// Why a launch was refused: a code for the audit trail and the logs, words for the person.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    /// The `state` is unknown, used or expired (a replayed or forged launch).
    State,
    /// No platform registered here for the login's issuer (and client).
    PlatformUnknown,
    /// The login or the launch is missing what it must have.
    Incomplete(String),
    /// The id_token did not check out (signature, issuer, audience, expiry, nonce).
    Token(String),
    /// The platform's keys could not be read.
    Unreachable(String),
    /// A deployment the school did not register.
    Deployment,
    /// A message this tool does not take here.
    Message(String),
    /// No role of the platform's that we place (Instructor, TeachingAssistant, Learner).
    NoRole,
    /// A learner's launch of a link no instructor has launched yet.
    NotSetUp,
    /// A deep-linking request (placing a class) from someone who does not teach the course.
    InstructorsOnly,
    /// The person's account is switched off.
    Deactivated,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::State => "state_invalid",
            Refusal::PlatformUnknown => "platform_unknown",
            Refusal::Incomplete(_) => "launch_incomplete",
            Refusal::Token(_) => "token_invalid",
            Refusal::Unreachable(_) => "platform_unreachable",
            Refusal::Deployment => "deployment_unknown",
            Refusal::Message(_) => "message_unsupported",
            Refusal::NoRole => "no_role",
            Refusal::NotSetUp => "not_set_up",
            Refusal::InstructorsOnly => "instructors_only",
            Refusal::Deactivated => "deactivated",
        }
    }

    /// What went wrong, for the logs and the audit trail (never a token).
    pub fn detail(&self) -> &str {
        match self {
            Refusal::Incomplete(d) | Refusal::Token(d) | Refusal::Unreachable(d) | Refusal::Message(d) => d,
            _ => "",
        }
    }

    /// What the person is told.
    pub fn words(&self) -> String {
        let again = "Open the class again from your course in the learning platform.";
        match self {
            Refusal::State => format!("This launch has expired or was used already. {again}"),
            Refusal::PlatformUnknown => "Your learning platform is not registered with this school's teaching studio. \
                 Ask your school's admin to register it."
                .into(),
            Refusal::Incomplete(_) => format!("Your learning platform's launch was incomplete. {again}"),
            Refusal::Token(_) => {
                format!("Your learning platform sent a launch we could not verify, so you were not signed in. {again}")
            }
            Refusal::Unreachable(_) => "Your learning platform did not answer. Try again in a minute.".into(),
            Refusal::Deployment => "This placement of the teaching studio in your learning platform is not one your \
                 school registered. Ask your school's admin."
                .into(),
            Refusal::Message(_) => {
                format!("Your learning platform asked for something the teaching studio does not do here. {again}")
            }
            Refusal::NoRole => "Your learning platform did not say whether you teach or take this course. \
                 Ask your teacher."
                .into(),
            Refusal::NotSetUp => {
                "Your teacher has not opened this class in the teaching studio yet. Try again once they have.".into()
            }
            Refusal::Deactivated => "Your account at this school is switched off. Ask your school's admin.".into(),
            Refusal::InstructorsOnly => "Only the course's instructors can place a class in it.".into(),
        }
    }

    /// The HTTP status the refusal page is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::State | Refusal::PlatformUnknown | Refusal::Incomplete(_) | Refusal::Message(_) => 400,
            Refusal::Token(_) => 401,
            Refusal::Unreachable(_) => 502,
            Refusal::NotSetUp => 409,
            Refusal::Deployment | Refusal::NoRole | Refusal::Deactivated | Refusal::InstructorsOnly => 403,
        }
    }
}

impl From<crate::sso::Refusal> for Refusal {
    fn from(r: crate::sso::Refusal) -> Self {
        match r {
            crate::sso::Refusal::Unreachable(d) => Refusal::Unreachable(d),
            other => Refusal::Token(other.detail().to_string()),
        }
    }
}

/// Our role for the platform's roles (LIS vocabulary, full URIs or the short names older
/// platforms send): the highest of Instructor → teacher, TeachingAssistant → assistant,
/// Learner → student. Institution roles and others place nobody.
pub fn role_of<'a>(roles: impl IntoIterator<Item = &'a str>) -> Option<Role> {
    const MEMBERSHIP: &str = "http://purl.imsglobal.org/vocab/lis/v2/membership";
    let mut best: Option<Role> = None;
    for r in roles {
        let short = r.strip_prefix(MEMBERSHIP).unwrap_or(r);
        let ours = match short {
            "/Instructor#TeachingAssistant" | "TeachingAssistant" => Role::Assistant,
            "#Instructor" | "Instructor" | "#Administrator" | "Administrator" => Role::Teacher,
            "#Learner" | "Learner" => Role::Student,
            _ => continue,
        };
        let rank = |r: Role| match r {
            Role::Teacher => 3,
            Role::Assistant => 2,
            _ => 1,
        };
        if best.is_none_or(|b| rank(ours) > rank(b)) {
            best = Some(ours);
        }
    }
    best
}

fn text(v: &Value, max: usize) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty() && s.len() <= max).map(str::to_string)
}

/// Read a resource-link launch from its checked claims; the deployment must be one registered.
pub fn read_launch(claims: &Value, deployments: &[String]) -> Result<Launch, Refusal> {
    let claim = |name: &str| &claims[format!("{CLAIM}{name}")];
    if claim("version") != "1.3.0" {
        return Err(Refusal::Message("not an LTI 1.3.0 message".into()));
    }
    let deep = match claim("message_type").as_str() {
        Some("LtiResourceLinkRequest") => false,
        Some("LtiDeepLinkingRequest") => true,
        Some(other) => return Err(Refusal::Message(format!("{} messages are not taken here", text_or(other)))),
        None => return Err(Refusal::Incomplete("no message_type".into())),
    };
    let deployment_id =
        text(claim("deployment_id"), 255).ok_or_else(|| Refusal::Incomplete("no deployment_id".into()))?;
    if !deployments.contains(&deployment_id) {
        return Err(Refusal::Deployment);
    }
    let sub = text(&claims["sub"], 255).ok_or_else(|| Refusal::Incomplete("an anonymous launch (no sub)".into()))?;
    let link = claim("resource_link");
    let link = match text(&link["id"], 255) {
        Some(id) => Some((id, text(&link["title"], 200).unwrap_or_else(|| "Class".into()))),
        None if deep => None,
        None => return Err(Refusal::Incomplete("no resource_link id".into())),
    };
    let deep_link = match deep {
        true => Some(deep_link_of(&claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"])?),
        false => None,
    };
    let context = claim("context");
    let context_id = text(&context["id"], 255).ok_or_else(|| Refusal::Incomplete("no context".into()))?;
    let context_title =
        text(&context["title"], 200).or_else(|| text(&context["label"], 200)).unwrap_or_else(|| "Course".into());
    let roles = claim("roles").as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>());
    let role = role_of(roles.unwrap_or_default()).ok_or(Refusal::NoRole)?;
    let email = text(&claims["email"], 254).map(|e| e.to_lowercase()).filter(|e| e.contains('@'));
    let name = text(&claims["name"], 200).or_else(|| {
        let given = text(&claims["given_name"], 100).unwrap_or_default();
        let family = text(&claims["family_name"], 100).unwrap_or_default();
        Some(format!("{given} {family}").trim().to_string()).filter(|n| !n.is_empty())
    });
    let nrps = &claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"];
    let memberships_url =
        text(&nrps["context_memberships_url"], 2000).filter(|u| crate::http::sso::https_problem(u).is_none());
    let lesson_hint = claim("custom")["lesson"].as_str().and_then(|l| l.parse().ok());
    Ok(Launch {
        deep_link,
        lesson_hint,
        memberships_url,
        sub,
        email,
        name,
        role,
        deployment_id,
        context: (context_id, context_title),
        link,
    })
}

/// A deep-linking request's settings: where to answer (https, or http on loopback), and that it takes
/// the kind of item we place (an LTI resource link).
fn deep_link_of(settings: &Value) -> Result<DeepLink, Refusal> {
    let return_url = text(&settings["deep_link_return_url"], 2000)
        .filter(|u| crate::http::sso::https_problem(u).is_none())
        .ok_or_else(|| Refusal::Incomplete("no usable deep_link_return_url".into()))?;
    let types = settings["accept_types"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>());
    if !types.unwrap_or_default().contains(&"ltiResourceLink") {
        return Err(Refusal::Message("a deep link that takes no LTI links".into()));
    }
    Ok(DeepLink { return_url, data: Some(settings["data"].clone()).filter(|d| !d.is_null()) })
}

/// A platform's word, shortened for a log line.
fn text_or(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn launch(extra: Value) -> Value {
        let mut c = json!({
            "sub": "u-1",
            "email": "Lea@Example.test",
            "given_name": "Lea", "family_name": "Learner",
            (format!("{CLAIM}version")): "1.3.0",
            (format!("{CLAIM}message_type")): "LtiResourceLinkRequest",
            (format!("{CLAIM}deployment_id")): "d-1",
            (format!("{CLAIM}resource_link")): { "id": "rl-1", "title": "Waves" },
            (format!("{CLAIM}context")): { "id": "ctx-1", "label": "PHY1" },
            (format!("{CLAIM}roles")): ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn a_learners_launch() {
        let l = read_launch(&launch(json!({})), &["d-1".into()]).unwrap();
        assert_eq!(l.role, Role::Student);
        assert_eq!(l.email.as_deref(), Some("lea@example.test"));
        assert_eq!(l.name.as_deref(), Some("Lea Learner"));
        assert_eq!(l.context, ("ctx-1".into(), "PHY1".into()));
        assert_eq!(l.link, Some(("rl-1".into(), "Waves".into())));
        assert_eq!((l.deep_link, l.lesson_hint), (None, None));
    }

    #[test]
    fn refusals() {
        let d = ["d-1".to_string()];
        assert_eq!(read_launch(&launch(json!({})), &["d-2".into()]), Err(Refusal::Deployment));
        let no_role = launch(
            json!({ (format!("{CLAIM}roles")): ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Staff"] }),
        );
        assert_eq!(read_launch(&no_role, &d), Err(Refusal::NoRole));
        let review = launch(json!({ (format!("{CLAIM}message_type")): "LtiSubmissionReviewRequest" }));
        assert_eq!(read_launch(&review, &d).unwrap_err().code(), "message_unsupported");
        let dl = launch(json!({ (format!("{CLAIM}message_type")): "LtiDeepLinkingRequest" }));
        assert_eq!(read_launch(&dl, &d).unwrap_err().code(), "launch_incomplete", "no settings");
        let old = launch(json!({ (format!("{CLAIM}version")): "1.1" }));
        assert_eq!(read_launch(&old, &d).unwrap_err().code(), "message_unsupported");
        let anonymous = launch(json!({ "sub": "" }));
        assert_eq!(read_launch(&anonymous, &d).unwrap_err().code(), "launch_incomplete");
    }

    #[test]
    fn a_deep_linking_request() {
        let settings = |types: Value| {
            json!({ "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings": {
                "deep_link_return_url": "https://lms.test/dl/return", "accept_types": types, "data": {"x": "1"} } })
        };
        let mut c = launch(settings(json!(["link", "ltiResourceLink"])));
        c[format!("{CLAIM}message_type")] = json!("LtiDeepLinkingRequest");
        c.as_object_mut().unwrap().remove(&format!("{CLAIM}resource_link"));
        let l = read_launch(&c, &["d-1".into()]).unwrap();
        assert_eq!(l.link, None);
        let dl = l.deep_link.unwrap();
        assert_eq!((dl.return_url.as_str(), dl.data), ("https://lms.test/dl/return", Some(json!({"x": "1"}))));
        let mut files = launch(settings(json!(["file"])));
        files[format!("{CLAIM}message_type")] = json!("LtiDeepLinkingRequest");
        assert_eq!(read_launch(&files, &["d-1".into()]).unwrap_err().code(), "message_unsupported");
        let placed =
            launch(json!({ (format!("{CLAIM}custom")): { "lesson": "0190b6a0-0000-7000-8000-000000000001" } }));
        assert!(read_launch(&placed, &["d-1".into()]).unwrap().lesson_hint.is_some());
    }

    #[test]
    fn roles_map_to_ours() {
        let m = "http://purl.imsglobal.org/vocab/lis/v2/membership";
        assert_eq!(role_of([format!("{m}#Instructor").as_str()]), Some(Role::Teacher));
        assert_eq!(role_of([format!("{m}/Instructor#TeachingAssistant").as_str()]), Some(Role::Assistant));
        assert_eq!(role_of([format!("{m}#Learner").as_str()]), Some(Role::Student));
        assert_eq!(role_of(["Learner", "Instructor"]), Some(Role::Teacher), "the highest");
        assert_eq!(role_of([format!("{m}#Mentor").as_str()]), None);
        assert_eq!(role_of([]), None);
    }

    #[test]
    fn refusals_have_words_and_codes() {
        for r in [
            Refusal::State,
            Refusal::PlatformUnknown,
            Refusal::Incomplete("x".into()),
            Refusal::Token("x".into()),
            Refusal::Unreachable("x".into()),
            Refusal::Deployment,
            Refusal::Message("x".into()),
            Refusal::NoRole,
            Refusal::NotSetUp,
            Refusal::Deactivated,
            Refusal::InstructorsOnly,
        ] {
            assert!(r.words().ends_with('.') && !r.code().is_empty() && r.status() >= 400, "{r:?}");
        }
    }
}
