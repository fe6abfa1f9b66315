//! Multi-node fan-out: every node LISTENs on PostgreSQL and hears `session:head` pairs (several,
//! space-separated, in one notification); it reads the rows it has not published and hands them
//! to its own sockets.
//!
//! No append NOTIFYs inside its own transaction: a NOTIFY takes PostgreSQL's database-wide
//! notification lock until its commit is written, which serialised every append (measured: 43 % of
//! the raw INSERT rate without it, 35 % with it). After the commit, the new head goes to a notifier
//! task that sends whatever has gathered while the previous notification was sent, so under load
//! one NOTIFY carries many appends. Should a process die between its commit and that NOTIFY, each
//! listener also compares the heads of its sessions every [`CATCH_UP`] and forwards what it missed.

use super::{Backend, Store};
use shared_types::{SessionId, UserId};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = "studio_events";
/// How often a listener checks its sessions' heads for commits it was not told of.
pub const CATCH_UP: Duration = Duration::from_secs(2);
/// How often a SQLite node reads back what other processes appended to its sessions.
pub const SQLITE_CATCH_UP: Duration = Duration::from_millis(500);
/// `session:head` pairs per notification (PostgreSQL's payload limit is 8,000 bytes).
const PAIRS_PER_NOTIFY: usize = 150;
/// Revoked tokens (`t:<sha256>`) and users whose roles changed (`u:<id>`): their sockets close.
pub const REVOKED_CHANNEL: &str = "studio_revoked";

/// Access that ended: live sockets holding it close at once, on every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revoked {
    Token(String),
    User(UserId),
}

impl Revoked {
    fn wire(&self) -> String {
        match self {
            Revoked::Token(h) => format!("t:{h}"),
            Revoked::User(u) => format!("u:{u}"),
        }
    }

    fn parse(s: &str) -> Option<Revoked> {
        match s.split_once(':')? {
            ("t", h) => Some(Revoked::Token(h.to_string())),
            ("u", u) => u.parse().ok().map(Revoked::User),
            _ => None,
        }
    }
}

impl Store {
    /// Inside the revoking transaction: on PostgreSQL, tell every node at commit.
    pub(crate) async fn notify_revoked(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        what: &Revoked,
    ) -> super::StoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("select pg_notify('studio_revoked', $1)").bind(what.wire()).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Tell the other nodes, soon, that `session` reached `head` (after its commit). SQLite is one
    /// node: nothing to do.
    pub(crate) fn notify_soon(&self, session: SessionId, head: u64) {
        if let Some(tx) = &self.notifier {
            let _ = tx.send((session, head));
        }
    }

    /// The notifier task: gathers heads while a NOTIFY is on its way and sends the next batch.
    pub(crate) fn spawn_notifier(pool: sqlx::AnyPool) -> tokio::sync::mpsc::UnboundedSender<(SessionId, u64)> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(SessionId, u64)>();
        tokio::spawn(async move {
            while let Some((session, head)) = rx.recv().await {
                let mut heads = std::collections::HashMap::from([(session, head)]);
                while let Ok((s, h)) = rx.try_recv() {
                    let e = heads.entry(s).or_insert(h);
                    *e = (*e).max(h);
                }
                let pairs: Vec<String> = heads.iter().map(|(s, h)| format!("{s}:{h}")).collect();
                for chunk in pairs.chunks(PAIRS_PER_NOTIFY) {
                    // A lost NOTIFY is caught up by the listeners (`CATCH_UP`): log and go on.
                    if let Err(e) =
                        sqlx::query("select pg_notify($1, $2)").bind(CHANNEL).bind(chunk.join(" ")).execute(&pool).await
                    {
                        tracing::warn!(error = %e, "could not notify the other nodes");
                    }
                }
            }
        });
        tx
    }

    /// After the revoking commit: SQLite is one node and tells its own sockets directly (PostgreSQL
    /// nodes hear it through LISTEN, this one included).
    pub(crate) fn revoked_locally(&self, what: Revoked) {
        if self.backend == Backend::Sqlite {
            let _ = self.revoked.send(what);
        }
    }

    /// Start the LISTEN loop on PostgreSQL. SQLite is one node and publishes its own appends
    /// in-process, but other processes on the same file (the worker's live captions and artifacts)
    /// append too: what they commit is read back every [`SQLITE_CATCH_UP`].
    pub fn spawn_listener(self: &Arc<Self>) {
        let store = self.clone();
        if self.backend == Backend::Sqlite {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(SQLITE_CATCH_UP);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    if let Err(e) = store.catch_up().await {
                        tracing::warn!(error = %e, "reading other processes' events failed");
                    }
                }
            });
            return;
        }
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match store.listen_once().await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
    }

    async fn listen_once(&self) -> anyhow::Result<()> {
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen_all([CHANNEL, REVOKED_CHANNEL]).await?;
        // Whatever was committed while we were not listening goes out now.
        for (session, last) in self.fanout.listened() {
            self.forward(session, last, u64::MAX).await?;
        }
        let mut tick = tokio::time::interval(CATCH_UP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let n = tokio::select! {
                n = listener.recv() => n?,
                _ = tick.tick() => {
                    self.catch_up().await?;
                    continue;
                }
            };
            if n.channel() == REVOKED_CHANNEL {
                if let Some(r) = Revoked::parse(n.payload()) {
                    let _ = self.revoked.send(r);
                }
                continue;
            }
            for pair in n.payload().split_whitespace() {
                let Some((session, seq)) = pair.split_once(':') else { continue };
                let (Ok(session), Ok(seq)) = (session.parse::<SessionId>(), seq.parse::<u64>()) else { continue };
                if let Some(last) = self.fanout.listening(session) {
                    if seq > last {
                        self.forward(session, last, seq).await?;
                    }
                }
            }
        }
    }

    /// Forward what was committed to this node's sessions beyond what it published (a NOTIFY that
    /// never came).
    async fn catch_up(&self) -> anyhow::Result<()> {
        let listened = self.fanout.listened();
        for chunk in listened.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "select session_id, max(sequence) from session_state_events where session_id in ({}) \
                 group by session_id",
                marks.join(", ")
            );
            let mut q = sqlx::query(&sql);
            for (session, _) in chunk {
                q = q.bind(session.to_string());
            }
            let heads: std::collections::HashMap<String, i64> = q
                .fetch_all(&self.pool)
                .await?
                .iter()
                .filter_map(|r| Some((sqlx::Row::try_get(r, 0).ok()?, sqlx::Row::try_get(r, 1).ok()?)))
                .collect();
            for (session, last) in chunk {
                let head = heads.get(&session.to_string()).copied().unwrap_or(0) as u64;
                if head > *last {
                    self.forward(*session, *last, head).await?;
                }
            }
        }
        Ok(())
    }

    /// Read events `after < sequence <= upto` and publish them.
    async fn forward(&self, session: SessionId, after: u64, upto: u64) -> anyhow::Result<()> {
        let limit = upto.saturating_sub(after).min(10_000);
        let events = self.events_range(session, after, limit).await?;
        self.fanout.publish(events.iter().filter(|e| e.sequence <= upto));
        Ok(())
    }
}
