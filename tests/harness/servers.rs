//! Throwaway real servers a test starts for itself (SeaweedFS S3, livekit-server), stopped on drop.

use std::path::PathBuf;

/// A throwaway SeaweedFS S3 server of this test's own (`scripts/s3-test-server.sh`), stopped on drop.
pub struct S3Server {
    pub config: cloud_api::blob::S3Config,
    dir: PathBuf,
}

impl S3Server {
    pub fn start() -> S3Server {
        let (vars, dir) = start_script("s3-test-server.sh", "S3_TEST_DIR");
        S3Server {
            config: cloud_api::blob::S3Config {
                endpoint: vars["S3_ENDPOINT"].clone(),
                bucket: vars["S3_BUCKET"].clone(),
                access_key: vars["S3_ACCESS_KEY"].clone(),
                secret_key: vars["S3_SECRET_KEY"].clone(),
                region: "us-east-1".into(),
            },
            dir,
        }
    }

    pub fn stop(&self) {
        stop_script("s3-test-server.sh", "S3_TEST_DIR", &self.dir);
    }
}

/// Run `scripts/<script> start` with its state in a fresh `<dir_env>` folder; the KEY=VALUE lines it
/// prints, and the folder (for `stop`).
fn start_script(script: &str, dir_env: &str) -> (std::collections::HashMap<String, String>, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "studio-{}-{}",
        script.trim_end_matches(".sh"),
        uuid::Uuid::new_v4().simple()
    ));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let out =
        std::process::Command::new("bash").arg(&path).arg("start").env(dir_env, &dir).output().expect("run the script");
    assert!(out.status.success(), "{script} start failed: {}", String::from_utf8_lossy(&out.stderr));
    let vars: std::collections::HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    (vars, dir)
}

fn stop_script(script: &str, dir_env: &str, dir: &std::path::Path) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
    let _ = std::process::Command::new("bash").arg(&path).arg("stop").env(dir_env, dir).status();
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A real livekit-server (`scripts/livekit-server.sh`, --dev keys) of this test's own, stopped on drop.
pub struct LiveKitServer {
    pub config: cloud_api::livekit::LiveKitConfig,
    dir: PathBuf,
}

impl LiveKitServer {
    pub fn start() -> LiveKitServer {
        let (vars, dir) = start_script("livekit-server.sh", "LIVEKIT_TEST_DIR");
        LiveKitServer {
            config: cloud_api::livekit::LiveKitConfig {
                url: vars["LIVEKIT_URL"].clone(),
                api_key: vars["LIVEKIT_API_KEY"].clone(),
                api_secret: vars["LIVEKIT_API_SECRET"].clone(),
                previous: None,
            },
            dir,
        }
    }

    pub fn stop(&self) {
        stop_script("livekit-server.sh", "LIVEKIT_TEST_DIR", &self.dir);
    }
}

impl Drop for LiveKitServer {
    fn drop(&mut self) {
        self.stop();
    }
}
