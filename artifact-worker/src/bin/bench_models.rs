//! `bench-models [threads] [runs]`: the recognisers side by side on the spoken sample lectures —
//! word error rate and real-time factor (seconds of work per second of audio) of tiny.en and base on
//! the English lectures, plain and primed with their slides' terms, and on the Spanish, German and
//! French ones (tiny.en refuses those). One thread unless told, as the worker runs by default; each
//! time is the best of `runs` (default 2), so a busy moment of the machine does not count.

use anyhow::Result;
use artifact_worker::samples::{recall, speak, FOREIGN, LECTURES};
use artifact_worker::transcribe::{Segment, Transcriber};
use artifact_worker::{glossary, model, text};
use shared_types::media::PageTexts;
use shared_types::speech::SpeechModel;
use shared_types::AssetId;
use std::time::Instant;

fn joined(s: &[Segment]) -> String {
    s.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ")
}

/// The text and the fastest of `runs` timings of `f`.
fn best(runs: usize, f: impl Fn() -> Result<Vec<Segment>>) -> Result<(String, f64)> {
    let mut out = (String::new(), f64::MAX);
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let segments = f()?;
        out = (joined(&segments), out.1.min(t0.elapsed().as_secs_f64()));
    }
    Ok(out)
}

#[derive(Default)]
struct Sum {
    wer: f64,
    secs: f64,
    audio: f64,
    n: usize,
}

impl Sum {
    fn add(&mut self, wer: f64, secs: f64, audio: f64) {
        (self.wer, self.secs, self.audio, self.n) = (self.wer + wer, self.secs + secs, self.audio + audio, self.n + 1);
    }
    fn line(&self, what: &str) -> String {
        format!("{what:<34} WER {:.3}  RTF {:.3}", self.wer / self.n.max(1) as f64, self.secs / self.audio.max(1e-9))
    }
}

fn main() -> Result<()> {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (threads, runs) = (arg(1, 1), arg(2, 2));
    let english: Vec<(Vec<f32>, &str, PageTexts)> = LECTURES
        .iter()
        .enumerate()
        .map(|(i, (script, slides))| {
            let deck = AssetId(uuid::Uuid::from_u128(i as u128 + 1));
            let pages = slides.iter().enumerate().map(|(p, t)| ((deck, p as u32 + 1), t.to_string())).collect();
            Ok((speak("en", 150, script)?, *script, pages))
        })
        .collect::<Result<_>>()?;
    let foreign: Vec<(Vec<f32>, &str, &str)> =
        FOREIGN.iter().map(|(l, script)| Ok((speak(l, 140, script)?, *l, *script))).collect::<Result<_>>()?;
    let secs = |pcm: &[f32]| pcm.len() as f64 / 16_000.0;
    println!("bench-models: {threads} thread(s), best of {runs} run(s) each");
    let mut summary = Vec::new();
    for &m in SpeechModel::ALL {
        let t = Transcriber::load(&model::prepare_model(m)?, threads)?;
        let (mut plain, mut primed, mut other) = (Sum::default(), Sum::default(), Sum::default());
        let (mut right, mut said) = (0usize, 0usize);
        for (i, (pcm, script, pages)) in english.iter().enumerate() {
            let terms = glossary::terms(pages, |w| t.pieces(w), glossary::BUDGET_TOKENS);
            let prompt = glossary::prompt(&terms, "en");
            let (p, p_s) = best(runs, || t.transcribe(pcm))?;
            let (q, q_s) = best(runs, || t.transcribe_primed(pcm, &prompt, &terms))?;
            let (w_p, w_q) = (text::wer(script, &p), text::wer(script, &q));
            let (r, n) = recall(&terms, script, &q);
            (right, said) = (right + r, said + n);
            plain.add(w_p, p_s, secs(pcm));
            primed.add(w_q, q_s, secs(pcm));
            println!(
                "{m:<8} en lecture {i} ({:>4.1} s): plain WER {w_p:.3} RTF {:.3} · primed WER {w_q:.3} RTF {:.3}, terms {r}/{n}",
                secs(pcm),
                p_s / secs(pcm),
                q_s / secs(pcm)
            );
        }
        for (pcm, language, script) in &foreign {
            let Ok(listener) = t.speaking(language) else {
                println!("{m:<8} {language} lecture ({:>4.1} s): refused (English only)", secs(pcm));
                continue;
            };
            let (h, h_s) = best(runs, || listener.transcribe(pcm))?;
            let w = text::wer(script, &h);
            other.add(w, h_s, secs(pcm));
            println!("{m:<8} {language} lecture ({:>4.1} s): WER {w:.3} RTF {:.3}  {h}", secs(pcm), h_s / secs(pcm));
        }
        summary.push(plain.line(&format!("{m}: English, plain")));
        summary.push(primed.line(&format!("{m}: English, primed")) + &format!("  terms {right}/{said}"));
        if other.n > 0 {
            summary.push(other.line(&format!("{m}: es/de/fr")));
        }
    }
    println!("\nsummary (mean WER over lectures; RTF = work seconds / audio seconds):");
    for line in summary {
        println!("  {line}");
    }
    Ok(())
}
