//! Interaction (spec §4.3): chat with moderation, questions with upvotes, polls, hands, highlights.
//! Each write is one event; reads come from the folded state.

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::extract::{ApiJson, ApiPath};
use crate::http::idempotency::IdemKey;
use crate::http::sessions::{submit, submit_then};
use crate::http::{authorize, ensure, session_target};
use crate::store::Owned;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use shared_types::dto::{
    ChatList, ChatMessageDto, ChatPosted, EventAnswer, PollAnswer, PollDto, QuestionAnswer, QuestionDto, QuestionList,
};
use shared_types::policy::{Action, Target};
use shared_types::requests::{Hand, LowerHand, Mark, OpenPoll, PostText, Vote};
use shared_types::state::{Question, SessionState};
use shared_types::{MessageId, PollId, QuestionId, SessionCommand, SessionEvent, SessionId};

/// The session that owns `id` and its RBAC target (who may act on it is `decide`'s question).
async fn owned(app: &AppState, caller: &Caller, kind: Owned, id: uuid::Uuid) -> ApiResult<Target> {
    let what = format!("{kind:?}").to_lowercase();
    let session =
        app.store.owner_session(caller.user.tenant_id, kind, id).await?.ok_or_else(|| ApiError::not_found(&what))?;
    let (_, target) = session_target(app, caller, session).await?;
    // Someone with no role at all in the session learns nothing more than that.
    ensure(caller, Action::ViewSession, &target)?;
    Ok(target)
}

async fn current(app: &AppState, target: &Target) -> ApiResult<SessionState> {
    Ok(app.store.state(target.tenant, target.session.expect("session target"), None).await?)
}

pub async fn post_chat(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<PostText>,
) -> ApiResult<(StatusCode, Json<ChatPosted>)> {
    let target = authorize(&app, &caller, req.session_id, Action::Chat).await?;
    // The message id derives from the request key, so a retried post is the same message.
    let id = MessageId(uuid::Uuid::new_v5(&caller.user.id.0, key.as_bytes()));
    let event =
        submit(&app, &caller, &target, &key, SessionCommand::PostChat { message_id: id, content: req.content }).await?;
    let SessionEvent::ChatPosted { message_id, content } = &event.event else { return Err(ApiError::internal()) };
    let message = ChatMessageDto {
        id: *message_id,
        content: content.clone(),
        author_id: event.actor_id,
        hidden: false,
        sequence: event.sequence,
        at: event.occurred_at,
    };
    Ok((StatusCode::CREATED, Json(ChatPosted { message, event })))
}

/// The chat; hidden messages are shown (flagged) only to moderators.
pub async fn list_chat(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<Json<ChatList>> {
    let target = authorize(&app, &caller, id, Action::ReadEvents).await?;
    let moderator = caller.actor.may(Action::Moderate, &target);
    let state = current(&app, &target).await?;
    let messages: Vec<ChatMessageDto> =
        state.chat.iter().filter(|m| moderator || !m.hidden).map(ChatMessageDto::from).collect();
    Ok(Json(ChatList { messages }))
}

pub async fn hide_chat(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<MessageId>,
) -> ApiResult<Json<EventAnswer>> {
    let target = owned(&app, &caller, Owned::Message, id.0).await?;
    let event = submit(&app, &caller, &target, &key, SessionCommand::HideChat { message_id: id }).await?;
    Ok(Json(EventAnswer { event }))
}

pub async fn ask(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<PostText>,
) -> ApiResult<(StatusCode, Json<QuestionAnswer>)> {
    let target = authorize(&app, &caller, req.session_id, Action::AskQuestion).await?;
    let id = QuestionId(uuid::Uuid::new_v5(&caller.user.id.0, key.as_bytes()));
    let (event, state) = submit_then(
        &app,
        &caller,
        &target,
        &key,
        SessionCommand::AskQuestion { question_id: id, content: req.content },
    )
    .await?;
    let question = state.questions.iter().find(|q| q.id == id).map(|q| QuestionDto::of(q, caller.user.id));
    Ok((StatusCode::CREATED, Json(QuestionAnswer { question, event })))
}

/// Upvote, answer or dismiss: one event on an existing question.
async fn on_question(
    app: AppState,
    caller: Caller,
    key: String,
    id: QuestionId,
    command: SessionCommand,
) -> ApiResult<Json<QuestionAnswer>> {
    let target = owned(&app, &caller, Owned::Question, id.0).await?;
    let (event, state) = submit_then(&app, &caller, &target, &key, command).await?;
    let question = state.questions.iter().find(|q| q.id == id).map(|q| QuestionDto::of(q, caller.user.id));
    Ok(Json(QuestionAnswer { question, event }))
}

pub async fn upvote(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<Json<QuestionAnswer>> {
    on_question(app, caller, key, id, SessionCommand::UpvoteQuestion { question_id: id }).await
}

pub async fn answer(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<Json<QuestionAnswer>> {
    on_question(app, caller, key, id, SessionCommand::AnswerQuestion { question_id: id }).await
}

pub async fn dismiss(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<QuestionId>,
) -> ApiResult<Json<QuestionAnswer>> {
    on_question(app, caller, key, id, SessionCommand::DismissQuestion { question_id: id }).await
}

pub async fn list_questions(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<SessionId>,
) -> ApiResult<Json<QuestionList>> {
    let target = authorize(&app, &caller, id, Action::ReadEvents).await?;
    let state = current(&app, &target).await?;
    let mut qs: Vec<&Question> = state.questions.iter().filter(|q| !q.dismissed).collect();
    // Most upvoted first, then oldest first: what a teacher wants to see.
    qs.sort_by(|a, b| b.upvoters.len().cmp(&a.upvoters.len()).then(a.sequence.cmp(&b.sequence)));
    Ok(Json(QuestionList { questions: qs.iter().map(|q| QuestionDto::of(q, caller.user.id)).collect() }))
}

pub async fn open_poll(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiJson(req): ApiJson<OpenPoll>,
) -> ApiResult<(StatusCode, Json<PollAnswer>)> {
    let target = authorize(&app, &caller, req.session_id, Action::Present).await?;
    let id = PollId(uuid::Uuid::new_v5(&caller.user.id.0, key.as_bytes()));
    let (event, state) = submit_then(
        &app,
        &caller,
        &target,
        &key,
        SessionCommand::OpenPoll { poll_id: id, prompt: req.prompt, options: req.options },
    )
    .await?;
    let poll = state.polls.get(&id).map(|p| PollDto::of(id, p, caller.user.id));
    Ok((StatusCode::CREATED, Json(PollAnswer { poll, event })))
}

async fn on_poll(
    app: AppState,
    caller: Caller,
    key: String,
    id: PollId,
    command: SessionCommand,
) -> ApiResult<Json<PollAnswer>> {
    let target = owned(&app, &caller, Owned::Poll, id.0).await?;
    let (event, state) = submit_then(&app, &caller, &target, &key, command).await?;
    let poll = state.polls.get(&id).map(|p| PollDto::of(id, p, caller.user.id));
    Ok(Json(PollAnswer { poll, event }))
}

pub async fn vote(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<PollId>,
    ApiJson(req): ApiJson<Vote>,
) -> ApiResult<Json<PollAnswer>> {
    on_poll(app, caller, key, id, SessionCommand::Vote { poll_id: id, option: req.option }).await
}

pub async fn close_poll(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<PollId>,
) -> ApiResult<Json<PollAnswer>> {
    on_poll(app, caller, key, id, SessionCommand::ClosePoll { poll_id: id }).await
}

pub async fn get_poll(
    State(app): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<PollId>,
) -> ApiResult<Json<PollDto>> {
    let target = owned(&app, &caller, Owned::Poll, id.0).await?;
    ensure(&caller, Action::ReadEvents, &target)?;
    let state = current(&app, &target).await?;
    let p = state.polls.get(&id).ok_or_else(|| ApiError::not_found("poll"))?;
    Ok(Json(PollDto::of(id, p, caller.user.id)))
}

pub async fn hand(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<Hand>,
) -> ApiResult<Json<EventAnswer>> {
    let target = authorize(&app, &caller, id, Action::RaiseHand).await?;
    let command = if req.raised { SessionCommand::RaiseHand } else { SessionCommand::LowerHand { user_id: None } };
    let event = submit(&app, &caller, &target, &key, command).await?;
    Ok(Json(EventAnswer { event }))
}

/// A presenter lowers someone's hand.
pub async fn lower_hand(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<LowerHand>,
) -> ApiResult<Json<EventAnswer>> {
    let target = authorize(&app, &caller, id, Action::Moderate).await?;
    let event = submit(&app, &caller, &target, &key, SessionCommand::LowerHand { user_id: Some(req.user_id) }).await?;
    Ok(Json(EventAnswer { event }))
}

/// The class's language: what its transcript and captions are made in (teacher or admin).
pub async fn set_language(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<shared_types::requests::SetLanguage>,
) -> ApiResult<Json<EventAnswer>> {
    let target = authorize(&app, &caller, id, Action::SetLanguage).await?;
    let language = req.language.trim().to_lowercase();
    let event = submit(&app, &caller, &target, &key, SessionCommand::SetLanguage { language }).await?;
    Ok(Json(EventAnswer { event }))
}

pub async fn highlight(
    State(app): State<AppState>,
    caller: Caller,
    Extension(IdemKey(key)): Extension<IdemKey>,
    ApiPath(id): ApiPath<SessionId>,
    ApiJson(req): ApiJson<Mark>,
) -> ApiResult<(StatusCode, Json<EventAnswer>)> {
    let target = authorize(&app, &caller, id, Action::MarkHighlight).await?;
    let event = submit(&app, &caller, &target, &key, SessionCommand::MarkHighlight { label: req.label }).await?;
    Ok((StatusCode::CREATED, Json(EventAnswer { event })))
}
