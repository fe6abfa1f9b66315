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

/// A file that travels with an entry (an imported deck or image).
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    /// `slide` (a PDF deck) or `image`.
    pub kind: String,
    pub bytes: Vec<u8>,
}

/// A fresh entry key: `studio-<uuidv7>` (ordered, unique across restarts and machines).
pub fn fresh_key() -> String {
    format!("studio-{}", uuid::Uuid::now_v7())
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
-- A file an entry brings (a deck or an image imported offline): uploaded with the entry when online.
create table if not exists files (
    idempotency_key text primary key references entries (idempotency_key),
    name text not null,
    content_type text not null,
    kind text not null,
    bytes blob not null
);
-- What the studio keeps for offline use (the sign-in's profile, the course catalogue).
create table if not exists cache (
    name text primary key,
    value text not null
);
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
        self.record_keyed(session, actor, fresh_key(), command, None)
    }

    /// `record` under a key chosen by the caller (an upload's asset id is derived from it, as the
    /// server derives it), with the file the entry brings, written in the same transaction.
    pub fn record_keyed(
        &self,
        session: SessionId,
        actor: &SessionActor,
        key: String,
        command: SessionCommand,
        file: Option<&Attachment>,
    ) -> Result<Entry, JournalError> {
        let events = self.with_state(session, |state| decide(state, actor, command))?.map_err(JournalError::Refused)?;
        let many = events.len() > 1;
        let tx = self.conn.unchecked_transaction()?;
        let mut written = Vec::new();
        for (i, event) in events.into_iter().enumerate() {
            let key = if many && i > 0 { format!("{key}-{i}") } else { key.clone() };
            let occurred_at = Utc::now().trunc_subsecs(6);
            let payload = serde_json::to_string(&event.payload()).map_err(|e| JournalError::Corrupt(e.to_string()))?;
            tx.execute(
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
            if let (Some(f), 0) = (file, i) {
                tx.execute(
                    "insert into files (idempotency_key, name, content_type, kind, bytes) values (?1, ?2, ?3, ?4, ?5)",
                    params![key, f.name, f.content_type, f.kind, f.bytes],
                )?;
            }
            written.push(Entry {
                local_seq: tx.last_insert_rowid(),
                session,
                idempotency_key: key,
                event,
                occurred_at,
                actor_id: actor.user,
                actor_role: actor.role,
                status: Status::Pending,
            });
        }
        tx.commit()?;
        // The new entries fold onto the state at hand (decided against it a moment ago).
        if let Some(state) = self.folded.borrow_mut().get_mut(&session) {
            for entry in &written {
                let env = self.envelope(state, entry);
                let _ = apply(state, &env);
            }
        }
        written.pop().ok_or_else(|| JournalError::Corrupt("decide returned no event".into()))
    }

    /// The file entry `key` brings, if any.
    pub fn attachment(&self, key: &str) -> Result<Option<Attachment>, JournalError> {
        Ok(self
            .conn
            .query_row("select name, content_type, kind, bytes from files where idempotency_key = ?1", [key], |r| {
                Ok(Attachment { name: r.get(0)?, content_type: r.get(1)?, kind: r.get(2)?, bytes: r.get(3)? })
            })
            .optional()?)
    }

    /// Keys of the pending entries of `session` that bring a file.
    pub fn pending_uploads(&self, session: SessionId) -> Result<std::collections::HashSet<String>, JournalError> {
        let mut st = self.conn.prepare(
            "select f.idempotency_key from files f join entries e on e.idempotency_key = f.idempotency_key \
             where e.session_id = ?1 and e.status = 'pending'",
        )?;
        let keys = st.query_map([session.to_string()], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(keys)
    }

    /// A value kept for offline use (`None` before the first `put_cached`).
    pub fn cached<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>, JournalError> {
        let raw: Option<String> =
            self.conn.query_row("select value from cache where name = ?1", [name], |r| r.get(0)).optional()?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    pub fn put_cached<T: serde::Serialize>(&self, name: &str, value: &T) -> Result<(), JournalError> {
        let json = serde_json::to_string(value).map_err(|e| JournalError::Corrupt(e.to_string()))?;
        self.conn.execute(
            "insert into cache (name, value) values (?1, ?2) on conflict (name) do update set value = ?2",
            params![name, json],
        )?;
        Ok(())
    }

    /// Forget a cached value (signing out forgets the profile).
    pub fn drop_cached(&self, name: &str) -> Result<(), JournalError> {
        self.conn.execute("delete from cache where name = ?1", [name])?;
        Ok(())
    }

    /// The most recent refusals of `session` (newest first): what the teacher is told.
    pub fn refusals(&self, session: SessionId, limit: usize) -> Result<Vec<Entry>, JournalError> {
        let mut st = self.conn.prepare(&format!(
            "select {COLS} from entries where session_id = ?1 and status = 'refused' order by local_seq desc limit ?2"
        ))?;
        let rows =
            st.query_map(params![session.to_string(), limit as i64], entry_from)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(decode).collect()
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
