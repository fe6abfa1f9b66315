//! Decode a recording (WAV, MP4/AAC, Ogg/WebM with Opus or Vorbis, MP3) to 16 kHz mono f32 with
//! symphonia; Opus (what browsers' MediaRecorder writes) through libopus via symphonia-adapter-libopus.

use anyhow::{bail, Context, Result};
use std::sync::OnceLock;
use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Decoded audio: mono samples at `rate`.
pub struct Pcm {
    pub rate: u32,
    pub samples: Vec<f32>,
}

/// symphonia's codecs plus Opus.
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut r = CodecRegistry::new();
        r.register_audio_decoder::<symphonia_adapter_libopus::OpusDecoder>();
        symphonia::default::register_enabled_codecs(&mut r);
        r
    })
}

/// Decode any supported container/codec to mono at its own rate.
pub fn decode(bytes: Vec<u8>, content_type: Option<&str>) -> Result<Pcm> {
    let mut hint = Hint::new();
    if let Some(ct) = content_type {
        hint.mime_type(ct);
    }
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&hint, mss, FormatOptions::default(), MetadataOptions::default())
        .context("the recording's container is not recognised")?;
    let track = format.default_track(TrackType::Audio).context("the recording has no audio track")?;
    let track_id = track.id;
    let params =
        track.codec_params.as_ref().and_then(|p| p.audio()).context("the audio track has no codec parameters")?.clone();
    let mut decoder = codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .context("the recording's audio codec is not supported")?;
    let mut rate = params.sample_rate.unwrap_or(0);
    let mut samples = Vec::new();
    let mut interleaved: Vec<f32> = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(symphonia::core::errors::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e).context("reading the recording"),
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf: GenericAudioBufferRef = match decoder.decode(&packet) {
            Ok(b) => b,
            Err(symphonia::core::errors::Error::DecodeError(_)) => continue, // skip a damaged packet
            Err(e) => return Err(e).context("decoding the recording"),
        };
        let spec = buf.spec();
        rate = spec.rate();
        let channels = spec.channels().count().max(1);
        interleaved.clear();
        buf.copy_to_vec_interleaved(&mut interleaved);
        for frame in interleaved.chunks_exact(channels) {
            samples.push(frame.iter().sum::<f32>() / channels as f32);
        }
    }
    if samples.is_empty() || rate == 0 {
        bail!("the recording holds no audio");
    }
    Ok(Pcm { rate, samples })
}

/// Resample to `to` Hz: a windowed-sinc low-pass when shrinking, linear interpolation between.
pub fn resample(pcm: &Pcm, to: u32) -> Vec<f32> {
    if pcm.rate == to {
        return pcm.samples.clone();
    }
    let ratio = to as f64 / pcm.rate as f64;
    let src = if ratio < 1.0 { low_pass(&pcm.samples, ratio * 0.5 * 0.95) } else { pcm.samples.clone() };
    let n = (src.len() as f64 * ratio).floor() as usize;
    (0..n)
        .map(|i| {
            let x = i as f64 / ratio;
            let j = x.floor() as usize;
            let f = (x - j as f64) as f32;
            let a = src[j.min(src.len() - 1)];
            let b = src[(j + 1).min(src.len() - 1)];
            a + (b - a) * f
        })
        .collect()
}

/// FIR low-pass (Hann-windowed sinc), `cutoff` as a fraction of the input rate.
fn low_pass(x: &[f32], cutoff: f64) -> Vec<f32> {
    const TAPS: usize = 63;
    let m = (TAPS - 1) as f64 / 2.0;
    let mut h: Vec<f64> = (0..TAPS)
        .map(|i| {
            let t = i as f64 - m;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
            };
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (TAPS - 1) as f64).cos();
            sinc * w
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= sum);
    (0..x.len())
        .map(|n| {
            let mut acc = 0.0f64;
            for (k, hk) in h.iter().enumerate() {
                let idx = n as isize + k as isize - m as isize;
                if idx >= 0 && (idx as usize) < x.len() {
                    acc += hk * x[idx as usize] as f64;
                }
            }
            acc as f32
        })
        .collect()
}

/// Decode and bring to Whisper's format.
pub fn to_whisper(bytes: Vec<u8>, content_type: Option<&str>) -> Result<(Vec<f32>, f64)> {
    let pcm = decode(bytes, content_type)?;
    let duration = pcm.samples.len() as f64 / pcm.rate as f64;
    Ok((resample(&pcm, crate::transcribe::SAMPLE_RATE), duration))
}
