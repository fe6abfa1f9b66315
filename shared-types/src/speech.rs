//! What a school chooses for its transcripts: the recogniser model and the class's language.

use serde::{Deserialize, Serialize};

/// The languages Whisper's multilingual models know: ISO 639-1 code (Whisper's own spelling for
/// the few without one) and English name. Order is Whisper's language-token order.
pub const LANGUAGES: &[(&str, &str)] = &[
    ("en", "English"),
    ("zh", "Chinese"),
    ("de", "German"),
    ("es", "Spanish"),
    ("ru", "Russian"),
    ("ko", "Korean"),
    ("fr", "French"),
    ("ja", "Japanese"),
    ("pt", "Portuguese"),
    ("tr", "Turkish"),
    ("pl", "Polish"),
    ("ca", "Catalan"),
    ("nl", "Dutch"),
    ("ar", "Arabic"),
    ("sv", "Swedish"),
    ("it", "Italian"),
    ("id", "Indonesian"),
    ("hi", "Hindi"),
    ("fi", "Finnish"),
    ("vi", "Vietnamese"),
    ("he", "Hebrew"),
    ("uk", "Ukrainian"),
    ("el", "Greek"),
    ("ms", "Malay"),
    ("cs", "Czech"),
    ("ro", "Romanian"),
    ("da", "Danish"),
    ("hu", "Hungarian"),
    ("ta", "Tamil"),
    ("no", "Norwegian"),
    ("th", "Thai"),
    ("ur", "Urdu"),
    ("hr", "Croatian"),
    ("bg", "Bulgarian"),
    ("lt", "Lithuanian"),
    ("la", "Latin"),
    ("mi", "Maori"),
    ("ml", "Malayalam"),
    ("cy", "Welsh"),
    ("sk", "Slovak"),
    ("te", "Telugu"),
    ("fa", "Persian"),
    ("lv", "Latvian"),
    ("bn", "Bengali"),
    ("sr", "Serbian"),
    ("az", "Azerbaijani"),
    ("sl", "Slovenian"),
    ("kn", "Kannada"),
    ("et", "Estonian"),
    ("mk", "Macedonian"),
    ("br", "Breton"),
    ("eu", "Basque"),
    ("is", "Icelandic"),
    ("hy", "Armenian"),
    ("ne", "Nepali"),
    ("mn", "Mongolian"),
    ("bs", "Bosnian"),
    ("kk", "Kazakh"),
    ("sq", "Albanian"),
    ("sw", "Swahili"),
    ("gl", "Galician"),
    ("mr", "Marathi"),
    ("pa", "Punjabi"),
    ("si", "Sinhala"),
    ("km", "Khmer"),
    ("sn", "Shona"),
    ("yo", "Yoruba"),
    ("so", "Somali"),
    ("af", "Afrikaans"),
    ("oc", "Occitan"),
    ("ka", "Georgian"),
    ("be", "Belarusian"),
    ("tg", "Tajik"),
    ("sd", "Sindhi"),
    ("gu", "Gujarati"),
    ("am", "Amharic"),
    ("yi", "Yiddish"),
    ("lo", "Lao"),
    ("uz", "Uzbek"),
    ("fo", "Faroese"),
    ("ht", "Haitian Creole"),
    ("ps", "Pashto"),
    ("tk", "Turkmen"),
    ("nn", "Nynorsk"),
    ("mt", "Maltese"),
    ("sa", "Sanskrit"),
    ("lb", "Luxembourgish"),
    ("my", "Myanmar"),
    ("bo", "Tibetan"),
    ("tl", "Tagalog"),
    ("mg", "Malagasy"),
    ("as", "Assamese"),
    ("tt", "Tatar"),
    ("haw", "Hawaiian"),
    ("ln", "Lingala"),
    ("ha", "Hausa"),
    ("ba", "Bashkir"),
    ("jw", "Javanese"),
    ("su", "Sundanese"),
];

/// The language of what predates languages (serde's default).
pub fn english() -> String {
    DEFAULT_LANGUAGE.into()
}

/// The English name of a language code; `None` for a code Whisper does not know.
pub fn language_name(code: &str) -> Option<&'static str> {
    LANGUAGES.iter().find(|(c, _)| *c == code).map(|(_, n)| *n)
}

/// The language a school's classes are in when nobody says otherwise.
pub const DEFAULT_LANGUAGE: &str = "en";

/// The recogniser a school's transcripts and captions are made with.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum SpeechModel {
    /// Whisper tiny, English only: fast (live captions keep up on one core), English classes only.
    #[default]
    #[serde(rename = "tiny.en")]
    TinyEn,
    /// Whisper base, multilingual: every language in [`LANGUAGES`], more accurate, ≈2–3× the compute.
    #[serde(rename = "base")]
    Base,
}

impl SpeechModel {
    pub const ALL: &'static [SpeechModel] = &[SpeechModel::TinyEn, SpeechModel::Base];

    pub fn as_str(self) -> &'static str {
        match self {
            SpeechModel::TinyEn => "tiny.en",
            SpeechModel::Base => "base",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|m| m.as_str() == s)
    }

    /// Whether it transcribes `language` (a code from [`LANGUAGES`]).
    pub fn speaks(self, language: &str) -> bool {
        match self {
            SpeechModel::TinyEn => language == "en",
            SpeechModel::Base => language_name(language).is_some(),
        }
    }
}

impl std::fmt::Display for SpeechModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A school's transcription settings (`GET/PUT /api/admin/tenants/{id}/settings`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantSettings {
    pub transcription_model: SpeechModel,
    /// The language of a class that does not set its own (a code from [`LANGUAGES`]).
    pub language: String,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings { transcription_model: SpeechModel::TinyEn, language: DEFAULT_LANGUAGE.into() }
    }
}

impl TenantSettings {
    /// Why these settings cannot be kept, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if language_name(&self.language).is_none() {
            return Some(format!(
                "language `{}` is not one the recogniser knows (ISO 639-1, e.g. en, fr, de)",
                self.language
            ));
        }
        if !self.transcription_model.speaks(&self.language) {
            let name = language_name(&self.language).unwrap_or_default();
            return Some(format!(
                "{} transcribes English only; choose the multilingual model (base) for {name} classes",
                self.transcription_model
            ));
        }
        None
    }
}

/// How a [`refusal`] begins (the replay page shows a refusal as it is, other errors not).
const REFUSED: &str = "No transcript: this class is in ";

/// Why a class in `language` gets no transcript from `model`, if it does not: the flag the
/// worker records instead of transcribing one language as another. Written for the people who
/// read it on the replay page.
pub fn refusal(model: SpeechModel, language: &str) -> Option<String> {
    if model.speaks(language) {
        return None;
    }
    let name = language_name(language).unwrap_or(language);
    Some(format!(
        "{REFUSED}{name} ({language}), and the school's recogniser ({model}) transcribes English only. \
         The school's admin can choose the multilingual model (base) and process the recording again."
    ))
}

/// Whether an artifact's error is a [`refusal`].
pub fn is_refusal(error: &str) -> bool {
    error.starts_with(REFUSED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_and_languages() {
        assert_eq!(LANGUAGES.len(), 99);
        assert_eq!(language_name("fr"), Some("French"));
        assert_eq!(language_name("xx"), None);
        assert!(SpeechModel::TinyEn.speaks("en") && !SpeechModel::TinyEn.speaks("fr"));
        assert!(SpeechModel::Base.speaks("fr") && SpeechModel::Base.speaks("en") && !SpeechModel::Base.speaks("xx"));
        assert_eq!(SpeechModel::parse("base"), Some(SpeechModel::Base));
        assert_eq!(SpeechModel::parse("large"), None);
        assert_eq!(serde_json::to_value(SpeechModel::TinyEn).unwrap(), serde_json::json!("tiny.en"));
        let why = refusal(SpeechModel::TinyEn, "de").unwrap();
        assert!(why.contains("German") && is_refusal(&why) && !is_refusal("decoding the recording failed"));
        assert_eq!(refusal(SpeechModel::Base, "de"), None);
        let bad = TenantSettings { language: "klingon".into(), ..Default::default() };
        assert!(bad.problem().is_some());
        assert_eq!(TenantSettings::default().problem(), None);
        let french = TenantSettings { language: "fr".into(), ..Default::default() };
        assert!(french.problem().unwrap().contains("base"));
        assert_eq!(TenantSettings { transcription_model: SpeechModel::Base, ..french }.problem(), None);
    }
}
