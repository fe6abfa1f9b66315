//! Multi-node fan-out: every node LISTENs on PostgreSQL; the append's head update NOTIFYs
//! `session:head` (delivered at commit, dropped on rollback); a node reads the rows it has not
//! published and hands them to its own sockets.

use super::{Backend, Store};
use shared_types::{SessionId, UserId};
use sqlx::postgres::PgListener;
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = "studio_events";
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
    /// Appended to the statement that sets a session's head: on PostgreSQL it also sends the
    /// notification, so fan-out costs no extra round trip.
    pub(crate) fn notify_new_head(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => ", (select 1 from pg_notify('studio_events', id || ':' || head) as n) as notified",
            Backend::Sqlite => "",
        }
    }

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

    /// After the revoking commit: SQLite is one node and tells its own sockets directly (PostgreSQL
    /// nodes hear it through LISTEN, this one included).
    pub(crate) fn revoked_locally(&self, what: Revoked) {
        if self.backend == Backend::Sqlite {
            let _ = self.revoked.send(what);
        }
    }

    /// Start the LISTEN loop (PostgreSQL only; SQLite is one node and publishes in-process).
    pub fn spawn_listener(self: &Arc<Self>) {
        if self.backend != Backend::Postgres {
            return;
        }
        let store = self.clone();
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
        loop {
            let n = listener.recv().await?;
            if n.channel() == REVOKED_CHANNEL {
                if let Some(r) = Revoked::parse(n.payload()) {
                    let _ = self.revoked.send(r);
                }
                continue;
            }
            let Some((session, seq)) = n.payload().split_once(':') else { continue };
            let (Ok(session), Ok(seq)) = (session.parse::<SessionId>(), seq.parse::<u64>()) else { continue };
            if let Some(last) = self.fanout.listening(session) {
                if seq > last {
                    self.forward(session, last, seq).await?;
                }
            }
        }
    }

    /// Read events `after < sequence <= upto` and publish them.
    async fn forward(&self, session: SessionId, after: u64, upto: u64) -> anyhow::Result<()> {
        let limit = upto.saturating_sub(after).min(10_000);
        let events = self.events_range(session, after, limit).await?;
        self.fanout.publish(events.iter().filter(|e| e.sequence <= upto));
        Ok(())
    }
}
