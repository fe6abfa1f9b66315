//! LiveKit: rooms per session, media tokens, webhook verification (livekit-api crate).
//! Our API tokens and LiveKit's never validate for each other: different secrets, LiveKit's are JWTs.

use livekit_api::access_token::{AccessToken, TokenVerifier, VideoGrants};
use livekit_api::services::egress::{
    EgressClient, EgressListFilter, EgressListOptions, EgressOutput, ParticipantEgressOptions, TrackCompositeOptions,
};
use livekit_api::services::room::{CreateRoomOptions, RoomClient};
use livekit_api::webhooks::WebhookReceiver;
use shared_types::{Role, SessionId, UserId};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct LiveKitConfig {
    /// What clients connect to (`ws://…` or `wss://…`).
    pub url: String,
    pub api_key: String,
    pub api_secret: String,
    /// The key being rotated out: webhooks it signed are still accepted until its time is up.
    pub previous: Option<PreviousKey>,
}

/// An API key and secret that signed webhooks before the current ones (`LIVEKIT_PREVIOUS_API_KEY`,
/// `LIVEKIT_PREVIOUS_API_SECRET`, `LIVEKIT_PREVIOUS_UNTIL`).
#[derive(Clone, Debug)]
pub struct PreviousKey {
    pub api_key: String,
    pub api_secret: String,
    pub until: chrono::DateTime<chrono::Utc>,
}

/// Media tokens live at most this long (a class plus some).
pub const TOKEN_TTL: Duration = Duration::from_secs(2 * 3600);
/// An empty room closes after this long, so a teacher's brief disconnect does not end it.
pub const EMPTY_TIMEOUT_S: u32 = 10 * 60;

pub struct LiveKit {
    pub cfg: LiveKitConfig,
    rooms: RoomClient,
    egress: EgressClient,
    /// The watchdog's client: a short timeout, since an egress that does not answer quickly is the news.
    probe: EgressClient,
    webhooks: WebhookReceiver,
    /// Webhooks signed with the previous key, and until when they count.
    previous_webhooks: Option<(WebhookReceiver, chrono::DateTime<chrono::Utc>)>,
    /// Failed calls are counted here, by call (`studio_livekit_errors_total`).
    metrics: std::sync::Arc<crate::metrics::Metrics>,
}

#[derive(Debug, thiserror::Error)]
#[error("LiveKit is unavailable: {0}")]
pub struct Unavailable(pub String);

/// The server API's base URL for a client URL (`ws` → `http`, `wss` → `https`).
pub fn http_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        url.to_string()
    }
}

pub fn room_name(session: SessionId) -> String {
    format!("session-{session}")
}

/// The session a room belongs to, if it is one of ours.
pub fn session_of_room(room: &str) -> Option<SessionId> {
    room.strip_prefix("session-")?.parse().ok()
}

impl LiveKit {
    pub fn new(cfg: LiveKitConfig, metrics: std::sync::Arc<crate::metrics::Metrics>) -> Self {
        let rooms = RoomClient::with_api_key(&http_url(&cfg.url), &cfg.api_key, &cfg.api_secret)
            .with_request_timeout(Duration::from_secs(3));
        let egress = EgressClient::with_api_key(&http_url(&cfg.url), &cfg.api_key, &cfg.api_secret)
            .with_request_timeout(Duration::from_secs(10));
        let probe = EgressClient::with_api_key(&http_url(&cfg.url), &cfg.api_key, &cfg.api_secret)
            .with_request_timeout(Duration::from_secs(4));
        let webhooks = WebhookReceiver::new(TokenVerifier::with_api_key(&cfg.api_key, &cfg.api_secret));
        let previous_webhooks = cfg
            .previous
            .as_ref()
            .map(|p| (WebhookReceiver::new(TokenVerifier::with_api_key(&p.api_key, &p.api_secret)), p.until));
        LiveKit { cfg, rooms, egress, probe, webhooks, previous_webhooks, metrics }
    }

    /// The error of a failed `call`, counted.
    fn failed(&self, call: &'static str) -> impl Fn(livekit_api::services::ServiceError) -> Unavailable + '_ {
        move |e| {
            self.metrics.livekit_error(call);
            Unavailable(e.to_string())
        }
    }

    pub async fn create_room(&self, room: &str) -> Result<(), Unavailable> {
        let opts = CreateRoomOptions { empty_timeout: EMPTY_TIMEOUT_S, departure_timeout: 120, ..Default::default() };
        self.rooms.create_room(room, opts).await.map(|_| ()).map_err(self.failed("create_room"))
    }

    pub async fn delete_room(&self, room: &str) -> Result<(), Unavailable> {
        self.rooms.delete_room(room).await.map_err(self.failed("delete_room"))
    }

    /// Names of the rooms the server has now (also a reachability check).
    pub async fn rooms(&self, names: Vec<String>) -> Result<Vec<String>, Unavailable> {
        let list = self.rooms.list_rooms(names).await.map_err(self.failed("list_rooms"))?;
        Ok(list.into_iter().map(|r| r.name).collect())
    }

    /// A join token: students subscribe only; teachers and assistants publish camera, mic and screen.
    pub fn token(&self, room: &str, user: UserId, name: &str, role: Role) -> Result<String, Unavailable> {
        let presents = shared_types::policy::presents(role);
        let grants = VideoGrants {
            room_join: true,
            room: room.to_string(),
            can_subscribe: Some(true),
            can_publish: Some(presents),
            can_publish_data: Some(presents),
            can_publish_sources: if presents {
                ["camera", "microphone", "screen_share", "screen_share_audio"].map(String::from).to_vec()
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        AccessToken::with_api_key(&self.cfg.api_key, &self.cfg.api_secret)
            .with_identity(&user.to_string())
            .with_name(name)
            .with_ttl(TOKEN_TTL)
            .with_grants(grants)
            .to_jwt()
            .map_err(|e| Unavailable(e.to_string()))
    }

    /// What `identity` publishes in `room` now (None: not in the room).
    pub async fn published(&self, room: &str, identity: &str) -> Result<Option<Published>, Unavailable> {
        let all = self.rooms.list_participants(room).await.map_err(self.failed("list_participants"))?;
        Ok(all.into_iter().find(|p| p.identity == identity).map(|p| Published::of(&p.tracks)))
    }

    /// Who in `room` publishes anything, with what (in join order).
    pub async fn publishers(&self, room: &str) -> Result<Vec<(String, Published)>, Unavailable> {
        let all = self.rooms.list_participants(room).await.map_err(self.failed("list_participants"))?;
        Ok(all
            .into_iter()
            .map(|p| (p.identity, Published::of(&p.tracks)))
            .filter(|(_, tracks)| tracks.audio.is_some() || tracks.video.is_some())
            .collect())
    }

    /// Start an egress that follows `identity`'s tracks into `outputs`; the egress id.
    /// Audio only → a track composite of the microphone (no video pipeline at all); with a camera or
    /// a screen → a participant egress, which also picks up tracks the teacher publishes later.
    /// Neither needs the Chromium page a room composite renders: a teaching stream is the teacher.
    async fn follow(
        &self,
        room: &str,
        identity: &str,
        tracks: &Published,
        outputs: Vec<EgressOutput>,
        call: &'static str,
    ) -> Result<String, Unavailable> {
        let info = match (&tracks.audio, &tracks.video) {
            (Some(audio), None) => {
                let opts = TrackCompositeOptions { audio_track_id: audio.clone(), ..Default::default() };
                self.egress.start_track_composite_egress(room, outputs, opts).await
            }
            _ => {
                let opts = ParticipantEgressOptions { screenshare: false, ..Default::default() };
                self.egress.start_participant_egress(room, identity, outputs, opts).await
            }
        };
        Ok(info.map_err(self.failed(call))?.egress_id)
    }

    /// Stream `identity`'s tracks to RTMP `urls`; the egress id.
    pub async fn start_stream(
        &self,
        room: &str,
        identity: &str,
        tracks: &Published,
        urls: Vec<String>,
    ) -> Result<String, Unavailable> {
        let out = EgressOutput::Stream(livekit_protocol::StreamOutput {
            protocol: livekit_protocol::StreamProtocol::Rtmp as i32,
            urls,
        });
        self.follow(room, identity, tracks, vec![out], "start_stream").await
    }

    /// Add and remove RTMP outputs of a running stream egress.
    pub async fn update_stream(&self, egress: &str, add: Vec<String>, remove: Vec<String>) -> Result<(), Unavailable> {
        self.egress.update_stream(egress, add, remove).await.map(|_| ()).map_err(self.failed("update_stream"))
    }

    /// Ask a stream egress how it is, through LiveKit to the egress itself (an update that changes
    /// nothing): its status if it answers, `Err` if it is gone or does not answer.
    pub async fn probe_stream(&self, egress: &str) -> Result<livekit_protocol::EgressStatus, Unavailable> {
        let info = self.probe.update_stream(egress, vec![], vec![]).await.map_err(|e| Unavailable(e.to_string()))?;
        Ok(info.status())
    }

    /// Whether `egress` is still starting, running or finishing its output.
    pub async fn egress_running(&self, egress: &str) -> Result<bool, Unavailable> {
        use livekit_protocol::EgressStatus as S;
        let opts = EgressListOptions { filter: EgressListFilter::Egress(egress.to_string()), ..Default::default() };
        let list = self.egress.list_egress(opts).await.map_err(|e| Unavailable(e.to_string()))?;
        Ok(list.iter().any(|i| matches!(i.status(), S::EgressStarting | S::EgressActive | S::EgressEnding)))
    }

    pub async fn stop_egress(&self, egress: &str) -> Result<(), Unavailable> {
        self.egress.stop_egress(egress).await.map(|_| ()).map_err(self.failed("stop_egress"))
    }

    /// Record `identity`'s tracks straight into the S3 bucket under `stem` (`.ogg` for audio only,
    /// `.mp4` with video); the egress id and the object key.
    pub async fn start_recording(
        &self,
        room: &str,
        identity: &str,
        tracks: &Published,
        s3: &crate::blob::S3Config,
        stem: &str,
    ) -> Result<(String, String), Unavailable> {
        let upload = livekit_protocol::S3Upload {
            access_key: s3.access_key.clone(),
            secret: s3.secret_key.clone(),
            region: s3.region.clone(),
            endpoint: s3.endpoint.clone(),
            bucket: s3.bucket.clone(),
            force_path_style: true,
            ..Default::default()
        };
        let (file_type, path) = if tracks.video.is_none() {
            (livekit_protocol::EncodedFileType::Ogg, format!("{stem}.ogg"))
        } else {
            (livekit_protocol::EncodedFileType::Mp4, format!("{stem}.mp4"))
        };
        let file = livekit_protocol::EncodedFileOutput {
            file_type: file_type as i32,
            filepath: path.clone(),
            output: Some(livekit_protocol::encoded_file_output::Output::S3(upload)),
            ..Default::default()
        };
        let egress = self.follow(room, identity, tracks, vec![EgressOutput::File(file)], "start_recording").await?;
        Ok((egress, path))
    }

    /// Verify a webhook over its raw body against the `Authorization` JWT (sha256 claim).
    /// The event of a webhook signed with the current key — or with the previous one while its
    /// rotation window lasts.
    pub fn verify_webhook(&self, body: &str, auth: &str) -> Option<livekit_protocol::WebhookEvent> {
        let token = auth.trim_start_matches("Bearer ").trim();
        if let Ok(ev) = self.webhooks.receive(body, token) {
            return Some(ev);
        }
        let (previous, until) = self.previous_webhooks.as_ref()?;
        if chrono::Utc::now() >= *until {
            return None;
        }
        let ev = previous.receive(body, token).ok()?;
        tracing::info!(until = %until, "accepted a webhook signed with the previous LiveKit key");
        Some(ev)
    }
}

/// A participant's published microphone and camera/screen track ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Published {
    pub audio: Option<String>,
    pub video: Option<String>,
}

impl Published {
    fn of(tracks: &[livekit_protocol::TrackInfo]) -> Published {
        let mut p = Published::default();
        for t in tracks {
            match t.r#type() {
                livekit_protocol::TrackType::Audio if p.audio.is_none() => p.audio = Some(t.sid.clone()),
                livekit_protocol::TrackType::Video if p.video.is_none() => p.video = Some(t.sid.clone()),
                _ => {}
            }
        }
        p
    }
}
