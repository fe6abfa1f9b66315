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
    let mut samples = Vec::new();
    let rate = decode_source(Box::new(std::io::Cursor::new(bytes)), content_type, |chunk, _| {
        samples.extend_from_slice(chunk);
        true
    })?;
    if samples.is_empty() || rate == 0 {
        bail!("the recording holds no audio");
    }
    Ok(Pcm { rate, samples })
}

/// Decode `source` packet by packet, handing each packet's mono samples and their rate to
/// `on_samples` as they come (a source that waits for more bytes is decoded as it grows); stops
/// at the end of the source or when `on_samples` answers false. Returns the rate.
pub fn decode_source(
    source: Box<dyn symphonia::core::io::MediaSource>,
    content_type: Option<&str>,
    mut on_samples: impl FnMut(&[f32], u32) -> bool,
) -> Result<u32> {
    let mut hint = Hint::new();
    if let Some(ct) = content_type {
        hint.mime_type(ct);
    }
    let mss = MediaSourceStream::new(source, Default::default());
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
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
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
        mono.clear();
        mono.extend(interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32));
        if !on_samples(&mono, rate) {
            break;
        }
    }
    Ok(rate)
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

/// Decode a recording joined from several recorder runs (each a file of its own from its first
/// byte, as a reloaded page starts a new one), each placed at the second it began: the time between
/// runs, when nothing was recorded, is silence, so transcript times stay on the class's clock. A run
/// that cannot be decoded is left out (logged); one run is plain [`to_whisper`].
pub fn to_whisper_runs(
    bytes: Vec<u8>,
    content_type: Option<&str>,
    runs: &[studio_store::RecordingRun],
) -> Result<(Vec<f32>, f64)> {
    if runs.len() < 2 {
        return to_whisper(bytes, content_type);
    }
    let rate = crate::transcribe::SAMPLE_RATE as f64;
    let mut out: Vec<f32> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let end = runs.get(i + 1).map_or(bytes.len(), |r| r.byte as usize).min(bytes.len());
        let start = (run.byte as usize).min(end);
        match to_whisper(bytes[start..end].to_vec(), content_type) {
            Ok((pcm, _)) => {
                // A run that claims to start before the previous one ended follows it directly.
                let at = ((run.at_s.max(0.0) * rate).round() as usize).max(out.len());
                out.resize(at, 0.0);
                out.extend(pcm);
            }
            Err(e) => tracing::warn!(run = i + 1, error = %format!("{e:#}"), "a recorder run could not be decoded"),
        }
    }
    if out.is_empty() {
        bail!("no run of the recording holds audio");
    }
    let duration = out.len() as f64 / rate;
    Ok((out, duration))
}

/// Resample a stream to Whisper's rate as it is decoded: blocks of about a second go through
/// [`resample`] with a margin on both sides (the filter's edges fall in the margins and are dropped),
/// so the output matches resampling the whole at once, up to rounding.
pub struct StreamResampler {
    rate: u32,
    /// Input samples that map to a whole number of output samples.
    step: usize,
    /// Input kept on each side of a block: more than half the low-pass filter, a multiple of `step`.
    margin: usize,
    /// Input not yet turned into output, from `margin` samples before the next output's source.
    pending: Vec<f32>,
}

impl StreamResampler {
    pub fn new(rate: u32) -> Self {
        let step = (rate / gcd(rate, crate::transcribe::SAMPLE_RATE)).max(1) as usize;
        let margin = 96usize.div_ceil(step) * step;
        StreamResampler { rate, step, margin, pending: vec![0.0; margin] }
    }

    /// Take decoded samples; the 16 kHz samples that are now final.
    pub fn push(&mut self, samples: &[f32]) -> Vec<f32> {
        self.pending.extend_from_slice(samples);
        self.drain(false)
    }

    /// The rest, at the end of the stream.
    pub fn finish(&mut self) -> Vec<f32> {
        self.pending.extend(std::iter::repeat_n(0.0, self.margin + self.step));
        self.drain(true)
    }

    fn drain(&mut self, last: bool) -> Vec<f32> {
        let to = crate::transcribe::SAMPLE_RATE as usize;
        let block = (self.rate as usize).div_ceil(self.step) * self.step;
        let mut out = Vec::new();
        loop {
            let available = self.pending.len().saturating_sub(2 * self.margin) / self.step * self.step;
            let body = if last {
                available
            } else if available >= block {
                block
            } else {
                0
            };
            if body == 0 {
                return out;
            }
            let pcm = Pcm { rate: self.rate, samples: self.pending[..body + 2 * self.margin].to_vec() };
            let resampled = resample(&pcm, to as u32);
            let skip = self.margin * to / self.rate as usize;
            let take = body * to / self.rate as usize;
            out.extend_from_slice(&resampled[skip.min(resampled.len())..(skip + take).min(resampled.len())]);
            self.pending.drain(..body);
        }
    }
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
