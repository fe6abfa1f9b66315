//! Key files the server keeps in `DATA_DIR/keys/`: created when missing, never overwritten. An
//! unreadable or wrong-length file stops start-up with its path, because a silently replaced key
//! makes everything sealed or signed with the old one unusable.

use anyhow::Context;
use rand::RngCore;
use std::path::{Path, PathBuf};

/// Where the server's key files live: outside anything that serves files.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Read the `len`-byte key at `path`, creating it (mode 0600) when it does not exist.
pub fn load_or_create(path: &Path, len: usize) -> anyhow::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(k) if k.len() == len => Ok(k),
        Ok(k) => anyhow::bail!(
            "the key file {} holds {} bytes, not {len}; restore the original file (it is never replaced)",
            path.display(),
            k.len()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path, len),
        Err(e) => Err(e).with_context(|| format!("reading the key file {}", path.display())),
    }
}

fn create(path: &Path, len: usize) -> anyhow::Result<Vec<u8>> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut key = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    // create_new: if another process made the file in between, theirs wins and is read back.
    match opts.open(path) {
        Ok(mut f) => {
            f.write_all(&key).and_then(|_| f.sync_all()).with_context(|| format!("writing {}", path.display()))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(path, len),
        Err(e) => Err(e).with_context(|| format!("creating the key file {}", path.display())),
    }
}

/// Move a key file from where an older version kept it, unless the new place already has one.
pub fn adopt_legacy(old: &Path, new: &Path) -> anyhow::Result<()> {
    if old.exists() && !new.exists() {
        if let Some(dir) = new.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(old, new).with_context(|| format!("moving {} to {}", old.display(), new.display()))?;
        tracing::info!(from = %old.display(), to = %new.display(), "moved a key file out of the blob directory");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_reads_back_and_refuses_a_bad_file() {
        let dir = std::env::temp_dir().join(format!("keyfile-{}", uuid::Uuid::new_v4()));
        let path = dir.join("keys/a.key");
        let k1 = load_or_create(&path, 32).unwrap();
        assert_eq!(load_or_create(&path, 32).unwrap(), k1);
        std::fs::write(&path, b"short").unwrap();
        let err = load_or_create(&path, 32).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"short", "never overwritten");
        std::fs::remove_dir_all(dir).ok();
    }
}
