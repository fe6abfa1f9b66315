//! Blob storage for slides, images and recordings: S3 (path-style, presigned GET URLs) or a local
//! directory (the embedded default), whose files cloud-api serves behind HMAC-signed, expiring URLs.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the blob store is unavailable: {0}")]
    Unavailable(String),
    #[error("blob not found")]
    NotFound,
    #[error("invalid blob key")]
    BadKey,
}

pub type BlobResult<T> = Result<T, BlobError>;

/// S3 settings (API.md "Running": `S3_*`).
#[derive(Clone, Debug)]
pub struct S3Config {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

pub enum BlobStore {
    Local(LocalBlobs),
    S3(S3Blobs),
}

/// Keys are relative paths of safe characters (no `..`, no leading `/`).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

impl BlobStore {
    pub async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> BlobResult<()> {
        if !valid_key(key) {
            return Err(BlobError::BadKey);
        }
        match self {
            BlobStore::Local(l) => l.put(key, &bytes).await,
            BlobStore::S3(s) => s.put(key, bytes, content_type).await,
        }
    }

    /// Store the file at `path` under `key` without reading it into memory (a hard link locally,
    /// a streamed PUT on S3). The file itself is left where it is.
    pub async fn put_file(&self, key: &str, path: &std::path::Path, content_type: &str) -> BlobResult<()> {
        if !valid_key(key) {
            return Err(BlobError::BadKey);
        }
        match self {
            BlobStore::Local(l) => l.put_file(key, path).await,
            BlobStore::S3(s) => s.put_file(key, path, content_type).await,
        }
    }

    /// Remove a blob; a missing one is fine.
    pub async fn delete(&self, key: &str) -> BlobResult<()> {
        if !valid_key(key) {
            return Err(BlobError::BadKey);
        }
        match self {
            BlobStore::Local(l) => match tokio::fs::remove_file(l.root.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BlobError::Unavailable(e.to_string())),
                _ => Ok(()),
            },
            BlobStore::S3(s) => {
                s.client
                    .delete_object()
                    .bucket(&s.bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
                Ok(())
            }
        }
    }

    /// Append the blob's bytes to `out`, streaming (for joining upload parts).
    pub async fn append_to(&self, key: &str, out: &mut tokio::fs::File) -> BlobResult<u64> {
        if !valid_key(key) {
            return Err(BlobError::BadKey);
        }
        let unavailable = |e: std::io::Error| BlobError::Unavailable(e.to_string());
        match self {
            BlobStore::Local(l) => {
                let mut f = tokio::fs::File::open(l.root.join(key)).await.map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BlobError::NotFound,
                    _ => unavailable(e),
                })?;
                tokio::io::copy(&mut f, out).await.map_err(unavailable)
            }
            BlobStore::S3(s) => s.append_to(key, out).await,
        }
    }

    pub async fn get(&self, key: &str) -> BlobResult<Vec<u8>> {
        if !valid_key(key) {
            return Err(BlobError::BadKey);
        }
        match self {
            BlobStore::Local(l) => l.get(key).await,
            BlobStore::S3(s) => s.get(key).await,
        }
    }

    /// Every blob whose key starts with `prefix`, with when it was last written.
    pub async fn list(&self, prefix: &str) -> BlobResult<Vec<(String, DateTime<Utc>)>> {
        match self {
            BlobStore::Local(l) => {
                let root = l.root.clone();
                let start = root.join(prefix.trim_end_matches('/'));
                tokio::task::spawn_blocking(move || {
                    let mut out = Vec::new();
                    let mut dirs = vec![start];
                    while let Some(dir) = dirs.pop() {
                        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                        for e in entries.flatten() {
                            let path = e.path();
                            let Ok(meta) = e.metadata() else { continue };
                            if meta.is_dir() {
                                dirs.push(path);
                            } else if let (Ok(rel), Ok(modified)) = (path.strip_prefix(&root), meta.modified()) {
                                out.push((rel.to_string_lossy().replace('\\', "/"), DateTime::<Utc>::from(modified)));
                            }
                        }
                    }
                    out
                })
                .await
                .map_err(|e| BlobError::Unavailable(e.to_string()))
            }
            BlobStore::S3(s) => s.list(prefix).await,
        }
    }

    /// A URL that lets anyone holding it GET the blob until it expires.
    pub async fn signed_url(&self, key: &str, ttl: Duration) -> BlobResult<String> {
        match self {
            BlobStore::Local(l) => Ok(l.signed_path(key, ttl)),
            BlobStore::S3(s) => s.presign(key, ttl).await,
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

pub struct LocalBlobs {
    root: PathBuf,
    key: Vec<u8>,
}

impl LocalBlobs {
    /// Blobs under `DATA_DIR/blobs`, signed with `DATA_DIR/keys/blob-signing.key` (kept out of the
    /// blob directory, which is served; an older `.signing-key` there is moved).
    pub fn in_data_dir(data_dir: &std::path::Path) -> anyhow::Result<Self> {
        let root = data_dir.join("blobs");
        let key_file = crate::keyfile::keys_dir(data_dir).join("blob-signing.key");
        crate::keyfile::adopt_legacy(&root.join(".signing-key"), &key_file)?;
        Self::open(root, &key_file)
    }

    /// Blobs under `root`, URLs signed with the key in `key_file` (so they survive restarts).
    pub fn open(root: PathBuf, key_file: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&root)?;
        let key = crate::keyfile::load_or_create(key_file, 32)?;
        Ok(LocalBlobs { root, key })
    }

    /// Where a blob's file is (for streaming it out), if the key is valid.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        valid_key(key).then(|| self.root.join(key))
    }

    async fn put_file(&self, key: &str, src: &std::path::Path) -> BlobResult<()> {
        let path = self.root.join(key);
        let unavailable = |e: std::io::Error| BlobError::Unavailable(e.to_string());
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        // Link (same file system: free) or copy to a temporary name, then rename into place.
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        if tokio::fs::hard_link(src, &tmp).await.is_err() {
            tokio::fs::copy(src, &tmp).await.map_err(unavailable)?;
        }
        tokio::fs::rename(&tmp, &path).await.map_err(unavailable)
    }

    async fn put(&self, key: &str, bytes: &[u8]) -> BlobResult<()> {
        let path = self.root.join(key);
        let unavailable = |e: std::io::Error| BlobError::Unavailable(e.to_string());
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await.map_err(unavailable)?;
        tokio::fs::rename(&tmp, &path).await.map_err(unavailable)
    }

    async fn get(&self, key: &str) -> BlobResult<Vec<u8>> {
        match tokio::fs::read(self.root.join(key)).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(e) => Err(BlobError::Unavailable(e.to_string())),
        }
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("hmac key");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `/api/blobs/{key}?expires=…&signature=…`, relative to the API's origin.
    pub fn signed_path(&self, key: &str, ttl: Duration) -> String {
        let expires = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        format!("/api/blobs/{key}?expires={expires}&signature={}", self.signature(key, expires))
    }

    /// True when the signature is right and the URL has not expired.
    pub fn verify(&self, key: &str, expires: i64, signature: &str) -> bool {
        if chrono::Utc::now().timestamp() > expires {
            return false;
        }
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("hmac key");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        match hex::decode(signature) {
            Ok(sig) => mac.verify_slice(&sig).is_ok(),
            Err(_) => false,
        }
    }
}

pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Blobs {
    /// Connect and make sure the bucket exists.
    pub async fn connect(cfg: &S3Config) -> anyhow::Result<Self> {
        let creds = aws_sdk_s3::config::Credentials::new(&cfg.access_key, &cfg.secret_key, None, None, "studio");
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(cfg.region.clone()))
            .endpoint_url(&cfg.endpoint)
            .credentials_provider(creds)
            .force_path_style(true)
            // Checksums only where S3 requires them: streamed PUTs of recordings stay plain uploads.
            .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        let s = S3Blobs { client, bucket: cfg.bucket.clone() };
        if s.client.head_bucket().bucket(&s.bucket).send().await.is_err() {
            s.client.create_bucket().bucket(&s.bucket).send().await.map_err(|e| {
                anyhow::anyhow!("creating bucket {}: {}", s.bucket, aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        }
        Ok(s)
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> BlobResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    async fn put_file(&self, key: &str, path: &std::path::Path, content_type: &str) -> BlobResult<()> {
        let unavailable = |e: String| BlobError::Unavailable(e);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path).await.map_err(|e| unavailable(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> BlobResult<Vec<(String, DateTime<Utc>)>> {
        let mut out = Vec::new();
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
            for o in page.contents() {
                let (Some(key), Some(at)) = (o.key(), o.last_modified()) else { continue };
                let at = DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos()).unwrap_or_default();
                out.push((key.to_string(), at));
            }
        }
        Ok(out)
    }

    async fn append_to(&self, key: &str, out: &mut tokio::fs::File) -> BlobResult<u64> {
        let obj = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                BlobError::NotFound
            } else {
                BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
            }
        })?;
        let mut reader = obj.body.into_async_read();
        tokio::io::copy(&mut reader, out).await.map_err(|e| BlobError::Unavailable(e.to_string()))
    }

    async fn get(&self, key: &str) -> BlobResult<Vec<u8>> {
        let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
            let not_found = e.as_service_error().is_some_and(|s| s.is_no_such_key());
            if not_found {
                BlobError::NotFound
            } else {
                BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
            }
        })?;
        let data = out.body.collect().await.map_err(|e| BlobError::Unavailable(e.to_string()))?;
        Ok(data.into_bytes().to_vec())
    }

    async fn presign(&self, key: &str, ttl: Duration) -> BlobResult<String> {
        let conf = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
            .map_err(|e| BlobError::Unavailable(e.to_string()))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(conf)
            .await
            .map_err(|e| BlobError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
        Ok(req.uri().to_string())
    }
}
