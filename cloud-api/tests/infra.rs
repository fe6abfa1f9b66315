//! Deployment as code, checked by the tools that deploy it: the alert rules (`promtool check rules`,
//! and their unit tests with `promtool test rules`), the Helm chart (`helm lint`, then the rendered
//! objects through `kubeconform -strict` against Kubernetes' own schemas), the systemd units
//! (`systemd-analyze verify` in a root with the binaries installed). The Grafana dashboard's queries
//! are checked against a live `/metrics` in tests/tests/metrics.rs. Tools: scripts/install-deps.sh and
//! scripts/infra-tools.sh.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tools() -> PathBuf {
    std::env::var("STUDIO_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/studio-tools"))
}

/// Run a checker; (success, stdout + stderr).
fn run(cmd: &mut Command) -> (bool, String) {
    let what = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e} (run scripts/install-deps.sh)"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn alert_rules_check_and_pass_their_unit_tests() {
    let infra = root().join("infra");
    let (ok, said) = run(Command::new("promtool").args(["check", "rules"]).arg(infra.join("alerts.yml")));
    assert!(ok, "{said}");
    let (ok, said) = run(Command::new("promtool").args(["test", "rules"]).arg(infra.join("alerts.test.yml")));
    assert!(ok, "{said}");
    // Every alert has a unit test (that each names an exported metric and a runbook section is
    // tests/tests/bad_input.rs `alert_rules_use_exported_metrics`).
    let rules = std::fs::read_to_string(infra.join("alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(infra.join("alerts.test.yml")).unwrap();
    let alerts: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert!(alerts.len() >= 14, "{alerts:?}");
    for alert in alerts {
        assert!(tests.contains(&format!("alertname: {alert}")), "alert {alert} has no test in alerts.test.yml");
    }
}

#[test]
fn the_helm_chart_lints_and_renders_valid_kubernetes_objects() {
    let chart = root().join("infra/helm/studio");
    let bin = tools().join("bin");
    let (ok, said) = run(Command::new(bin.join("helm"))
        .arg("lint")
        .arg("--strict")
        .arg(&chart)
        .args(["--set", "secrets.secretsKey=c2l4dGVlbi1ieXRlcy1vZi1rZXktbWF0ZXJpYWwhIQ=="]));
    assert!(ok, "helm lint: {said}");
    let dir = tempdir("helm");
    for (name, extra) in [
        ("default", vec![]),
        ("existing-secret", vec!["--set", "existingSecret=studio-prod", "--set", "ingress.enabled=false"]),
        ("model-pvc", vec!["--set", "worker.modelVolume.claimName=whisper-models", "--set", "cloudApi.replicas=3"]),
    ] {
        let mut cmd = Command::new(bin.join("helm"));
        cmd.args(["template", "studio"]).arg(&chart).args(["--kube-version", "1.31.0"]);
        cmd.args(["--set", "secrets.secretsKey=c2l4dGVlbi1ieXRlcy1vZi1rZXktbWF0ZXJpYWwhIQ=="]).args(&extra);
        let out = cmd.output().expect("helm template");
        assert!(out.status.success(), "helm template {name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        // What the issue asks of the chart is there.
        for want in ["kind: Deployment", "kind: Job", "path: /healthz", "path: /readyz", "resources:"] {
            assert!(text.contains(want), "{name}: rendered chart has {want}");
        }
        match name {
            "default" => {
                assert!(text.contains("replicas: 2"), "two cloud-api replicas by default");
                assert!(text.contains("kind: Secret") && text.contains("kind: Ingress"));
            }
            "existing-secret" => {
                assert!(!text.contains("kind: Secret"), "an existing secret is used, none made");
                assert!(text.contains("name: studio-prod") && !text.contains("kind: Ingress"));
            }
            _ => assert!(text.contains("claimName: whisper-models") && text.contains("replicas: 3")),
        }
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, &text).unwrap();
        let schemas = tools().join("k8s-schemas/v1.31.0/{{ .ResourceKind }}{{ .KindSuffix }}.json");
        let (ok, said) = run(Command::new(bin.join("kubeconform"))
            .args(["-strict", "-summary", "-kubernetes-version", "1.31.0", "-schema-location"])
            .arg(&schemas)
            .arg(&file));
        assert!(ok && said.contains("Invalid: 0, Errors: 0, Skipped: 0"), "kubeconform {name}: {said}");
    }
    // The schemas do refuse what Kubernetes would: a misspelt field is caught.
    let bad = dir.join("bad.yaml");
    let good = std::fs::read_to_string(dir.join("default.yaml")).unwrap();
    std::fs::write(&bad, good.replacen("readinessProbe:", "readinesProbe:", 1)).unwrap();
    let schemas = tools().join("k8s-schemas/v1.31.0/{{ .ResourceKind }}{{ .KindSuffix }}.json");
    let (ok, said) =
        run(Command::new(bin.join("kubeconform")).args(["-strict", "-schema-location"]).arg(&schemas).arg(&bad));
    assert!(!ok && said.contains("readinesProbe"), "a misspelt field is refused: {said}");
}

fn tempdir(tag: &str) -> cloud_api::spawned::Scratch {
    cloud_api::spawned::Scratch::new(&format!("studio-{tag}"))
}

/// Copy (or hard-link) `from` to `to`, creating the directory.
fn install(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

#[test]
fn the_systemd_units_verify() {
    let sys = tempdir("systemd");
    // The units as a single-server install lays them out: the binaries (these very builds), the
    // environment file, and systemd's own units (targets the ours are ordered after).
    let cloud_api = PathBuf::from(env!("CARGO_BIN_EXE_cloud-api"));
    let worker = cloud_api.with_file_name("artifact-worker");
    assert!(worker.exists(), "artifact-worker is built next to cloud-api by `cargo test --workspace`");
    install(&cloud_api, &sys.join("usr/local/bin/cloud-api"));
    install(&worker, &sys.join("usr/local/bin/artifact-worker"));
    let units = root().join("infra/systemd");
    install(&units.join("studio.env.example"), &sys.join("etc/studio/studio.env"));
    let mut names = Vec::new();
    for e in std::fs::read_dir(&units).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "service") {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            std::fs::create_dir_all(sys.join("etc/systemd/system")).unwrap();
            std::fs::copy(&p, sys.join("etc/systemd/system").join(&name)).unwrap();
            names.push(format!("/etc/systemd/system/{name}"));
        }
    }
    assert_eq!(names.len(), 2, "{names:?}");
    std::fs::create_dir_all(sys.join("usr/lib/systemd")).unwrap();
    let (ok, said) = run(Command::new("cp").arg("-r").arg("/usr/lib/systemd/system").arg(sys.join("usr/lib/systemd/")));
    assert!(ok, "systemd's own units: {said}");
    let (ok, said) =
        run(Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", sys.display())).args(&names));
    // verify exits 0 on warnings (an unknown key, say); any word from it is a finding.
    assert!(ok && said.trim().is_empty(), "systemd-analyze verify: {said}");
    // And it would say so: a misspelt key is reported.
    let unit = sys.join("etc/systemd/system/studio-cloud-api.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, text.replace("RestartSec=", "RestartSecs=")).unwrap();
    let verify =
        Command::new("systemd-analyze").arg("verify").arg(format!("--root={}", sys.display())).args(&names).output();
    let said = String::from_utf8_lossy(&verify.expect("systemd-analyze").stderr).to_string();
    assert!(said.contains("RestartSecs"), "a bad key is reported: {said}");
    let _ = std::fs::remove_dir_all(&sys);
}
