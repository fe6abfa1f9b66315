//! The studio window (Tauri v2): thin commands over `studio_desktop::app::Studio`, which owns the
//! journal, the sign-in and the sync engine. The UI is the student web's yew app started in studio
//! mode (`desktop.html` → `start_studio`); every change reaches it as a `studio://snapshot` event.
//! Deck pages and images are served to it by the `studio://` scheme (local renders first, the cloud
//! API otherwise). Data lives in `STUDIO_DATA_DIR`, else the platform's app-data directory.

use base64::Engine;
use std::sync::Arc;
use studio_desktop::app::{AppError, Snapshot, Studio};
use tauri::{Emitter, Manager};

type Answer<T> = Result<T, AppError>;

/// When the process began (cold-start figures are measured from here).
static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
static INTERACTIVE: std::sync::Once = std::sync::Once::new();

/// The UI asks for its first snapshot once its wasm is loaded and mounted: the window is interactive.
#[tauri::command]
async fn snapshot(app: tauri::AppHandle, studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    let snap = studio.snapshot().await;
    INTERACTIVE.call_once(|| {
        let ms = STARTED.get().map(|t| t.elapsed().as_secs_f64() * 1000.0).unwrap_or_default();
        tracing::info!(ms = format!("{ms:.0}"), "studio interactive");
        // The cold-start benchmark starts the app again and again.
        if std::env::var_os("STUDIO_EXIT_WHEN_INTERACTIVE").is_some() {
            app.exit(0);
        }
    });
    snap
}

#[tauri::command]
async fn sign_in(
    studio: tauri::State<'_, Studio>,
    server: String,
    email: String,
    password: String,
) -> Answer<Snapshot> {
    studio.sign_in(server, email, password).await
}

/// Sign in with the school's own provider in the system browser (RFC 8252); the studio waits for
/// the browser to come back.
#[tauri::command]
async fn sign_in_with_school(studio: tauri::State<'_, Studio>, server: String, email: String) -> Answer<Snapshot> {
    studio.sign_in_with_school(server, email).await
}

#[tauri::command]
async fn sign_out(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.sign_out().await
}

#[tauri::command]
async fn start_class(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.lifecycle(true).await
}

#[tauri::command]
async fn end_class(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.lifecycle(false).await
}

#[tauri::command]
async fn present_in_browser(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.present_in_browser().await
}

#[tauri::command]
async fn close_session(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.close_session().await
}

#[tauri::command]
async fn refresh_catalog(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.refresh_catalog().await
}

#[tauri::command]
async fn open_session(studio: tauri::State<'_, Studio>, session: String) -> Answer<Snapshot> {
    let id = session.parse().map_err(|_| AppError::new("validation", "not a session id"))?;
    studio.open_session(id).await
}

/// A teacher action as the event it should become; answers the new snapshot's version (the
/// snapshot itself follows as the `studio://snapshot` event).
#[tauri::command]
async fn act(studio: tauri::State<'_, Studio>, event: shared_types::SessionEvent) -> Answer<u64> {
    Ok(studio.act(event).await?.version)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    snapshot: Snapshot,
    asset_id: String,
}

#[tauri::command]
async fn import_file(studio: tauri::State<'_, Studio>, name: String, kind: String, data: String) -> Answer<Imported> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|_| AppError::new("validation", "the file did not arrive whole"))?;
    let (snapshot, id) = studio.import(name, kind, bytes).await?;
    Ok(Imported { snapshot, asset_id: id.to_string() })
}

#[tauri::command]
async fn sync_now(studio: tauri::State<'_, Studio>) -> Answer<Snapshot> {
    studio.sync_now().await
}

/// `studio://localhost/asset/{id}/{page}` → the page's PNG (page 0: an image's own bytes).
fn asset_request(path: &str) -> Option<(shared_types::AssetId, u32)> {
    let mut parts = path.trim_start_matches('/').split('/');
    (parts.next()? == "asset").then_some(())?;
    let id = parts.next()?.parse().ok()?;
    let page = parts.next()?.parse().ok()?;
    Some((id, page))
}

fn main() {
    STARTED.get_or_init(std::time::Instant::now);
    init_logs();
    tauri::Builder::default()
        .setup(|app| {
            let dir = match std::env::var_os("STUDIO_DATA_DIR") {
                Some(d) => d.into(),
                None => app.path().app_data_dir()?,
            };
            let handle = app.handle().clone();
            let notify = Arc::new(move |s: &Snapshot| {
                let _ = handle.emit("studio://snapshot", s);
            });
            let studio = Studio::start(&dir, notify).map_err(|e| e.to_string())?;
            let ms = STARTED.get().map(|t| t.elapsed().as_secs_f64() * 1000.0).unwrap_or_default();
            tracing::info!(dir = %dir.display(), ms = format!("{ms:.0}"), "studio started");
            app.manage(studio);
            Ok(())
        })
        .register_asynchronous_uri_scheme_protocol("studio", |ctx, request, responder| {
            let studio = ctx.app_handle().state::<Studio>().inner().clone();
            let path = request.uri().path().to_string();
            tauri::async_runtime::spawn(async move {
                let answer = match asset_request(&path) {
                    Some((id, page)) => studio.asset_bytes(id, page).await,
                    None => Err(AppError::new("not_found", "no such resource")),
                };
                let resp = match answer {
                    Ok((bytes, ct)) => tauri::http::Response::builder()
                        .header("content-type", ct)
                        .header("access-control-allow-origin", "*")
                        .body(bytes),
                    Err(e) => tauri::http::Response::builder().status(404).body(e.message.into_bytes()),
                };
                responder.respond(resp.expect("a response"));
            });
        })
        .invoke_handler(tauri::generate_handler![
            snapshot,
            sign_in,
            sign_in_with_school,
            sign_out,
            refresh_catalog,
            open_session,
            close_session,
            present_in_browser,
            start_class,
            end_class,
            act,
            import_file,
            sync_now
        ])
        .run(tauri::generate_context!())
        .expect("the studio window");
}

/// Logs to stderr (`RUST_LOG` filters; `LOG_FORMAT=json` for machines).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tao=warn,wry=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
