//! The window's UI is the student web's build (`student-web/media/dist`, made by
//! `scripts/build-web.sh`, which `cargo run -p cloud-api -- demo` runs when it is missing). Tauri
//! embeds it at compile time; on a checkout where it is not built yet, a page saying how to build it
//! stands in, and the build is redone once the real one exists.
fn main() {
    let dist = std::path::Path::new("../student-web/media/dist");
    if !dist.join("desktop.html").exists() {
        std::fs::create_dir_all(dist).expect("student-web/media/dist");
        std::fs::write(
            dist.join("desktop.html"),
            "<!doctype html><meta charset=utf-8><title>Teaching Studio</title>\
             <p style=\"font:16px system-ui;padding:2rem\">The studio's interface is not built yet: run \
             <code>bash scripts/build-web.sh</code> (or <code>cargo run -p cloud-api -- demo</code>, which runs it), \
             then start the studio again.</p>",
        )
        .expect("placeholder page");
    }
    println!("cargo:rerun-if-changed=../student-web/media/dist/pkg/student_web_bg.wasm");
    println!("cargo:rerun-if-changed=../student-web/media/dist/desktop.html");
    tauri_build::build()
}
