//! Word-level helpers: normalising, word error rate, stop words and key terms.

use std::collections::HashMap;

/// Lower-case words of letters and digits (apostrophes kept inside words).
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Word error rate of `hyp` against `reference`: (substitutions + deletions + insertions) / words.
pub fn wer(reference: &str, hyp: &str) -> f64 {
    let r = words(reference);
    let h = words(hyp);
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len() as f64
}

const STOP: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "but",
    "by", "can", "could", "did", "do", "does", "for", "from", "get", "go", "going", "good", "had", "has", "have", "he",
    "her", "here", "his", "how", "i", "if", "in", "into", "is", "it", "its", "it's", "just", "let", "let's", "like",
    "look", "me", "more", "morning", "my", "no", "not", "now", "of", "okay", "on", "one", "or", "our", "out", "over",
    "so", "some", "that", "that's", "the", "their", "them", "then", "there", "these", "they", "this", "to", "today",
    "two", "up", "us", "very", "was", "we", "we'll", "we're", "well", "what", "when", "where", "which", "who", "why",
    "will", "with", "would", "yes", "you", "your", "class", "next", "first", "second", "see", "say", "says", "means",
];

pub fn is_stop(w: &str) -> bool {
    STOP.contains(&w) || w.len() < 3 || w.chars().all(|c| c.is_ascii_digit())
}

/// The `n` most frequent content words of `text`, most frequent first (ties: first seen).
pub fn key_terms(text: &str, n: usize) -> Vec<String> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (i, w) in words(text).into_iter().enumerate() {
        if !is_stop(&w) {
            counts.entry(w).or_insert((0, i)).0 += 1;
        }
    }
    let mut v: Vec<(String, (usize, usize))> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    v.into_iter().take(n).map(|(w, _)| w).collect()
}

/// Content-word overlap of two texts (Jaccard), for topic shifts and question matching.
pub fn overlap(a: &str, b: &str) -> f64 {
    let sa: std::collections::BTreeSet<String> = words(a).into_iter().filter(|w| !is_stop(w)).collect();
    let sb: std::collections::BTreeSet<String> = words(b).into_iter().filter(|w| !is_stop(w)).collect();
    if sa.is_empty() || sb.is_empty() {
        return 0.0;
    }
    sa.intersection(&sb).count() as f64 / sa.union(&sb).count() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wer_counts_edits() {
        assert_eq!(wer("the cat sat", "the cat sat"), 0.0);
        assert!((wer("the cat sat on the mat", "the cat sat on mat") - 1.0 / 6.0).abs() < 1e-9);
        assert!((wer("a b c", "a x c d") - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(wer("Hello, World!", "hello world"), 0.0);
    }

    #[test]
    fn key_terms_skip_stop_words() {
        assert_eq!(key_terms("The velocity and the velocity of the ball; acceleration.", 2), vec!["velocity", "ball"]);
    }
}
