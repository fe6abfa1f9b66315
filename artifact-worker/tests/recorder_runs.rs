//! A recording joined from two recorder runs (the page was reloaded mid-class and its recorder
//! started again on the same upload): the worker decodes each run on its own and places it at the
//! second it began, with silence for the seconds nothing was recorded.

use artifact_worker::decode;
use cloud_api::store::RecordingRun;

fn rms(pcm: &[f32], from_s: f64, to_s: f64) -> f32 {
    let s = &pcm[(from_s * 16000.0) as usize..(to_s * 16000.0) as usize];
    (s.iter().map(|x| x * x).sum::<f32>() / s.len() as f32).sqrt()
}

#[test]
fn each_run_is_placed_at_the_second_it_began() {
    let (first, second) = (studio_tests::wav(2.0), studio_tests::wav(1.5));
    let joined = [first.clone(), second].concat();
    let runs = [RecordingRun { byte: 0, at_s: 0.0 }, RecordingRun { byte: first.len() as u64, at_s: 5.0 }];
    let (pcm, duration) = decode::to_whisper_runs(joined.clone(), Some("audio/wav"), &runs).unwrap();
    assert!((duration - 6.5).abs() < 0.05, "5 s to the second run, then its 1.5 s: {duration}");
    assert!(rms(&pcm, 0.3, 1.7) > 0.05, "the first run is there");
    assert!(rms(&pcm, 2.2, 4.8) < 1e-4, "nothing was recorded between the runs");
    assert!(rms(&pcm, 5.2, 6.3) > 0.05, "the second run is there, at its own second");
    // Read as one file, the first run's header decides and the second run is lost: why runs are kept.
    let (_, as_one) = decode::to_whisper(joined, Some("audio/wav")).unwrap();
    assert!(as_one < 2.1, "{as_one}");
}

#[test]
fn one_run_is_the_plain_decode() {
    let file = studio_tests::wav(1.0);
    let (a, _) = decode::to_whisper_runs(file.clone(), Some("audio/wav"), &[]).unwrap();
    let (b, _) = decode::to_whisper(file, Some("audio/wav")).unwrap();
    assert_eq!(a, b);
}

/// A WebM run made by ffmpeg: a test picture of `size` (none: audio only) and a tone, `secs` long;
/// `live` writes it as a live stream does (sizes unknown, no cues), as MediaRecorder does.
fn webm_run(dir: &std::path::Path, name: &str, size: Option<&str>, tone: u32, secs: f64, live: bool) -> Vec<u8> {
    let out = dir.join(name);
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]);
    if let Some(size) = size {
        cmd.args(["-f", "lavfi", "-i", &format!("testsrc=size={size}:rate=15")]);
    }
    cmd.args(["-f", "lavfi", "-i", &format!("sine=frequency={tone}:sample_rate=48000")]);
    cmd.args(["-t", &secs.to_string(), "-c:a", "libopus", "-b:a", "48k"]);
    if size.is_some() {
        cmd.args(["-c:v", "libvpx", "-b:v", "300k", "-g", "15"]);
    }
    if live {
        cmd.args(["-live", "1"]);
    }
    let status = cmd.args(["-f", "webm"]).arg(&out).status().expect("ffmpeg (scripts/install-deps.sh)");
    assert!(status.success(), "ffmpeg made {name}");
    std::fs::read(out).unwrap()
}

fn probe(file: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("ffprobe").args(["-v", "error"]).args(args).arg(file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The server joins a recording's runs into one WebM (cloud_api::webm): a player follows it from
/// the first run to the last, and its audio lies where the worker places each run on its own.
#[test]
fn webm_runs_join_into_one_file_on_the_class_clock() {
    let dir = cloud_api::spawned::Scratch::new("webm-join");
    // Camera at 320x240, then the camera off (audio only), then a larger picture (a shared screen);
    // two written as a live stream (unknown sizes), one as a plain file.
    let runs = [
        webm_run(&dir, "a.webm", Some("320x240"), 440, 2.0, true),
        webm_run(&dir, "b.webm", None, 660, 1.5, false),
        webm_run(&dir, "c.webm", Some("640x480"), 880, 2.0, true),
    ];
    let mut at = Vec::new();
    let mut byte = 0u64;
    for (r, at_s) in runs.iter().zip([0.0, 3.0, 5.5]) {
        at.push(RecordingRun { byte, at_s });
        byte += r.len() as u64;
    }
    let raw = runs.concat();
    let mut out = std::io::Cursor::new(Vec::new());
    let made = cloud_api::webm::join(std::io::Cursor::new(raw.clone()), &at, &mut out).unwrap();
    let one = out.into_inner();
    assert_eq!(made.runs, 3);
    for (placed, want) in made.placed_s.iter().zip([0.0, 3.0, 5.5]) {
        assert!((placed - want).abs() < 0.03, "each run at its second: {:?}", made.placed_s);
    }
    assert!((made.duration_s - 7.5).abs() < 0.1, "{made:?}");
    // Silence where nothing was recorded: 2 → 3 s and 4.5 → 5.5 s.
    assert!((made.silence_s - 2.0).abs() < 0.1, "{made:?}");
    let file = dir.join("one.webm");
    std::fs::write(&file, &one).unwrap();

    // One file a player reads to its end without an error, with its length in its header.
    let decoded = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(decoded.status.success() && decoded.stderr.is_empty(), "{}", String::from_utf8_lossy(&decoded.stderr));
    let duration: f64 = probe(&file, &["-show_entries", "format=duration", "-of", "csv=p=0"]).trim().parse().unwrap();
    assert!((duration - 7.5).abs() < 0.1, "the header's duration: {duration}");
    let mut streams: Vec<String> =
        probe(&file, &["-show_entries", "stream=codec_type", "-of", "csv=p=0"]).lines().map(str::to_string).collect();
    streams.sort();
    assert_eq!(streams, ["audio", "video"]);
    // The picture: the first run's frames, none while the camera was off, then the larger one's.
    let frames: Vec<(f64, u32)> =
        probe(&file, &["-select_streams", "v", "-show_entries", "frame=pts_time,width", "-of", "csv=p=0"])
            .lines()
            .filter_map(|l| {
                let mut f = l.split(',');
                Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
            })
            .collect();
    assert!(frames.len() >= 55, "both runs' frames: {}", frames.len());
    assert!(frames.iter().all(|(t, w)| (*t < 2.05 && *w == 320) || (*t > 5.45 && *w == 640)), "{frames:?}");
    assert!(frames.last().unwrap().0 > 7.3, "to the last run's end: {frames:?}");

    // The audio: the worker decodes the one file to what it makes of the runs one by one.
    let (pcm, d1) = decode::to_whisper(one, Some("video/webm")).unwrap();
    let (by_runs, d2) = decode::to_whisper_runs(raw, Some("video/webm"), &at).unwrap();
    assert!((d1 - d2).abs() < 0.1, "one file {d1} s, runs {d2} s");
    for (from, to, sound) in
        [(0.3, 1.7, true), (2.2, 2.8, false), (3.2, 4.3, true), (4.7, 5.3, false), (5.8, 7.2, true)]
    {
        let (a, b) = (rms(&pcm, from, to), rms(&by_runs, from, to));
        assert_eq!((a > 0.05, b > 0.05), (sound, sound), "{from}–{to} s: one file {a}, runs {b}");
    }

    // Runs that cannot be one file are refused (the recording keeps them as they are).
    let vorbis = {
        let out = dir.join("v.webm");
        let ok = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:a", "libvorbis"])
            .arg(&out)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        std::fs::read(out).unwrap()
    };
    let mixed = [runs[1].clone(), vorbis].concat();
    let at = [RecordingRun { byte: 0, at_s: 0.0 }, RecordingRun { byte: runs[1].len() as u64, at_s: 2.0 }];
    let err = cloud_api::webm::join(std::io::Cursor::new(mixed), &at, std::io::Cursor::new(Vec::new())).unwrap_err();
    assert!(err.to_string().contains("A_VORBIS after A_OPUS"), "{err}");
}
