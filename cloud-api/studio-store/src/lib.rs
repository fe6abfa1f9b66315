//! studio-store: the event log, jobs, catalog, idempotency records and blobs, as a library of its
//! own (cloud-api serves it over HTTP; artifact-worker links it without the web framework).
//!
//! The store: one SQL code path over sqlx's `Any` driver, serving SQLite (embedded default) and
//! PostgreSQL (production, many nodes). The few dialect differences live in [`Backend`].

pub mod blob;
pub mod config;
pub mod fanout;
pub mod keyfile;

mod assets;
mod audit;
mod catalog;
mod commit;
mod events;
mod gather;
mod idempotency;
mod jobs;
mod limits;
mod listen;
mod lti;
mod media;
mod migrate;
mod onboarding;
mod sso;
mod streams;
mod users;

pub use assets::{AssetRecord, BlobOwner};
pub use audit::{AuditEntry, AuditFilter};
pub use catalog::Owned;
pub use commit::Write;
pub use events::*;
pub use idempotency::*;
pub use jobs::{Job, NewJob, DEFAULT_MAX_ATTEMPTS};
pub use limits::RateWindow;
pub use listen::{Revoked, CATCH_UP};
pub use lti::{LtiArrival, LtiArrived, LtiMember, LtiPick, LtiPlatform};
pub use media::*;
pub use onboarding::{LinkPurpose, NewLink, RosterOutcome, RosterRow, NO_PASSWORD};
pub use sso::{NativeClient, SsoLogin, SsoRecord};
pub use streams::Destination;
pub use users::*;

use crate::fanout::Fanout;
use chrono::{DateTime, SecondsFormat, Utc};
use shared_types::{SessionId, SessionState};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("constraint {0} violated")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Maps a unique/foreign-key violation to `Conflict(constraint name)`; other errors pass through.
pub(crate) fn on_constraint(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() || db.is_foreign_key_violation() {
            let name = db.constraint().map(str::to_string).unwrap_or_else(|| db.message().to_string());
            return StoreError::Conflict(name);
        }
    }
    StoreError::Db(e)
}

/// A write transaction. On SQLite it also holds the process-wide writer lock, so writers queue
/// instead of failing with SQLITE_BUSY when a read transaction upgrades.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

pub struct Store {
    pub(crate) pool: AnyPool,
    pub backend: Backend,
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Folded state per session at a known head; validated against the stored head on every use.
    pub(crate) states: events::States,
    /// Committed events go out here to this node's live sockets.
    pub fanout: Arc<Fanout>,
    /// Revoked tokens and users, for the live sockets of this node.
    pub revoked: tokio::sync::broadcast::Sender<Revoked>,
    /// This process's claim on in-flight idempotency keys (see `idempotency.rs`).
    pub(crate) node: NodeId,
    pub(crate) claims: idempotency::Claims,
    /// Heads the other nodes are told of after the commit (PostgreSQL; see `listen.rs`).
    pub(crate) notifier: Option<tokio::sync::mpsc::UnboundedSender<(SessionId, u64)>>,
    /// Single appends written together (PostgreSQL; see `gather.rs`).
    pub(crate) gatherer: Option<gather::Gatherer>,
    url: String,
}

/// One running server process; its idempotency claims die with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeId(pub uuid::Uuid);

impl Store {
    /// Connect to `url` (`sqlite://…` or `postgres://…`) and apply migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Self::connect_until(url, None).await
    }

    /// Open the store with the migrations applied only up to `version`: a database as an older
    /// release left it, for upgrade tests. Connecting again with [`Store::connect`] upgrades it.
    pub async fn connect_at_version(url: &str, version: i64) -> anyhow::Result<Store> {
        Self::connect_until(url, Some(version)).await
    }

    async fn connect_until(url: &str, last_migration: Option<i64>) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        };
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(
                                "pragma journal_mode = wal; pragma synchronous = normal; \
                                 pragma foreign_keys = on; pragma busy_timeout = 10000;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new().max_connections(32).acquire_timeout(Duration::from_secs(10)).connect(url).await?
            }
        };
        let store = Store {
            notifier: (backend == Backend::Postgres).then(|| Store::spawn_notifier(pool.clone())),
            gatherer: (backend == Backend::Postgres).then(|| gather::Gatherer::spawn(pool.clone())),
            pool,
            backend,
            writer: Arc::new(tokio::sync::Mutex::new(())),
            states: Default::default(),
            fanout: Arc::default(),
            revoked: tokio::sync::broadcast::channel(1024).0,
            node: NodeId(uuid::Uuid::now_v7()),
            claims: Default::default(),
            url: url.to_string(),
        };
        migrate::run(&store, last_migration).await?;
        Ok(store)
    }

    /// Begin a write transaction (see [`WriteTx`]).
    pub async fn write(&self) -> StoreResult<WriteTx> {
        let (guard, tx) = match self.backend {
            // IMMEDIATE takes SQLite's write lock at the start (waiting out an autocommit writer
            // outside the queue, such as an audit entry, within `busy_timeout`): a deferred
            // transaction that read first could not upgrade once another write had committed
            // ("database is locked", at once and without waiting).
            Backend::Sqlite => {
                let guard = self.writer.clone().lock_owned().await;
                (Some(guard), self.pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            Backend::Postgres => (None, self.pool.begin().await?),
        };
        Ok(WriteTx { tx, _guard: guard })
    }

    /// One write statement on its own (autocommit): one round trip, no BEGIN and COMMIT around it.
    /// On SQLite it waits its turn in the writer queue like every write (no busy-wait).
    pub(crate) async fn write_one<'q>(
        &self,
        q: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> StoreResult<sqlx::any::AnyQueryResult> {
        let _queue = match self.backend {
            Backend::Sqlite => Some(self.writer.lock().await),
            Backend::Postgres => None,
        };
        q.execute(&self.pool).await.map_err(on_constraint)
    }

    /// `for update of <table>` where the database has row locks (needed with outer joins).
    pub(crate) fn for_update_of(&self, table: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(" for update of {table}"),
            Backend::Sqlite => String::new(),
        }
    }

    /// `for update` where the database has row locks; SQLite serialises writers instead.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => " for update",
            Backend::Sqlite => "",
        }
    }

    /// Delete rows of `table` whose `column` (a stored time) is older than `keep`; how many went.
    pub(crate) async fn purge_older(&self, table: &str, column: &str, keep: chrono::Duration) -> StoreResult<u64> {
        let mut w = self.write().await?;
        let n = sqlx::query(&format!("delete from {table} where {column} < $1"))
            .bind(ts(Utc::now() - keep))
            .execute(&mut *w.tx)
            .await?
            .rows_affected();
        w.commit().await?;
        Ok(n)
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Times are stored as fixed-width RFC 3339 UTC text, so text order is time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn col_uuid<T: std::str::FromStr>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let s: String = row.try_get(col)?;
    s.parse().map_err(|_| StoreError::Corrupt(format!("{col} is not a uuid")))
}

pub(crate) fn col_ts(row: &AnyRow, col: &str) -> StoreResult<DateTime<Utc>> {
    let s: String = row.try_get(col)?;
    parse_ts(&s)
}
