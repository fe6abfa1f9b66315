//! The studio's journal: every teacher action, decided first by the shared `decide` against the
//! locally folded state, then written (SQLite, WAL) with a fresh idempotency key and its local
//! `occurredAt`. It is the studio's source of truth: the sync engine drains it in order and records
//! what the server said of each entry.

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use shared_types::decide::{decide, SessionActor, SessionCommand};
use shared_types::{apply, EventEnvelope, Rejection, SessionEvent, SessionId, SessionState};
use std::path::Path;

/// What the server has said of an entry so far.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Not sent yet, or sent without an answer that reached us.
    Pending,
    /// In the server's log at this sequence.
    Synced { sequence: u64 },
    /// The server refused it; the teacher sees why.
    Refused { code: String, message: String },
}

/// What a server event did to the journal (see [`Journal::apply_remote`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// The next event: folded onto the base (and, if it was ours, the entry marked synced).
    Applied,
    /// Already in the base.
    Old,
    /// Events are missing before it: pull the state, then listen again.
    Gap,
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Order of recording, 1, 2, 3… across sessions.
    pub local_seq: i64,
    pub session: SessionId,
    pub idempotency_key: String,
    pub event: SessionEvent,
    pub occurred_at: DateTime<Utc>,
    /// Who recorded it, and their role in the session then (the reducer checks who presents).
    pub actor_id: Option<shared_types::UserId>,
    pub actor_role: Option<shared_types::Role>,
    pub status: Status,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The shared rules refuse the action; nothing was written.
    #[error("{0}")]
    Refused(Rejection),
    #[error("journal storage: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("journal data: {0}")]
    Corrupt(String),
}

pub struct Journal {
    conn: Connection,
    /// The folded state per session, kept up to date by `record` and dropped when the base or an
    /// entry's status changes (then folded again on the next read).
    folded: std::cell::RefCell<std::collections::HashMap<SessionId, SessionState>>,
}

const SCHEMA: &str = "
create table if not exists entries (
    local_seq integer primary key autoincrement,
    session_id text not null,
    idempotency_key text not null unique,
    event_type text not null,
    payload text not null,
    occurred_at text not null,
    actor_id text,
    actor_role text,
    status text not null default 'pending' check (status in ('pending', 'synced', 'refused')),
    server_seq integer,
    error_code text,
    error_message text
);
create index if not exists entries_pending on entries (session_id, status, local_seq);
-- The server's state of a session as last pulled (the base the local entries fold onto).
create table if not exists bases (
    session_id text primary key,
    state text not null
);
";

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A row as stored, before decoding.
struct Raw {
    local_seq: i64,
    session: String,
    key: String,
    ty: String,
    payload: String,
    occurred: String,
    status: String,
    seq: Option<i64>,
    code: Option<String>,
    message: Option<String>,
    actor_id: Option<String>,
    actor_role: Option<String>,
}

fn entry_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok(Raw {
        local_seq: r.get(0)?,
        session: r.get(1)?,
        key: r.get(2)?,
        ty: r.get(3)?,
        payload: r.get(4)?,
        occurred: r.get(5)?,
        status: r.get(6)?,
        seq: r.get(7)?,
        code: r.get(8)?,
        message: r.get(9)?,
        actor_id: r.get(10)?,
        actor_role: r.get(11)?,
    })
}

fn decode(raw: Raw) -> Result<Entry, JournalError> {
    let Raw { local_seq, session, key, ty, payload, occurred, status, seq, code, message, actor_id, actor_role } = raw;
    let bad = |what: &str| JournalError::Corrupt(format!("entry {local_seq}: {what}"));
    let payload = serde_json::from_str(&payload).map_err(|_| bad("payload"))?;
    let event =
        SessionEvent::from_parts(&ty, shared_types::events::CURRENT_VERSION, payload).map_err(|_| bad("event"))?;
    let status = match status.as_str() {
        "pending" => Status::Pending,
        "synced" => Status::Synced { sequence: seq.ok_or_else(|| bad("sequence"))? as u64 },
        _ => Status::Refused { code: code.unwrap_or_default(), message: message.unwrap_or_default() },
    };
    Ok(Entry {
        local_seq,
        session: session.parse().map_err(|_| bad("session id"))?,
        idempotency_key: key,
        event,
        occurred_at: DateTime::parse_from_rfc3339(&occurred).map_err(|_| bad("occurredAt"))?.with_timezone(&Utc),
        actor_id: actor_id.map(|a| a.parse().map_err(|_| bad("actor"))).transpose()?,
        actor_role: actor_role.as_deref().and_then(shared_types::Role::parse),
        status,
    })
}

const COLS: &str = "local_seq, session_id, idempotency_key, event_type, payload, occurred_at, status, server_seq, \
                    error_code, error_message, actor_id, actor_role";

impl Journal {
    /// Open (or create) the journal file.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "wal")?;
        conn.pragma_update(None, "synchronous", "normal")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Journal { conn, folded: Default::default() })
    }

    /// The server's state of `session` as last pulled (the empty state before the first pull).
    pub fn base(&self, session: SessionId) -> Result<SessionState, JournalError> {
        let raw: Option<String> = self
            .conn
            .query_row("select state from bases where session_id = ?1", [session.to_string()], |r| r.get(0))
            .optional()?;
        match raw {
            Some(s) => serde_json::from_str(&s).map_err(|e| JournalError::Corrupt(format!("base: {e}"))),
            None => Ok(SessionState::default()),
        }
    }

    /// Take the server's state (from `GET …/state`) as the new base, if it is newer.
    pub fn set_base(&self, session: SessionId, state: &SessionState) -> Result<(), JournalError> {
        if self.base(session)?.head > state.head {
            return Ok(());
        }
        let json = serde_json::to_string(state).map_err(|e| JournalError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "insert into bases (session_id, state) values (?1, ?2) on conflict (session_id) do update set state = ?2",
            params![session.to_string(), json],
        )?;
        self.forget(Some(session));
        Ok(())
    }

    /// The session as the teacher sees it now: the server's base, then every entry it does not hold
    /// yet (synced after the base was pulled, or still pending), in order.
    pub fn state(&self, session: SessionId) -> Result<SessionState, JournalError> {
        self.with_state(session, |s| s.clone())
    }

    /// Run `f` on the folded state (folding it first if it is not at hand).
    fn with_state<T>(&self, session: SessionId, f: impl FnOnce(&SessionState) -> T) -> Result<T, JournalError> {
        if let Some(s) = self.folded.borrow().get(&session) {
            return Ok(f(s));
        }
        let state = self.fold(session)?;
        let out = f(&state);
        self.folded.borrow_mut().insert(session, state);
        Ok(out)
    }

    fn forget(&self, session: Option<SessionId>) {
        match session {
            Some(s) => self.folded.borrow_mut().remove(&s),
            None => {
                self.folded.borrow_mut().clear();
                None
            }
        };
    }

    fn fold(&self, session: SessionId) -> Result<SessionState, JournalError> {
        let mut state = self.base(session)?;
        let base_head = state.head;
        let mut synced_later: Vec<(u64, Entry)> = Vec::new();
        let mut pending = Vec::new();
        for e in self.entries(session)? {
            match e.status {
                Status::Synced { sequence } if sequence > base_head => synced_later.push((sequence, e)),
                Status::Pending => pending.push(e),
                _ => {}
            }
        }
        synced_later.sort_by_key(|(s, _)| *s);
        for e in synced_later.into_iter().map(|(_, e)| e).chain(pending) {
            let env = self.envelope(&state, &e);
            // An entry the server will refuse may not fold here either; it stays out of the view.
            let _ = apply(&mut state, &env);
        }
        Ok(state)
    }

    fn envelope(&self, state: &SessionState, e: &Entry) -> EventEnvelope {
        EventEnvelope {
            session_id: e.session,
            sequence: state.head + 1,
            idempotency_key: e.idempotency_key.clone(),
            version: shared_types::events::CURRENT_VERSION,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            occurred_at: e.occurred_at,
            recorded_at: e.occurred_at,
            event: e.event.clone(),
        }
    }

    /// A server event from the live socket: what others wrote (students, assistants) joins the base
    /// as it happens; one of our own entries coming back is marked synced with its sequence.
    pub fn apply_remote(&self, env: &EventEnvelope) -> Result<Remote, JournalError> {
        let mut base = self.base(env.session_id)?;
        if env.sequence <= base.head {
            return Ok(Remote::Old);
        }
        if env.sequence != base.head + 1 {
            return Ok(Remote::Gap);
        }
        apply(&mut base, env).map_err(|r| {
            JournalError::Corrupt(format!("the server's event {} does not fold here: {r}", env.sequence))
        })?;
        self.set_base(env.session_id, &base)?;
        let ours = self.conn.execute(
            "update entries set status = 'synced', server_seq = ?2 where idempotency_key = ?1 and status = 'pending'",
            params![env.idempotency_key, env.sequence as i64],
        )?;
        if ours > 0 {
            self.forget(None);
        }
        Ok(Remote::Applied)
    }

    /// Decide `command` for `actor` against the local state; written as a pending entry if allowed.
    pub fn record(
        &self,
        session: SessionId,
        actor: &SessionActor,
        command: SessionCommand,
    ) -> Result<Entry, JournalError> {
        let events = self.with_state(session, |state| decide(state, actor, command))?.map_err(JournalError::Refused)?;
        let mut last = None;
        for event in events {
            let key = format!("studio-{}", uuid::Uuid::now_v7());
            let occurred_at = Utc::now().trunc_subsecs(6);
            let payload = serde_json::to_string(&event.payload()).map_err(|e| JournalError::Corrupt(e.to_string()))?;
            self.conn.execute(
                "insert into entries (session_id, idempotency_key, event_type, payload, occurred_at, actor_id, actor_role) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    session.to_string(),
                    key,
                    event.event_type(),
                    payload,
                    ts(occurred_at),
                    actor.user.map(|u| u.to_string()),
                    actor.role.map(|r| r.as_str())
                ],
            )?;
            let local_seq = self.conn.last_insert_rowid();
            let entry = Entry {
                local_seq,
                session,
                idempotency_key: key,
                event,
                occurred_at,
                actor_id: actor.user,
                actor_role: actor.role,
                status: Status::Pending,
            };
            // The new entry folds onto the state at hand (decided against it a moment ago).
            if let Some(state) = self.folded.borrow_mut().get_mut(&session) {
                let env = self.envelope(state, &entry);
                let _ = apply(state, &env);
            }
            last = Some(entry);
        }
        last.ok_or_else(|| JournalError::Corrupt("decide returned no event".into()))
    }

    /// Every entry of `session`, in recording order.
    pub fn entries(&self, session: SessionId) -> Result<Vec<Entry>, JournalError> {
        let mut st =
            self.conn.prepare(&format!("select {COLS} from entries where session_id = ?1 order by local_seq"))?;
        let rows = st.query_map([session.to_string()], entry_from)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode).collect()
    }

    /// The oldest `limit` pending entries of `session`, in order.
    pub fn pending(&self, session: SessionId, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let mut st = self.conn.prepare(&format!(
            "select {COLS} from entries where session_id = ?1 and status = 'pending' order by local_seq limit ?2"
        ))?;
        let rows =
            st.query_map(params![session.to_string(), limit as i64], entry_from)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode).collect()
    }

    /// Pending entries in all sessions (the sync indicator's count).
    pub fn pending_count(&self) -> Result<u64, JournalError> {
        Ok(self.conn.query_row("select count(*) from entries where status = 'pending'", [], |r| r.get::<_, i64>(0))?
            as u64)
    }

    /// The server holds the entry at `sequence`.
    pub fn mark_synced(&self, key: &str, sequence: u64) -> Result<(), JournalError> {
        self.conn.execute(
            "update entries set status = 'synced', server_seq = ?2 where idempotency_key = ?1",
            params![key, sequence as i64],
        )?;
        // Folding order may change (synced entries fold by server sequence, before pending ones).
        self.forget(None);
        Ok(())
    }

    /// The server refused the entry, for good.
    pub fn mark_refused(&self, key: &str, code: &str, message: &str) -> Result<(), JournalError> {
        self.conn.execute(
            "update entries set status = 'refused', error_code = ?2, error_message = ?3 where idempotency_key = ?1 and status = 'pending'",
            params![key, code, message],
        )?;
        self.forget(None);
        Ok(())
    }
}
