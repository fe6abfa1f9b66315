//! What the benchmark binaries share (each includes this file as a module).

#![allow(dead_code)]

use sqlx::{Connection, Executor};

/// The `p` quantile of `sorted` (nearest rank); NaN when empty.
pub fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p).round() as usize).copied().unwrap_or(f64::NAN)
}

/// A fresh database next to the admin URL's (PostgreSQL), or a temp file (SQLite).
pub async fn fresh(admin: &str) -> anyhow::Result<String> {
    if admin.starts_with("sqlite:") {
        let dir = std::env::temp_dir().join(format!("bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        return Ok(format!("sqlite://{}?mode=rwc", dir.join("b.db").display()));
    }
    let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::AnyConnection::connect(admin).await?;
    c.execute(format!("create database {name}").as_str()).await?;
    Ok(format!("{}/{name}", admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin)))
}
