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
