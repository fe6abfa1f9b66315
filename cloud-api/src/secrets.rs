//! Encryption at rest for secrets users give us (RTMP stream keys): AES-256-GCM under a server key
//! from `SECRETS_KEY` (base64, 32 bytes) or, by default, `DATA_DIR/secrets.key` (created when missing,
//! never overwritten: an unreadable or wrong-length file stops start-up).

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;
use std::path::Path;

pub struct Sealer {
    cipher: Aes256Gcm,
}

impl Sealer {
    pub fn from_key(key: &[u8]) -> anyhow::Result<Self> {
        anyhow::ensure!(key.len() == 32, "the secrets key must be 32 bytes");
        Ok(Sealer { cipher: Aes256Gcm::new_from_slice(key).map_err(|e| anyhow::anyhow!("{e}"))? })
    }

    /// `SECRETS_KEY` if set, else `dir/secrets.key` (created on first use).
    pub fn open(env_key: Option<&str>, dir: &Path) -> anyhow::Result<Self> {
        if let Some(k) = env_key {
            return Self::from_key(&B64.decode(k.trim())?);
        }
        // Never replaced: a new key would make every sealed stream key unreadable.
        Self::from_key(&crate::keyfile::load_or_create(&dir.join("secrets.key"), 32)?)
    }

    /// base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self.cipher.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).expect("aes-gcm encrypt");
        let mut out = nonce.to_vec();
        out.extend(ct);
        B64.encode(out)
    }

    pub fn open_sealed(&self, sealed: &str) -> Option<String> {
        let raw = B64.decode(sealed).ok()?;
        if raw.len() < 12 {
            return None;
        }
        let plain = self.cipher.decrypt(Nonce::from_slice(&raw[..12]), &raw[12..]).ok()?;
        String::from_utf8(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_tampering() {
        let s = Sealer::from_key(&[7u8; 32]).unwrap();
        let sealed = s.seal("live_abc123");
        assert_ne!(sealed, s.seal("live_abc123"), "a fresh nonce each time");
        assert!(!sealed.contains("live_abc123"));
        assert_eq!(s.open_sealed(&sealed).as_deref(), Some("live_abc123"));
        let mut raw = B64.decode(&sealed).unwrap();
        *raw.last_mut().unwrap() ^= 1;
        assert_eq!(s.open_sealed(&B64.encode(raw)), None);
        assert_eq!(Sealer::from_key(&[8u8; 32]).unwrap().open_sealed(&sealed), None);
    }
}
