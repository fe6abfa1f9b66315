//! studio-desktop: the teacher's Tauri studio. A skeleton until the desktop issue builds it; it
//! links the shared event model so the journal it will keep uses the same types as the server.

fn main() {
    println!(
        "studio-desktop is not built yet (see studio-desktop/README.md); it will journal {} event types",
        shared_types::SessionEvent::TYPES.len()
    );
}
