//! Media files made on the spot: a WAV tone and a small PDF deck.

/// A WAV file of `secs` seconds of a 440 Hz tone at 16 kHz.
pub fn wav(secs: f64) -> Vec<u8> {
    let n = (secs * 16000.0) as u32;
    let mut out = Vec::new();
    out.extend(b"RIFF");
    out.extend((36 + n * 2).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(16u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(16000u32.to_le_bytes());
    out.extend(32000u32.to_le_bytes());
    out.extend(2u16.to_le_bytes());
    out.extend(16u16.to_le_bytes());
    out.extend(b"data");
    out.extend((n * 2).to_le_bytes());
    for i in 0..n {
        let v = ((i as f64 * 440.0 * 2.0 * std::f64::consts::PI / 16000.0).sin() * 8000.0) as i16;
        out.extend(v.to_le_bytes());
    }
    out
}

/// A small valid PDF with `pages` pages, each saying "Slide N" in Helvetica (for deck uploads).
pub fn pdf(pages: usize) -> Vec<u8> {
    let texts: Vec<String> = (1..=pages).map(|i| format!("Slide {i}")).collect();
    cloud_api::slides::simple_pdf(&texts)
}

/// `student-web/media`, where the browser app's build and its Playwright scripts live.
pub fn media_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../student-web/media")
}

/// What every teacher-side media script takes: the app, the session, its teacher and the password,
/// the voice and where screenshots go (a script's own settings go on top).
pub fn teacher_env<'a>(
    app: &'a crate::TestApp,
    school: &'a crate::School,
    wav: &'a std::path::Path,
    shots: &'a std::path::Path,
) -> Vec<(&'static str, &'a std::ffi::OsStr)> {
    vec![
        ("BASE", app.base.as_ref()),
        ("SESSION", school.session.as_ref()),
        ("TEACHER_EMAIL", school.teacher.email.as_ref()),
        ("PASSWORD", crate::PASSWORD.as_ref()),
        ("WAV", wav.as_os_str()),
        ("SHOTS", shots.as_os_str()),
    ]
}

/// Run `student-web/media/test/<script>` with node and `env`; its last stdout line as JSON, and its
/// stderr (for failure messages).
pub async fn browser_script(script: &str, env: &[(&str, &std::ffi::OsStr)]) -> (serde_json::Value, String) {
    let media = media_dir();
    let out = tokio::process::Command::new("node")
        .arg(media.join("test").join(script))
        .current_dir(&media)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .await
        .expect("node");
    (node_result(script, &out), String::from_utf8_lossy(&out.stderr).to_string())
}

/// A browser script's result: its last stdout line as JSON. A script that crashed (a non-zero exit,
/// or no JSON line) fails the test with Node's stderr: it never reads as "no error".
pub fn node_result(script: &str, out: &std::process::Output) -> serde_json::Value {
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} exited with {}:\n{stderr}\n{stdout}", out.status);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|_| panic!("{script} printed no result: {stdout}\n{stderr}"))
}

/// What the server logs while the calling test binary runs (our crates, debug and up), to look
/// for secrets in: one capture per process, installed by the first call.
pub fn server_logs() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("cloud_api=debug,studio_store=debug,tower_http=debug")
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
