//! Request bodies too large to hold in memory (class recordings) go to a file in `DATA_DIR/spool`
//! as they arrive, hashed on the way (the idempotency fingerprint) — memory stays at one chunk.
//! The file is removed when the last handle to it drops; blob stores take it by hard link or stream.

use axum::body::Body;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// A spooled body: its file, length, sha256 and first bytes (for sniffing the container).
#[derive(Debug)]
pub struct Spooled {
    pub path: PathBuf,
    pub len: u64,
    pub sha256: String,
    pub head: Vec<u8>,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    #[error("reading the body: {0}")]
    Read(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("writing the spool file: {0}")]
    Write(#[from] std::io::Error),
}

/// The spool directory under `data_dir` (created on first use).
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("spool")
}

/// Write `body` to a new file in `dir`, at most `limit` bytes.
pub async fn spool(dir: &Path, body: Body, limit: u64) -> Result<Spooled, SpoolError> {
    spool_stream(dir, body.into_data_stream(), limit).await
}

/// [`spool`] for any stream of byte chunks (a multipart field, say).
pub async fn spool_stream<S, E>(dir: &Path, mut stream: S, limit: u64) -> Result<Spooled, SpoolError>
where
    S: futures::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
    let mut out = Spooled { path, len: 0, sha256: String::new(), head: Vec::new() };
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::create(&out.path).await?);
    let mut hash = Sha256::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SpoolError::Read(e.into()))?;
        out.len += chunk.len() as u64;
        if out.len > limit {
            return Err(SpoolError::TooLarge(limit));
        }
        if out.head.len() < 64 {
            let take = (64 - out.head.len()).min(chunk.len());
            out.head.extend_from_slice(&chunk[..take]);
        }
        hash.update(&chunk);
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    file.into_inner().sync_data().await?;
    out.sha256 = hex::encode(hash.finalize());
    Ok(out)
}

impl Spooled {
    /// A new, empty spool file to write into (removed when the handle drops).
    pub async fn create(dir: &Path) -> std::io::Result<(Spooled, tokio::fs::File)> {
        tokio::fs::create_dir_all(dir).await?;
        let path = dir.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).await?;
        Ok((Spooled { path, len: 0, sha256: String::new(), head: Vec::new() }, file))
    }

    /// After writing into a [`Spooled::create`]d file: its length and first bytes.
    pub async fn seal(&mut self, mut file: tokio::fs::File) -> std::io::Result<()> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        file.sync_data().await?;
        self.len = file.metadata().await?.len();
        file.seek(std::io::SeekFrom::Start(0)).await?;
        let mut head = vec![0u8; 64.min(self.len as usize)];
        file.read_exact(&mut head).await?;
        self.head = head;
        Ok(())
    }
}

/// The spooled file as a streamed request body (for parsing multipart without loading it).
pub async fn body_of(s: &Spooled) -> std::io::Result<Body> {
    let file = tokio::fs::File::open(&s.path).await?;
    Ok(Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024)))
}
