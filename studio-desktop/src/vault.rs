//! Where the studio keeps the teacher's sign-in: the OS keychain (Secret Service on Linux, Keychain
//! on macOS, Credential Manager on Windows) through `keyring`; where no keychain service answers, a
//! file next to the journal, readable by the user only — and the UI says which one is in use.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The keychain service name the studio's entry is filed under.
pub const SERVICE: &str = "teaching-studio";
const ACCOUNT: &str = "sign-in";

/// What is kept: enough to talk to the cloud API again after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    pub server: String,
    pub email: String,
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the keychain refused: {0}")]
    Keychain(String),
    #[error("the credentials file: {0}")]
    File(String),
}

pub enum Vault {
    Keychain(keyring::Entry),
    /// No keychain service here: a plain file (mode 0600), clearly marked as such.
    File(PathBuf),
}

impl Vault {
    /// The keychain when one answers (a probe entry is written and removed), else the file store in
    /// `dir`. `STUDIO_VAULT=file` chooses the file store outright (machines without a session bus).
    pub fn open(dir: &Path) -> Vault {
        let file = Vault::file(dir);
        if std::env::var("STUDIO_VAULT").as_deref() == Ok("file") {
            return file;
        }
        match Vault::probe() {
            Ok(entry) => Vault::Keychain(entry),
            Err(e) => {
                tracing::warn!(error = %e, "no keychain service; keeping the sign-in in a file instead");
                file
            }
        }
    }

    /// The file store in `dir` (what `open` falls back to).
    pub fn file(dir: &Path) -> Vault {
        Vault::File(dir.join("credentials.json"))
    }

    fn probe() -> Result<keyring::Entry, keyring::Error> {
        let probe = keyring::Entry::new(SERVICE, "probe")?;
        probe.set_password("probe")?;
        probe.get_password()?;
        probe.delete_credential()?;
        keyring::Entry::new(SERVICE, ACCOUNT)
    }

    /// "keychain" or "file", for the UI.
    pub fn kind(&self) -> &'static str {
        match self {
            Vault::Keychain(_) => "keychain",
            Vault::File(_) => "file",
        }
    }

    pub fn load(&self) -> Result<Option<Credentials>, VaultError> {
        let raw = match self {
            Vault::Keychain(e) => match e.get_password() {
                Ok(s) => s,
                Err(keyring::Error::NoEntry) => return Ok(None),
                Err(e) => return Err(VaultError::Keychain(e.to_string())),
            },
            Vault::File(p) => match std::fs::read_to_string(p) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(VaultError::File(e.to_string())),
            },
        };
        // Something unreadable is treated as no sign-in (the teacher signs in again).
        Ok(serde_json::from_str(&raw).ok())
    }

    pub fn save(&self, c: &Credentials) -> Result<(), VaultError> {
        let raw = serde_json::to_string(c).expect("credentials serialise");
        match self {
            Vault::Keychain(e) => e.set_password(&raw).map_err(|e| VaultError::Keychain(e.to_string())),
            Vault::File(p) => write_private(p, raw.as_bytes()).map_err(|e| VaultError::File(e.to_string())),
        }
    }

    pub fn clear(&self) -> Result<(), VaultError> {
        match self {
            Vault::Keychain(e) => match e.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(VaultError::Keychain(e.to_string())),
            },
            Vault::File(p) => match std::fs::remove_file(p) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(VaultError::File(e.to_string())),
            },
        }
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}
