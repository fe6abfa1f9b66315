//! Transcripts that know the lecture's words: three lectures (espeak-ng) whose slides carry their
//! terms, transcribed by the real model (tiny.en, one thread) as the pipeline does — without the
//! slides, and primed with the glossary taken from them. Each slide term that is spoken must come
//! out spelled right at least 90 % of the time when primed, and the word error rate must be lower
//! than without. Prints the figures per lecture and over all three.

use artifact_worker::transcribe::{Segment, Transcriber};
use artifact_worker::{decode, glossary, model, text};
use shared_types::media::PageTexts;
use shared_types::AssetId;
use std::process::Command;

/// (what the teacher says, the deck's pages)
const LECTURES: [(&str, &[&str]); 3] = [
    (
        "Today we study photosynthesis, the process that feeds almost every living thing. \
         Inside each leaf cell, the chloroplast holds stacks of thylakoid membranes. \
         The thylakoid membranes carry chlorophyll, the pigment that absorbs red and blue light. \
         Carbon dioxide enters the leaf through small pores called stomata. \
         In the Calvin cycle, the enzyme Rubisco fixes carbon dioxide into sugar. \
         Rubisco is probably the most abundant protein on Earth. \
         The sugar made by photosynthesis is burned later in the mitochondria. \
         So chlorophyll captures the light, and the stomata let the gas in.",
        &[
            "Photosynthesis\nWhere it happens: the chloroplast",
            "Thylakoid membranes\nChlorophyll absorbs red and blue light",
            "Stomata\nGas exchange through the leaf",
            "The Calvin cycle\nRubisco fixes CO2",
            "Where the sugar goes\nRespiration in the mitochondria",
        ],
    ),
    (
        "Welcome back. Today we look at the immune system. When bacteria enter a wound, white cells called \
         macrophages arrive first. A macrophage swallows the bacteria by phagocytosis. Then lymphocytes join \
         the fight. B lymphocytes make antibodies, and each antibody fits one antigen, like a key in a lock. \
         Some lymphocytes remember the antigen for years. That memory is why vaccination works. \
         A vaccine shows the immune system a harmless antigen, so the antibodies are ready before the real \
         infection. Next week we study inflammation and the role of histamine.",
        &[
            "The immune system\nMacrophages and phagocytosis",
            "Lymphocytes\nB cells make antibodies",
            "Antibody and antigen\nLock and key",
            "Vaccination\nImmune memory",
            "Next week\nInflammation and histamine",
        ],
    ),
    (
        "Let us talk about plate tectonics. The lithosphere is broken into plates that float on the \
         asthenosphere. Where two plates move apart, magma rises and forms new crust along a rift. \
         Where an oceanic plate sinks under a continent, we call it subduction. \
         Subduction zones make deep trenches and chains of volcanoes. The Andes formed above a subduction zone. \
         When plates slide past each other, stress builds until an earthquake releases it. \
         Seismometers record the waves, and the magnitude tells us how much energy was released.",
        &[
            "Plate tectonics\nLithosphere and asthenosphere",
            "Divergent boundaries\nMagma and rifts",
            "Subduction\nTrenches and volcanoes",
            "Transform faults\nEarthquakes",
            "Measuring earthquakes\nSeismometers and magnitude",
        ],
    ),
];

/// Of the times the script says a term, how many the transcript spells right (as many times).
fn recall(terms: &[String], script: &str, heard: &str) -> (usize, usize) {
    let (said, got) = (text::words(script), text::words(heard));
    let count = |ws: &[String], t: &str| ws.iter().filter(|w| w.as_str() == t).count();
    terms.iter().map(|t| t.to_lowercase()).fold((0, 0), |(right, all), t| {
        let n = count(&said, &t);
        (right + n.min(count(&got, &t)), all + n)
    })
}

fn speak(script: &str) -> Vec<f32> {
    let dir = std::env::temp_dir().join(format!("priming-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (raw, wav) = (dir.join("raw.wav"), dir.join("lecture.wav"));
    assert!(Command::new("espeak-ng").args(["-s", "150", "-w"]).arg(&raw).arg(script).status().unwrap().success());
    let sox = Command::new("sox").arg(&raw).args(["-r", "16000", "-c", "1", "-b", "16"]).arg(&wav).status();
    assert!(sox.unwrap().success());
    let (pcm, _) = decode::to_whisper(std::fs::read(&wav).unwrap(), Some("audio/wav")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    pcm
}

#[test]
fn slide_terms_prime_the_transcript() {
    let transcriber = Transcriber::load(&model::prepare().expect("model"), 1).unwrap();
    let join = |s: Vec<Segment>| s.into_iter().map(|s| s.text).collect::<Vec<_>>().join(" ");
    let (mut wer, mut right, mut spoken) = ([0.0f64; 2], [0usize; 2], 0usize);
    for (i, (script, slides)) in LECTURES.iter().enumerate() {
        let pcm = speak(script);
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
