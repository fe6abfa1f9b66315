//! Transcripts that know the lecture's words: three lectures (espeak-ng) whose slides carry their
//! terms, transcribed by the real model (tiny.en, one thread) as the pipeline does — without the
//! slides, and primed with the glossary taken from them. Each slide term that is spoken must come
//! out spelled right at least 90 % of the time when primed, and the word error rate must be lower
//! than without. Prints the figures per lecture and over all three.

use artifact_worker::samples::{recall, speak, LECTURES};
use artifact_worker::transcribe::{Segment, Transcriber};
use artifact_worker::{glossary, model, text};
use shared_types::media::PageTexts;
use shared_types::AssetId;

#[test]
fn slide_terms_prime_the_transcript() {
    let transcriber = Transcriber::load(&model::prepare().expect("model"), 1).unwrap();
    let join = |s: Vec<Segment>| s.into_iter().map(|s| s.text).collect::<Vec<_>>().join(" ");
    let (mut wer, mut right, mut spoken) = ([0.0f64; 2], [0usize; 2], 0usize);
    for (i, (script, slides)) in LECTURES.iter().enumerate() {
        let pcm = speak("en", 150, script).unwrap();
        let deck = AssetId(uuid::Uuid::from_u128(i as u128 + 1));
        let pages: PageTexts = slides.iter().enumerate().map(|(p, t)| ((deck, p as u32 + 1), t.to_string())).collect();
        let terms = glossary::terms(&pages, |w| transcriber.pieces(w), glossary::BUDGET_TOKENS);
        let prompt = glossary::prompt(&terms, "en");
        assert!(terms.len() >= 4, "lecture {i}: the slides' rare words are terms: {terms:?}");
        let plain = join(transcriber.transcribe(&pcm).unwrap());
        let primed = join(transcriber.transcribe_primed(&pcm, &prompt, &terms).unwrap());
        let w = [text::wer(script, &plain), text::wer(script, &primed)];
        let ((r0, n), (r1, _)) = (recall(&terms, script, &plain), recall(&terms, script, &primed));
        println!("lecture {i} ({:.1} s), prompt: {prompt}", pcm.len() as f64 / 16_000.0);
        println!("  without the slides: WER {:.3}, slide terms right {r0}/{n}\n    {plain}", w[0]);
        println!("  primed:             WER {:.3}, slide terms right {r1}/{n}\n    {primed}", w[1]);
        (wer[0], wer[1], right[0], right[1], spoken) =
            (wer[0] + w[0], wer[1] + w[1], right[0] + r0, right[1] + r1, spoken + n);
    }
    let n = LECTURES.len() as f64;
    let recall = |r: usize| r as f64 / spoken as f64;
    println!(
        "over {} lectures: WER {:.3} → {:.3}; slide terms right {}/{spoken} ({:.2}) → {}/{spoken} ({:.2}) (goal ≥ 0.90)",
        LECTURES.len(),
        wer[0] / n,
        wer[1] / n,
        right[0],
        recall(right[0]),
        right[1],
        recall(right[1])
    );
    assert!(spoken >= 20, "the scripts say their terms: {spoken}");
    assert!(recall(right[1]) >= 0.9, "primed: {} of {spoken} slide terms right", right[1]);
    assert!(wer[1] < wer[0], "primed WER {:.3} is not below {:.3}", wer[1] / n, wer[0] / n);
}
