//! Request and response bodies of the HTTP API (camelCase JSON), shared with the clients.

use crate::events::EventEnvelope;
use crate::ids::*;
use crate::roles::{Role, RoleGrant, Scope};
use crate::state::SessionState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: UserId,
    pub email: String,
    pub tenant_id: TenantId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: UserDto,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeResponse {
    pub id: UserId,
    pub email: String,
    pub tenant_id: TenantId,
    pub platform_admin: bool,
    pub roles: Vec<RoleGrant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTenant {
    pub name: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantDto {
    pub id: TenantId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantRole {
    pub user_id: UserId,
    pub role: Role,
    pub scope: Scope,
    #[serde(default)]
    pub scope_id: Option<uuid::Uuid>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// `POST /api/admin/roles` → 201: the grant as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantDto {
    pub user_id: UserId,
    #[serde(flatten)]
    pub grant: RoleGrant,
}

/// A user as admins list them (`GET /api/admin/users`, deactivate, reactivate).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminUserDto {
    pub id: UserId,
    pub email: String,
    pub name: Option<String>,
    pub tenant_id: TenantId,
    pub active: bool,
}

/// `GET /api/admin/users?q=&cursor=`: a page of users by email; `nextCursor` asks for the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub users: Vec<AdminUserDto>,
    pub next_cursor: Option<String>,
}

/// One audit entry (`GET /api/admin/audit`). `outcome` is `ok`, `failed` (a wrong login), `denied`
/// (no permission), `limited` (rate limit), `refused` (bad input) or `error`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryDto {
    pub id: uuid::Uuid,
    pub at: DateTime<Utc>,
    pub tenant_id: Option<TenantId>,
    pub actor_id: Option<UserId>,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

/// A page of audit entries, newest first; `nextCursor` asks for older ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntryDto>,
    pub next_cursor: Option<String>,
}

/// A one-time link for a user to choose their password (an invite or a reset).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteLink {
    pub email: String,
    pub link: String,
}

/// `POST /api/admin/users/import` → 200: how many rows made a user, how many were there already,
/// and an invite link per new user (delivering them is the school's; the API only makes them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RosterImported {
    pub created: u32,
    pub existing: u32,
    pub invites: Vec<InviteLink>,
}

/// `POST /api/admin/users/{id}/invite` or `…/password-reset` → 201.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserLink {
    pub email: String,
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/auth/password`: change one's own password (other sessions are signed out).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/auth/redeem`: the token of an invite or reset link and the password chosen; answers
/// like a login.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemLink {
    pub token: String,
    pub password: String,
}

/// `POST /api/auth/handoff`: a one-time sign-in link for the caller, for the studio to open in the
/// browser (where the Linux window has no WebRTC). `next` is the app route to land on (`#/…`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffRequest {
    #[serde(default)]
    pub next: Option<String>,
}

/// The hand-off link: good once, for a minute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandoffLink {
    pub link: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/auth/handoff/redeem`: the link's token; answers like a login (and sets the cookie).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedeemHandoff {
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCourse {
    pub title: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CourseDto {
    pub id: CourseId,
    pub tenant_id: TenantId,
    pub title: String,
}

/// Someone in a course as a class names them: their name (none when the school gave none), never
/// their email. `GET /api/courses/{id}/people`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonDto {
    pub user_id: UserId,
    pub name: Option<String>,
    /// Their role in the course (a course grant before a school-wide one).
    pub role: Role,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct People {
    pub people: Vec<PersonDto>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateLesson {
    pub title: String,
    pub order: i32,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LessonDto {
    pub id: LessonId,
    pub course_id: CourseId,
    pub title: String,
    pub order: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSession {
    pub lesson_id: LessonId,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    pub id: SessionId,
    pub lesson_id: LessonId,
    pub course_id: CourseId,
    pub tenant_id: TenantId,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    /// scheduled | live | ended
    pub status: String,
    pub head: u64,
    /// The lesson's title, for headings and the browser tab (empty from servers before it existed).
    #[serde(default)]
    pub lesson_title: String,
    /// The course's title.
    #[serde(default)]
    pub course_title: String,
}

/// Body of start / join / leave / end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAction {
    pub session_id: SessionId,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveKitGrant {
    pub url: String,
    pub token: String,
    pub room: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    pub session: SessionDto,
    pub event: EventEnvelope,
    pub livekit: Option<LiveKitGrant>,
    /// Why `livekit` is null although LiveKit is configured (the class still started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub livekit_error: Option<crate::error::Problem>,
    /// With recording enabled: `{status: "armed", startsWhen}` — the egress starts when the teacher publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantDto {
    pub user_id: UserId,
    pub role: Role,
    pub permissions: crate::decide::Permissions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinResponse {
    pub participant: ParticipantDto,
    pub event: EventEnvelope,
    pub livekit: Option<LiveKitGrant>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEventResponse {
    pub session: SessionDto,
    pub event: EventEnvelope,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventsPage {
    pub events: Vec<EventEnvelope>,
    pub head: u64,
}

/// One journal entry the studio syncs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchEvent {
    pub idempotency_key: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub payload: Value,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub events: Vec<BatchEvent>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchError {
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum BatchResult {
    #[serde(rename_all = "camelCase")]
    Ok { idempotency_key: String, sequence: u64 },
    #[serde(rename_all = "camelCase")]
    Err { idempotency_key: String, error: BatchError },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
    pub head: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StateResponse {
    pub session_id: SessionId,
    pub state: SessionState,
}

/// A chat message as participants see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageDto {
    pub id: MessageId,
    pub content: String,
    pub author_id: Option<UserId>,
    pub hidden: bool,
    pub sequence: u64,
    pub at: DateTime<Utc>,
}

impl From<&crate::state::ChatMessage> for ChatMessageDto {
    fn from(m: &crate::state::ChatMessage) -> Self {
        ChatMessageDto {
            id: m.id,
            content: m.content.clone(),
            author_id: m.author,
            hidden: m.hidden,
            sequence: m.sequence,
            at: m.at,
        }
    }
}

/// A question as `viewer` sees it (whether they upvoted it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuestionDto {
    pub id: QuestionId,
    pub content: String,
    pub author_id: Option<UserId>,
    pub upvotes: usize,
    pub upvoted_by_me: bool,
    pub answered: bool,
    pub dismissed: bool,
    pub sequence: u64,
}

impl QuestionDto {
    pub fn of(q: &crate::state::Question, viewer: UserId) -> Self {
        QuestionDto {
            id: q.id,
            content: q.content.clone(),
            author_id: q.author,
            upvotes: q.upvoters.len(),
            upvoted_by_me: q.upvoters.contains(&viewer),
            answered: q.answered,
            dismissed: q.dismissed,
            sequence: q.sequence,
        }
    }
}

/// A poll with its live tally, as `viewer` sees it (their own vote).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollDto {
    pub id: PollId,
    pub prompt: String,
    pub options: Vec<String>,
    pub tally: Vec<u32>,
    pub closed: bool,
    pub my_vote: Option<u32>,
}

impl PollDto {
    pub fn of(id: PollId, p: &crate::state::Poll, viewer: UserId) -> Self {
        PollDto {
            id,
            prompt: p.prompt.clone(),
            options: p.options.clone(),
            tally: p.tally(),
            closed: p.closed,
            my_vote: p.votes.get(&viewer).copied(),
        }
    }
}

/// `{event}`: the answer of a write whose only result is its event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventAnswer {
    pub event: EventEnvelope,
}

/// `POST /api/chat` → 201.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatPosted {
    pub message: ChatMessageDto,
    pub event: EventEnvelope,
}

/// `GET /api/sessions/{id}/chat`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChatList {
    pub messages: Vec<ChatMessageDto>,
}

/// A write on a question: the question after it, and the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuestionAnswer {
    pub question: Option<QuestionDto>,
    pub event: EventEnvelope,
}

/// `GET /api/sessions/{id}/questions`: open questions, most upvoted first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuestionList {
    pub questions: Vec<QuestionDto>,
}

/// A write on a poll: the poll after it, and the event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PollAnswer {
    pub poll: Option<PollDto>,
    pub event: EventEnvelope,
}

/// A scene as presenters and students see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SceneDto {
    pub id: SceneId,
    pub name: String,
    pub layout: Vec<crate::events::LayoutItem>,
    pub assets: Vec<AssetId>,
    pub metadata: Value,
    /// On air now.
    pub active: bool,
}

/// A scene write: the scene after it and its event(s) (`events` holds every one, `event` the last).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SceneAnswer {
    pub scene: SceneDto,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventEnvelope>,
    pub event: Option<EventEnvelope>,
}

/// An RTMP destination; its stream key is never sent back, only a hint of its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationDto {
    pub id: uuid::Uuid,
    pub name: String,
    pub rtmp_url: String,
    pub stream_key_hint: String,
    pub created_at: DateTime<Utc>,
    /// In the list: whether the running stream sends to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live: Option<bool>,
}

/// `GET /api/sessions/{id}/destinations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DestinationList {
    pub destinations: Vec<DestinationDto>,
}

/// A school's single sign-on through its own OpenID provider (`GET/PUT
/// /api/admin/tenants/{id}/sso`). The client secret is written, never read back: the answer says
/// only whether one is kept (`secretSet`); a PUT without `clientSecret` keeps the one kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoSettings {
    /// The provider's issuer URL (its discovery document is `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    #[serde(default, skip_serializing)]
    pub client_secret: Option<String>,
    /// Email domains whose people sign in here (`school.edu`); the sign-in page picks the school by
    /// the domain of the email typed. A person whose email is of another domain is refused.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// `false`: the school's people sign in only through the provider (a password is refused).
    #[serde(default = "yes")]
    pub password_sign_in: bool,
    /// The claim of the provider's userinfo that holds people's roles (`groups`, `roles`, …): with
    /// it, the school-wide grants of the roles in `roleMap` follow the provider at every sign-in
    /// (given when a value maps to the role, taken away when none does). Course grants are not touched.
    #[serde(default)]
    pub role_claim: Option<String>,
    #[serde(default)]
    pub role_map: Vec<SsoRoleRule>,
    /// Answer only: a client secret is kept.
    #[serde(default)]
    pub secret_set: bool,
}

fn yes() -> bool {
    true
}

/// One value of a provider's role claim, and the school-wide role it gives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SsoRoleRule {
    pub value: String,
    pub role: Role,
}

/// `GET /api/auth/sso/start`: which school's provider to sign in with — by the email's domain, or the
/// school's id — and the app route to land on afterwards (`#/…`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoStart {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub tenant: Option<TenantId>,
    #[serde(default)]
    pub next: Option<String>,
    /// A native app (the studio) signing in through the system browser, RFC 8252: its loopback
    /// redirect (`http://127.0.0.1:<port>/…` or `http://[::1]:<port>/…`), where the code goes
    /// instead of a hand-off link into the web app.
    #[serde(default, rename = "redirect_uri")]
    pub redirect_uri: Option<String>,
    /// The native app's PKCE challenge (RFC 7636): base64url SHA-256 of its verifier.
    #[serde(default, rename = "code_challenge")]
    pub code_challenge: Option<String>,
    /// `S256` (the only method taken).
    #[serde(default, rename = "code_challenge_method")]
    pub code_challenge_method: Option<String>,
    /// The native app's own state, given back with the code.
    #[serde(default)]
    pub state: Option<String>,
}

/// `POST /api/auth/sso/token`: a native app trades the one-time code its loopback address received
/// for a session, with the PKCE verifier only it holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SsoToken {
    pub code: String,
    pub code_verifier: String,
}

/// `GET /api/auth/sso/callback`: what the provider sends back (a code, or an error).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SsoCallback {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
}

/// A learning platform (an LMS: Canvas, Moodle, …) the school launches classes from with LTI 1.3
/// (`GET/POST /api/admin/tenants/{id}/lti/platforms`): what the platform's admin page shows for
/// this tool's registration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LtiPlatformDto {
    /// Answer only.
    #[serde(default)]
    pub id: Option<uuid::Uuid>,
    /// The platform's issuer (`iss` of its launches), an https URL.
    pub issuer: String,
    /// The client id the platform gave this tool.
    pub client_id: String,
    /// The deployments of this tool on the platform that may launch it (1 to 20).
    pub deployment_ids: Vec<String>,
    /// The platform's OIDC authorization endpoint (where a launch's login goes).
    pub auth_url: String,
    /// The platform's public keys (JWKS).
    pub jwks_url: String,
    /// The platform's OAuth 2 token endpoint (for names and roles, deep linking).
    pub token_url: String,
}

/// A school's platforms, and the tool's addresses to give each of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LtiPlatforms {
    pub platforms: Vec<LtiPlatformDto>,
    pub tool: LtiTool,
}

/// What a platform's admin enters for this tool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LtiTool {
    /// OIDC login initiation URL.
    pub login_url: String,
    /// Launch (redirect) URL.
    pub launch_url: String,
    /// The tool's public keys.
    pub jwks_url: String,
}

/// `GET or POST /api/lti/login`: a platform's third-party-initiated login (1EdTech Security
/// Framework §5.1.1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LtiLogin {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub login_hint: Option<String>,
    #[serde(default)]
    pub target_link_uri: Option<String>,
    #[serde(default)]
    pub lti_message_hint: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub lti_deployment_id: Option<String>,
}

/// `POST /api/lti/launch`: the platform's answer, posted by the browser (`response_mode=form_post`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LtiLaunch {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /api/lti/jwks`: the tool's public keys (RFC 7517), the signing one first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Jwks {
    pub keys: Vec<Value>,
}

/// `POST /api/admin/lti/keys`: the tool's new signing key, and the keys published from now on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LtiKeyRotated {
    pub kid: String,
    pub published: Vec<String>,
}

/// `POST /api/courses/{course_id}/lti/roster`: the course's members as its learning platform lists
/// them, enrolled here.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LtiRosterSync {
    /// Members enrolled with their role (found, or made).
    pub enrolled: usize,
    /// Of those, accounts made now.
    pub made: usize,
    /// Members passed over: not active, or no role we place.
    pub skipped: usize,
}

/// `POST /api/lti/deep-link`: an instructor's choice on the page a deep-linking request opened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LtiPlace {
    /// The page's one-time token.
    #[serde(default)]
    pub pick: Option<String>,
    /// A lesson of the course, or `new`.
    #[serde(default)]
    pub lesson: Option<String>,
    /// The new class's title.
    #[serde(default)]
    pub title: Option<String>,
}
