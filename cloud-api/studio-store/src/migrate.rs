//! A small migration runner: numbered SQL files embedded at build time, applied once each, in order.

use super::{Backend, Store};
use sqlx::{Executor, Row};

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("../../../migrations/sqlite/0001_core.sql")),
    (2, "claims", include_str!("../../../migrations/sqlite/0002_claims.sql")),
    (3, "session_objects", include_str!("../../../migrations/common/0003_session_objects.sql")),
    (4, "user_active", include_str!("../../../migrations/common/0004_user_active.sql")),
    (5, "audit", include_str!("../../../migrations/sqlite/0005_audit.sql")),
    (6, "onboarding", include_str!("../../../migrations/common/0006_onboarding.sql")),
    (7, "job_failures", include_str!("../../../migrations/common/0007_job_failures.sql")),
    (8, "snapshots", include_str!("../../../migrations/common/0008_snapshots.sql")),
    (9, "recording_egress", include_str!("../../../migrations/common/0009_recording_egress.sql")),
    (10, "head_from_log", include_str!("../../../migrations/common/0010_head_from_log.sql")),
    (11, "recording_runs", include_str!("../../../migrations/common/0011_recording_runs.sql")),
    (12, "search", include_str!("../../../migrations/sqlite/0012_search.sql")),
    (13, "lecture_texts", include_str!("../../../migrations/common/0013_lecture_texts.sql")),
    (14, "tenant_speech", include_str!("../../../migrations/common/0014_tenant_speech.sql")),
    (15, "search_language", include_str!("../../../migrations/common/0015_search_language.sql")),
    (17, "sso", include_str!("../../../migrations/common/0017_sso.sql")),
    (18, "sso_native", include_str!("../../../migrations/common/0018_sso_native.sql")),
    (19, "lti", include_str!("../../../migrations/common/0019_lti.sql")),
    (20, "lti_tool", include_str!("../../../migrations/common/0020_lti_tool.sql")),
    (21, "sso_roles", include_str!("../../../migrations/common/0021_sso_roles.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("../../../migrations/postgres/0001_core.sql")),
    (2, "claims", include_str!("../../../migrations/postgres/0002_claims.sql")),
    (3, "session_objects", include_str!("../../../migrations/common/0003_session_objects.sql")),
    (4, "user_active", include_str!("../../../migrations/common/0004_user_active.sql")),
    (5, "audit", include_str!("../../../migrations/postgres/0005_audit.sql")),
    (6, "onboarding", include_str!("../../../migrations/common/0006_onboarding.sql")),
    (7, "job_failures", include_str!("../../../migrations/common/0007_job_failures.sql")),
    (8, "snapshots", include_str!("../../../migrations/common/0008_snapshots.sql")),
    (9, "recording_egress", include_str!("../../../migrations/common/0009_recording_egress.sql")),
    (10, "head_from_log", include_str!("../../../migrations/common/0010_head_from_log.sql")),
    (11, "recording_runs", include_str!("../../../migrations/common/0011_recording_runs.sql")),
    (12, "search", include_str!("../../../migrations/postgres/0012_search.sql")),
    (13, "lecture_texts", include_str!("../../../migrations/common/0013_lecture_texts.sql")),
    (14, "tenant_speech", include_str!("../../../migrations/common/0014_tenant_speech.sql")),
    (15, "search_language", include_str!("../../../migrations/common/0015_search_language.sql")),
    // SQLite's FTS5 tokenizer is one per table (Porter, English): the language is kept, not used.
    (16, "search_stemming", include_str!("../../../migrations/postgres/0016_search_stemming.sql")),
    (17, "sso", include_str!("../../../migrations/common/0017_sso.sql")),
    (18, "sso_native", include_str!("../../../migrations/common/0018_sso_native.sql")),
    (19, "lti", include_str!("../../../migrations/common/0019_lti.sql")),
    (20, "lti_tool", include_str!("../../../migrations/common/0020_lti_tool.sql")),
    (21, "sso_roles", include_str!("../../../migrations/common/0021_sso_roles.sql")),
    (22, "log_keys", include_str!("../../../migrations/postgres/0022_log_keys.sql")),
];

/// Apply every migration not applied yet, in order (up to `last` when given).
pub(super) async fn run(store: &Store, last: Option<i64>) -> anyhow::Result<()> {
    let list = match store.backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let mut w = store.write().await?;
    if store.backend == Backend::Postgres {
        // Several nodes may start at once: one migrates, the others wait here.
        w.tx.execute("select pg_advisory_xact_lock(727274)").await?;
    }
    w.tx.execute("create table if not exists schema_migrations (version bigint primary key, name text not null, applied_at text not null)")
        .await?;
    let done: Vec<i64> = sqlx::query("select version from schema_migrations")
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for (version, name, sql) in list {
        if done.contains(version) || last.is_some_and(|l| *version > l) {
            continue;
        }
        tracing::info!(version, name, "applying migration");
        w.tx.execute(*sql).await?;
        sqlx::query("insert into schema_migrations (version, name, applied_at) values ($1, $2, $3)")
            .bind(*version)
            .bind(*name)
            .bind(super::ts(chrono::Utc::now()))
            .execute(&mut *w.tx)
            .await?;
    }
    w.commit().await?;
    Ok(())
}
