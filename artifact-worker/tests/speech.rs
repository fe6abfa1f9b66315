//! Real speech through the real model: espeak-ng makes the audio, whisper-rs (tiny.en, converted by
//! `prepare-model`) transcribes it, and the word error rate is computed here.

use artifact_worker::{decode, model, text, transcribe::Transcriber};
use std::process::Command;

pub const SPEECH: &str = "Good morning class. Today we study motion. Velocity is the rate of change of position. \
                          Acceleration is the rate of change of velocity.";

fn espeak(text: &str, dir: &std::path::Path) -> Vec<u8> {
    let raw = dir.join("raw.wav");
    let ok = Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&raw).arg(text).status().expect("espeak-ng");
    assert!(ok.success());
    std::fs::read(raw).unwrap()
}

#[test]
fn espeak_speech_is_transcribed_with_low_wer() {
    let dir = cloud_api::spawned::Scratch::new("speech");
    std::fs::create_dir_all(&dir).unwrap();
    // espeak writes 22,050 Hz: this also exercises the resampler.
    let wav = espeak(SPEECH, &dir);
    let (pcm, duration) = decode::to_whisper(wav, Some("audio/wav")).unwrap();
    assert!(duration > 5.0 && duration < 20.0, "duration {duration}");
    let t = Transcriber::load(&model::prepare().unwrap(), 1).unwrap();
    let segments = t.transcribe(&pcm).unwrap();
    let hyp: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let hyp = hyp.join(" ");
    let wer = text::wer(SPEECH, &hyp);
    println!("WER {wer:.3}: {hyp}");
    assert!(wer <= 0.25, "WER {wer:.3} too high: {hyp}");
    // Words carry timings inside the audio.
    let words: Vec<_> = segments.iter().flat_map(|s| s.words.iter()).collect();
    assert!(words.len() >= 15);
    assert!(words.iter().all(|w| w.start_s >= 0.0 && w.end_s <= duration + 1.0 && w.start_s <= w.end_s));
    let vel = words.iter().find(|w| w.text.to_lowercase().contains("velocity")).expect("velocity is heard");
    assert!(vel.start_s > 2.0, "velocity is said after the greeting: {}", vel.start_s);
}

/// The containers and codecs recordings arrive in (made by ffmpeg from the same speech): each decodes
/// to about the same length; WebM/Opus, what browsers record, is also transcribed.
#[test]
fn compressed_recordings_decode() {
    let dir = cloud_api::spawned::Scratch::new("codecs");
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("raw.wav");
    std::fs::write(&wav, espeak(SPEECH, &dir)).unwrap();
    let (_, reference) = decode::to_whisper(std::fs::read(&wav).unwrap(), Some("audio/wav")).unwrap();
    let t = Transcriber::load(&model::prepare().unwrap(), 1).unwrap();
    for (ext, codec, mime) in [
        ("webm", "libopus", "video/webm"),
        ("ogg", "libopus", "audio/ogg"),
        ("m4a", "aac", "video/mp4"),
        ("ogg", "libvorbis", "audio/ogg"),
    ] {
        let out = dir.join(format!("x-{codec}.{ext}"));
        let ok = Command::new("ffmpeg")
            .args(["-loglevel", "error", "-y", "-i"])
            .arg(&wav)
            .args(["-c:a", codec, "-b:a", "48k"])
            .arg(&out)
            .status()
            .expect("ffmpeg");
        assert!(ok.success(), "ffmpeg {codec}");
        let (pcm, secs) = decode::to_whisper(std::fs::read(&out).unwrap(), Some(mime))
            .unwrap_or_else(|e| panic!("{codec}/{ext}: {e:#}"));
        assert!((secs - reference).abs() < 0.3, "{codec}/{ext}: {secs:.2} s vs {reference:.2} s");
        if ext == "webm" {
            let hyp: Vec<String> = t.transcribe(&pcm).unwrap().into_iter().map(|s| s.text).collect();
            let wer = text::wer(SPEECH, &hyp.join(" "));
            assert!(wer <= 0.25, "webm/opus WER {wer:.3}");
        }
    }
}
