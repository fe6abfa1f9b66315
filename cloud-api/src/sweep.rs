//! Blobs nobody owns. An asset or a recording is stored before its row and event commit, so a
//! refused or interrupted write (the class ended meanwhile, the process stopped) leaves its files
//! behind. Once older than the grace period, files under `sessions/{id}/assets/{assetId}/…` and
//! `sessions/{id}/recordings/{recordingId}.…` whose asset or recording does not exist are deleted.
//! Upload parts have their own sweep (`http::replay::sweep_uploads`); other keys are left alone.

use crate::app::AppState;
use crate::store::BlobOwner;
use std::collections::HashMap;

/// The owner a blob key names, if it is one this sweep looks after.
pub fn owner_of(key: &str) -> Option<(BlobOwner, uuid::Uuid)> {
    let mut parts = key.split('/');
    if parts.next() != Some("sessions") {
        return None;
    }
    parts.next()?.parse::<uuid::Uuid>().ok()?;
    match (parts.next()?, parts.next()?) {
        ("assets", id) => Some((BlobOwner::Asset, id.parse().ok()?)),
        ("recordings", file) => Some((BlobOwner::Recording, file.split('.').next()?.parse().ok()?)),
        _ => None,
    }
}

/// Delete orphaned blobs last written more than `grace` ago; returns how many went.
pub async fn sweep_orphans(app: &AppState, grace: chrono::Duration) -> anyhow::Result<usize> {
    let cutoff = chrono::Utc::now() - grace;
    let mut known: HashMap<(BlobOwner, uuid::Uuid), bool> = HashMap::new();
    let mut removed = 0;
    for (key, written) in app.blobs.list("sessions/").await? {
        let Some(owner) = owner_of(&key) else { continue };
        if written > cutoff {
            continue;
        }
        let exists = match known.get(&owner) {
            Some(e) => *e,
            None => {
                let e = app.store.blob_owner_exists(owner.0, owner.1).await?;
                known.insert(owner, e);
                e
            }
        };
        if !exists {
            app.blobs.delete(&key).await?;
            tracing::info!(%key, "deleted an orphaned blob");
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_owner() {
        let s = "0190a2a0-0000-7000-8000-000000000001";
        let a = "0190a2a0-0000-7000-8000-000000000002";
        assert_eq!(
            owner_of(&format!("sessions/{s}/assets/{a}/page-0001.png")),
            Some((BlobOwner::Asset, a.parse().unwrap()))
        );
        assert_eq!(
            owner_of(&format!("sessions/{s}/recordings/{a}.wav")),
            Some((BlobOwner::Recording, a.parse().unwrap()))
        );
        assert_eq!(owner_of(&format!("sessions/{s}/uploads/{a}/part-00001")), None);
        assert_eq!(owner_of(&format!("sessions/{s}/artifacts/{a}/captions.vtt")), None);
        assert_eq!(owner_of("sessions/not-a-uuid/assets/x/source.pdf"), None);
    }
}
