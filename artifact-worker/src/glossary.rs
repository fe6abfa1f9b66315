//! The lecture's own words for the recogniser. Whisper writes a word it does not know the way it
//! sounds ("Glorophyll"); with the word in its prompt it spells it. The words come from the text of
//! the session's slide decks: those the model's vocabulary does not hold whole (its tokenizer
//! splits them into pieces, a sign it has rarely seen them), most frequent first, within a budget
//! of prompt tokens.

use crate::text;
use shared_types::media::PageTexts;
use std::collections::{BTreeSet, HashMap};

/// Whisper's prompt holds at most 224 tokens (half its text context); the glossary takes at most
/// this many, leaving the rest to the words said just before.
pub const BUDGET_TOKENS: usize = 96;

/// The slide terms worth priming with. `pieces(" word")`: how many tokens the model's vocabulary
/// needs for the word (one for a word it knows well).
pub fn terms(pages: &PageTexts, pieces: impl Fn(&str) -> usize, budget: usize) -> Vec<String> {
    // Per word (lower case): how often the slides use it, where first, and how it is written: in
    // lower case unless the slides capitalise it inside a line (a name) or it has capitals after
    // its first letter (an acronym) — a capital at a line's start is a title's, not the word's.
    let mut found: HashMap<String, (usize, usize, String)> = HashMap::new();
    let lines = pages.values().flat_map(|p| p.lines());
    let all = lines.flat_map(|l| {
        let words = l.split(|c: char| !(c.is_alphanumeric() || c == '\'')).map(|w| w.trim_matches('\''));
        words.filter(|w| !w.is_empty()).enumerate()
    });
    for (i, (at, w)) in all.enumerate() {
        let lower = w.to_lowercase();
        if lower.chars().count() < 4 || text::is_stop(&lower) || !w.chars().any(char::is_alphabetic) {
            continue;
        }
        // "DNA", "ATPase", "mRNA": capitals after the first letter are the word's own.
        let acronym = w.chars().skip(1).any(char::is_uppercase);
        let name = at > 0 && w.starts_with(char::is_uppercase);
        let e = found.entry(lower.clone()).or_insert((0, i, lower.clone()));
        e.0 += 1;
        if acronym || name {
            e.2 = w.to_string();
        }
    }
    let mut rare: Vec<(usize, usize, String, usize)> = found
        .into_values()
        .filter_map(|(count, first, form)| {
            let n = pieces(&format!(" {form}"));
            (n >= 2).then_some((count, first, form, n))
        })
        .collect();
    rare.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut used = 0;
    let mut out = Vec::new();
    for (_, _, form, n) in rare {
        // Each term costs its pieces and a comma.
        if used + n + 1 > budget {
            continue;
        }
        used += n + 1;
        out.push(form);
    }
    out
}

/// What the glossary is introduced with in the prompt (measured on three espeak lectures, a
/// sentence primes better than the bare list: mean WER 0.152 against 0.178).
const LEAD: &str = "In this lecture:";

/// The glossary as whisper's prompt for a class in `language`: "In this lecture: kinematics,
/// Newtonian, chlorophyll." in English; the terms alone in another language (an English lead
/// would pull whisper towards English). Empty without terms.
pub fn prompt(terms: &[String], language: &str) -> String {
    match (terms.is_empty(), language) {
        (true, _) => String::new(),
        (false, "en") => format!("{LEAD} {}.", terms.join(", ")),
        (false, _) => format!("{}.", terms.join(", ")),
    }
}

/// Whether a transcribed piece is the glossary said back (whisper repeats its prompt over noise or
/// silence): two words or more, every one of them a term.
pub fn echoes(piece: &str, terms: &[String]) -> bool {
    let glossary: BTreeSet<String> = terms.iter().map(|t| t.to_lowercase()).chain(text::words(LEAD)).collect();
    let words = text::words(piece);
    words.len() >= 2 && words.iter().all(|w| glossary.contains(w))
}

/// A transcript's words with the glossary's spellings put back where whisper wrote a term the way
/// it heard it: one word, or up to four that spell it end to end ("photos in the sis"), whose
/// letters are within one edit in six (rounded) of a term's ("tomata" → "stomata"); or a word that
/// begins with a term and runs on into the next word ("rubiscopics"). A word the vocabulary knows
/// whole (`known`) is never replaced alone ("tomato" stays), nor a term inflected. Capitals at the
/// span's start and the last word's trailing punctuation are kept. Returns the words and, per
/// output word, the input words it stands for.
pub fn correct(
    words: &[&str],
    terms: &[String],
    known: impl Fn(&str) -> bool,
) -> Vec<(String, std::ops::Range<usize>)> {
    let letters = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let targets: Vec<(String, &String)> =
        terms.iter().map(|t| (letters(t), t)).filter(|(l, _)| l.chars().count() >= 6).collect();
    let mut out = Vec::new();
    let mut i = 0;
    'words: while i < words.len() {
        // A term run together with the next word ("rubiscopics" for "Rubisco fixes"): the term,
        // then the rest as heard.
        let first = letters(words[i]);
        for (target, term) in &targets {
            let rest = first.strip_prefix(target.as_str()).unwrap_or_default();
            let bare = words[i].trim_matches(|c: char| !c.is_alphanumeric());
            if rest.chars().count() >= 3 && !INFLECTIONS.contains(&rest) && bare.chars().all(char::is_alphabetic) {
                let word = if bare.starts_with(char::is_uppercase) { capitalised(term) } else { term.to_string() };
                let tail = &words[i][words[i].trim_end_matches(|c: char| !c.is_alphanumeric()).len()..];
                out.push((word, i..i + 1));
                out.push((format!("{rest}{tail}"), i..i + 1));
                i += 1;
                continue 'words;
            }
        }
        for k in (1..=4.min(words.len() - i)).rev() {
            let span = &words[i..i + k];
            let joined: String = span.iter().map(|w| letters(w)).collect();
            let n = joined.chars().count();
            for (target, term) in &targets {
                let t = target.chars().count();
                // One edit in six letters, rounded.
                let allowed = (t + 3) / 6;
                if joined == *target && k == 1 || n.abs_diff(t) > allowed {
                    continue;
                }
                if k == 1 {
                    // A word the model knows, or the term inflected ("chloroplasts"): as said.
                    let bare = span[0].trim_matches(|c: char| !c.is_alphanumeric());
                    if known(&format!(" {bare}")) || joined.starts_with(target.as_str()) {
                        continue;
                    }
                    // Another form of the word ("photosynthetic"): the same but for an ending.
                    let same = joined.chars().zip(target.chars()).take_while(|(a, b)| a == b).count();
                    let ending: String = joined.chars().skip(same).collect();
                    if same + 3 >= t && INFLECTIONS.iter().any(|i| ending.ends_with(i)) {
                        continue;
                    }
                } else if n.abs_diff(t) > 1
                    || joined.chars().next() != target.chars().next()
                    || joined.chars().last() != target.chars().last()
                {
                    // Words run together must spell the term end to end, not take in a word
                    // beside it ("on thylakoid", "mitochondria. So").
                    continue;
                }
                if edits(&joined, target) <= allowed {
                    let first = span[0].trim_start_matches(|c: char| !c.is_alphanumeric());
                    let mut word =
                        if first.starts_with(char::is_uppercase) { capitalised(term) } else { term.to_string() };
                    let last = span[k - 1];
                    word.insert_str(0, &span[0][..span[0].len() - first.len()]);
                    word.push_str(&last[last.trim_end_matches(|c: char| !c.is_alphanumeric()).len()..]);
                    out.push((word, i..i + k));
                    i += k;
                    continue 'words;
                }
            }
        }
        out.push((words[i].to_string(), i..i + 1));
        i += 1;
    }
    out
}

/// Endings that make a term another form of itself, not a term and another word.
const INFLECTIONS: &[&str] =
    &["ing", "ies", "ed", "es", "al", "ally", "ical", "ic", "ous", "ism", "isms", "ist", "ists"];

fn capitalised(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Levenshtein distance between two words (by character).
fn edits(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::AssetId;

    fn pages(texts: &[&str]) -> PageTexts {
        let deck = AssetId(uuid::Uuid::from_u128(1));
        texts.iter().enumerate().map(|(i, t)| ((deck, i as u32 + 1), t.to_string())).collect()
    }

    /// A stand-in for the tokenizer: words it "knows" are one piece, others one per 4 letters.
    fn pieces(w: &str) -> usize {
        let known = ["light", "reactions", "water", "sugar", "cycle", "plants", "calvin", "overview"];
        let w = w.trim();
        if known.contains(&w.to_lowercase().as_str()) {
            1
        } else {
            w.chars().count().div_ceil(4)
        }
    }

    #[test]
    fn rare_slide_words_most_frequent_first() {
        let p = pages(&[
            "Photosynthesis overview\nLight reactions in the thylakoid",
            "The Calvin cycle\nRubisco fixes CO2 into sugar",
            "Thylakoid membranes\nphotosynthesis in plants: 2024 figures",
            "After the Krebs cycle\nATPase",
        ]);
        let t = terms(&p, pieces, BUDGET_TOKENS);
        // Twice on the slides: first. Capitalised only at a line's start: lower case; inside a
        // line: a name. Words the vocabulary holds whole, stop words, short words, numbers: out.
        assert_eq!(t, ["photosynthesis", "thylakoid", "rubisco", "fixes", "membranes", "figures", "Krebs", "ATPase"]);
        assert_eq!(prompt(&t[..3], "en"), "In this lecture: photosynthesis, thylakoid, rubisco.");
        assert_eq!(prompt(&t[..2], "fr"), "photosynthesis, thylakoid.");
        assert_eq!(prompt(&[], "en"), "");
    }

    #[test]
    fn within_the_token_budget() {
        let p = pages(&["photosynthesis thylakoid rubisco"]);
        // photosynthesis: 4 pieces + comma; thylakoid: 3 + comma; rubisco 2 + comma.
        assert_eq!(terms(&p, pieces, 4), ["thylakoid"]);
        assert_eq!(terms(&p, pieces, 7), ["photosynthesis"]);
        assert_eq!(terms(&p, pieces, 8), ["photosynthesis", "rubisco"]);
        assert_eq!(terms(&p, pieces, 9), ["photosynthesis", "thylakoid"]);
    }

    #[test]
    fn terms_heard_as_sounds_are_spelled_back() {
        let t: Vec<String> = ["photosynthesis", "stomata", "Rubisco", "chlorophyll"].map(String::from).into();
        let known = |w: &str| ["tomato", "photos", "the", "in", "called", "sis"].contains(&w.trim());
        let fix = |s: &str| {
            let words: Vec<&str> = s.split_whitespace().collect();
            correct(&words, &t, known).into_iter().map(|(w, _)| w).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(fix("small pores called tomata. The"), "small pores called stomata. The");
        assert_eq!(fix("The sugar made by photos in the sis is burned"), "The sugar made by photosynthesis is burned");
        assert_eq!(fix("Glorophyll, the pigment"), "Chlorophyll, the pigment");
        assert_eq!(fix("(rubisko) fixes"), "(Rubisco) fixes");
        assert_eq!(fix("the enzyme rubiscopics is"), "the enzyme Rubisco pics is", "run together with the next word");
        assert_eq!(fix("Rubiscos and photosynthetic"), "Rubiscos and photosynthetic");
        // Known words alone, and words far from any term, stay.
        assert_eq!(fix("the tomato let the gas in"), "the tomato let the gas in");
        assert_eq!(fix("photos of the cell"), "photos of the cell");
        assert_eq!(fix("chlorophyll"), "chlorophyll");
        assert_eq!(fix("two chlorophylls"), "two chlorophylls", "the term inflected");
        assert_eq!(fix("tax on stomata"), "tax on stomata", "a word beside the term stays");
        assert_eq!(fix("in the stomata. So the"), "in the stomata. So the");
        let words = ["made", "photos", "in", "the", "sis", "."];
        let spans: Vec<_> = correct(&words, &t, known).into_iter().map(|(_, r)| r).collect();
        assert_eq!(spans, [0..1, 1..5, 5..6]);
    }

    #[test]
    fn the_glossary_said_back_is_an_echo() {
        let t: Vec<String> = ["Kinematics", "Newtonian", "chlorophyll"].map(String::from).into();
        assert!(echoes("Kinematics, Newtonian.", &t));
        assert!(echoes("In this lecture, chlorophyll", &t));
        assert!(!echoes("Newtonian mechanics", &t));
        assert!(!echoes("Chlorophyll.", &t), "one word can be speech");
    }
}
