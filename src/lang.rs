//! Language identification: which language a mention is written in, and whether the platform said so or
//! hearsay detected it.
//!
//! Every stored mention gets a [`Language`] from [`resolve`] before it is matched to brands, so that
//! `languages = ["en"]` in `[[brands]]` works on platforms that tag nothing (Reddit, Hacker News, most feeds):
//! the platform's tag when it gives one (reduced to its primary subtag, `pt-BR` → `pt`), else [`detect`] on the
//! title and text. Mastodon's `language` and Bluesky's `langs` are chosen by the author (or their client's
//! default) and are often wrong, so there the tag is checked and a confident detection that disagrees wins.
//!
//! [`detect`] says "und" (BCP 47 for "undetermined") when a text has too few letters to tell: emoji, links,
//! numbers, a word or two. "und" passes every brand's language filter.
//!
//! # How detection works, and why these crates
//!
//! Chosen by measurement on short texts (`tools/eval-langid/`, which reports the figures): tweets in
//! ar de en es fr hi it pt, reviews in de en es fr ja zh, and Indonesian and Malay texts.
//!
//! 1. Links, `@handles`, `#hashtags` and `RT` are left out; letters repeated for emphasis are cut to two.
//! 2. Chinese, Japanese and Korean by their scripts (any kana: Japanese). Other non-Latin scripts: whatlang
//!    (script first, then trigrams within it; an unsure answer is the script's main language), which is right
//!    on practically every Arabic text.
//! 3. Latin script: whichlang (Quickwit's hashed n-gram classifier) decides between en de fr es it pt nl sv tr
//!    vi; it is the most accurate of the candidates on short Latin texts after lingua, which adds 70 MB to the
//!    binary and is 15 times slower than all of this. whatlang then weighs whichlang's answer against the Latin
//!    languages whichlang does not know (Indonesian, Polish, Danish, …): one of those wins when whatlang is
//!    confident of it.
//! 4. Hindi tweets are mostly written in Latin letters (Hinglish), which no detector's Hindi model knows:
//!    a list of Hindi function words recognises them, and a list of Malay-only words separates Malay from
//!    Indonesian (which whatlang does not).
//!
//! Measured (`tools/eval-langid`, 1,000 texts per language and source, and a second, unseen 1,000): mean
//! accuracy 0.97 on tweets in ar de en es fr it pt, 0.998 on reviews in de en es fr ja zh, about 0.45–0.5 on
//! the Hindi tweets (of which many are in English), 0.93 on Indonesian; Malay mostly comes out as Indonesian.
//! 1 % of tweets are "und". About 44,000 mixed-language texts a second on one core, more on English text,
//! whose whichlang answer is checked against Indonesian alone.
//!
//! Architecture Invariant: pure functions (no IO, no clock; the whatlang detectors are built once per thread)
//! that never panic, whatever the input.

use crate::mention::Platform;

/// The code for "too short to tell" (BCP 47 "undetermined").
pub const UNDETERMINED: &str = "und";

/// Where a mention's language came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LangSource {
    /// The platform tagged the mention (or the imported record said so).
    Platform,
    /// hearsay detected it from the text.
    Detected,
}

impl LangSource {
    /// As stored in `mentions.lang_source`.
    pub fn as_str(self) -> &'static str {
        match self {
            LangSource::Platform => "platform",
            LangSource::Detected => "detected",
        }
    }
}

/// A mention's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Language {
    /// ISO 639-1 code, lower-case (`de`), or [`UNDETERMINED`]. A platform's tag without a two-letter form
    /// keeps its primary subtag (`fil`).
    pub code: String,
    pub source: LangSource,
    /// How sure detection is of `code`, 0–1: set whenever `code` is detection's answer (also when it confirmed
    /// a checked platform tag); `None` for a platform's tag taken as given, and for "und".
    pub confidence: Option<f32>,
}

impl Language {
    /// Whether a language was determined (not "und").
    pub fn is_determined(&self) -> bool {
        self.code != UNDETERMINED
    }
}

/// A detection this sure or surer overrides a checked platform tag (Mastodon, Bluesky) it disagrees with.
/// At this confidence detection is right on 98 % or more of the evaluation's texts (`tools/eval-langid`).
pub const OVERRIDE_CONFIDENCE: f32 = 0.9;

/// Fewer letters than this (outside links, handles and hashtags) in an alphabetic script: "und". Below it,
/// detection is right on fewer than two texts in three.
const MIN_LETTERS: usize = 10;

/// The same for a text mostly in another script (Arabic, Cyrillic, Devanagari, Greek, …), where the script
/// says much of the answer.
const MIN_LETTERS_OTHER: usize = 3;

/// Fewer Chinese, Japanese or Korean characters than this: "und". One character is often a symbol or a name.
const MIN_CJK: usize = 2;

/// The mention's language: its platform tag, checked where the platform lets authors pick it freely, or
/// detected from `text` when there is no usable tag. `text` is what the mention says (title and text).
pub fn resolve(platform: Option<Platform>, tag: Option<&str>, text: &str) -> Language {
    let Some(code) = tag.and_then(normalise_tag) else {
        let (code, confidence) = detect_code(text);
        let confidence = (code != UNDETERMINED).then_some(confidence);
        return Language { code: code.to_string(), source: LangSource::Detected, confidence };
    };
    if !matches!(platform, Some(Platform::Mastodon | Platform::Bluesky)) {
        return Language { code, source: LangSource::Platform, confidence: None };
    }
    let (detected, confidence) = detect_code(text);
    if detected == code {
        Language { code, source: LangSource::Platform, confidence: Some(confidence) }
    } else if detected != UNDETERMINED && confidence >= OVERRIDE_CONFIDENCE {
        Language { code: detected.to_string(), source: LangSource::Detected, confidence: Some(confidence) }
    } else {
        Language { code, source: LangSource::Platform, confidence: None }
    }
}

/// [`resolve`] for a mention record: its platform (by name), its `lang` tag, its title and text.
pub fn of_mention(m: &crate::mention::NewMention) -> Language {
    of_parts(&m.platform, m.lang.as_deref(), m.title.as_deref(), &m.text)
}

/// [`resolve`] for a mention's parts as stored: the platform's name, its tag, its title and text.
pub fn of_parts(platform: &str, tag: Option<&str>, title: Option<&str>, text: &str) -> Language {
    let platform = platform.parse::<Platform>().ok();
    match title.filter(|t| !t.trim().is_empty()) {
        Some(title) => resolve(platform, tag, &format!("{title}\n{text}")),
        None => resolve(platform, tag, text),
    }
}

/// A platform's language tag reduced to its lower-case primary subtag (`pt-BR` → `pt`, `EN_gb` → `en`);
/// `None` for no tag, "und", or something that is not a language tag at all (`English`, `12`).
pub fn normalise_tag(tag: &str) -> Option<String> {
    let primary = tag.trim().split(['-', '_']).next().unwrap_or("");
    let ok = (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let primary = primary.to_ascii_lowercase();
    (ok && primary != UNDETERMINED).then_some(primary)
}

/// The language of `text` as an ISO 639-1 code, with a confidence (0–1); "und" when the text has too few
/// letters to tell.
pub fn detect(text: &str) -> (String, f32) {
    let (code, confidence) = detect_code(text);
    (code.to_string(), confidence)
}

fn detect_code(text: &str) -> (&'static str, f32) {
    let clean = Cleaned::of(text);
    let cjk = clean.han + clean.kana + clean.hangul;
    if cjk >= MIN_CJK && cjk * 2 >= clean.letters {
        // whatlang's own rule, stated plainly: any kana makes it Japanese, Hangul Korean, Han alone Chinese.
        let code = if clean.kana * 20 >= cjk {
            "ja"
        } else if clean.hangul >= clean.han {
            "ko"
        } else {
            "zh"
        };
        return (code, script_confidence(cjk, 12));
    }
    let min = if clean.latin * 2 >= clean.letters { MIN_LETTERS } else { MIN_LETTERS_OTHER };
    if clean.letters < min {
        return (UNDETERMINED, 0.0);
    }
    if clean.latin * 2 < clean.letters {
        let Some(info) = WHATLANG.with(|d| d.detect(&clean.text)) else {
            return (UNDETERMINED, 0.0);
        };
        // Within a script shared by several languages, an unsure answer is the script's most common one: a short
        // Arabic tweet that looks a little Persian is Arabic.
        let main = match info.script() {
            whatlang::Script::Arabic => Some("ar"),
            whatlang::Script::Cyrillic => Some("ru"),
            whatlang::Script::Devanagari => Some("hi"),
            _ => None,
        };
        return match main {
            Some(main) if info.confidence() < SCRIPT_CONFIDENCE => (main, 0.7),
            _ => (iso639_1(info.lang()), info.confidence() as f32),
        };
    }
    if let Some(c) = hinglish(&clean.text) {
        return ("hi", c);
    }
    // whichlang picks among its Latin languages; whatlang then weighs that guess against the Latin languages
    // whichlang does not know (only those: scoring every language is what costs the time).
    let guess = iso639_1_whichlang(whichlang::detect_language(&clean.text));
    let Some(slot) = WHICHLANG_LATIN.iter().position(|(code, _)| *code == guess) else {
        // A non-Latin answer for a Latin text: only whatlang can say.
        return match WHATLANG.with(|d| d.detect(&clean.text)) {
            Some(info) => (iso639_1(info.lang()), (info.confidence() as f32).min(0.6)),
            None => (UNDETERMINED, 0.0),
        };
    };
    let Some(info) = LATIN.with(|d| d[slot].detect(&clean.text)) else {
        return (guess, 0.6);
    };
    // Confidences as measured (tools/eval-langid, accuracy per branch and length).
    let length = |full: f32| (clean.latin as f32 / full).min(1.0);
    let other = iso639_1(info.lang());
    let (code, confidence) = if other == guess && guess == "en" {
        // Checked against one language only, agreement says less about a short text ("super produkt").
        (guess, 0.75 + 0.24 * length(60.0))
    } else if other == guess {
        (guess, 0.93 + 0.06 * length(40.0))
    } else if info.confidence() >= if guess == "en" { OUTSIDE_CONFIDENCE_EN } else { OUTSIDE_CONFIDENCE }
        || (FALLBACK_GUESSES.contains(&guess) && info.confidence() >= OUTSIDE_CONFIDENCE_FALLBACK)
    {
        (other, 0.7 + 0.28 * length(80.0))
    } else {
        (guess, 0.6 + 0.3 * length(80.0))
    };
    if code == "id" {
        if let Some(c) = malay(&clean.text) {
            return ("ms", c.min(confidence));
        }
    }
    (code, confidence.clamp(0.0, 1.0))
}

/// whatlang's confidence (0–1) that a Latin text is in a language whichlang does not know, needed before its
/// answer replaces whichlang's.
const OUTSIDE_CONFIDENCE: f64 = 0.5;

/// The same, against whichlang's "en", which is checked against Indonesian alone. whatlang takes plain English
/// for Catalan or Danish at 0.5–0.7 ("Got my replacement card in two days after losing my wallet in Leipzig.
/// Brilliant service." → Catalan, 0.53), and an English mention so misread would go unlabelled; Indonesian is
/// the one language whichlang often calls English (0.93 → 0.87 of Indonesian texts without this check). Scoring
/// two languages instead of thirteen is also most of detection's cost on English text, most of what brands hear
/// (`hearsay import` of generated English mentions: 31,000/s with thirteen, 84,000/s before detection existed).
const OUTSIDE_CONFIDENCE_EN: f64 = 0.9;

/// What whichlang tends to answer for a Latin text in a language it does not know (Indonesian, Malay, Polish):
/// after these, a less confident whatlang answer outside whichlang's languages is taken.
const FALLBACK_GUESSES: [&str; 4] = ["tr", "vi", "sv", "nl"];
const OUTSIDE_CONFIDENCE_FALLBACK: f64 = 0.1;

/// Below this whatlang confidence, a text in a script several languages share gets the script's main language.
const SCRIPT_CONFIDENCE: f64 = 0.5;

/// The Latin-script languages whichlang chooses between, with whatlang's name for each.
const WHICHLANG_LATIN: [(&str, whatlang::Lang); 10] = [
    ("en", whatlang::Lang::Eng),
    ("de", whatlang::Lang::Deu),
    ("fr", whatlang::Lang::Fra),
    ("es", whatlang::Lang::Spa),
    ("it", whatlang::Lang::Ita),
    ("pt", whatlang::Lang::Por),
    ("nl", whatlang::Lang::Nld),
    ("sv", whatlang::Lang::Swe),
    ("tr", whatlang::Lang::Tur),
    ("vi", whatlang::Lang::Vie),
];

/// The Latin-script languages whichlang does not know that whatlang looks for. Left out, to keep detection
/// fast: the Baltic languages, Slovenian, Azerbaijani, Afrikaans, Welsh and the rest, which come out as a
/// neighbour (Lithuanian as Polish or Finnish, say).
const OUTSIDE_LATIN: [whatlang::Lang; 12] = [
    whatlang::Lang::Ind,
    whatlang::Lang::Pol,
    whatlang::Lang::Dan,
    whatlang::Lang::Nob,
    whatlang::Lang::Fin,
    whatlang::Lang::Ces,
    whatlang::Lang::Slk,
    whatlang::Lang::Hrv,
    whatlang::Lang::Ron,
    whatlang::Lang::Hun,
    whatlang::Lang::Cat,
    whatlang::Lang::Tgl,
];

thread_local! {
    /// Texts in other scripts: every whatlang language but those that are rarely what a mention is written in
    /// and often what a short text in another language looks like.
    static WHATLANG: whatlang::Detector = whatlang::Detector::with_denylist(vec![
        whatlang::Lang::Lat,
        whatlang::Lang::Epo,
        whatlang::Lang::Jav,
        whatlang::Lang::Aka,
        whatlang::Lang::Zul,
        whatlang::Lang::Sna,
        whatlang::Lang::Tuk,
        whatlang::Lang::Yid,
    ]);
    /// Latin texts: per whichlang answer, that language against [`OUTSIDE_LATIN`]; English only against
    /// Indonesian (see [`OUTSIDE_CONFIDENCE_EN`]).
    static LATIN: [whatlang::Detector; 10] = WHICHLANG_LATIN.map(|(code, guess)| {
        let mut allow = if code == "en" { vec![whatlang::Lang::Ind] } else { OUTSIDE_LATIN.to_vec() };
        allow.push(guess);
        whatlang::Detector::with_allowlist(allow)
    });
}

/// A confidence that grows with the number of characters of a script that decides the language by itself.
fn script_confidence(chars: usize, sure_at: usize) -> f32 {
    (0.7 + 0.3 * chars as f32 / sure_at as f32).min(1.0)
}

/// The text as detection sees it, and its letters by script.
struct Cleaned {
    /// Lower-case words, links, handles and hashtags left out, runs of one letter cut to two.
    text: String,
    letters: usize,
    latin: usize,
    han: usize,
    kana: usize,
    hangul: usize,
}

impl Cleaned {
    fn of(raw: &str) -> Cleaned {
        let mut c =
            Cleaned { text: String::with_capacity(raw.len()), letters: 0, latin: 0, han: 0, kana: 0, hangul: 0 };
        let mut hashtags: Vec<&str> = Vec::new();
        for word in raw.split_whitespace() {
            // `http` alone: what a shortened link leaves behind in some exports.
            let noise = word.starts_with('@')
                || word.starts_with("www.")
                || word.contains("://")
                || word == "RT"
                || (word.starts_with("http") && word.len() <= 5);
            if let Some(tag) = word.strip_prefix('#') {
                hashtags.push(tag);
            } else if !noise {
                c.push_word(word);
            }
        }
        // A text of hashtags only (`#Krankenhaus #chillen #Kopfschmerzen`) still says something.
        if c.letters < MIN_LETTERS {
            for tag in hashtags {
                c.push_word(tag);
            }
        }
        c
    }

    fn push_word(&mut self, word: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        let (mut last, mut run) = ('\0', 0);
        for ch in word.chars().flat_map(char::to_lowercase) {
            run = if ch == last { run + 1 } else { 1 };
            last = ch;
            if run > 2 && ch.is_alphabetic() {
                continue;
            }
            self.text.push(ch);
            if ch.is_alphabetic() {
                self.letters += 1;
                match ch as u32 {
                    0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => self.latin += 1,
                    0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => self.kana += 1,
                    0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => self.hangul += 1,
                    0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F => self.han += 1,
                    _ => {}
                }
            }
        }
    }
}

/// Hindi function words, pronouns and everyday verbs (with their chat spellings) that are not also words of
/// English, German, French, Spanish, Italian, Portuguese, Indonesian or Malay. Sorted (binary search).
const HINDI_STRONG: [&str; 160] = [
    "aaj", "aap", "aapka", "aapke", "aapki", "abhi", "accha", "achcha", "achha", "apna", "apne", "apni", "aur", "baat",
    "bahot", "bahut", "baje", "bhai", "bhaijaan", "bhaiya", "bhi", "bhot", "bht", "bhut", "bilkul", "bohot", "chahiye",
    "chal", "chalo", "dekh", "dekho", "diya", "dosto", "doston", "ek", "gaya", "gaye", "gayi", "ghar", "haan", "hain",
    "hamara", "hamare", "hamari", "hoga", "hogi", "hoon", "hota", "hote", "hoti", "hua", "hui", "hum", "humein",
    "iska", "iske", "iski", "isliye", "jaana", "jab", "jaise", "jayega", "jayegi", "kaam", "kab", "kabhi", "kaha",
    "kahan", "kahi", "kaisa", "kaise", "kaisi", "karega", "karegi", "karenge", "karna", "karo", "karta", "karte",
    "karti", "kaun", "kisi", "kitna", "kitne", "kitni", "kiya", "kiye", "koi", "kr", "krna", "kro", "kuch", "kya",
    "kyaa", "kyon", "kyu", "kyun", "kyunki", "lagta", "lagti", "lekin", "liye", "logon", "maine", "matlab", "meri",
    "milte", "mje", "mujhe", "nahi", "nahin", "nhi", "pehla", "pehle", "pyaar", "pyar", "raha", "rahe", "rahega",
    "rahi", "raho", "rha", "rhe", "rhi", "saath", "sabhi", "sabse", "sahi", "samajh", "sb", "sirf", "suno", "tera",
    "tere", "teri", "tha", "theek", "thi", "thik", "thoda", "toh", "tum", "tumhara", "tumhari", "tumhe", "unko",
    "uska", "uske", "uski", "usko", "waah", "wahan", "wala", "wale", "wali", "yaar", "yahan", "yr", "zaroor",
    "zindagi",
];

/// As common in Hindi, but also words elsewhere (`se`, `to`, `mein`, `na`): they count half. Sorted.
const HINDI_WEAK: [&str; 31] = [
    "ab", "acha", "dil", "din", "h", "hai", "ho", "jo", "ka", "kar", "ke", "ki", "ko", "log", "mai", "main", "mat",
    "mein", "mera", "mere", "na", "nai", "par", "pata", "pe", "sab", "sach", "se", "to", "wo", "ye",
];

/// Hindi written in Latin letters (Hinglish): common Hindi words make up at least a fifth of the words, at
/// least one of them unambiguous ([`HINDI_STRONG`]) and one more that may be ambiguous ([`HINDI_WEAK`]).
fn hinglish(text: &str) -> Option<f32> {
    let (mut words, mut tokens, mut score) = (0usize, 0usize, 0.0f32);
    let mut strong = false;
    let mut seen: Vec<&str> = Vec::new();
    for w in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        words += 1;
        let weight = if HINDI_STRONG.binary_search(&w).is_ok() {
            strong = true;
            1.0
        } else if HINDI_WEAK.binary_search(&w).is_ok() {
            0.5
        } else {
            continue;
        };
        tokens += 1;
        if !seen.contains(&w) {
            seen.push(w);
            score += weight;
        }
    }
    (strong && score >= 1.5 && tokens * 5 >= words).then(|| (0.6 + 0.1 * score).min(0.9))
}

/// Malay rather than Indonesian: more Malay-only words than Indonesian-only ones (spellings and words that
/// differ between the two standards, and each one's everyday short forms).
fn malay(text: &str) -> Option<f32> {
    const MALAY: [&str; 12] =
        ["bahawa", "baharu", "cuba", "kat", "kerajaan", "kerana", "mahu", "nak", "percuma", "sahaja", "sikit", "wang"];
    const INDONESIAN: [&str; 22] = [
        "aja",
        "bahwa",
        "banget",
        "bikin",
        "coba",
        "dong",
        "enggak",
        "ga",
        "gak",
        "gue",
        "karena",
        "kalo",
        "kayak",
        "mau",
        "nggak",
        "pemerintah",
        "sih",
        "saja",
        "tuh",
        "uang",
        "udah",
        "yg",
    ];
    let (mut ms, mut id) = (0usize, 0usize);
    for w in text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty()) {
        ms += MALAY.contains(&w) as usize;
        id += INDONESIAN.contains(&w) as usize;
    }
    (ms > id).then_some(0.6)
}

fn iso639_1_whichlang(l: whichlang::Lang) -> &'static str {
    use whichlang::Lang::*;
    match l {
        Ara => "ar",
        Cmn => "zh",
        Deu => "de",
        Eng => "en",
        Fra => "fr",
        Hin => "hi",
        Ita => "it",
        Jpn => "ja",
        Kor => "ko",
        Nld => "nl",
        Por => "pt",
        Rus => "ru",
        Spa => "es",
        Swe => "sv",
        Tur => "tr",
        Vie => "vi",
    }
}

/// ISO 639-1 for each of whatlang's languages (all of them have one).
fn iso639_1(l: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match l {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
        Cym => "cy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_short_texts_in_each_language() {
        let rows: &[(&str, &str)] = &[
            ("en", "The customer service was terrible and nobody answered my emails"),
            ("en", "Acme support fixed my issue in minutes, great team"),
            // whatlang alone reads these as Catalan (0.53, 0.66) and Danish (0.58): whichlang's English stands.
            ("en", "Got my replacement Nimbus Bank card in two days after losing my wallet in Leipzig. Brilliant service."),
            ("en", "Not gonna lie, Question for Nimbus Bank users: can you set a monthly budget per category?"),
            ("en", "Okay so Had to borrow cash from a stranger at my local café because my Nimbus Bank card kept getting declined"),
            ("de", "Der Kundenservice ist eine Katastrophe, seit drei Wochen keine Erstattung"),
            ("de", "Lieferung kam pünktlich, alles bestens"),
            ("fr", "Le service client ne répond jamais, c'est inadmissible"),
            ("es", "El servicio al cliente es pésimo, nadie responde"),
            ("it", "Il servizio clienti non risponde mai, che vergogna"),
            ("pt", "O atendimento ao cliente é péssimo, ninguém responde"),
            ("nl", "De klantenservice reageert nooit op mijn berichten"),
            ("sv", "Kundtjänsten är hemsk, ingen svarar på mina mejl"),
            ("tr", "Müşteri hizmetleri berbat, kimse cevap vermiyor"),
            ("pl", "Obsługa klienta jest fatalna, nikt nie odpowiada na moje wiadomości"),
            ("id", "Layanan pelanggan sangat buruk, tidak ada yang membalas pesan saya sejak minggu lalu"),
            ("ar", "خدمة العملاء سيئة جدا ولم يرد أحد"),
            ("hi", "ग्राहक सेवा बहुत खराब है, कोई जवाब नहीं देता"),
            ("hi", "yaar ye app kaam hi nahi kar raha hai"),
            ("ja", "カスタマーサポートが最悪、3週間返金なし"),
            ("ja", "ありがとう"),
            ("zh", "客服态度太差了，三个星期都没有退款"),
            ("zh", "很好"),
            ("ko", "고객 서비스가 너무 나빠요"),
            ("ru", "Служба поддержки ужасная, никто не отвечает"),
            ("el", "Η εξυπηρέτηση πελατών είναι απαράδεκτη"),
        ];
        for &(want, text) in rows {
            let (code, confidence) = detect(text);
            assert_eq!(code, want, "{text:?}");
            assert!((0.0..=1.0).contains(&confidence), "{text:?}: {confidence}");
        }
    }

    #[test]
    fn mixed_scripts_go_by_the_main_one_and_handles_links_and_hashtags_do_not_count() {
        let rows: &[(&str, &str)] = &[
            ("en", "Bought the new 東京 edition yesterday and I love it"),
            ("ja", "新しいiPhoneのバッテリーが最悪です"),
            ("zh", "@acme 客服太差了 https://t.co/abc #fail"),
            ("ar", "RT @user: هاري بوتر؟👓🎩 http"),
            ("de", "#Krankenhaus #chillen #Kopfschmerzen #schwindelig #laufen"),
            ("en", "@SpamBot @Other_User https://example.com/x the refund never arrived and support ignores me"),
            ("pt", "AMEI AAAAAA MEU CRUSH TÁ AINDA NA COMPETIÇÃO AAAAA #MasterChefBR"),
        ];
        for &(want, text) in rows {
            assert_eq!(detect(text).0, want, "{text:?}");
        }
    }

    #[test]
    fn too_little_text_is_undetermined() {
        let rows = [
            "",
            "   ",
            "😡😡😡",
            "👍",
            "https://example.com/some/long/path?with=query",
            "www.example.com",
            "12345 !!! 67.89",
            "@user @other",
            "ok",
            "lol",
            "good job",
            "RT @user: http",
            "好",
            "\u{200f}\u{202e}\u{0301}\u{0000}",
        ];
        for text in rows {
            assert_eq!(detect(text), (UNDETERMINED.to_string(), 0.0), "{text:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        let long = "acme ".repeat(100_000);
        let odd = [
            long.as_str(),
            "\u{feff}\u{fffd}\u{fffd}",
            "a\u{0301}\u{0301}\u{0301}\u{0301}",
            "ﺇﺫﺍ ﻧﻄﻖ ﺍﻟﺰﻋﻴﻢ ﻓﻼ ﺗﺠﺒﻪُ",
            "\u{10ffff}\u{e000}𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "ǅǈǋ ßẞ İı",
        ];
        for text in odd {
            let (code, confidence) = detect(text);
            assert!(!code.is_empty() && (0.0..=1.0).contains(&confidence), "{code} {confidence}");
        }
    }

    #[test]
    fn resolve_takes_tags_as_given_except_where_authors_choose_them() {
        const GERMAN: &str =
            "Der Kundenservice ist eine Katastrophe, seit drei Wochen keine Erstattung, niemand antwortet";
        const ENGLISH: &str = "The customer service was terrible and nobody answered my emails";
        let lang = |code: &str, source: LangSource, confident: bool| (code.to_string(), source, confident);
        type Row<'a> = (Option<Platform>, Option<&'a str>, &'a str, (String, LangSource, bool));
        let rows: &[Row] = &[
            // No usable tag: detected.
            (Some(Platform::Reddit), None, GERMAN, lang("de", LangSource::Detected, true)),
            (None, None, ENGLISH, lang("en", LangSource::Detected, true)),
            (Some(Platform::Reddit), Some("und"), GERMAN, lang("de", LangSource::Detected, true)),
            (Some(Platform::Reddit), Some(""), GERMAN, lang("de", LangSource::Detected, true)),
            (Some(Platform::Feed), Some("English"), GERMAN, lang("de", LangSource::Detected, true)),
            (Some(Platform::Reddit), None, "👍 https://x.example", lang("und", LangSource::Detected, false)),
            // A platform's tag: its primary subtag, unchecked.
            (Some(Platform::Trustpilot), Some("de-DE"), ENGLISH, lang("de", LangSource::Platform, false)),
            (Some(Platform::YouTube), Some("EN_gb"), GERMAN, lang("en", LangSource::Platform, false)),
            (None, Some("pt-BR"), "", lang("pt", LangSource::Platform, false)),
            (Some(Platform::Feed), Some("fil"), ENGLISH, lang("fil", LangSource::Platform, false)),
            // Mastodon and Bluesky: checked; a confident detection that disagrees wins.
            (Some(Platform::Mastodon), Some("en"), GERMAN, lang("de", LangSource::Detected, true)),
            (Some(Platform::Bluesky), Some("en"), GERMAN, lang("de", LangSource::Detected, true)),
            (Some(Platform::Mastodon), Some("de"), GERMAN, lang("de", LangSource::Platform, true)),
            (Some(Platform::Mastodon), Some("en-US"), ENGLISH, lang("en", LangSource::Platform, true)),
            // … and the tag stands where detection cannot tell or is unsure.
            (Some(Platform::Mastodon), Some("de"), "ok 👍", lang("de", LangSource::Platform, false)),
            (Some(Platform::Bluesky), Some("de"), "super produkt", lang("de", LangSource::Platform, false)),
            (Some(Platform::Bluesky), Some("fr"), "merci beaucoup", lang("fr", LangSource::Platform, true)),
        ];
        for (platform, tag, text, want) in rows {
            let got = resolve(*platform, *tag, text);
            assert_eq!(
                &(got.code.clone(), got.source, got.confidence.is_some()),
                want,
                "{platform:?} {tag:?} {text:?}"
            );
            assert!(got.confidence.is_none_or(|c| (0.0..=1.0).contains(&c)));
        }
    }

    #[test]
    fn of_mention_reads_the_title_too() {
        let m = crate::mention::NewMention {
            platform: "reddit".into(),
            external_id: "1".into(),
            url: None,
            author: None,
            title: Some("Kundenservice eine Katastrophe".into()),
            text: "seit drei Wochen keine Erstattung".into(),
            created_at: chrono::Utc::now(),
            kind: crate::mention::MentionKind::Post,
            lang: None,
            rating: None,
            metrics: Default::default(),
            parent_id: None,
            location: None,
        };
        let l = of_mention(&m);
        assert_eq!((l.code.as_str(), l.source), ("de", LangSource::Detected));
        assert_eq!(of_mention(&crate::mention::NewMention { lang: Some("fr-CA".into()), ..m }).code, "fr");
    }

    #[test]
    fn normalise_tag_keeps_the_primary_subtag() {
        let rows = [
            ("en", Some("en")),
            ("pt-BR", Some("pt")),
            ("EN_gb", Some("en")),
            (" de ", Some("de")),
            ("zh-Hant-TW", Some("zh")),
            ("fil", Some("fil")),
            ("und", None),
            ("UND", None),
            ("", None),
            ("English", None),
            ("e", None),
            ("12", None),
            ("en!", None),
        ];
        for (tag, want) in rows {
            assert_eq!(normalise_tag(tag).as_deref(), want, "{tag:?}");
        }
    }

    #[test]
    fn hinglish_word_lists_are_sorted_and_disjoint() {
        assert!(HINDI_STRONG.windows(2).all(|w| w[0] < w[1]));
        assert!(HINDI_WEAK.windows(2).all(|w| w[0] < w[1]));
        assert!(HINDI_STRONG.iter().all(|w| !HINDI_WEAK.contains(w)));
        let text = "aap abhi yaar zindagi";
        assert!(hinglish(text).is_some());
        assert!(hinglish("the customer service was terrible").is_none());
        assert!(hinglish("se non è vero è ben trovato, ma").is_none());
    }
}
