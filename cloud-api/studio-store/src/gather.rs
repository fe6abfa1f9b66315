//! Group commit for single appends on PostgreSQL: the one-statement appends of this node's
//! sessions, gathered while a statement is on its way, go in the next one together — one insert of
//! many rows (each row its own session's next event), and the objects they create with them.
//!
//! Under load many sessions append at once; each used to take a connection and a round trip of
//! its own, queueing for the pool's connections and the database's two cores. Gathered, a row waits
//! at most for the statements ahead of it and its own. Each row keeps the one-statement append's
//! rules ([`Store::append_one`](crate::Store)): it goes in only if its sequence and key are free
//! (`on conflict do nothing`), and the rows the database did not take — or all of them, if the
//! statement failed — take the general path, which decides under the session's row lock.

use crate::events::{LogRow, PgRows, INSERT_COLS};
use sqlx::{AnyPool, Row};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Rows a statement takes at most (the rest wait for the next one).
const ROWS_AT_MOST: usize = 500;

/// Statements on their way at once (the database's two cores here). A row goes out at once while
/// one is free — as soon as a statement of its own would when the node is not busy — and is gathered
/// only while both are taken. With one at a time, a busy node's appends queued behind each other's
/// statements: bench-load's 1,500 chats at once (two nodes writing to the same classes) fell from a
/// median of 277/s without gathering to 223/s; with two, 260/s (four: 271/s, but fewer appends in
/// bench-append's 50 sessions).
const IN_FLIGHT: usize = 2;

/// A row waiting for its statement, the object it creates, and who waits for the answer.
struct Pending {
    row: LogRow,
    object: Option<(uuid::Uuid, &'static str)>,
    inserted: oneshot::Sender<bool>,
}

/// The gatherer of a store: single appends go in through it.
pub(crate) struct Gatherer {
    tx: mpsc::UnboundedSender<Pending>,
}

impl Gatherer {
    /// Start the task that writes gathered rows on `pool`; it ends when the gatherer is dropped.
    pub(crate) fn spawn(pool: AnyPool) -> Gatherer {
        let (tx, mut rx) = mpsc::unbounded_channel::<Pending>();
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Wait for a statement's slot first: the rows that arrive meanwhile go with this one.
                let Ok(slot) = slots.clone().acquire_owned().await else { return };
                let mut batch = vec![first];
                while batch.len() < ROWS_AT_MOST {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                // In the order of the log's key: two statements that meet on rows (two nodes writing
                // to the same sessions) then wait for each other one way only, never in a circle —
                // a deadlock PostgreSQL would break after a second, failing one of them.
                batch.sort_by(|a, b| (&a.row.session_id, a.row.sequence).cmp(&(&b.row.session_id, b.row.sequence)));
                let pool = pool.clone();
                tokio::spawn(async move {
                    let taken = match insert(&pool, &batch).await {
                        Ok(taken) => taken,
                        Err(e) => {
                            // Nothing of the statement went in: each row takes the general path, which
                            // reports what is wrong with it (or with the database) to its own caller.
                            tracing::warn!(error = %e, rows = batch.len(), "a gathered append failed; each row is retried alone");
                            HashSet::new()
                        }
                    };
                    drop(slot);
                    for p in batch {
                        let _ = p.inserted.send(taken.contains(&p.row.id));
                    }
                });
            }
        });
        Gatherer { tx }
    }

    /// Insert `row` (and its object) with the next gathered statement: whether it went in.
    pub(crate) async fn append(&self, row: LogRow, object: Option<(uuid::Uuid, &'static str)>) -> bool {
        let (inserted, answer) = oneshot::channel();
        if self.tx.send(Pending { row, object, inserted }).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// One statement for all of `batch`: the ids of the rows that went in. By id, not by session and
/// sequence: a row whose caller gave up waiting (its request cancelled) may still be in the same
/// statement as the next append to its session, made on a state that does not know of it — both
/// rows with one sequence, only the first goes in.
async fn insert(pool: &AnyPool, batch: &[Pending]) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<&LogRow> = batch.iter().map(|p| &p.row).collect();
    let (mut rows, select) = PgRows::log(&rows);
    let object_id = rows.each("object_id", "text", batch.iter().map(|p| p.object.map(|(id, _)| id.to_string())));
    let object_kind = rows.each("object_kind", "text", batch.iter().map(|p| p.object.map(|(_, kind)| kind)));
    let sql = format!(
        "with input as (select {select}, {object_id} as object_id, {object_kind} as object_kind from {}), \
         ins as (insert into session_state_events ({INSERT_COLS}) select {INSERT_COLS} from input \
         on conflict do nothing returning id), \
         obj as (insert into session_objects (id, tenant_id, session_id, kind) \
         select i.object_id, i.tenant_id, i.session_id, i.object_kind from input i \
         join ins on ins.id = i.id where i.object_id is not null) \
         select id from ins",
        rows.from()
    );
    let found = rows.values.into_iter().fold(sqlx::query(&sql), |q, v| q.bind(v)).fetch_all(pool).await?;
    found.iter().map(|r| r.try_get::<String, _>(0)).collect()
}
