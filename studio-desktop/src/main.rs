//! studio-desktop: the Tauri window is the desktop issue's to build; today the binary checks a journal
//! file — `studio-desktop [journal.db]` prints how many entries wait to be synced.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "studio-journal.db".into());
    let journal = studio_desktop::Journal::open(std::path::Path::new(&path))?;
    println!("{path}: {} entries waiting to be synced", journal.pending_count()?);
    Ok(())
}
