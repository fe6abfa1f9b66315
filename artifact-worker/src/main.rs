//! artifact-worker: claims pipeline jobs and turns recordings into transcript, chapters,
//! highlights and captions. The pipeline itself is the artifact issue's work; until it lands this
//! binary says so instead of pretending to run.

fn main() {
    let cmd = std::env::args().nth(1).unwrap_or_default();
    eprintln!(
        "artifact-worker{}: the artifact pipeline is not built yet (see artifact-worker/README.md); \
         supported event types it will consume: {}",
        if cmd.is_empty() { String::new() } else { format!(" {cmd}") },
        shared_types::SessionEvent::TYPES.len()
    );
    std::process::exit(2);
}
