//! One commit path: the rows a write changes, its events (and the jobs they enqueue) in one
//! transaction, published to sockets after the commit. If an event is refused, nothing is written.

use super::*;
use crate::assets::AssetRecord;
use crate::media::Recording;
use shared_types::{EventEnvelope, TenantId, UserId};

/// A row a write puts next to its events.
pub enum Write<'a> {
    /// A stored recording (its `recording.added` event enqueues processing).
    Recording(&'a Recording, UserId),
    /// An uploaded slide deck or image.
    Asset(&'a AssetRecord, UserId),
    /// The session's stream egress and the destinations it sends to.
    Stream { egress: &'a str, destinations: &'a [uuid::Uuid] },
}

impl Store {
    /// Write `rows` and append `events` to `session` in one transaction; all or nothing. Returns the
    /// outcome of each event (`Appended` or `Replayed` when committed).
    pub async fn commit(
        &self,
        tenant: TenantId,
        session: SessionId,
        rows: &[Write<'_>],
        events: Vec<NewEvent>,
    ) -> StoreResult<Result<Vec<EventEnvelope>, AppendOutcome>> {
        let slot = self.states.slot(session);
        let mut cached = slot.lock().await;
        let mut races = 0;
        loop {
            let mut w = self.write().await?;
            for row in rows {
                match row {
                    Write::Recording(rec, by) => crate::media::insert_recording_in(&mut w.tx, tenant, rec, *by).await?,
                    Write::Asset(asset, by) => crate::assets::insert_asset_in(&mut w.tx, tenant, asset, *by).await?,
                    Write::Stream { egress, destinations } => {
                        crate::streams::set_stream_in(&mut w.tx, tenant, session, egress, destinations).await?
                    }
                }
            }
            let kept = crate::events::States::kept_for(cached.take(), tenant);
            let look_up = self.look_up_keys(races);
            let (outcomes, state) = match self.append_in(&mut w.tx, tenant, session, &events, kept, look_up).await {
                // Another node took the sequence: all of it again, rows included (rolled back).
                Err(e) if crate::events::lost_race(&e) && races < crate::events::RACE_RETRIES => {
                    races += 1;
                    continue;
                }
                r => r?,
            };
            let mut envelopes = Vec::with_capacity(outcomes.len());
            let mut fresh = Vec::new();
            for o in outcomes {
                match o {
                    AppendOutcome::Appended(e) => {
                        fresh.push(e.clone());
                        envelopes.push(e);
                    }
                    AppendOutcome::Replayed(e) => envelopes.push(e),
                    refused => {
                        // The state may hold events of this call that the rollback undoes: it is
                        // not kept (the next write folds from the store).
                        w.tx.rollback().await?;
                        return Ok(Err(refused));
                    }
                }
            }
            if fresh.is_empty() {
                // Every event was written before under its key: this is a replay, and the first
                // write's rows are already there. Roll back.
                w.tx.rollback().await?;
                *cached = Some((tenant, Arc::new(state)));
                return Ok(Ok(envelopes));
            }
            w.commit().await?;
            self.notify_soon(session, state.head);
            self.fanout.publish(fresh.iter());
            *cached = Some((tenant, Arc::new(state)));
            return Ok(Ok(envelopes));
        }
    }
}
