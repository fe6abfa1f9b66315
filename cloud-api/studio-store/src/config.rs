//! Where the store lives, from the environment (API.md "Running"): `DATABASE_URL`, `DATA_DIR`,
//! `S3_*`. Shared by cloud-api and artifact-worker, so both read the same variables the same way.

use crate::blob::{BlobStore, LocalBlobs, S3Blobs, S3Config};
use std::path::PathBuf;

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// S3 for blobs; `None` keeps them in `DATA_DIR/blobs`.
    pub s3: Option<S3Config>,
}

/// A set, non-blank environment variable.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl StoreConfig {
    pub fn from_env() -> anyhow::Result<StoreConfig> {
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("studio.db").display()));
        let s3 = match (var("S3_ENDPOINT"), var("S3_BUCKET"), var("S3_ACCESS_KEY"), var("S3_SECRET_KEY")) {
            (Some(endpoint), Some(bucket), Some(access_key), Some(secret_key)) => Some(S3Config {
                endpoint,
                bucket,
                access_key,
                secret_key,
                region: var("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
            }),
            (None, None, None, None) => None,
            _ => anyhow::bail!("set all of S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY, or none"),
        };
        Ok(StoreConfig { database_url, data_dir, s3 })
    }
}

/// The configured blob store: S3 when `S3_*` is set, else `DATA_DIR/blobs`.
pub async fn open_blobs(s3: Option<&S3Config>, data_dir: &std::path::Path) -> anyhow::Result<BlobStore> {
    Ok(match s3 {
        Some(s3) => BlobStore::S3(S3Blobs::connect(s3).await?),
        None => BlobStore::Local(LocalBlobs::in_data_dir(data_dir)?),
    })
}

/// Logging for both binaries: to stderr (stdout is for what a person reads), `RUST_LOG` or `default`
/// as the filter, and with `LOG_FORMAT=json` one JSON object a line carrying the current span (for
/// cloud-api: the request's method, path and id).
pub fn init_logs(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
}
