//! The per-session event log: gap-free append in one transaction, reads, and folded state.

use super::*;
use chrono::SubsecRound;
use shared_types::dto::{LessonDto, SessionDto};
use shared_types::events::CURRENT_VERSION;
use shared_types::state::SessionStatus;
use shared_types::{apply, EventEnvelope, Rejection, Role, SessionEvent, TenantId, UserId};

/// A command to append: the server assigns sequence and recorded time.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub idempotency_key: String,
    pub actor_id: Option<UserId>,
    pub actor_role: Option<Role>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub event: SessionEvent,
}

#[derive(Clone, Debug, PartialEq)]
pub enum AppendOutcome {
    Appended(EventEnvelope),
    /// The key was used before in this session by the same actor: the original event.
    Replayed(EventEnvelope),
    Rejected(Rejection),
    /// The key was used before in this session by someone else.
    KeyReused,
}

const EVENT_COLS: &str = "session_id, sequence, idempotency_key, event_type, version, actor_id, actor_role, \
                          event_payload, occurred_at, created_at";

fn envelope_from(r: &AnyRow) -> StoreResult<EventEnvelope> {
    let ty: String = r.try_get("event_type")?;
    let version = r.try_get::<i64, _>("version")? as u32;
    let payload: String = r.try_get("event_payload")?;
    let payload = serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let event = SessionEvent::from_parts(&ty, version, payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let actor_id: Option<String> = r.try_get("actor_id")?;
    let actor_role: Option<String> = r.try_get("actor_role")?;
    Ok(EventEnvelope {
        session_id: col_uuid(r, "session_id")?,
        sequence: r.try_get::<i64, _>("sequence")? as u64,
        idempotency_key: r.try_get("idempotency_key")?,
        version: CURRENT_VERSION,
        actor_id: actor_id.map(|a| a.parse().map_err(|_| StoreError::Corrupt("actor_id".into()))).transpose()?,
        actor_role: actor_role.as_deref().and_then(Role::parse),
        occurred_at: col_ts(r, "occurred_at")?,
        recorded_at: col_ts(r, "created_at")?,
        event,
    })
}

fn status_str(s: SessionStatus) -> &'static str {
    match s {
        SessionStatus::New | SessionStatus::Scheduled => "scheduled",
        SessionStatus::Live => "live",
        SessionStatus::Ended => "ended",
    }
}

impl Store {
    /// Schedule a session: its row and its first event (`session.scheduled`) in one transaction.
    pub async fn create_session(
        &self,
        tenant: TenantId,
        lesson: &LessonDto,
        scheduled_start: DateTime<Utc>,
        scheduled_end: DateTime<Utc>,
        creator: NewEvent,
    ) -> StoreResult<Result<(SessionDto, EventEnvelope), AppendOutcome>> {
        let id = SessionId::new();
        let mut w = self.write().await?;
        sqlx::query(
            "insert into sessions (id, tenant_id, course_id, lesson_id, scheduled_start, scheduled_end, status, head, \
             created_by, created_at) values ($1, $2, $3, $4, $5, $6, 'scheduled', 0, $7, $8)",
        )
        .bind(id.to_string())
        .bind(tenant.to_string())
        .bind(lesson.course_id.to_string())
        .bind(lesson.id.to_string())
        .bind(ts(scheduled_start))
        .bind(ts(scheduled_end))
        .bind(creator.actor_id.map(|a| a.to_string()))
        .bind(ts(Utc::now()))
        .execute(&mut *w.tx)
        .await
        .map_err(on_constraint)?;
        let (mut outcomes, state) = self.append_in(&mut w.tx, tenant, id, vec![creator]).await?;
        let event = match outcomes.remove(0) {
            AppendOutcome::Appended(event) => event,
            refused => {
                // Nothing is written when the first event is refused.
                w.tx.rollback().await?;
                return Ok(Err(refused));
            }
        };
        w.commit().await?;
        self.put_state(id, state);
        let session = self.session(tenant, id).await?.ok_or(StoreError::NotFound)?;
        Ok(Ok((session, event)))
    }

    /// Append events to a session in order, in one transaction. Each gets its own outcome; a
    /// rejected one is skipped and the rest still apply. Returns the outcomes and the state after
    /// the append (its `head` is the new head).
    pub async fn append(
        &self,
        tenant: TenantId,
        session: SessionId,
        events: Vec<NewEvent>,
    ) -> StoreResult<(Vec<AppendOutcome>, SessionState)> {
        let mut w = self.write().await?;
        let (outcomes, state) = self.append_in(&mut w.tx, tenant, session, events).await?;
        if outcomes.iter().any(|o| matches!(o, AppendOutcome::Appended(_))) {
            w.commit().await?;
            self.fanout.publish(outcomes.iter().filter_map(|o| match o {
                AppendOutcome::Appended(e) => Some(e),
                _ => None,
            }));
        } else {
            w.tx.rollback().await?;
        }
        self.put_state(session, state.clone());
        Ok((outcomes, state))
    }

    pub(crate) async fn append_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: TenantId,
        session: SessionId,
        events: Vec<NewEvent>,
    ) -> StoreResult<(Vec<AppendOutcome>, SessionState)> {
        // The row lock on the session serialises appenders across every node. A single event bumps
        // the head in the same statement (undone by rollback if the event is refused); a batch
        // locks first and sets the head once at the end.
        let single = events.len() == 1;
        let lock_sql = if single {
            format!(
                "update sessions set head = head + 1 where id = $1 and tenant_id = $2 returning head - 1{}",
                self.notify_new_head()
            )
        } else {
            format!("select head from sessions where id = $1 and tenant_id = $2{}", self.for_update())
        };
        let row = sqlx::query(&lock_sql)
            .bind(session.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let head = row.try_get::<i64, _>(0)? as u64;
        let mut state = self.take_state(session).filter(|s| s.head <= head).unwrap_or_default();
        if state.head < head {
            for e in load_after(tx, session, state.head, None).await? {
                apply(&mut state, &e).map_err(|r| StoreError::Corrupt(format!("stored event {}: {r}", e.sequence)))?;
            }
        }
        let (start_head, start_status) = (state.head, state.status);
        // One event: its key conflict shows up on insert (one round trip fewer). Several: look all
        // keys up at once, so the inserts below cannot conflict.
        let mut known = if single {
            HashMap::new()
        } else {
            let keys: Vec<String> = events.iter().map(|e| e.idempotency_key.clone()).collect();
            existing(tx, session, &keys).await?
        };
        let mut outcomes = Vec::with_capacity(events.len());
        let mut fresh: Vec<EventEnvelope> = Vec::new();
        for ne in events {
            if let Some(env) = known.get(&ne.idempotency_key) {
                outcomes.push(replay_or_reused(env, ne.actor_id));
                continue;
            }
            let now = Utc::now().trunc_subsecs(6);
            let env = EventEnvelope {
                session_id: session,
                sequence: state.head + 1,
                idempotency_key: ne.idempotency_key,
                version: CURRENT_VERSION,
                actor_id: ne.actor_id,
                actor_role: ne.actor_role,
                occurred_at: ne.occurred_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now),
                recorded_at: now,
                event: ne.event,
            };
            if let Err(r) = shared_types::reducer::validate(&state, &env) {
                // A repeat of an accepted event may no longer be valid (start twice): the key decides.
                let prior = if single {
                    existing(tx, session, std::slice::from_ref(&env.idempotency_key)).await?
                } else {
                    HashMap::new()
                };
                outcomes.push(match prior.get(&env.idempotency_key) {
                    Some(p) => replay_or_reused(p, env.actor_id),
                    None => AppendOutcome::Rejected(r),
                });
                continue;
            }
            if single {
                let inserted = insert_events(tx, tenant, std::slice::from_ref(&env)).await?;
                if inserted == 0 {
                    let prior = existing(tx, session, std::slice::from_ref(&env.idempotency_key)).await?;
                    let prior = prior.get(&env.idempotency_key).ok_or(StoreError::Corrupt("lost key".into()))?;
                    outcomes.push(replay_or_reused(prior, env.actor_id));
                    continue;
                }
            }
            apply(&mut state, &env).map_err(|r| StoreError::Corrupt(format!("validated event refused: {r}")))?;
            known.insert(env.idempotency_key.clone(), env.clone());
            outcomes.push(AppendOutcome::Appended(env.clone()));
            fresh.push(env);
        }
        if !single {
            for chunk in fresh.chunks(INSERT_CHUNK) {
                insert_events(tx, tenant, chunk).await?;
            }
        }
        for env in &fresh {
            project(tx, tenant, env).await?;
        }
        if state.head != start_head && (!single || state.status != start_status) {
            let notify = if single { "" } else { self.notify_new_head() };
            sqlx::query(&format!(
                "update sessions set head = $2, status = $3, started_at = $4, ended_at = $5 where id = $1 returning head{notify}"
            ))
                .bind(session.to_string())
                .bind(state.head as i64)
                .bind(status_str(state.status))
                .bind(state.started_at.map(ts))
                .bind(state.ended_at.map(ts))
                .fetch_one(&mut **tx)
                .await?;
        }
        Ok((outcomes, state))
    }

    /// Events after `after` of a session, whatever its tenant (fan-out only; callers checked access).
    pub(crate) async fn events_range(
        &self,
        session: SessionId,
        after: u64,
        limit: u64,
    ) -> StoreResult<Vec<EventEnvelope>> {
        let mut conn = self.pool.acquire().await?;
        load_after(&mut conn, session, after, Some(limit)).await
    }

    /// Events after `after`, ascending, at most `limit`, and the session's head.
    pub async fn events_after(
        &self,
        tenant: TenantId,
        session: SessionId,
        after: u64,
        limit: u64,
    ) -> StoreResult<(Vec<EventEnvelope>, u64)> {
        let head = self.head(tenant, session).await?;
        let mut conn = self.pool.acquire().await?;
        let events = load_after(&mut conn, session, after, Some(limit)).await?;
        Ok((events, head))
    }

    async fn head(&self, tenant: TenantId, session: SessionId) -> StoreResult<u64> {
        let row = sqlx::query("select head from sessions where id = $1 and tenant_id = $2")
            .bind(session.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.try_get::<i64, _>(0)? as u64)
    }

    /// The folded state at head, or after the first `at` events.
    pub async fn state(&self, tenant: TenantId, session: SessionId, at: Option<u64>) -> StoreResult<SessionState> {
        let head = self.head(tenant, session).await?;
        let upto = at.unwrap_or(head).min(head);
        if upto == head {
            if let Some(s) = self.states.lock().expect("state cache").get(&session).filter(|s| s.head == head) {
                return Ok(s.clone());
            }
        }
        let mut conn = self.pool.acquire().await?;
        let events = load_after(&mut conn, session, 0, Some(upto)).await?;
        shared_types::fold(&events).map_err(|r| StoreError::Corrupt(r.to_string()))
    }

    fn take_state(&self, session: SessionId) -> Option<SessionState> {
        self.states.lock().expect("state cache").remove(&session)
    }

    pub(crate) fn put_state(&self, session: SessionId, state: SessionState) {
        let mut map = self.states.lock().expect("state cache");
        if map.len() >= 4_096 {
            map.clear();
        }
        map.insert(session, state);
    }
}

/// Rows per multi-row INSERT (12 parameters each; well under both databases' limits).
const INSERT_CHUNK: usize = 80;

fn replay_or_reused(prior: &EventEnvelope, actor: Option<UserId>) -> AppendOutcome {
    if prior.actor_id == actor {
        AppendOutcome::Replayed(prior.clone())
    } else {
        AppendOutcome::KeyReused
    }
}

/// Events of `session` already stored under any of `keys`.
async fn existing(
    tx: &mut Transaction<'static, Any>,
    session: SessionId,
    keys: &[String],
) -> StoreResult<HashMap<String, EventEnvelope>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "select {EVENT_COLS} from session_state_events where session_id = $1 and idempotency_key in ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(session.to_string());
        for k in chunk {
            q = q.bind(k.clone());
        }
        for r in q.fetch_all(&mut **tx).await? {
            let env = envelope_from(&r)?;
            out.insert(env.idempotency_key.clone(), env);
        }
    }
    Ok(out)
}

/// Insert envelopes in one statement; a row whose key is already in the session is skipped.
/// Returns how many rows went in.
async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    tenant: TenantId,
    envs: &[EventEnvelope],
) -> StoreResult<u64> {
    if envs.is_empty() {
        return Ok(0);
    }
    let rows: Vec<String> = (0..envs.len())
        .map(|r| {
            let cols: Vec<String> = (1..=12).map(|c| format!("${}", r * 12 + c)).collect();
            format!("({})", cols.join(", "))
        })
        .collect();
    let sql = format!(
        "insert into session_state_events (id, tenant_id, session_id, sequence, idempotency_key, event_type, \
         version, actor_id, actor_role, event_payload, occurred_at, created_at) values {} \
         on conflict (session_id, idempotency_key) do nothing",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for env in envs {
        q = q
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(tenant.to_string())
            .bind(env.session_id.to_string())
            .bind(env.sequence as i64)
            .bind(env.idempotency_key.clone())
            .bind(env.event.event_type())
            .bind(env.version as i64)
            .bind(env.actor_id.map(|a| a.to_string()))
            .bind(env.actor_role.map(|r| r.as_str()))
            .bind(env.event.payload().to_string())
            .bind(ts(env.occurred_at))
            .bind(ts(env.recorded_at));
    }
    Ok(q.execute(&mut **tx).await.map_err(on_constraint)?.rows_affected())
}

async fn load_after(
    conn: &mut sqlx::AnyConnection,
    session: SessionId,
    after: u64,
    limit: Option<u64>,
) -> StoreResult<Vec<EventEnvelope>> {
    let rows = sqlx::query(&format!(
        "select {EVENT_COLS} from session_state_events where session_id = $1 and sequence > $2 \
         order by sequence limit $3"
    ))
    .bind(session.to_string())
    .bind(after as i64)
    .bind(limit.map(|l| l.min(i64::MAX as u64) as i64).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(envelope_from).collect()
}

/// What an append writes beside the log, inside its transaction: the session an object id belongs
/// to (written once, when the object is created; reads fold the log) and the processing job a
/// recording causes.
async fn project(tx: &mut Transaction<'static, Any>, tenant: TenantId, e: &EventEnvelope) -> StoreResult<()> {
    let created = match &e.event {
        SessionEvent::ChatPosted { message_id, .. } => Some((message_id.0, "message")),
        SessionEvent::QuestionAsked { question_id, .. } => Some((question_id.0, "question")),
        SessionEvent::PollOpened { poll_id, .. } => Some((poll_id.0, "poll")),
        SessionEvent::SceneCreated { scene_id, .. } => Some((scene_id.0, "scene")),
        _ => None,
    };
    if let Some((id, kind)) = created {
        sqlx::query("insert into session_objects (id, tenant_id, session_id, kind) values ($1, $2, $3, $4)")
            .bind(id.to_string())
            .bind(tenant.to_string())
            .bind(e.session_id.to_string())
            .bind(kind)
            .execute(&mut **tx)
            .await
            .map_err(on_constraint)?;
    }
    if let SessionEvent::RecordingAdded { recording_id, .. } = &e.event {
        // Processing is enqueued with the fact that causes it; one job per recording.
        let payload = serde_json::json!({ "recordingId": recording_id });
        let dedupe = format!("recording:{recording_id}");
        let job = super::NewJob {
            kind: shared_types::jobs::JobKind::ProcessRecording,
            payload: &payload,
            dedupe_key: Some(&dedupe),
        };
        super::jobs::enqueue_in(tx, tenant, e.session_id, job).await?;
    }
    Ok(())
}
