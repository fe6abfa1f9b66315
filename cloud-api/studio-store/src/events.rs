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
            "insert into sessions (id, tenant_id, course_id, lesson_id, scheduled_start, scheduled_end, status, \
             created_by, created_at) values ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8)",
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
        let (mut outcomes, state) =
            self.append_in(&mut w.tx, tenant, id, std::slice::from_ref(&creator), None, true).await?;
        let event = match outcomes.remove(0) {
            AppendOutcome::Appended(event) => event,
            refused => {
                // Nothing is written when the first event is refused.
                w.tx.rollback().await?;
                return Ok(Err(refused));
            }
        };
        w.commit().await?;
        self.notify_soon(id, state.head);
        *self.states.slot(id).lock().await = Some((tenant, Arc::new(state)));
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
    ) -> StoreResult<(Vec<AppendOutcome>, Arc<SessionState>)> {
        let slot = self.states.slot(session);
        let mut cached = slot.lock().await;
        if let ([one], Some((kept_for, state))) = (events.as_slice(), cached.as_mut()) {
            if *kept_for == tenant {
                if let Some(env) = self.append_one(tenant, session, state, one).await? {
                    self.fanout.publish([&env]);
                    return Ok((vec![AppendOutcome::Appended(env)], state.clone()));
                }
            }
        }
        let mut races = 0;
        let (outcomes, state) = loop {
            let mut w = self.write().await?;
            let kept = States::kept_for(cached.take(), tenant);
            let look_up = self.look_up_keys(races);
            let (outcomes, state) = match self.append_in(&mut w.tx, tenant, session, &events, kept, look_up).await {
                Err(e) if lost_race(&e) && races < RACE_RETRIES => {
                    races += 1;
                    continue;
                }
                r => r?,
            };
            if outcomes.iter().any(|o| matches!(o, AppendOutcome::Appended(_))) {
                w.commit().await?;
                self.notify_soon(session, state.head);
                self.fanout.publish(outcomes.iter().filter_map(|o| match o {
                    AppendOutcome::Appended(e) => Some(e),
                    _ => None,
                }));
            } else {
                w.tx.rollback().await?;
            }
            break (outcomes, state);
        };
        let state = Arc::new(state);
        *cached = Some((tenant, state.clone()));
        Ok((outcomes, state))
    }

    /// One event in one statement, when this node's folded state is at the stored head and the
    /// event is plainly valid: insert it at the next sequence unless that sequence or its key is
    /// taken (and, on PostgreSQL, the object it creates in the same statement, which carries the
    /// single appends of this node's other sessions too: [`crate::gather`]) — one round trip, no
    /// explicit transaction, no row of `sessions` rewritten. The log's `(session_id, sequence)` key
    /// is what keeps it gap-free across nodes: if another node appended since, the sequence is
    /// taken and nothing goes in. That, a repeated key, a refusal to explain, a lifecycle change or
    /// a job to enqueue returns `None` and takes the general path, which decides under the
    /// session's row lock.
    async fn append_one(
        &self,
        tenant: TenantId,
        session: SessionId,
        state: &mut Arc<SessionState>,
        ne: &NewEvent,
    ) -> StoreResult<Option<EventEnvelope>> {
        use SessionEvent::*;
        if matches!(ne.event, SessionScheduled { .. } | SessionStarted { .. } | SessionEnded {} | RecordingAdded { .. })
        {
            return Ok(None);
        }
        let env = envelope(session, state.head + 1, ne.clone(), recording_time());
        if shared_types::reducer::validate(state, &env).is_err() {
            return Ok(None);
        }
        let object = created_object(&env.event);
        let inserted = match (&self.gatherer, object) {
            // PostgreSQL: in one statement with the other sessions' single appends of the moment.
            (Some(gatherer), object) => gatherer.append(LogRow::of(tenant, &env), object).await,
            (None, None) => {
                let sql = format!(
                    "insert into session_state_events ({INSERT_COLS}) values ({}) on conflict do nothing",
                    marks(1, 12)
                );
                self.write_one(LogRow::of(tenant, &env).bind(sqlx::query(&sql))).await?.rows_affected() == 1
            }
            // SQLite has no writes inside WITH: the general path writes both in one transaction.
            (None, Some(_)) => false,
        };
        if !inserted {
            return Ok(None);
        }
        shared_types::apply(Arc::make_mut(state), &env)
            .map_err(|r| StoreError::Corrupt(format!("validated event refused: {r}")))?;
        self.notify_soon(session, env.sequence);
        Ok(Some(env))
    }

    /// Whether a write of several events looks their keys up before folding them, on its attempt
    /// after `races` lost ones. On PostgreSQL the first attempt does not (a thousand index probes
    /// saved on every journal batch, nearly all of whose keys are new): a key stored before fails
    /// the insert on the log's key, the attempt is rolled back like a lost race, and the next one
    /// looks up. SQLite looks up always: its writes are queued, so nothing is saved by guessing,
    /// and its errors do not name the constraint that [`lost_race`] tells a repeat by.
    pub(crate) fn look_up_keys(&self, races: u32) -> bool {
        races > 0 || self.backend == Backend::Sqlite
    }

    /// Decide and write `events` in `tx`: their outcomes and the state after them. `look_up`: see
    /// [`Store::look_up_keys`] (a single event's key is never looked up first).
    pub(crate) async fn append_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: TenantId,
        session: SessionId,
        events: &[NewEvent],
        cached: Option<Arc<SessionState>>,
        look_up: bool,
    ) -> StoreResult<(Vec<AppendOutcome>, SessionState)> {
        // The session's row lock serialises this path across nodes. The one-statement appends of
        // other nodes take no lock on that row and do not wait for it: one of them may take the
        // sequence (or a key) chosen here, and the insert below then fails on the log's key — the
        // caller starts again ([`lost_race`]). The head is read after the lock, in a statement of
        // its own, so it sees every append committed while this one waited.
        let single = events.len() == 1;
        let lock = match self.backend {
            Backend::Postgres => " for no key update",
            Backend::Sqlite => "",
        };
        sqlx::query(&format!("select status from sessions where id = $1 and tenant_id = $2{lock}"))
            .bind(session.to_string())
            .bind(tenant.to_string())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let head = max_sequence(tx, session).await?;
        let mut state = match cached.filter(|s| s.head <= head) {
            Some(s) => Arc::try_unwrap(s).unwrap_or_else(|s| (*s).clone()),
            // Not kept here (a restart, another node's session): from the nearest snapshot.
            None if head >= SNAPSHOT_EVERY => nearest_snapshot(tx, session, head).await?.unwrap_or_default(),
            None => SessionState::default(),
        };
        if state.head < head {
            for e in load_after(tx, session, state.head, None).await? {
                apply(&mut state, &e).map_err(|r| StoreError::Corrupt(format!("stored event {}: {r}", e.sequence)))?;
            }
        }
        let (start_head, start_status) = (state.head, state.status);
        let now = recording_time();
        // One event: its key conflict shows up on insert (one round trip fewer). Several: all keys
        // looked up at once when `look_up`, so the inserts below cannot conflict; else a stored
        // key fails the insert, or is looked up when an event is refused (below).
        let keys = || events.iter().map(|e| e.idempotency_key.as_str()).collect::<Vec<_>>();
        let mut looked_up = !single && look_up;
        // Events stored before under the batch's keys (when looked up), and this batch's own.
        let mut known = if looked_up { existing(tx, self.backend, session, &keys()).await? } else { HashMap::new() };
        let mut outcomes = Vec::with_capacity(events.len());
        let mut fresh: Vec<EventEnvelope> = Vec::new();
        for ne in events {
            if let Some(env) = known.get(&ne.idempotency_key) {
                outcomes.push(replay_or_reused(env, ne.actor_id));
                continue;
            }
            let env = envelope(session, state.head + 1, ne.clone(), now);
            if let Err(r) = shared_types::reducer::validate(&state, &env) {
                // A repeat of an accepted event may no longer be valid (start twice): the key decides.
                let key = env.idempotency_key.as_str();
                let prior = if single {
                    existing(tx, self.backend, session, &[key]).await?.remove(key)
                } else if !looked_up {
                    let stored = existing(tx, self.backend, session, &keys()).await?;
                    if fresh.iter().any(|e| stored.contains_key(&e.idempotency_key)) {
                        // An event folded above as new is a repeat: again, keys looked up first.
                        return Err(StoreError::Conflict(IDEM_KEY.into()));
                    }
                    looked_up = true;
                    let prior = stored.get(key).cloned();
                    known.extend(stored);
                    prior
                } else {
                    None // every stored key of the batch is in `known`
                };
                outcomes.push(match prior {
                    Some(p) => replay_or_reused(&p, env.actor_id),
                    None => AppendOutcome::Rejected(r),
                });
                continue;
            }
            if single {
                let inserted = insert_events(tx, self.backend, tenant, std::slice::from_ref(&env), true).await?;
                if inserted == 0 {
                    let prior = existing(tx, self.backend, session, &[env.idempotency_key.as_str()]).await?;
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
            // Never skips a repeat (a key written since the look-up fails the insert: a lost race),
            // even when one entry of the batch is fresh: its event is already folded in `state`.
            insert_events(tx, self.backend, tenant, &fresh, false).await?;
        }
        project(tx, self.backend, tenant, session, &fresh).await?;
        if state.head != start_head && state.status != start_status {
            sqlx::query("update sessions set status = $2, started_at = $3, ended_at = $4 where id = $1")
                .bind(session.to_string())
                .bind(status_str(state.status))
                .bind(state.started_at.map(ts))
                .bind(state.ended_at.map(ts))
                .execute(&mut **tx)
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
        let row = sqlx::query(
            "select (select coalesce(max(e.sequence), 0) from session_state_events e where e.session_id = s.id) \
             from sessions s where s.id = $1 and s.tenant_id = $2",
        )
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
            if let Some(slot) = self.states.peek(session) {
                if let Some((_, s)) = slot.lock().await.as_ref().filter(|(_, s)| s.head == head) {
                    return Ok(SessionState::clone(s));
                }
            }
        }
        self.fold_upto(session, upto).await
    }

    /// Fold the first `upto` events from the newest snapshot at or before them, keeping a snapshot
    /// at every [`SNAPSHOT_EVERY`] events folded past it (for the next reader).
    pub(crate) async fn fold_upto(&self, session: SessionId, upto: u64) -> StoreResult<SessionState> {
        let rules = shared_types::reducer::RULES.to_string();
        let mut conn = self.pool.acquire().await?;
        let mut state = nearest_snapshot(&mut conn, session, upto).await?.unwrap_or_default();
        let mut keep = Vec::new();
        while state.head < upto {
            let events =
                load_after(&mut conn, session, state.head, Some((upto - state.head).min(SNAPSHOT_EVERY))).await?;
            if events.is_empty() {
                break;
            }
            for e in &events {
                apply(&mut state, e).map_err(|r| StoreError::Corrupt(format!("stored event {}: {r}", e.sequence)))?;
                if state.head % SNAPSHOT_EVERY == 0 {
                    keep.push((
                        state.head,
                        serde_json::to_string(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    ));
                }
            }
        }
        drop(conn);
        if !keep.is_empty() {
            let mut w = self.write().await?;
            for (head, json) in keep {
                // Another reader may have kept the same one: either is the same state.
                sqlx::query(
                    "insert into session_snapshots (session_id, head, rules, state, created_at) \
                     values ($1, $2, $3, $4, $5) on conflict (session_id, head, rules) do nothing",
                )
                .bind(session.to_string())
                .bind(head as i64)
                .bind(&rules)
                .bind(json)
                .bind(ts(Utc::now()))
                .execute(&mut *w.tx)
                .await?;
            }
            w.commit().await?;
        }
        Ok(state)
    }
}

/// A session's folded state at a known head, behind its own lock: this node's appenders to one
/// session queue here (they would queue on its row lock anyway) and change it in place. Kept with
/// the tenant the session was read under (by id and tenant): the one-statement append, which reads
/// no row of `sessions`, runs only for that tenant.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Option<(TenantId, Arc<SessionState>)>>>;

/// Folded state per session, checked against the stored head on every use (another node may
/// have written since).
#[derive(Default)]
pub(crate) struct States {
    slots: std::sync::Mutex<HashMap<SessionId, Slot>>,
}

impl States {
    /// Sessions whose state is kept; past it, the idle ones are dropped.
    const KEPT: usize = 4_096;

    pub(crate) fn slot(&self, session: SessionId) -> Slot {
        let mut map = self.slots.lock().expect("state cache");
        if map.len() >= Self::KEPT && !map.contains_key(&session) {
            map.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        map.entry(session).or_default().clone()
    }

    /// A kept state, if it was read under `tenant` (else none: the caller reads the session again).
    pub(crate) fn kept_for(kept: Option<(TenantId, Arc<SessionState>)>, tenant: TenantId) -> Option<Arc<SessionState>> {
        kept.filter(|(t, _)| *t == tenant).map(|(_, s)| s)
    }

    fn peek(&self, session: SessionId) -> Option<Slot> {
        self.slots.lock().expect("state cache").get(&session).cloned()
    }
}

/// The time the server records events at: microseconds, as stored. One for all the events of a
/// write (they commit together).
fn recording_time() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The envelope for the next event: the server's sequence and recorded time.
fn envelope(session: SessionId, sequence: u64, ne: NewEvent, now: DateTime<Utc>) -> EventEnvelope {
    EventEnvelope {
        session_id: session,
        sequence,
        idempotency_key: ne.idempotency_key,
        version: CURRENT_VERSION,
        actor_id: ne.actor_id,
        actor_role: ne.actor_role,
        occurred_at: ne.occurred_at.map(|t| t.trunc_subsecs(6)).unwrap_or(now),
        recorded_at: now,
        event: ne.event,
    }
}

pub(crate) const INSERT_COLS: &str =
    "id, tenant_id, session_id, sequence, idempotency_key, event_type, version, actor_id, \
                           actor_role, event_payload, occurred_at, created_at";

/// One row of the log as it is written, its fields named and ordered as [`INSERT_COLS`]: bound
/// value by value (the one-statement append) or, for any number of rows, as one JSON array in one
/// parameter ([`insert_events`]) — one statement text to prepare whatever the batch's size.
#[derive(serde::Serialize)]
pub(crate) struct LogRow {
    pub(crate) id: String,
    pub(crate) tenant_id: String,
    pub(crate) session_id: String,
    pub(crate) sequence: i64,
    pub(crate) idempotency_key: String,
    pub(crate) event_type: &'static str,
    pub(crate) version: i64,
    pub(crate) actor_id: Option<String>,
    pub(crate) actor_role: Option<&'static str>,
    pub(crate) event_payload: String,
    pub(crate) occurred_at: String,
    pub(crate) created_at: String,
}

impl LogRow {
    pub(crate) fn of(tenant: TenantId, env: &EventEnvelope) -> LogRow {
        LogRow {
            id: uuid::Uuid::now_v7().to_string(),
            tenant_id: tenant.to_string(),
            session_id: env.session_id.to_string(),
            sequence: env.sequence as i64,
            idempotency_key: env.idempotency_key.clone(),
            event_type: env.event.event_type(),
            version: env.version as i64,
            actor_id: env.actor_id.map(|a| a.to_string()),
            actor_role: env.actor_role.map(|r| r.as_str()),
            event_payload: env.event.payload().to_string(),
            occurred_at: ts(env.occurred_at),
            created_at: ts(env.recorded_at),
        }
    }

    /// The 12 values, in [`INSERT_COLS`] order.
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
        q.bind(self.id)
            .bind(self.tenant_id)
            .bind(self.session_id)
            .bind(self.sequence)
            .bind(self.idempotency_key)
            .bind(self.event_type)
            .bind(self.version)
            .bind(self.actor_id)
            .bind(self.actor_role)
            .bind(self.event_payload)
            .bind(self.occurred_at)
            .bind(self.created_at)
    }
}

/// `$from, …, $to`: the placeholders of one row.
fn marks(from: usize, to: usize) -> String {
    (from..=to).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The highest sequence in a session's log: its head.
async fn max_sequence(conn: &mut sqlx::AnyConnection, session: SessionId) -> StoreResult<u64> {
    let row = sqlx::query("select coalesce(max(sequence), 0) from session_state_events where session_id = $1")
        .bind(session.to_string())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get::<i64, _>(0)? as u64)
}

/// Another node's append took the sequence this transaction chose after its head was read (or,
/// for a batch, wrote one of its keys after they were looked up): the write is rolled back and
/// starts again from the store (rare: two nodes appending to one session within the same few
/// milliseconds).
pub(crate) fn lost_race(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(name) if name == SEQ_KEY || name == IDEM_KEY)
}

/// The log's two keys: a session's sequences, and its idempotency keys.
const SEQ_KEY: &str = "session_state_events_session_seq_key";
const IDEM_KEY: &str = "session_state_events_session_idem_key";

/// Attempts after a lost race before the conflict is reported.
pub(crate) const RACE_RETRIES: u32 = 8;

/// The newest snapshot of `session` at or before `upto` kept under these fold rules.
async fn nearest_snapshot(
    conn: &mut sqlx::AnyConnection,
    session: SessionId,
    upto: u64,
) -> StoreResult<Option<SessionState>> {
    let row = sqlx::query(
        "select state from session_snapshots where session_id = $1 and rules = $2 and head <= $3 \
         order by head desc limit 1",
    )
    .bind(session.to_string())
    .bind(shared_types::reducer::RULES.to_string())
    .bind(upto as i64)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        serde_json::from_str::<SessionState>(&r.try_get::<String, _>(0)?)
            .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))
    })
    .transpose()
}

/// Events between stored snapshots of the folded state.
pub const SNAPSHOT_EVERY: u64 = 1_000;

impl Backend {
    /// `from <rows>` of a JSON array of objects in parameter `$n`, and the select list of `cols`
    /// (their names in the objects) taken from it.
    fn json_rows(self, n: usize, cols: &str, table: &str) -> (String, String) {
        match self {
            // The objects' keys are the table's columns, with their types.
            Backend::Postgres => (cols.to_string(), format!("json_populate_recordset(null::{table}, ${n}::json)")),
            Backend::Sqlite => {
                let list: Vec<String> = cols.split(", ").map(|c| format!("value ->> '{c}'")).collect();
                (list.join(", "), format!("json_each(${n})"))
            }
        }
    }

    /// `select value from <strings>` of a JSON array of strings in parameter `$n`.
    fn json_strings(self, n: usize) -> String {
        match self {
            Backend::Postgres => format!("select json_array_elements_text(${n}::json)"),
            Backend::Sqlite => format!("select value from json_each(${n})"),
        }
    }
}

fn replay_or_reused(prior: &EventEnvelope, actor: Option<UserId>) -> AppendOutcome {
    if prior.actor_id == actor {
        AppendOutcome::Replayed(prior.clone())
    } else {
        AppendOutcome::KeyReused
    }
}

/// Events of `session` already stored under any of `keys` (one statement: the keys go as one JSON
/// array).
async fn existing(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    session: SessionId,
    keys: &[&str],
) -> StoreResult<HashMap<String, EventEnvelope>> {
    let sql = format!(
        "select {EVENT_COLS} from session_state_events where session_id = $1 and idempotency_key in ({})",
        backend.json_strings(2)
    );
    let keys = serde_json::to_string(keys).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut out = HashMap::new();
    for r in sqlx::query(&sql).bind(session.to_string()).bind(keys).fetch_all(&mut **tx).await? {
        let env = envelope_from(&r)?;
        out.insert(env.idempotency_key.clone(), env);
    }
    Ok(out)
}

/// Insert envelopes in one statement, whatever their number (one statement text to prepare for
/// each shape, see [`PgRows::log`]). Returns how many rows went in.
///
/// `skip_repeat`, for a single append whose key was not looked up first (a round trip saved): a
/// repeat is skipped here and found by the caller. A batch's keys were looked up under the
/// session's lock or are taken to be new ([`Store::look_up_keys`]): a repeat fails the insert
/// ([`lost_race`]) and the caller starts again (skipping it would leave the caller's folded state
/// holding an event that is not the stored one), and PostgreSQL is spared the speculative
/// insertion ON CONFLICT costs on every row (a third of a 1,000-row insert).
async fn insert_events(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    tenant: TenantId,
    envs: &[EventEnvelope],
    skip_repeat: bool,
) -> StoreResult<u64> {
    if envs.is_empty() {
        return Ok(0);
    }
    let on_repeat = if skip_repeat { " on conflict (session_id, idempotency_key) do nothing" } else { "" };
    let rows: Vec<LogRow> = envs.iter().map(|e| LogRow::of(tenant, e)).collect();
    let (pg_sql, sqlite_sql);
    let q = match backend {
        Backend::Postgres => {
            let (p, select) = PgRows::log(&rows);
            pg_sql = format!(
                "insert into session_state_events ({INSERT_COLS}) select {select} from {}{on_repeat}",
                p.from()
            );
            p.values.into_iter().fold(sqlx::query(&pg_sql), |q, v| q.bind(v))
        }
        Backend::Sqlite => {
            let (select, from) = backend.json_rows(1, INSERT_COLS, "session_state_events");
            // `where true`: SQLite reads an ON CONFLICT after a bare `select … from …` as a join's.
            sqlite_sql = format!(
                "insert into session_state_events ({INSERT_COLS}) select {select} from {from} where true{on_repeat}"
            );
            let json = serde_json::to_string(&rows).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(&sqlite_sql).bind(json)
        }
    };
    Ok(q.execute(&mut **tx).await.map_err(on_constraint)?.rows_affected())
}

/// The parameters of a PostgreSQL insert of many rows (`$1`, `$2`, …), and which of them are
/// arrays read by `unnest` (their parameter, column and element type).
#[derive(Default)]
pub(crate) struct PgRows {
    pub(crate) values: Vec<Option<String>>,
    arrays: Vec<(usize, &'static str, &'static str)>,
}

impl PgRows {
    /// Rows of the log as a select list, in [`INSERT_COLS`] order (`… as column`), over
    /// [`PgRows::from`]. What differs from row to row goes as an array a column, read by `unnest`
    /// (PostgreSQL parses 1,000 rows of arrays in about half the time it takes to turn the same
    /// rows from JSON into records); what the rows share goes once — a batch's tenant and session,
    /// and when they agree the version, the actor and the recorded time (an array is ≈ 0.5 ms of
    /// parsing at 1,000 rows) — and consecutive sequences of one session as the first one plus the
    /// row's place. Rows of many sessions (a gathered statement) take arrays where they differ.
    pub(crate) fn log<R: std::borrow::Borrow<LogRow>>(rows: &[R]) -> (PgRows, String) {
        let rows: Vec<&LogRow> = rows.iter().map(|r| r.borrow()).collect();
        let (first, session) = (rows[0].sequence, &rows[0].session_id);
        let consecutive =
            rows.iter().enumerate().all(|(i, r)| r.sequence == first + i as i64 && &r.session_id == session);
        let mut p = PgRows::default();
        let text = |v: &&str| Some(v.to_string());
        let columns = [
            p.each("id", "text", rows.iter().map(|r| Some(&r.id))),
            p.either("tenant_id", "text", &rows, |r| r.tenant_id.as_str(), text),
            p.either("session_id", "text", &rows, |r| r.session_id.as_str(), text),
            if consecutive {
                format!("{} + u.n - 1", p.same(Some(first.to_string()), "bigint"))
            } else {
                p.each("sequence", "bigint", rows.iter().map(|r| Some(r.sequence.to_string())))
            },
            p.each("idempotency_key", "text", rows.iter().map(|r| Some(&r.idempotency_key))),
            p.each("event_type", "text", rows.iter().map(|r| Some(r.event_type))),
            p.either("version", "bigint", &rows, |r| r.version, |v| Some(v.to_string())),
            p.either("actor_id", "text", &rows, |r| r.actor_id.as_deref(), |a| a.map(str::to_string)),
            p.either("actor_role", "text", &rows, |r| r.actor_role, |a| a.map(str::to_string)),
            p.each("event_payload", "text", rows.iter().map(|r| Some(&r.event_payload))),
            p.each("occurred_at", "text", rows.iter().map(|r| Some(&r.occurred_at))),
            p.either("created_at", "text", &rows, |r| r.created_at.as_str(), text),
        ];
        let names = INSERT_COLS.split(',').map(str::trim);
        let select = columns.iter().zip(names).map(|(c, name)| format!("{c} as {name}")).collect::<Vec<_>>();
        (p, select.join(", "))
    }

    /// `unnest(…) with ordinality as u(…, n)`: the arrays read together, a row of each at a time.
    pub(crate) fn from(&self) -> String {
        let (params, names): (Vec<String>, Vec<&str>) =
            self.arrays.iter().map(|(n, column, ty)| (format!("${n}::{ty}[]"), *column)).unzip();
        format!("unnest({}) with ordinality as u({}, n)", params.join(", "), names.join(", "))
    }

    /// A value every row takes: its parameter, cast.
    fn same(&mut self, value: Option<String>, ty: &str) -> String {
        self.values.push(value);
        format!("${}::{ty}", self.values.len())
    }

    /// A value a row: an array, and the column read from it.
    pub(crate) fn each<S: AsRef<str>>(
        &mut self,
        column: &'static str,
        ty: &'static str,
        rows: impl Iterator<Item = Option<S>>,
    ) -> String {
        self.values.push(Some(pg_array(rows)));
        self.arrays.push((self.values.len(), column, ty));
        format!("u.{column}")
    }

    /// [`PgRows::same`] when every row's `get` agrees, else [`PgRows::each`].
    fn either<'r, T: PartialEq>(
        &mut self,
        column: &'static str,
        ty: &'static str,
        rows: &[&'r LogRow],
        get: impl Fn(&'r LogRow) -> T,
        text: impl Fn(&T) -> Option<String>,
    ) -> String {
        let one = get(rows[0]);
        if rows.iter().all(|r| get(r) == one) {
            self.same(text(&one), ty)
        } else {
            self.each(column, ty, rows.iter().map(|r| text(&get(r))))
        }
    }
}

/// A PostgreSQL array literal (`{"a","b",NULL}`) of text values, each quoted.
pub(crate) fn pg_array<S: AsRef<str>>(values: impl Iterator<Item = Option<S>>) -> String {
    let mut out = String::from("{");
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        match v {
            None => out.push_str("NULL"),
            Some(v) => {
                out.push('"');
                for c in v.as_ref().chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    out
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

/// The object an event creates, with its kind (`session_objects`).
fn created_object(event: &SessionEvent) -> Option<(uuid::Uuid, &'static str)> {
    match event {
        SessionEvent::ChatPosted { message_id, .. } => Some((message_id.0, "message")),
        SessionEvent::QuestionAsked { question_id, .. } => Some((question_id.0, "question")),
        SessionEvent::PollOpened { poll_id, .. } => Some((poll_id.0, "poll")),
        SessionEvent::SceneCreated { scene_id, .. } => Some((scene_id.0, "scene")),
        _ => None,
    }
}

/// What an append writes beside the log, inside its transaction: the session an object id belongs
/// to (written once, when the object is created; reads fold the log) and the processing job a
/// recording causes.
async fn project(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    tenant: TenantId,
    session: SessionId,
    events: &[EventEnvelope],
) -> StoreResult<()> {
    let objects: Vec<serde_json::Value> = events
        .iter()
        .filter_map(|e| created_object(&e.event))
        .map(|(id, kind)| serde_json::json!({ "id": id, "kind": kind }))
        .collect();
    if !objects.is_empty() {
        let (select, from) = backend.json_rows(3, "id, kind", "session_objects");
        let sql = format!(
            "insert into session_objects (id, kind, tenant_id, session_id) select {select}, $1, $2 from {from}"
        );
        sqlx::query(&sql)
            .bind(tenant.to_string())
            .bind(session.to_string())
            .bind(serde_json::Value::Array(objects).to_string())
            .execute(&mut **tx)
            .await
            .map_err(on_constraint)?;
    }
    for e in events {
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
    }
    Ok(())
}
