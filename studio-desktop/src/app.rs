//! The studio as the window sees it: one worker thread owns the journal, the sign-in and the sync
//! engine (the journal's SQLite connection stays on one thread), and the Tauri commands are thin
//! calls into it through [`Studio`]. Every change is told to the window as a [`Snapshot`]: who is
//! signed in, where the sign-in is kept, the catalogue, the open session's folded state and the sync
//! indicator (pending count, last synced, offline, refusals).

use crate::journal::{fresh_key, Attachment, Journal, JournalError, Remote, Status};
use crate::sync::{Client, SyncError};
use crate::vault::{Credentials, Vault};
use chrono::Utc;
use shared_types::decide::{SessionActor, SessionCommand};
use shared_types::dto::{CourseDto, LessonDto, MeResponse, People, SessionDto};
pub use shared_types::studio::{AppError, CourseEntry, LessonEntry, Refusal, SignedIn, Snapshot, SyncView};
use shared_types::{AssetId, SessionEvent, SessionId};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

impl From<JournalError> for AppError {
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::Refused(r) => AppError::new(r.code(), r.to_string()),
            other => AppError::new("journal", other.to_string()),
        }
    }
}

impl From<SyncError> for AppError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Offline(m) => AppError::new("offline", m),
            SyncError::Server { code, message, .. } => AppError::new(&code, message),
            SyncError::Journal(j) => j.into(),
        }
    }
}

/// Told of every change (the Tauri layer emits it to the window).
pub type Notifier = Arc<dyn Fn(&Snapshot) + Send + Sync>;

type Job = Box<dyn FnOnce(Rc<Core>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The handle the Tauri commands hold (cheap to clone, `Send + Sync`).
#[derive(Clone)]
pub struct Studio {
    jobs: mpsc::UnboundedSender<Job>,
}

/// What the worker thread owns.
pub struct Core {
    journal: Journal,
    dir: PathBuf,
    vault: Vault,
    signed_in: RefCell<Option<(Rc<Client>, SignedIn)>>,
    catalog: RefCell<Vec<CourseEntry>>,
    session: RefCell<Option<SessionDto>>,
    sync: RefCell<SyncView>,
    version: Cell<u64>,
    browser_opened_at: Cell<Option<chrono::DateTime<Utc>>>,
    /// Rung when there is something to push or the session changed.
    wake: Notify,
    /// Rung when the teacher asks to retry, or the sign-in or session changed: the sync loop stops
    /// waiting out its back-off (new entries alone do not, so drawing offline does not hammer).
    retry: Notify,
    notify: Notifier,
}

impl Studio {
    /// Start the worker: open (or create) the journal in `dir`, find the vault, restore the sign-in.
    pub fn start(dir: &Path, notify: Notifier) -> Result<Studio, AppError> {
        std::fs::create_dir_all(dir.join("assets")).map_err(|e| AppError::new("storage", e.to_string()))?;
        let (jobs, mut rx) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let dir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("studio-core".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    let core = match Core::open(&dir, notify) {
                        Ok(c) => Rc::new(c),
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    tokio::task::spawn_local(sync_loop(core.clone()));
                    core.changed();
                    while let Some(job) = rx.recv().await {
                        tokio::task::spawn_local(job(core.clone()));
                    }
                });
            })
            .map_err(|e| AppError::new("storage", e.to_string()))?;
        ready_rx.recv().map_err(|_| AppError::new("storage", "the studio's worker stopped"))??;
        Ok(Studio { jobs })
    }

    /// Run `f` on the worker and wait for its answer.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(Rc<Core>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, AppError>> + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |core| {
            Box::pin(async move {
                let _ = tx.send(f(core).await);
            })
        });
        self.jobs.send(job).map_err(|_| AppError::new("stopped", "the studio's worker stopped"))?;
        rx.await.map_err(|_| AppError::new("stopped", "the studio's worker stopped"))?
    }

    pub async fn snapshot(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move { c.snapshot() }).await
    }

    pub async fn sign_in(&self, server: String, email: String, password: String) -> Result<Snapshot, AppError> {
        self.run(move |c| async move { c.sign_in(&server, &email, &password).await }).await
    }

    /// Sign in through the school's own provider in the system browser (the studio never sees the
    /// password); waits up to [`SCHOOL_SIGN_IN_WAIT`] for the browser to come back.
    pub async fn sign_in_with_school(&self, server: String, email: String) -> Result<Snapshot, AppError> {
        self.run(move |c| async move { c.sign_in_with_school(&server, &email).await }).await
    }

    pub async fn sign_out(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move { c.sign_out() }).await
    }

    pub async fn refresh_catalog(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move {
            c.refresh_catalog().await?;
            c.snapshot()
        })
        .await
    }

    pub async fn open_session(&self, id: SessionId) -> Result<Snapshot, AppError> {
        self.run(move |c| async move { c.open_session(id) }).await
    }

    /// Start (`true`) or end the class: these go to the server's own routes (starting opens the
    /// media room), after everything recorded before them — so they need the connection.
    pub async fn lifecycle(&self, start: bool) -> Result<Snapshot, AppError> {
        self.run(move |c| async move { c.lifecycle(start).await }).await
    }

    /// Open the browser's present view of the open session, signed in by a one-time link
    /// (`POST /api/auth/handoff`): where this window has no WebRTC, media is published there.
    pub async fn present_in_browser(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move { c.present_in_browser().await }).await
    }

    /// Back to the picker.
    pub async fn close_session(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move { c.close_session() }).await
    }

    /// A teacher action, as the event it should become (`{type, payload}` on the wire).
    pub async fn act(&self, event: SessionEvent) -> Result<Snapshot, AppError> {
        self.run(move |c| async move { c.act(event) }).await
    }

    /// Import a PDF deck (`kind` = `slide`) or an image: kept in the journal, uploaded when online.
    pub async fn import(&self, name: String, kind: String, bytes: Vec<u8>) -> Result<(Snapshot, AssetId), AppError> {
        self.run(move |c| async move { c.import(name, kind, bytes).await }).await
    }

    /// One page of a deck (1-based; 0 for an image's own bytes), from the local render or the server.
    pub async fn asset_bytes(&self, asset: AssetId, page: u32) -> Result<(Vec<u8>, &'static str), AppError> {
        self.run(move |c| async move { c.asset_bytes(asset, page).await }).await
    }

    /// Try to sync now (the indicator's "retry").
    pub async fn sync_now(&self) -> Result<Snapshot, AppError> {
        self.run(|c| async move {
            c.kick();
            c.snapshot()
        })
        .await
    }
}

const PROFILE: &str = "profile";
const CATALOG: &str = "catalog";
const OPEN: &str = "open-session";

/// Sniff what an imported file is (the server checks again).
fn content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else {
        None
    }
}

impl Core {
    fn open(dir: &Path, notify: Notifier) -> Result<Core, AppError> {
        let journal = Journal::open(&dir.join("journal.db"))?;
        let vault = Vault::open(dir);
        let mut signed_in = None;
        match vault.load() {
            Ok(Some(c)) => {
                if let Some(me) = journal.cached::<MeResponse>(PROFILE)? {
                    let client = Rc::new(Client::new(&c.server, &c.token));
                    signed_in = Some((client, SignedIn { server: c.server, email: c.email, me }));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the stored sign-in could not be read"),
        }
        let catalog = journal.cached::<Vec<CourseEntry>>(CATALOG)?.unwrap_or_default();
        let session = journal.cached::<SessionDto>(OPEN)?;
        Ok(Core {
            journal,
            dir: dir.to_path_buf(),
            vault,
            signed_in: RefCell::new(signed_in),
            catalog: RefCell::new(catalog),
            session: RefCell::new(session),
            sync: RefCell::new(SyncView::default()),
            version: Cell::new(0),
            browser_opened_at: Cell::new(None),
            wake: Notify::new(),
            retry: Notify::new(),
            notify,
        })
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    fn snapshot(&self) -> Result<Snapshot, AppError> {
        let session = self.session.borrow().clone();
        let state = session.as_ref().map(|s| self.journal.state(s.id)).transpose()?;
        let mut sync = self.sync.borrow().clone();
        sync.pending = self.journal.pending_count()?;
        if let Some(s) = &session {
            sync.refused = self
                .journal
                .refusals(s.id, 20)?
                .into_iter()
                .map(|e| {
                    let (code, message) = match e.status {
                        Status::Refused { code, message } => (code, message),
                        _ => Default::default(),
                    };
                    Refusal { key: e.idempotency_key, event_type: e.event.event_type().into(), code, message }
                })
                .collect();
        }
        Ok(Snapshot {
            version: self.version.get(),
            vault: self.vault.kind().into(),
            signed_in: self.signed_in.borrow().as_ref().map(|(_, s)| s.clone()),
            catalog: self.catalog.borrow().clone(),
            session,
            state,
            sync,
            browser_opened_at: self.browser_opened_at.get(),
        })
    }

    /// Tell the window.
    fn changed(&self) {
        self.version.set(self.version.get() + 1);
        match self.snapshot() {
            Ok(s) => (self.notify)(&s),
            Err(e) => tracing::error!(error = %e, "the studio's state could not be read"),
        }
    }

    fn client(&self) -> Option<Rc<Client>> {
        self.signed_in.borrow().as_ref().map(|(c, _)| c.clone())
    }

    fn actor(&self, session: &SessionDto) -> Result<SessionActor, AppError> {
        let me = self
            .signed_in
            .borrow()
            .as_ref()
            .map(|(_, s)| s.me.clone())
            .ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        Ok(crate::session_actor(&me, session))
    }

    async fn sign_in(&self, server: &str, email: &str, password: &str) -> Result<Snapshot, AppError> {
        let server = server_address(server)?;
        let (client, me) = Client::sign_in(&server, email.trim(), password).await?;
        self.signed_in_as(server, client, me).await
    }

    async fn sign_in_with_school(&self, server: &str, email: &str) -> Result<Snapshot, AppError> {
        let server = server_address(server)?;
        if !email.contains('@') {
            return Err(AppError::new(
                "validation",
                "type your school e-mail first: it says which school signs you in",
            ));
        }
        let open = |url: &str| {
            open_browser(url).map_err(|e| crate::sync::SyncError::Server {
                status: 500,
                code: e.code,
                message: e.message,
            })
        };
        let (client, me) = crate::school::sign_in_with_school(&server, email, open, SCHOOL_SIGN_IN_WAIT).await?;
        self.signed_in_as(server, client, me).await
    }

    /// Keep a sign-in (the keychain, the profile for offline use) and fetch the catalogue.
    async fn signed_in_as(&self, server: String, client: Client, me: MeResponse) -> Result<Snapshot, AppError> {
        let creds = Credentials { server: server.clone(), email: me.email.clone(), token: client.token().to_string() };
        self.vault.save(&creds).map_err(|e| AppError::new("vault", e.to_string()))?;
        self.journal.put_cached(PROFILE, &me)?;
        *self.signed_in.borrow_mut() = Some((Rc::new(client), SignedIn { server, email: me.email.clone(), me }));
        // The catalogue is the first thing fetched: the header says whether the server answered (it
        // said "Offline" until a class was opened, right after a sign-in that had just reached it).
        match self.refresh_catalog().await {
            Ok(()) => self.set_sync(|s| {
                s.online = true;
                s.problem = None;
            }),
            Err(e) => {
                tracing::warn!(error = %e, "the catalogue could not be fetched");
                self.set_sync(|s| {
                    s.online = false;
                    s.problem = Some(e.to_string());
                });
            }
        }
        self.kick();
        self.changed();
        self.snapshot()
    }

    fn sign_out(&self) -> Result<Snapshot, AppError> {
        self.vault.clear().map_err(|e| AppError::new("vault", e.to_string()))?;
        self.journal.drop_cached(PROFILE)?;
        *self.signed_in.borrow_mut() = None;
        self.kick();
        self.changed();
        self.snapshot()
    }

    /// Courses → lessons → sessions the teacher may see, and the state of each one not ended yet,
    /// kept for offline use.
    async fn refresh_catalog(&self) -> Result<(), AppError> {
        let client = self.client().ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        let mut out = Vec::new();
        for course in client.get_json::<Vec<CourseDto>>("/api/courses").await? {
            let mut lessons = Vec::new();
            for lesson in client.get_json::<Vec<LessonDto>>(&format!("/api/courses/{}/lessons", course.id)).await? {
                let sessions: Vec<SessionDto> =
                    client.get_json(&format!("/api/lessons/{}/sessions", lesson.id)).await?;
                // Each class still to teach is pulled now, so it can be prepared offline later.
                for s in sessions.iter().filter(|s| s.status != "ended") {
                    client.pull(&self.journal, s.id).await?;
                }
                lessons.push(LessonEntry { lesson, sessions });
            }
            // Names for chat, questions and hands; a server without them leaves the studio naming by role.
            let people = match client.get_json::<People>(&format!("/api/courses/{}/people", course.id)).await {
                Ok(p) => p.people,
                Err(e) => {
                    tracing::warn!(error = %e, course = %course.id, "the course's people could not be fetched");
                    Vec::new()
                }
            };
            out.push(CourseEntry { course, lessons, people });
        }
        self.journal.put_cached(CATALOG, &out)?;
        *self.catalog.borrow_mut() = out;
        self.changed();
        Ok(())
    }

    fn open_session(&self, id: SessionId) -> Result<Snapshot, AppError> {
        let found = self
            .catalog
            .borrow()
            .iter()
            .flat_map(|c| c.lessons.iter())
            .flat_map(|l| l.sessions.iter())
            .find(|s| s.id == id)
            .cloned()
            .ok_or_else(|| AppError::new("not_found", "no such session in the catalogue"))?;
        self.journal.put_cached(OPEN, &found)?;
        *self.session.borrow_mut() = Some(found);
        self.kick();
        self.changed();
        self.snapshot()
    }

    async fn lifecycle(&self, start: bool) -> Result<Snapshot, AppError> {
        let session = self.open_one()?;
        let client = self.client().ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        let offline = |e: SyncError| match e {
            SyncError::Offline(_) => AppError::new(
                "offline",
                if start {
                    "Starting the class needs the connection to the school server (it opens the class for students). Everything else works offline."
                } else {
                    "Ending the class needs the connection to the school server; try again when it is back."
                },
            ),
            other => other.into(),
        };
        client.push(&self.journal, session.id).await.map_err(offline)?;
        let path = if start { "/api/sessions/start" } else { "/api/sessions/end" };
        client.post_json(path, &serde_json::json!({ "sessionId": session.id })).await.map_err(offline)?;
        client.pull(&self.journal, session.id).await.map_err(offline)?;
        self.changed();
        self.snapshot()
    }

    async fn present_in_browser(&self) -> Result<Snapshot, AppError> {
        let session = self.open_one()?;
        let client = self.client().ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        let next = format!("#/sessions/{}/present", session.id);
        let link: shared_types::dto::HandoffLink = serde_json::from_value(
            client.post_json("/api/auth/handoff", &serde_json::json!({ "next": next })).await.map_err(|e| match e {
                SyncError::Offline(_) => AppError::new(
                    "offline",
                    "Presenting camera and microphone needs the connection to the school server.",
                ),
                other => other.into(),
            })?,
        )
        .map_err(|e| AppError::new("unreadable", e.to_string()))?;
        open_browser(&link.link)?;
        tracing::info!(session = %session.id, "opened the browser's present view");
        self.browser_opened_at.set(Some(Utc::now()));
        self.changed();
        self.snapshot()
    }

    fn close_session(&self) -> Result<Snapshot, AppError> {
        self.journal.drop_cached(OPEN)?;
        *self.session.borrow_mut() = None;
        self.kick();
        self.changed();
        self.snapshot()
    }

    fn open_one(&self) -> Result<SessionDto, AppError> {
        self.session.borrow().clone().ok_or_else(|| AppError::new("no_session", "choose a session first"))
    }

    fn act(&self, event: SessionEvent) -> Result<Snapshot, AppError> {
        let session = self.open_one()?;
        let command = SessionCommand::from_journal(event).map_err(|r| AppError::new(r.code(), r.to_string()))?;
        self.journal.record(session.id, &self.actor(&session)?, command)?;
        self.wake.notify_one();
        self.changed();
        self.snapshot()
    }

    async fn import(&self, name: String, kind: String, bytes: Vec<u8>) -> Result<(Snapshot, AssetId), AppError> {
        let session = self.open_one()?;
        let actor = self.actor(&session)?;
        let user = actor.user.ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        let ct = content_type(&bytes)
            .ok_or_else(|| AppError::new("validation", "choose a PDF (slides) or a PNG or JPEG image"))?;
        let key = fresh_key();
        // The server derives the asset's id from the uploader and the upload's key: the same here.
        let asset_id = AssetId(uuid::Uuid::new_v5(&user.0, key.as_bytes()));
        let title = Some(name.rsplit_once('.').map(|(stem, _)| stem.to_string()).unwrap_or_else(|| name.clone()));
        let dir = self.dir.join("assets").join(asset_id.to_string());
        let (command, kind) = if ct == "application/pdf" {
            let pdf = bytes.clone();
            let deck = tokio::task::spawn_blocking(move || shared_types::deck::render_deck(pdf, 1280.0))
                .await
                .map_err(|_| AppError::new("internal", "rendering stopped"))?
                .map_err(|e| AppError::new("validation", e.to_string()))?;
            std::fs::create_dir_all(&dir).map_err(|e| AppError::new("storage", e.to_string()))?;
            for (i, png) in deck.pages.iter().enumerate() {
                std::fs::write(dir.join(format!("{}.png", i + 1)), png)
                    .map_err(|e| AppError::new("storage", e.to_string()))?;
            }
            (SessionCommand::AddDeck { asset_id, page_count: deck.pages.len() as u32, title }, "slide")
        } else {
            std::fs::create_dir_all(&dir).map_err(|e| AppError::new("storage", e.to_string()))?;
            std::fs::write(dir.join("0.img"), &bytes).map_err(|e| AppError::new("storage", e.to_string()))?;
            let k = if kind == "whiteboard" { "whiteboard" } else { "image" };
            (SessionCommand::AddAsset { asset_id, kind: k.into(), title }, k)
        };
        let file = Attachment { name, content_type: ct.into(), kind: kind.into(), bytes };
        self.journal.record_keyed(session.id, &actor, key, command, Some(&file))?;
        self.wake.notify_one();
        self.changed();
        Ok((self.snapshot()?, asset_id))
    }

    async fn asset_bytes(&self, asset: AssetId, page: u32) -> Result<(Vec<u8>, &'static str), AppError> {
        let dir = self.dir.join("assets").join(asset.to_string());
        let local = if page == 0 { dir.join("0.img") } else { dir.join(format!("{page}.png")) };
        if let Ok(bytes) = std::fs::read(&local) {
            let ct = content_type(&bytes).unwrap_or("application/octet-stream");
            return Ok((bytes, ct));
        }
        let client = self.client().ok_or_else(|| AppError::new("unauthenticated", "sign in first"))?;
        let dto = client.asset(asset).await?;
        let url = if page == 0 { Some(dto.content_url.clone()) } else { dto.pages.get(page as usize - 1).cloned() };
        let url = url.ok_or_else(|| AppError::new("not_found", "no such page"))?;
        let bytes = client.bytes(&url).await?;
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(&local, &bytes);
        let ct = content_type(&bytes).unwrap_or("application/octet-stream");
        Ok((bytes, ct))
    }

    fn target(&self) -> Option<(Rc<Client>, SessionId)> {
        Some((self.client()?, self.session.borrow().as_ref()?.id))
    }

    fn still(&self, session: SessionId) -> bool {
        self.target().map(|(_, s)| s) == Some(session)
    }

    /// Change the sync indicator; the window hears of it only when it did change.
    fn set_sync(&self, f: impl FnOnce(&mut SyncView)) {
        let before = self.sync.borrow().clone();
        f(&mut self.sync.borrow_mut());
        if *self.sync.borrow() != before {
            self.changed();
        }
    }

    /// Sync now: something changed that the loop should not wait out.
    fn kick(&self) {
        self.wake.notify_one();
        self.retry.notify_one();
    }

    async fn push(&self, client: &Client, session: SessionId) -> Result<(), SyncError> {
        let pushed = client.push(&self.journal, session).await?;
        if pushed.synced + pushed.refused > 0 {
            self.set_sync(|s| s.last_synced_at = Some(Utc::now()));
        }
        Ok(())
    }

    /// Push, pull, then follow the live socket (pushing whenever something is recorded) until the
    /// session changes, a gap needs a pull, or the connection drops.
    async fn cycle(&self, client: &Client, session: SessionId) -> Result<(), SyncError> {
        self.push(client, session).await?;
        client.pull(&self.journal, session).await?;
        let head = self.journal.base(session)?.head;
        let mut live = client.listen(session, head).await?;
        self.set_sync(|s| {
            s.online = true;
            s.problem = None;
            s.last_synced_at = Some(Utc::now());
        });
        self.push(client, session).await?;
        loop {
            if !self.still(session) {
                return Ok(());
            }
            tokio::select! {
                ev = live.next() => match ev {
                    None => return Err(SyncError::Offline("the live connection closed".into())),
                    Some(env) => match self.journal.apply_remote(&env)? {
                        Remote::Gap => return Ok(()),
                        Remote::Applied => self.changed(),
                        Remote::Old => {}
                    },
                },
                _ = self.wake.notified() => self.push(client, session).await?,
            }
        }
    }
}

/// How long a sign-in in the system browser may take (the provider's own login, a second factor).
pub const SCHOOL_SIGN_IN_WAIT: Duration = Duration::from_secs(300);

/// The server's address as typed: http(s), without a trailing slash.
fn server_address(server: &str) -> Result<String, AppError> {
    let server = server.trim().trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(AppError::new("validation", "the server address starts with http:// or https://"));
    }
    Ok(server)
}

/// Open `url` in the teacher's browser: `STUDIO_BROWSER` (a program given the URL), else the
/// platform's opener.
fn open_browser(url: &str) -> Result<(), AppError> {
    let mut cmd = match std::env::var_os("STUDIO_BROWSER") {
        Some(p) => std::process::Command::new(p),
        None if cfg!(target_os = "macos") => std::process::Command::new("open"),
        None if cfg!(windows) => {
            let mut c = std::process::Command::new("cmd");
            c.args(["/C", "start", ""]);
            c
        }
        None => std::process::Command::new("xdg-open"),
    };
    let status =
        cmd.arg(url).status().map_err(|e| AppError::new("browser", format!("no browser could be opened: {e}")))?;
    if !status.success() {
        return Err(AppError::new("browser", "the browser could not be opened"));
    }
    Ok(())
}

/// The sync engine's loop: one cycle after another, backing off (0.5 s doubling to 5 s) while the
/// server cannot be reached; a non-transient refusal (signed out) waits for the teacher.
async fn sync_loop(core: Rc<Core>) {
    let mut wait = Duration::from_millis(500);
    loop {
        let Some((client, session)) = core.target() else {
            core.retry.notified().await;
            continue;
        };
        match core.cycle(&client, session).await {
            Ok(()) => wait = Duration::from_millis(500),
            Err(e) => {
                let transient = e.transient();
                if core.sync.borrow().online || core.sync.borrow().problem.is_none() {
                    tracing::info!(error = %e, "sync paused");
                }
                core.set_sync(|s| {
                    s.online = false;
                    s.problem = Some(e.to_string());
                });
                if transient {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = core.retry.notified() => {}
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                } else {
                    core.retry.notified().await;
                }
            }
        }
    }
}
