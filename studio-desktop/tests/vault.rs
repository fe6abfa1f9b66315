//! Where the sign-in is kept. With a Secret Service (gnome-keyring under its own D-Bus session, the
//! way a Linux desktop runs it) the studio uses the keychain and writes no file; without one it uses
//! the marked file store, readable by the user only.

use std::process::Command;
use studio_desktop::vault::{Credentials, Vault, SERVICE};

fn temp(name: &str) -> cloud_api::spawned::Scratch {
    cloud_api::spawned::Scratch::new(&format!("studio-vault-{name}"))
}

fn creds() -> Credentials {
    Credentials { server: "http://127.0.0.1:8080".into(), email: "teacher@demo.school".into(), token: "tok-123".into() }
}

#[test]
fn without_a_keychain_the_sign_in_is_a_private_file() {
    let dir = temp("file");
    let v = Vault::file(&dir);
    assert_eq!(v.kind(), "file");
    assert_eq!(v.load().unwrap(), None, "nothing stored yet");
    v.save(&creds()).unwrap();
    assert_eq!(v.load().unwrap(), Some(creds()));
    let file = dir.join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "only the user reads it");
    }
    // A damaged file is no sign-in (the teacher signs in again), not a crash.
    std::fs::write(&file, "{not json").unwrap();
    assert_eq!(v.load().unwrap(), None);
    v.save(&creds()).unwrap();
    v.clear().unwrap();
    assert!(!file.exists());
    v.clear().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs with a session bus address where nothing listens (started by the test below).
#[test]
#[ignore = "run by without_a_secret_service_the_file_store_is_chosen, with no session bus"]
fn open_without_a_secret_service() {
    let dir = temp("nobus");
    assert_eq!(Vault::open(&dir).kind(), "file", "no Secret Service: the marked file store");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn without_a_secret_service_the_file_store_is_chosen() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "open_without_a_secret_service"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/studio-bus")
        .env_remove("STUDIO_VAULT")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
}

/// Runs inside a D-Bus session with gnome-keyring (started by the test below).
#[test]
#[ignore = "run by the_keychain_is_used_where_a_secret_service_runs, inside dbus-run-session"]
fn keychain_inside_a_secret_service_session() {
    let dir = temp("keychain");
    let v = Vault::open(&dir);
    assert_eq!(v.kind(), "keychain", "the Secret Service answered");
    v.save(&creds()).unwrap();
    assert_eq!(v.load().unwrap(), Some(creds()));
    // It is in the keychain itself, under the studio's service, and not on disk.
    let raw = keyring::Entry::new(SERVICE, "sign-in").unwrap().get_password().unwrap();
    assert!(raw.contains("tok-123"));
    assert!(!dir.join("credentials.json").exists());
    // A second open (the app restarted) finds it.
    assert_eq!(Vault::open(&dir).load().unwrap(), Some(creds()));
    v.clear().unwrap();
    assert_eq!(v.load().unwrap(), None);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_keychain_is_used_where_a_secret_service_runs() {
    let home = temp("home");
    let me = std::env::current_exe().unwrap();
    // gnome-keyring-daemon --unlock reads the login password on stdin and opens the login keyring.
    let script = format!(
        "echo -n studio | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec {} --ignored --exact keychain_inside_a_secret_service_session --test-threads=1",
        me.display()
    );
    let out = Command::new("dbus-run-session")
        .args(["--", "sh", "-c", &script])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", &home)
        .env_remove("STUDIO_VAULT")
        .output()
        .expect("dbus-run-session (apt dbus-daemon) and gnome-keyring");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the keychain run failed:\n{text}");
    assert!(text.contains("1 passed"), "the inner test ran:\n{text}");
    let _ = std::fs::remove_dir_all(home);
}
