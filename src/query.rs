//! Brand queries: the small boolean language users write in `[[brands]] query`, and the matcher that
//! decides whether a stored mention is about a brand.
//!
//! # How it is used
//!
//! Config loading compiles every brand once with [`BrandMatcher::new`] (query, exclusion lists and
//! languages, each error naming its field and column). For each new mention the caller builds one
//! [`MatchText`] (the title and text tokenised and lower-cased once) and asks every brand
//! [`BrandMatcher::matches`] with a [`Candidate`]; the [`Match`] lists the query terms that were found, for
//! alert emails. Sources whose platform search is weaker than this language ask the platform for
//! [`BrandMatcher::search_terms`] (the positive terms, as an OR or one by one) and let this module filter
//! locally with the full query. Sources that are about the brand by construction (its own review pages)
//! skip the query and only ask [`BrandMatcher::excluded`].
//!
//! Architecture Invariant: pure functions over strings. No IO, no clock, no config types (callers pass the
//! settings in), so `config`, `import` and `sources` share one matcher and tests need no setup.
//!
//! # The language
//!
//! ```text
//! query   := or
//! or      := and ( "OR" and )*
//! and     := not ( ["AND"] not )*          adjacent terms are ANDed
//! not     := near ( ["AND"] "NOT" near )*  `a NOT b` = a and not b, left-associative
//! near    := primary [ "NEAR/" n primary ] n in 0..=1000
//! primary := word | "phrase" | "(" or ")"
//! ```
//!
//! Precedence from tight to loose: `NEAR/n`, `NOT` (also spelt `AND NOT`), `AND` (explicit or implicit),
//! `OR`. Keywords are operators only when written in upper case (`and`, `or`, `not`, `near` are ordinary
//! words; quote `"AND"` to search for the word itself). `NOT` is binary on purpose: a query that is only
//! negative cannot be searched for, so `NOT recall` alone is an error and every match contains at least one
//! positive term. Parentheses nest at most 32 deep.
//!
//! * **Words** match whole words, case-insensitively: `acme` matches "Acme's", "#acme", "@acme", "ACME!"
//!   but not "acmeville". Punctuation inside a written word splits it like it splits text, so `acme's` is the
//!   phrase "acme s" and `#acme` is just `acme`.
//! * **Phrases** `"acme rockets"` match consecutive words (punctuation between them is ignored). Straight
//!   and curly double quotes both work.
//! * **Wildcards** `*` stand for any run of characters inside one word: `acme*` (prefix), `*acme`,
//!   `colo*r`. They work in phrases too. A `*` with no letters next to it is an error.
//! * **`a NEAR/n b`** matches when an occurrence of `a` and one of `b` have at most `n` words between them,
//!   in either order, without overlapping (`NEAR/0` = adjacent). Each side is a word, a phrase or a
//!   parenthesised OR of those: `(acme OR acmecorp) NEAR/3 (outage OR down)`.
//!
//! Text is split into words at Unicode letters and digits (plus `_` and the combining marks written on them:
//! accents, Devanagari vowel signs and viramas are never boundaries); everything else (spaces, punctuation
//! such as the Devanagari danda `।` and the Arabic comma and question mark `، ؟`, symbols, emoji) separates
//! words. A word also ends where the script changes between Arabic, Hebrew, each Indic script and the rest,
//! so that `iphone` finds "لـiPhone" and `tata` finds "Tataमोटर्स". Title and text are separate: a phrase or
//! NEAR never spans from the end of the title into the text.
//!
//! **Invisible characters are skipped**, in text and query alike, as if they were not there: the soft hyphen,
//! zero-width space, (non-)joiners, word joiner and BOM, right-to-left and left-to-right marks, embeddings and
//! isolates (U+200E/F, U+202A–E, U+2066–9, U+061C), variation selectors and tags (Unicode's default-ignorable
//! code points). So `nestle` finds "Nestlé" hyphenated with a soft hyphen (U+00AD), and `acme` finds "acme"
//! right after an emoji sequence joined by U+200D.
//!
//! **Case** is Unicode lower-casing plus a few foldings so that obvious spellings meet: `ß`/`ẞ` fold to `ss`
//! (`Straße` = `STRASSE`), `İ` folds to `i` (not `i̇`), final `ς` to `σ`, full-width ASCII (`ＡＣＭＥ`) to
//! ASCII and half-width katakana (`ｿﾆｰ`) to full-width (`ソニー`).
//!
//! **Accents are asymmetric.** Text and query are compared after canonical decomposition (Unicode NFD), so `é`
//! and `e` + U+0301 are the same. A query word written *without* accents matches any accented form: `nestle`
//! finds "Nestlé", `cafe` "café", `muller` "Müller", `espana` "España", `viet` "Việt", `ежик` "Ёжик"; a
//! word written *with* any accent matches only words with exactly those accents (`café` does not find "cafe",
//! `résume` does not find "résumé"). This is decided per word, so `"crème brulee"` finds
//! "crème brûlée" but not "creme brûlée". The accents are the combining marks of U+0300–036F and the other
//! combining-diacritics blocks, and the nukta of Indic scripts (`जोमैटो` finds "ज़ोमैटो"). Letters that Unicode
//! does not decompose but that plain spellings write without their stroke or ligature fold the same way:
//! `ø`→o, `æ`→ae, `œ`→oe, `ł`→l, `đ`/`ð`→d, `ħ`→h, `þ`→th, and Turkish dotless `ı`→i (`yapi` finds "Yapı";
//! `ı` in a query matches only `ı`). `ß` is not an accent but a case pair: `strasse` = `straße`, both ways.
//! Greek capitals are written without the tonos, so write Greek queries without it (`αθηνα` finds "Αθήνα"
//! and "ΑΘΗΝΑ"; `αθήνα` does not find "ΑΘΗΝΑ").
//!
//! **Arabic** (and Hebrew) vowel marks are ignored on both sides: harakat, shadda, sukun, tatweel `ـ`, and
//! hamza and madda on a letter, so `أرامكو` = `ارامكو` = `أَرَامْكُو`; Hebrew points likewise. Letters written
//! more than one way are folded on both sides as search engines do: `ة`→`ه`, `ى`/`ی`→`ي`, `ک`→`ك`, `ٱ`→`ا`.
//! The first word of an Arabic term may carry the **proclitics** written attached to any noun: a conjunction
//! `و`/`ف`, then a preposition `ب`/`ل`/`ك`, then the article `ال` (after `ل` the article's alef is not
//! written: `للبنك`). So `أرامكو` finds "وأرامكو", "لأرامكو", "فبأرامكو"; `بنك` finds "البنك", "بالبنك",
//! "للبنك"; an article written in the query is required (`البنك` finds "للبنك" but not "بنك"). Other
//! prefixes (the future `س`, Persian and Hebrew prefixes) and suffixes (possessive pronouns) are not removed.
//!
//! **Scripts written without spaces** (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) and Korean Hangul
//! (whose particles attach to nouns: 삼성이, 삼성은) cannot be split into words without a dictionary, so a
//! run of such characters is one token and a query term in those scripts matches as a **substring** of it:
//! `手机` matches "我的新手机". Consequences: such a term can match inside a longer word, and NEAR distances
//! count a whole run as one word. In phrases, write these scripts without spaces, as they appear in text.
//! These runs are not decomposed (a Hangul syllable is not its jamo, `カ` does not find "ガ"); text that spells
//! them decomposed (kana + U+3099, Hangul jamo) is composed, and CJK compatibility ideographs are read as
//! their unified twins.
//!
//! # What it deliberately does not do
//!
//! No IO, no allocation-heavy work per mention beyond the one [`MatchText`], no regex. No stemming
//! (`rocket` does not match "rockets"; write `rocket*`), no fuzzy matching, no compatibility normalisation
//! beyond the foldings above (ligatures such as `ﬁ`, circled or mathematical letters, Arabic presentation
//! forms are compared as they are), no transliteration between scripts or between simplified and
//! traditional Chinese (`手机` does not find "手機"). A platform's own search may not fold accents the way
//! this module does: `search_terms` sends the query's spelling, and what the platform does not return
//! cannot be matched here. Domains
//! are compared as written: internationalised domains must be written the way the URLs carry them
//! (usually punycode, `xn--…`).

use std::fmt;

use icu_normalizer::properties::{
    CanonicalCombiningClassMapBorrowed, CanonicalCompositionBorrowed, CanonicalDecompositionBorrowed, Decomposed,
};
use icu_properties::props::{GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointMapDataBorrowed};

/// Largest distance `NEAR/n` accepts. Also bounds the gap between title and text positions.
const MAX_NEAR: u32 = 1000;
/// Position gap between title and text: more than any NEAR distance, so nothing spans the two.
const SEGMENT_GAP: u32 = MAX_NEAR + 2;
/// Deepest parenthesis nesting accepted, so that a hostile config cannot overflow the parser's stack.
const MAX_DEPTH: usize = 32;

/// A query (or exclusion entry) that does not parse: a config error the user fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// 1-based position of the offending character, counted in characters (not bytes).
    pub column: usize,
    pub message: String,
}

impl QueryError {
    fn new(column: usize, message: impl Into<String>) -> Self {
        QueryError { column, message: message.into() }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at column {}", self.message, self.column)
    }
}

impl std::error::Error for QueryError {}

/// The positive query terms a mention contained: lower-cased as written in the query (phrases without
/// their quotes), deduplicated, in query order. Terms under `NOT` are never listed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Match {
    pub terms: Vec<String>,
}

// ---------------------------------------------------------------------------------------------------------
// Folding and tokenising, shared by text and query so that both sides split words the same way.
//
// Every token has two forms. The *plain* form is lower-cased with accents removed; the *exact* form keeps the
// accents, decomposed and in canonical order, so that "é" and "e" + U+0301 are the same. A query word written
// without accents is compared with the plain form of text words, one written with accents with their exact
// form. Most tokens have no accents, and then the two forms are one string.

// Unicode data from ICU4X, which the build already has for `url`'s international domain names.
const DECOMPOSE: CanonicalDecompositionBorrowed<'static> = CanonicalDecompositionBorrowed::new();
const COMPOSE: CanonicalCompositionBorrowed<'static> = CanonicalCompositionBorrowed::new();
const COMBINING_CLASS: CanonicalCombiningClassMapBorrowed<'static> = CanonicalCombiningClassMapBorrowed::new();
const CATEGORY: CodePointMapDataBorrowed<'static, GeneralCategory> = CodePointMapData::<GeneralCategory>::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters, digits, `_` and the marks on them: words separated by anything else.
    Word,
    /// Scripts without spaces between words: a run is one token, matched by substring.
    NoSpace,
    /// Whitespace, punctuation, symbols, emoji.
    Sep,
}

/// Characters that are skipped as if they were not there, on both sides: invisible format characters (soft
/// hyphen, zero-width space, (non-)joiners, word joiner, BOM, bidirectional marks, embeddings and isolates,
/// variation selectors, tags: Unicode's default-ignorable code points), Arabic tatweel and harakat (vowel
/// signs, shadda, sukun, hamza and madda written above or below a letter, Quranic marks) and Hebrew points.
fn is_ignored(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF
        | 0xFFA0 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF
        // Arabic: tatweel, harakat and other marks on letters
        | 0x0610..=0x061A | 0x0640 | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06DC | 0x06DF..=0x06E4
        | 0x06E7..=0x06E8 | 0x06EA..=0x06ED | 0x08CA..=0x08E1 | 0x08E3..=0x08FF
        // Hebrew points and cantillation
        | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2 | 0x05C4..=0x05C5 | 0x05C7
    )
}

fn is_no_space_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF        // Thai, Lao
        | 0x1000..=0x109F      // Myanmar
        | 0x1100..=0x11FF      // Hangul Jamo
        | 0x1780..=0x17FF      // Khmer
        | 0x3005..=0x3007      // ideographic iteration marks, 〇
        | 0x3040..=0x30FA      // Hiragana, Katakana (30FB ・ is punctuation)
        | 0x30FC..=0x30FF
        | 0x3130..=0x318F      // Hangul compatibility Jamo
        | 0x31F0..=0x31FF      // Katakana extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xAC00..=0xD7AF      // Hangul syllables
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFFDC      // half-width Katakana and Hangul
        | 0x20000..=0x3FFFF    // CJK extensions B and later
    )
}

/// Marks that a query word written without them need not have: the accents of the Latin, Greek and Cyrillic
/// alphabets (the combining marks their precomposed letters decompose into) and the nukta of Indic scripts.
fn is_accent(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
        | 0x093C | 0x09BC | 0x0A3C | 0x0ABC | 0x0B3C | 0x0C3C | 0x0CBC
    )
}

/// Plain forms of letters that Unicode does not decompose but that are written without their stroke or
/// ligature where accents are dropped: `orsted` finds "Ørsted", `lodz` finds "Łódź", `istanbul` finds "ıstanbul".
fn plain_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ð' | 'đ' => "d",
        'ħ' => "h",
        'ı' => "i",
        'ł' => "l",
        'þ' => "th",
        _ => return None,
    })
}

/// Arabic letters written in more than one way, folded on both sides to the form search engines use
/// (alef wasla to alef, teh marbuta to heh, alef maksura and Farsi yeh to yeh, keheh to kaf). Alef with hamza
/// or madda becomes plain alef by decomposition, since hamza and madda are ignored.
fn arabic_variant(c: char) -> Option<char> {
    Some(match c {
        'ٱ' => 'ا',
        'ة' => 'ه',
        'ى' | 'ی' => 'ي',
        'ک' => 'ك',
        _ => return None,
    })
}

/// Scripts whose words may touch words of another script without a space (Arabic clitics before a Latin
/// name: "لـiPhone"); a change between them ends a word. Each Indic script is its own group (one 128-code-point
/// block each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Latin, Greek, Cyrillic and every other script.
    Other,
    Arabic,
    Hebrew,
    /// Devanagari to Sinhala, by block.
    Indic(u8),
}

fn script_of(c: char) -> Script {
    match c as u32 {
        0x0590..=0x05FF | 0xFB1D..=0xFB4F => Script::Hebrew,
        0x0600..=0x06FF | 0x0750..=0x077F | 0x0870..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => Script::Arabic,
        n @ 0x0900..=0x0DFF => Script::Indic(((n - 0x0900) >> 7) as u8),
        // Vedic extensions, Devanagari extended
        0x1CD0..=0x1CFF | 0xA8E0..=0xA8FF => Script::Indic(0),
        _ => Script::Other,
    }
}

fn is_ascii_word_byte(b: u8) -> bool {
    ASCII_WORD[usize::from(b & 0x7f)] && b.is_ascii()
}

/// `[0-9A-Za-z_]`, as a table: this test runs once per byte of every mention.
const ASCII_WORD: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
        b += 1;
    }
    t
};

/// One token of [`split`]: byte ranges in the buffer. The plain form is `start..end`; the exact form follows
/// it at `end..exact_end` when the two differ, else `exact_end == end`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    exact_end: usize,
    class: Class,
}

/// Folds `s` and splits it into tokens, appending the tokens' characters to `buf` (separators are not
/// kept) and calling `emit` with each token's [`Span`].
///
/// With `keep_stars` (query side), `*` is part of the word it touches; a `*` touching no word becomes a
/// token of its own so that the caller can reject it.
fn split(s: &str, keep_stars: bool, buf: &mut String, emit: impl FnMut(Span)) {
    let mut sp = Splitter {
        buf,
        exact: String::new(),
        accented: false,
        marks: Vec::new(),
        emit,
        keep_stars,
        run: Class::Sep,
        run_script: Script::Other,
        run_start: 0,
        stars: 0,
    };
    let mut rest = s;
    while let Some(&b) = rest.as_bytes().first() {
        // Most text is ASCII: its words are copied and lower-cased a run at a time, without decoding,
        // folding tables or Unicode properties.
        if is_ascii_word_byte(b) {
            let len = rest.bytes().position(|b| !is_ascii_word_byte(b)).unwrap_or(rest.len());
            sp.push_ascii_word(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if b.is_ascii() {
            if b == b'*' {
                sp.push_ascii_other(b);
            } else {
                sp.separate();
            }
            rest = &rest[1..];
            continue;
        }
        let mut chars = rest.chars();
        sp.push(chars.next().expect("not empty"));
        rest = chars.as_str();
    }
    sp.end_run();
    sp.flush_stars();
}

struct Splitter<'b, F> {
    buf: &'b mut String,
    /// The current token's exact form, once it differs from the plain form (`accented`).
    exact: String,
    accented: bool,
    /// Combining marks after the last base character, waiting to be put in canonical order:
    /// (combining class, mark, is an accent).
    marks: Vec<(u8, char, bool)>,
    emit: F,
    keep_stars: bool,
    /// Class of the token being built; `Sep` between tokens.
    run: Class,
    run_script: Script,
    run_start: usize,
    /// `*`s seen outside a token, waiting for the word they prefix.
    stars: usize,
}

impl<F: FnMut(Span)> Splitter<'_, F> {
    /// One non-ASCII character of the input.
    fn push(&mut self, c: char) {
        match c {
            c if is_ignored(c) => {}
            'ß' | 'ẞ' => self.push_ascii_word("ss"),
            // Lower-case İ is i + U+0307; the dot is not an accent here but part of the capital.
            'İ' => self.push_ascii_word("i"),
            'ς' => self.push_letter('σ'),
            '\u{FF01}'..='\u{FF5E}' => self.push_ascii_other((c as u32 - 0xFEE0) as u8),
            '\u{FF66}'..='\u{FF9F}' => self.push_no_space(half_width_kana(c)),
            c if is_no_space_script(c) => self.push_no_space(c),
            c => match arabic_variant(c) {
                Some(v) => self.push_letter(v),
                None => {
                    let category = CATEGORY.get(c);
                    // Only these categories have lower-case mappings (Other_Uppercase is Nl and So).
                    if matches!(
                        category,
                        GeneralCategory::UppercaseLetter
                            | GeneralCategory::TitlecaseLetter
                            | GeneralCategory::LetterNumber
                            | GeneralCategory::OtherSymbol
                    ) {
                        for l in c.to_lowercase() {
                            self.push_decomposed(l, None);
                        }
                    } else {
                        self.push_decomposed(c, Some(category));
                    }
                }
            },
        }
    }

    /// Pushes the canonical decomposition of `c`; `category` is `c`'s when the caller has it.
    fn push_decomposed(&mut self, c: char, category: Option<GeneralCategory>) {
        // Nothing below U+00C0 decomposes.
        let decomposed = if c < '\u{C0}' { Decomposed::Default } else { DECOMPOSE.decompose(c) };
        match decomposed {
            Decomposed::Default => self.push_atom(c, category),
            Decomposed::Singleton(a) => self.push_decomposed(a, None),
            Decomposed::Expansion(a, b) => {
                self.push_decomposed(a, None);
                self.push_decomposed(b, None);
            }
        }
    }

    /// One character that does not decompose further.
    fn push_atom(&mut self, c: char, category: Option<GeneralCategory>) {
        if c.is_ascii() {
            return self.push_ascii_other(c as u8);
        }
        if is_ignored(c) {
            return;
        }
        let category = category.unwrap_or_else(|| CATEGORY.get(c));
        if GeneralCategoryGroup::Mark.contains(category) {
            return self.push_mark(c);
        }
        let word = GeneralCategoryGroup::Letter.contains(category)
            || GeneralCategoryGroup::Number.contains(category)
            // Circled letters and the like: alphabetic symbols, words as before.
            || (category == GeneralCategory::OtherSymbol && c.is_alphabetic());
        if word {
            self.push_letter(c);
        } else {
            self.separate();
        }
    }

    /// A combining mark stays in the word it is written on: never a boundary, whatever its script.
    fn push_mark(&mut self, c: char) {
        if self.run == Class::Sep {
            return; // nothing to attach it to
        }
        let class = COMBINING_CLASS.get_u8(c);
        if class == 0 {
            self.flush_marks();
            self.put_mark(c, is_accent(c));
        } else {
            self.marks.push((class, c, is_accent(c)));
        }
    }

    /// Writes the pending marks in canonical order (stable by combining class).
    #[inline]
    fn flush_marks(&mut self) {
        if !self.marks.is_empty() {
            self.write_marks();
        }
    }

    #[inline(never)]
    fn write_marks(&mut self) {
        let mut marks = std::mem::take(&mut self.marks);
        marks.sort_by_key(|m| m.0);
        for &(_, c, accent) in &marks {
            self.put_mark(c, accent);
        }
        marks.clear();
        self.marks = marks;
    }

    fn put_mark(&mut self, c: char, accent: bool) {
        if accent {
            self.start_exact();
            self.exact.push(c);
        } else {
            self.push_both(c);
        }
    }

    /// A letter or digit of a word, not ASCII.
    fn push_letter(&mut self, c: char) {
        self.flush_marks();
        self.start_run(Class::Word, script_of(c));
        match plain_letter(c) {
            Some(plain) => {
                self.start_exact();
                self.buf.push_str(plain);
                self.exact.push(c);
            }
            None => self.push_both(c),
        }
    }

    #[inline(always)]
    fn push_ascii_word(&mut self, word: &str) {
        self.flush_marks();
        self.start_run(Class::Word, Script::Other);
        let at = self.buf.len();
        self.buf.push_str(word);
        self.buf[at..].make_ascii_lowercase();
        if self.accented {
            self.exact.push_str(&self.buf[at..]);
        }
    }

    /// An ASCII character that is not copied by the fast path: a word byte from folding, `*`, or a separator.
    fn push_ascii_other(&mut self, b: u8) {
        if is_ascii_word_byte(b) {
            let s = [b];
            self.push_ascii_word(std::str::from_utf8(&s).expect("ASCII"));
        } else if b == b'*' && self.keep_stars {
            self.flush_marks();
            if self.run == Class::Sep {
                self.stars += 1;
            } else {
                self.push_both('*');
            }
        } else {
            self.separate();
        }
    }

    fn push_no_space(&mut self, c: char) {
        self.flush_marks();
        // Canonical composition where text may come decomposed: kana + (semi-)voiced sound mark, Hangul jamo.
        if self.run == Class::NoSpace
            && !self.accented
            && matches!(c, '\u{3099}'..='\u{309A}' | '\u{1161}'..='\u{11C2}')
        {
            if let Some(prev) = self.buf[self.run_start..].chars().next_back() {
                if let Some(composed) = COMPOSE.compose(prev, c) {
                    self.buf.truncate(self.buf.len() - prev.len_utf8());
                    self.buf.push(composed);
                    return;
                }
            }
        }
        // CJK compatibility ideographs are canonically their unified twins.
        let c = match c {
            '\u{F900}'..='\u{FAFF}' => match DECOMPOSE.decompose(c) {
                Decomposed::Singleton(u) => u,
                _ => c,
            },
            c => c,
        };
        self.start_run(Class::NoSpace, Script::Other);
        self.push_both(c);
    }

    fn push_both(&mut self, c: char) {
        self.buf.push(c);
        if self.accented {
            self.exact.push(c);
        }
    }

    /// From here on the current token's exact form differs from its plain form: start it with what the two
    /// have had in common so far.
    fn start_exact(&mut self) {
        if !self.accented {
            self.accented = true;
            self.exact.clear();
            self.exact.push_str(&self.buf[self.run_start..]);
        }
    }

    #[inline(always)]
    fn start_run(&mut self, k: Class, script: Script) {
        if k != self.run || (k == Class::Word && script != self.run_script) {
            self.end_run();
            self.run = k;
            self.run_script = script;
            self.run_start = self.buf.len();
            if self.stars > 0 {
                self.buf.extend(std::iter::repeat_n('*', self.stars));
                self.stars = 0;
            }
        }
    }

    #[inline]
    fn separate(&mut self) {
        self.end_run();
        self.flush_stars();
    }

    #[inline]
    fn end_run(&mut self) {
        self.flush_marks();
        if self.run != Class::Sep {
            let end = self.buf.len();
            if self.accented {
                self.buf.push_str(&self.exact);
                self.accented = false;
            }
            (self.emit)(Span { start: self.run_start, end, exact_end: self.buf.len(), class: self.run });
            self.run = Class::Sep;
        }
    }

    /// A `*` touching no word is a token of its own, for the query parser to reject.
    #[inline]
    fn flush_stars(&mut self) {
        if self.stars > 0 {
            let start = self.buf.len();
            self.buf.extend(std::iter::repeat_n('*', self.stars));
            let end = self.buf.len();
            (self.emit)(Span { start, end, exact_end: end, class: Class::Word });
            self.stars = 0;
        }
    }
}

/// Half-width katakana (U+FF66–FF9F) as the full-width characters they stand for; the two half-width sound
/// marks become the combining ones, which [`Splitter::push_no_space`] composes with the kana before them.
fn half_width_kana(c: char) -> char {
    const FULL: &str = "ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン";
    match c {
        '\u{FF9E}' => '\u{3099}',
        '\u{FF9F}' => '\u{309A}',
        c => FULL.chars().nth(c as usize - 0xFF66).unwrap_or(c),
    }
}

/// The first 8 bytes of a word, zero-padded: compared before the word itself, so that most tokens are
/// rejected with one integer comparison (UTF-8 text has no zero bytes inside tokens).
fn key(word: &str) -> u64 {
    let mut b = [0u8; 8];
    let n = word.len().min(8);
    b[..n].copy_from_slice(&word.as_bytes()[..n]);
    u64::from_le_bytes(b)
}

/// Selects the key bytes of a prefix `len` bytes long.
fn key_mask(len: usize) -> u64 {
    if len >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    }
}

// ---------------------------------------------------------------------------------------------------------
// The mention side.

/// A mention's title and text, folded and split into words once, then matched against every brand.
#[derive(Debug, Clone, Default)]
pub struct MatchText {
    /// All token characters back to back; tokens are byte ranges into it.
    folded: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, Copy)]
struct Token {
    /// Plain form: `folded[start..end]`.
    start: usize,
    end: usize,
    /// [`key`] of the plain form.
    key: u64,
    /// Word position; text positions start `SEGMENT_GAP` after the title's last word.
    pos: u32,
    /// Exact form: `folded[end..end + exact_len]`, or the plain form when 0. (A word's exact form longer than
    /// 4 GiB, were there one, would be compared by its plain form: 32-byte tokens are faster to scan.)
    exact_len: u32,
}

impl MatchText {
    /// `title` is separate from `text` so that phrases and NEAR do not run from one into the other.
    pub fn new(title: Option<&str>, text: &str) -> Self {
        let mut folded = String::with_capacity(title.map_or(0, str::len) + text.len());
        // About one token per six bytes of English text; avoids most regrowth.
        let mut tokens = Vec::with_capacity((title.map_or(0, str::len) + text.len()) / 6 + 1);
        let mut pos = 0u32;
        let mut push = |s: Span, pos: &mut u32| {
            let exact_len = u32::try_from(s.exact_end - s.end).unwrap_or(0);
            tokens.push(Token { start: s.start, end: s.end, key: 0, pos: *pos, exact_len });
            *pos += 1;
        };
        if let Some(title) = title {
            split(title, false, &mut folded, |s| push(s, &mut pos));
            pos += SEGMENT_GAP;
        }
        split(text, false, &mut folded, |s| push(s, &mut pos));
        for t in &mut tokens {
            t.key = key(&folded[t.start..t.end]);
        }
        MatchText { folded, tokens }
    }

    fn plain(&self, t: &Token) -> &str {
        &self.folded[t.start..t.end]
    }

    fn exact(&self, t: &Token) -> &str {
        match t.exact_len {
            0 => self.plain(t),
            n => &self.folded[t.end..t.end + n as usize],
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The query side.

/// One word of a term, folded like text. Word pieces must equal a whole token (up to wildcards); pieces in
/// scripts without spaces are substrings of a token, anchored on the side where the phrase continues.
#[derive(Debug, Clone)]
struct Piece {
    /// What a token must match: the exact form when the word was written with accents, else the plain form.
    lit: String,
    accented: bool,
    /// `lit` split at `*`, when it has any.
    glob: Option<Vec<String>>,
    anchor_start: bool,
    anchor_end: bool,
    /// An Arabic word that may come with proclitics attached (see [`arabic_words`]), and the word without
    /// its article when it has one.
    clitics: bool,
    stem: Option<Box<Piece>>,
    /// Quick rejection on the token's plain form: a matching token is at least `min_len` bytes and
    /// `token.key & mask == key` (the key of the literal start of an anchored piece; zero otherwise).
    min_len: usize,
    key: u64,
    mask: u64,
}

impl Piece {
    fn new(plain: &str, exact: &str, anchor_start: bool, anchor_end: bool, clitics: bool) -> Self {
        let accented = plain != exact;
        let lit = if accented { exact } else { plain };
        let glob: Option<Vec<String>> = lit.contains('*').then(|| lit.split('*').map(String::from).collect());
        let prefix = match plain.find('*') {
            _ if !anchor_start => "",
            Some(i) => &plain[..i],
            None => plain,
        };
        let mut piece = Piece {
            lit: lit.to_string(),
            accented,
            glob,
            anchor_start,
            anchor_end,
            clitics: false,
            stem: None,
            min_len: plain.len() - plain.matches('*').count(),
            key: key(prefix),
            mask: key_mask(prefix.len()),
        };
        if clitics {
            piece.clitics = true;
            fn article(s: &str) -> Option<&str> {
                s.strip_prefix("ال").filter(|rest| rest.chars().any(|c| c != '*'))
            }
            if let (Some(p), Some(e)) = (article(plain), article(exact)) {
                let stem = Piece::new(p, e, anchor_start, anchor_end, false);
                piece.min_len = piece.min_len.min(stem.min_len);
                piece.stem = Some(Box::new(stem));
            }
        }
        piece
    }

    fn matches(&self, text: &MatchText, t: &Token) -> bool {
        let len = t.end - t.start;
        if len < self.min_len {
            return false;
        }
        let tok = || if self.accented { text.exact(t) } else { text.plain(t) };
        if t.key & self.mask == self.key {
            if !self.accented && self.glob.is_none() && self.anchor_start && self.anchor_end {
                // The key comparison has seen the first 8 bytes.
                if len == self.lit.len() && (len <= 8 || text.plain(t) == self.lit) {
                    return true;
                }
            } else if self.matches_word(tok()) {
                return true;
            }
        }
        // Proclitics are Arabic letters between U+0620 and U+064A: UTF-8 lead byte D8 or D9. Without wildcards
        // the word is the token's end.
        self.clitics
            && matches!(t.key as u8, 0xD8 | 0xD9)
            && (self.glob.is_some() || tok().ends_with(self.stem.as_ref().map_or(&self.lit, |s| &s.lit)))
            && arabic_words(tok(), |word, article_removed| {
                self.matches_word(word) || (article_removed && self.stem.as_ref().is_some_and(|s| s.matches_word(word)))
            })
    }

    /// `tok` in the form this piece compares with (plain or exact).
    fn matches_word(&self, tok: &str) -> bool {
        match &self.glob {
            None => match (self.anchor_start, self.anchor_end) {
                (true, true) => tok == self.lit,
                (true, false) => tok.starts_with(&self.lit),
                (false, true) => tok.ends_with(&self.lit),
                (false, false) => tok.contains(&self.lit),
            },
            Some(parts) => glob_match(parts, tok, self.anchor_start, self.anchor_end),
        }
    }
}

/// Whether an Arabic token, read as proclitics + word, satisfies `word_matches(word, article_removed)` for
/// some split other than the whole token. The proclitics are the ones written attached to any noun: an
/// optional conjunction و or ف, then an optional preposition ب, ل or ك, then an optional article ال (after
/// ل the article's alef is not written: ل + البنك = للبنك). So `أرامكو` finds "وأرامكو" and "لأرامكو";
/// "بالبنك" is found by `بنك` and by `البنك`, "للبنك" by both.
fn arabic_words(tok: &str, mut word_matches: impl FnMut(&str, bool) -> bool) -> bool {
    let after_conjunction = tok.strip_prefix(['و', 'ف']);
    for (i, rest) in [Some(tok), after_conjunction].into_iter().flatten().enumerate() {
        if i > 0 && !rest.is_empty() && word_matches(rest, false) {
            return true;
        }
        if let Some(word) = rest.strip_prefix("ال").filter(|w| !w.is_empty()) {
            if word_matches(word, true) {
                return true;
            }
        }
        let Some(prep) = rest.chars().next().filter(|c| matches!(c, 'ب' | 'ل' | 'ك')) else {
            continue;
        };
        let after = &rest[prep.len_utf8()..];
        if after.is_empty() {
            continue;
        }
        if word_matches(after, false) {
            return true;
        }
        let article = if prep == 'ل' { after.strip_prefix('ل') } else { after.strip_prefix("ال") };
        if let Some(word) = article.filter(|w| !w.is_empty()) {
            if word_matches(word, true) {
                return true;
            }
        }
    }
    false
}

fn is_arabic_letter(c: char) -> bool {
    script_of(c) == Script::Arabic && c.is_alphabetic()
}

/// `parts` is a pattern split at `*` (so at least two parts); the first and last are pinned to the token's
/// ends when anchored, the rest must appear in order.
fn glob_match(parts: &[String], tok: &str, anchor_start: bool, anchor_end: bool) -> bool {
    let mut rest = tok;
    let (mut lo, mut hi) = (0, parts.len());
    if anchor_start {
        match rest.strip_prefix(parts[0].as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
        lo = 1;
    }
    if anchor_end {
        match rest.strip_suffix(parts[hi - 1].as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
        hi -= 1;
    }
    for p in parts[lo..hi].iter().filter(|p| !p.is_empty()) {
        match rest.find(p.as_str()) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// A word or phrase of the query (or an exclusion phrase): one or more pieces on consecutive positions.
#[derive(Debug, Clone)]
struct Term {
    /// Lower-cased as written, whitespace collapsed, without quotes: what [`Match`] reports.
    label: String,
    pieces: Vec<Piece>,
    /// Under the right-hand side of some NOT: never reported, never sent to platforms.
    negated: bool,
}

impl Term {
    /// Splits `written` into pieces, or says why it cannot match anything. `col` is where it starts.
    fn compile(written: &str, col: usize) -> Result<Vec<Piece>, QueryError> {
        let mut buf = String::new();
        let mut spans = Vec::new();
        split(written, true, &mut buf, |s| spans.push(s));
        if spans.is_empty() {
            return Err(QueryError::new(col, format!("`{written}` has no letters or digits to match")));
        }
        let last = spans.len() - 1;
        let mut pieces = Vec::with_capacity(spans.len());
        for (j, s) in spans.into_iter().enumerate() {
            let plain = &buf[s.start..s.end];
            let exact = if s.exact_end > s.end { &buf[s.end..s.exact_end] } else { plain };
            if plain.chars().all(|c| c == '*') {
                return Err(QueryError::new(
                    col,
                    format!("`{written}`: a wildcard `*` needs letters or digits next to it"),
                ));
            }
            let (anchor_start, anchor_end) = match s.class {
                Class::NoSpace => (j > 0, j < last),
                _ => (true, true),
            };
            // Proclitics attach to the first word of a name ("وبنك مصر"), not to the words inside it.
            let clitics = j == 0 && s.class == Class::Word && plain.chars().next().is_some_and(is_arabic_letter);
            pieces.push(Piece::new(plain, exact, anchor_start, anchor_end, clitics));
        }
        Ok(pieces)
    }

    /// Every occurrence as (first position, last position). The first piece is tested on its own first:
    /// it rejects nearly every token with the key comparison alone.
    fn occurrences<'t>(&'t self, text: &'t MatchText) -> impl Iterator<Item = (u32, u32)> + 't {
        let (first, rest) = self.pieces.split_first().expect("a term has pieces");
        text.tokens.iter().enumerate().filter(move |(_, t)| first.matches(text, t)).filter_map(move |(i, t)| {
            let following = text.tokens.get(i + 1..i + 1 + rest.len())?;
            for ((piece, tok), pos) in rest.iter().zip(following).zip(t.pos + 1..) {
                if tok.pos != pos || !piece.matches(text, tok) {
                    return None;
                }
            }
            Some((t.pos, t.pos + rest.len() as u32))
        })
    }

    fn occurs(&self, text: &MatchText) -> bool {
        self.occurrences(text).next().is_some()
    }
}

#[derive(Debug, Clone)]
enum Node {
    /// Index into `Query::terms`.
    Term(usize),
    And(Vec<Node>),
    Or(Vec<Node>),
    /// The first and none of the rest. `a NOT b NOT c` is one node with two exclusions, not a chain: a chain
    /// as long as the query would make evaluating (and dropping) it recurse once per NOT.
    Not(Box<Node>, Vec<Node>),
    /// Any term of `left` within `max_gap` words of any term of `right`.
    Near {
        left: Vec<usize>,
        right: Vec<usize>,
        max_gap: u32,
    },
}

/// A compiled brand query. Parse once, match many mentions.
#[derive(Debug, Clone)]
pub struct Query {
    root: Node,
    /// Every word and phrase, in the order written.
    terms: Vec<Term>,
}

impl Query {
    pub fn parse(src: &str) -> Result<Query, QueryError> {
        let toks = lex(src)?;
        let mut p = Parser { toks, next: 0, terms: Vec::new(), depth: 0 };
        let root = p.or(false, Ctx::Start)?;
        if let Some(t) = p.toks.get(p.next) {
            // The loops above consume everything that can continue an expression; only `)` is left over.
            return Err(QueryError::new(t.col, "unbalanced parenthesis"));
        }
        Ok(Query { root, terms: p.terms })
    }

    /// `Some` with the terms found when the text satisfies the query.
    pub fn matches(&self, text: &MatchText) -> Option<Match> {
        let mut hits = Vec::new();
        if !self.eval(&self.root, text, &mut hits) {
            return None;
        }
        hits.sort_unstable();
        hits.dedup();
        let mut terms: Vec<String> = Vec::with_capacity(hits.len());
        for i in hits {
            let label = &self.terms[i].label;
            if !terms.contains(label) {
                terms.push(label.clone());
            }
        }
        Some(Match { terms })
    }

    /// What to ask a platform whose search is weaker than this language: any mention matching the query
    /// contains at least one of these, so searching for their OR (or for each) and filtering with
    /// [`Query::matches`] loses nothing. Terms under NOT are left out.
    ///
    /// Terms come lower-cased and without quotes: one with a space is a phrase and the caller quotes it in
    /// the platform's syntax. `*` is removed (`acme*` asks for `acme`), since few platforms have wildcards
    /// and most ignore the character; platforms that match prefixes do better with it gone too.
    pub fn search_terms(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in self.terms.iter().filter(|t| !t.negated) {
            let term = t.label.replace('*', "");
            if !term.trim().is_empty() && !out.contains(&term) {
                out.push(term);
            }
        }
        out
    }

    /// Evaluates `node`, pushing the indices of contributing positive terms onto `hits`. When it returns
    /// false, `hits` is as it was.
    fn eval(&self, node: &Node, text: &MatchText, hits: &mut Vec<usize>) -> bool {
        match node {
            Node::Term(i) => {
                let found = self.terms[*i].occurs(text);
                if found {
                    hits.push(*i);
                }
                found
            }
            Node::And(nodes) => {
                let mark = hits.len();
                for n in nodes {
                    if !self.eval(n, text, hits) {
                        hits.truncate(mark);
                        return false;
                    }
                }
                true
            }
            // No short-circuit: every true branch contributes its terms to the report.
            Node::Or(nodes) => nodes.iter().fold(false, |any, n| self.eval(n, text, hits) | any),
            Node::Not(keep, excludes) => {
                let mark = hits.len();
                if !self.eval(keep, text, hits) {
                    return false;
                }
                for exclude in excludes {
                    if self.eval(exclude, text, hits) {
                        hits.truncate(mark);
                        return false;
                    }
                }
                true
            }
            Node::Near { left, right, max_gap } => {
                // Per term rather than per pair of occurrences: a text repeating both sides (a hostile mention of
                // "acme down " × 50,000) would otherwise cost occurrences × occurrences.
                let spans = |ids: &[usize]| -> Vec<(usize, Vec<(u32, u32)>)> {
                    ids.iter()
                        .map(|&i| (i, self.terms[i].occurrences(text).collect::<Vec<_>>()))
                        .filter(|(_, occ)| !occ.is_empty())
                        .collect()
                };
                let ls = spans(left);
                if ls.is_empty() {
                    return false;
                }
                let rs = spans(right);
                let mut found = false;
                for (li, l_occ) in &ls {
                    for (ri, r_occ) in &rs {
                        if within_gap(l_occ, r_occ, *max_gap) {
                            found = true;
                            hits.push(*li);
                            hits.push(*ri);
                        }
                    }
                }
                found
            }
        }
    }
}

/// Whether an occurrence in `a` and one in `b` have at most `max_gap` words between them, in either order,
/// without overlapping (overlapping occurrences are one mention, not two). Both lists are one term's
/// occurrences in text order: a term's occurrences all span the same number of words, so they are sorted by
/// first and by last position alike, and the nearest occurrence of `b` on each side of one of `a` is found by
/// binary search: O(|a| log |b|).
fn within_gap(a: &[(u32, u32)], b: &[(u32, u32)], max_gap: u32) -> bool {
    a.iter().any(|&(start, end)| {
        let after = b.partition_point(|&(b_start, _)| b_start <= end);
        let before = b.partition_point(|&(_, b_end)| b_end < start);
        b.get(after).is_some_and(|&(b_start, _)| b_start - end - 1 <= max_gap)
            || before.checked_sub(1).is_some_and(|k| start - b[k].1 - 1 <= max_gap)
    })
}

// ---------------------------------------------------------------------------------------------------------
// Lexer and parser.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    LParen,
    RParen,
    And,
    Or,
    Not,
    Near(u32),
}

#[derive(Debug)]
struct Lexed {
    tok: Tok,
    /// 1-based character column of the token's first character.
    col: usize,
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

fn lex(src: &str) -> Result<Vec<Lexed>, QueryError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let tok = if c == '(' {
            i += 1;
            Tok::LParen
        } else if c == ')' {
            i += 1;
            Tok::RParen
        } else if is_quote(c) {
            let len = chars[i + 1..]
                .iter()
                .position(|&c| is_quote(c))
                .ok_or_else(|| QueryError::new(col, "unterminated quote"))?;
            let inner: String = chars[i + 1..i + 1 + len].iter().collect();
            i += len + 2;
            Tok::Phrase(inner)
        } else {
            let len = chars[i..]
                .iter()
                .position(|&c| c.is_whitespace() || c == '(' || c == ')' || is_quote(c))
                .unwrap_or(chars.len() - i);
            let word: String = chars[i..i + len].iter().collect();
            i += len;
            keyword(&word, col)?.unwrap_or(Tok::Word(word))
        };
        out.push(Lexed { tok, col });
    }
    Ok(out)
}

fn keyword(word: &str, col: usize) -> Result<Option<Tok>, QueryError> {
    Ok(Some(match word {
        "AND" => Tok::And,
        "OR" => Tok::Or,
        "NOT" => Tok::Not,
        "NEAR" => return Err(QueryError::new(col, "NEAR needs a distance in words, e.g. NEAR/3")),
        _ => match word.strip_prefix("NEAR/") {
            None => return Ok(None),
            Some(n) => {
                let n_col = col + "NEAR/".len();
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(QueryError::new(n_col, "NEAR/ needs a number"));
                }
                match n.parse::<u32>() {
                    Ok(n) if n <= MAX_NEAR => Tok::Near(n),
                    _ => return Err(QueryError::new(n_col, format!("NEAR/ distance must be at most {MAX_NEAR}"))),
                }
            }
        },
    }))
}

/// What came just before the expression being parsed, to word the error when it is missing.
#[derive(Clone, Copy)]
enum Ctx {
    Start,
    /// After a binary operator: its name and column.
    Op(&'static str, usize),
    /// After `(` at this column.
    Paren(usize),
}

struct Parser {
    toks: Vec<Lexed>,
    next: usize,
    terms: Vec<Term>,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.next).map(|t| &t.tok)
    }

    fn col(&self) -> usize {
        self.toks.get(self.next).map_or(0, |t| t.col)
    }

    fn or(&mut self, negated: bool, ctx: Ctx) -> Result<Node, QueryError> {
        let mut nodes = vec![self.and(negated, ctx)?];
        while self.peek() == Some(&Tok::Or) {
            let col = self.col();
            self.next += 1;
            nodes.push(self.and(negated, Ctx::Op("OR", col))?);
        }
        Ok(flatten(nodes, true))
    }

    fn and(&mut self, negated: bool, ctx: Ctx) -> Result<Node, QueryError> {
        let mut nodes = vec![self.not(negated, ctx)?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    let col = self.col();
                    self.next += 1;
                    nodes.push(self.not(negated, Ctx::Op("AND", col))?);
                }
                Some(Tok::Word(_) | Tok::Phrase(_) | Tok::LParen) => {
                    nodes.push(self.not(negated, Ctx::Start)?);
                }
                _ => break,
            }
        }
        Ok(flatten(nodes, false))
    }

    fn not(&mut self, negated: bool, ctx: Ctx) -> Result<Node, QueryError> {
        let node = self.near(negated, ctx)?;
        // Left-associative, `(a NOT b) NOT c` = a and not b and not c: collected into one node.
        let mut excludes = Vec::new();
        loop {
            // `AND NOT` is accepted as a spelling of NOT, as other query languages write it.
            let and_not =
                self.peek() == Some(&Tok::And) && self.toks.get(self.next + 1).map(|t| &t.tok) == Some(&Tok::Not);
            if and_not {
                self.next += 1;
            } else if self.peek() != Some(&Tok::Not) {
                break;
            }
            let col = self.col();
            self.next += 1;
            excludes.push(self.near(true, Ctx::Op("NOT", col))?);
        }
        Ok(if excludes.is_empty() { node } else { Node::Not(Box::new(node), excludes) })
    }

    fn near(&mut self, negated: bool, ctx: Ctx) -> Result<Node, QueryError> {
        let left = self.primary(negated, ctx)?;
        let Some(&Tok::Near(max_gap)) = self.peek() else {
            return Ok(left);
        };
        let col = self.col();
        self.next += 1;
        let right = self.primary(negated, Ctx::Op("NEAR/", col))?;
        let operands_err = || {
            QueryError::new(
                col,
                format!("NEAR/{max_gap} needs a word, a phrase or a parenthesised OR of them on each side"),
            )
        };
        let left = positional_terms(&left).ok_or_else(operands_err)?;
        let right = positional_terms(&right).ok_or_else(operands_err)?;
        if let Some(Tok::Near(_)) = self.peek() {
            return Err(QueryError::new(self.col(), "NEAR/ cannot be chained; join two NEAR/ with AND"));
        }
        Ok(Node::Near { left, right, max_gap })
    }

    fn primary(&mut self, negated: bool, ctx: Ctx) -> Result<Node, QueryError> {
        let Some(Lexed { tok, col }) = self.toks.get(self.next) else {
            return Err(missing(ctx, None));
        };
        let col = *col;
        match tok {
            Tok::Word(w) | Tok::Phrase(w) => {
                let quoted = matches!(tok, Tok::Phrase(_));
                let written = w.clone();
                self.next += 1;
                self.term(&written, quoted, col, negated)
            }
            Tok::LParen => {
                if self.depth == MAX_DEPTH {
                    return Err(QueryError::new(col, format!("parentheses nested more than {MAX_DEPTH} deep")));
                }
                self.next += 1;
                self.depth += 1;
                let inner = self.or(negated, Ctx::Paren(col))?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(QueryError::new(col, "unbalanced parenthesis"));
                }
                self.next += 1;
                Ok(inner)
            }
            Tok::RParen => Err(missing(ctx, Some(col))),
            Tok::And | Tok::Or | Tok::Near(_) if matches!(ctx, Ctx::Op(..)) => Err(missing(ctx, Some(col))),
            Tok::And => Err(QueryError::new(col, "AND needs something before it")),
            Tok::Or => Err(QueryError::new(col, "OR needs something before it")),
            Tok::Near(n) => Err(QueryError::new(col, format!("NEAR/{n} needs a word or phrase before it"))),
            Tok::Not => {
                Err(QueryError::new(col, "NOT needs something before it to exclude from, e.g. `acme NOT recall`"))
            }
        }
    }

    fn term(&mut self, written: &str, quoted: bool, col: usize, negated: bool) -> Result<Node, QueryError> {
        let words: Vec<&str> = written.split_whitespace().collect();
        if quoted && words.is_empty() {
            return Err(QueryError::new(col, "empty phrase"));
        }
        // A phrase's text starts one column after its opening quote.
        let pieces = Term::compile(written, col + usize::from(quoted))?;
        self.terms.push(Term { label: label(&words), pieces, negated });
        Ok(Node::Term(self.terms.len() - 1))
    }
}

/// Lower-cased as written, for reports. `İ` loses its dot so that emails do not show `i̇`.
fn label(words: &[&str]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for c in w.chars() {
            match c {
                'İ' => out.push('i'),
                c => out.extend(c.to_lowercase()),
            }
        }
    }
    out
}

/// The error for an expression that is missing where `ctx` expected one; `at` is the column of the token
/// found instead (`None` at the end of the query).
fn missing(ctx: Ctx, at: Option<usize>) -> QueryError {
    match ctx {
        Ctx::Start => match at {
            None => QueryError::new(1, "empty query"),
            Some(col) => QueryError::new(col, "unbalanced parenthesis"),
        },
        Ctx::Op("NOT", col) => QueryError::new(col, "NOT needs something to exclude after it"),
        Ctx::Op(op, col) => QueryError::new(col, format!("{op} needs something after it")),
        Ctx::Paren(col) if at.is_none() => QueryError::new(col, "unbalanced parenthesis"),
        Ctx::Paren(col) => QueryError::new(col, "empty parentheses"),
    }
}

/// Joins operands with OR (`or`) or AND, merging nested nodes of the same kind.
fn flatten(mut nodes: Vec<Node>, or: bool) -> Node {
    if nodes.len() == 1 {
        return nodes.pop().expect("one node");
    }
    let mut flat = Vec::with_capacity(nodes.len());
    for n in nodes {
        match n {
            Node::Or(inner) if or => flat.extend(inner),
            Node::And(inner) if !or => flat.extend(inner),
            n => flat.push(n),
        }
    }
    if or {
        Node::Or(flat)
    } else {
        Node::And(flat)
    }
}

/// The terms of a NEAR operand: a term or an OR of terms (after flattening, nested ORs are one level).
fn positional_terms(node: &Node) -> Option<Vec<usize>> {
    match node {
        Node::Term(i) => Some(vec![*i]),
        Node::Or(nodes) => nodes
            .iter()
            .map(|n| match n {
                Node::Term(i) => Some(*i),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Brand level: query plus exclusions plus languages.

/// What a brand never wants to hear about, whatever the query says.
#[derive(Debug, Clone, Default)]
struct Exclusions {
    /// A mention containing any of these phrases is dropped.
    phrases: Vec<Term>,
    /// Lower-cased, without a leading `@`.
    authors: Vec<String>,
    /// Lower-cased host names; subdomains are excluded too.
    domains: Vec<String>,
}

/// The mention fields a brand decides on. `text` is shared by all brands.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub text: &'a MatchText,
    pub author: Option<&'a str>,
    pub url: Option<&'a str>,
    /// The mention's language as `crate::lang` resolved it (ISO 639-1, or "und"); `None` only where no caller
    /// resolved one, which the language filter lets through like "und".
    pub lang: Option<&'a str>,
}

/// One brand's compiled query, exclusions and languages.
#[derive(Debug, Clone)]
pub struct BrandMatcher {
    pub name: String,
    query: Query,
    exclusions: Exclusions,
    /// Primary subtags, lower-cased. Empty: every language.
    languages: Vec<String>,
}

impl BrandMatcher {
    /// Compiles a brand's settings. The error names the setting it is about: `query`, `exclude_phrases[2]`,
    /// `exclude_authors[0]`, `exclude_domains[1]` or `languages[0]` (indices 0-based, as in TOML arrays).
    pub fn new(
        name: &str,
        query: &str,
        exclude_phrases: &[String],
        exclude_authors: &[String],
        exclude_domains: &[String],
        languages: &[String],
    ) -> Result<Self, (String, QueryError)> {
        fn each<T>(
            field: &str,
            items: &[String],
            compile: impl Fn(&str) -> Result<T, QueryError>,
        ) -> Result<Vec<T>, (String, QueryError)> {
            items.iter().enumerate().map(|(i, s)| compile(s).map_err(|e| (format!("{field}[{i}]"), e))).collect()
        }
        let query = Query::parse(query).map_err(|e| ("query".to_string(), e))?;
        let exclusions = Exclusions {
            phrases: each("exclude_phrases", exclude_phrases, exclude_phrase)?,
            authors: each("exclude_authors", exclude_authors, normalise_author)?,
            domains: each("exclude_domains", exclude_domains, normalise_domain)?,
        };
        let languages = each("languages", languages, normalise_language)?;
        Ok(BrandMatcher { name: name.to_string(), query, exclusions, languages })
    }

    pub fn query(&self) -> &Query {
        &self.query
    }

    /// The brand query's [`Query::search_terms`].
    pub fn search_terms(&self) -> Vec<String> {
        self.query.search_terms()
    }

    /// `Some` when the mention is about this brand and nothing excludes it.
    pub fn matches(&self, m: &Candidate<'_>) -> Option<Match> {
        // Cheapest first; the phrase exclusions only for the few mentions the query lets through.
        if self.filtered_out(m) {
            return None;
        }
        let found = self.query.matches(m.text)?;
        if self.exclusions.phrases.iter().any(|p| p.occurs(m.text)) {
            return None;
        }
        Some(found)
    }

    /// Whether the exclusions or the language filter drop this mention, whatever the query says: for
    /// sources that are about the brand by construction (its own review pages) and skip the query.
    pub fn excluded(&self, m: &Candidate<'_>) -> bool {
        self.filtered_out(m) || self.exclusions.phrases.iter().any(|p| p.occurs(m.text))
    }

    /// Language, author and domain: the checks that do not look at the text.
    fn filtered_out(&self, m: &Candidate<'_>) -> bool {
        if !self.language_allowed(m.lang) {
            return true;
        }
        if let Some(author) = m.author {
            let author = strip_at(author.trim());
            let lowered = || author.chars().flat_map(char::to_lowercase);
            if self.exclusions.authors.iter().any(|a| a.chars().eq(lowered())) {
                return true;
            }
        }
        m.url.and_then(host_of).is_some_and(|host| self.exclusions.domains.iter().any(|d| host_in_domain(host, d)))
    }

    fn language_allowed(&self, lang: Option<&str>) -> bool {
        let Some(primary) = lang.map(primary_subtag) else {
            return true;
        };
        // "und" is BCP 47 for "not determined": as good as no tag.
        self.languages.is_empty()
            || primary.is_empty()
            || primary.eq_ignore_ascii_case("und")
            || self.languages.iter().any(|l| l.eq_ignore_ascii_case(primary))
    }
}

fn exclude_phrase(s: &str) -> Result<Term, QueryError> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.is_empty() {
        return Err(QueryError::new(1, "empty phrase"));
    }
    Ok(Term { label: label(&words), pieces: Term::compile(s, 1)?, negated: true })
}

fn strip_at(s: &str) -> &str {
    s.strip_prefix('@').unwrap_or(s)
}

fn normalise_author(s: &str) -> Result<String, QueryError> {
    let author = strip_at(s.trim());
    if author.is_empty() {
        return Err(QueryError::new(1, "empty author"));
    }
    Ok(author.chars().flat_map(char::to_lowercase).collect())
}

fn normalise_domain(raw: &str) -> Result<String, QueryError> {
    let lead = raw.chars().take_while(|c| c.is_whitespace()).count();
    let d = raw.trim();
    if d.contains("://") {
        return Err(QueryError::new(lead + 1, format!("`{d}` is a URL; write just the domain, e.g. `example.com`")));
    }
    if let Some(i) = d.chars().position(|c| c.is_whitespace() || "/:@?#[]".contains(c)) {
        return Err(QueryError::new(
            lead + i + 1,
            format!("`{d}` is not a domain; write just the host name, e.g. `example.com`"),
        ));
    }
    let d = d.strip_prefix("*.").or_else(|| d.strip_prefix('.')).unwrap_or(d);
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() {
        return Err(QueryError::new(lead + 1, "empty domain"));
    }
    Ok(d.to_lowercase())
}

fn normalise_language(raw: &str) -> Result<String, QueryError> {
    let primary = primary_subtag(raw);
    if !(1..=8).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(QueryError::new(1, format!("`{raw}` is not a language tag; write e.g. `en` or `pt-BR`")));
    }
    Ok(primary.to_ascii_lowercase())
}

/// `en` of `en-US`, `pt` of `pt_BR`.
fn primary_subtag(tag: &str) -> &str {
    let tag = tag.trim();
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// The host of an absolute URL (`scheme://[user@]host[:port]/…` or `//host/…`), without a trailing dot.
fn host_of(url: &str) -> Option<&str> {
    let rest = match url.find("://") {
        Some(i) if i > 0 && url[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) => &url[i + 3..],
        _ => url.strip_prefix("//")?,
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => &v6[..v6.find(']')?],
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    (!host.is_empty()).then_some(host)
}

/// `host` is `domain` or one of its subdomains, ASCII case-insensitively.
fn host_in_domain(host: &str, domain: &str) -> bool {
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    if h.len() < d.len() {
        return false;
    }
    let cut = h.len() - d.len();
    h[cut..].eq_ignore_ascii_case(d) && (cut == 0 || h[cut - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(query: &str, title: Option<&str>, text: &str) -> Option<Vec<String>> {
        let q = Query::parse(query).unwrap_or_else(|e| panic!("{query:?}: {e}"));
        q.matches(&MatchText::new(title, text)).map(|m| m.terms)
    }

    /// (query, text, terms reported or None for no match)
    const MATCHES: &[(&str, &str, Option<&[&str]>)] = &[
        // words and word boundaries
        ("acme", "I love Acme", Some(&["acme"])),
        ("acme", "Acme's new phone", Some(&["acme"])),
        ("acme", "Acme’s new phone", Some(&["acme"])),
        ("acme", "#acme rocks", Some(&["acme"])),
        ("acme", "cc @acme", Some(&["acme"])),
        ("acme", "ACME!", Some(&["acme"])),
        ("acme", "(acme)", Some(&["acme"])),
        ("acme", "acme.com is down", Some(&["acme"])),
        ("acme", "acme-branded", Some(&["acme"])),
        ("acme", "acmeville", None),
        ("acme", "superacme", None),
        ("acme", "ac me", None),
        ("acme", "@acme_support", None),
        ("acme", "", None),
        ("ACME", "acme", Some(&["acme"])),
        ("AcMe", "aCmE", Some(&["acme"])),
        ("#acme", "acme", Some(&["#acme"])),
        ("@acme", "#ACME", Some(&["@acme"])),
        ("acme's", "Acme’s", Some(&["acme's"])),
        ("acme's", "acme", None),
        ("3.5", "version 3.5 out", Some(&["3.5"])),
        // lower-case keywords are words
        ("acme and rockets", "acme rockets", None),
        ("acme and rockets", "acme and rockets", Some(&["acme", "and", "rockets"])),
        ("near", "near me", Some(&["near"])),
        // phrases
        ("\"acme rockets\"", "The Acme Rockets launch", Some(&["acme rockets"])),
        ("\"acme rockets\"", "acme, rockets!", Some(&["acme rockets"])),
        ("\"acme rockets\"", "rockets acme", None),
        ("\"acme rockets\"", "acme big rockets", None),
        ("\"acme   Rockets\"", "acme rockets", Some(&["acme rockets"])),
        ("“acme rockets”", "acme rockets", Some(&["acme rockets"])),
        ("\"AND\"", "this and that", Some(&["and"])),
        ("\"acme\"rockets", "acme rockets", Some(&["acme", "rockets"])),
        // AND / OR / NOT and precedence NOT > AND > OR
        ("acme rockets", "rockets by acme", Some(&["acme", "rockets"])),
        ("acme AND rockets", "acme only", None),
        ("acme OR rockets", "rockets only", Some(&["rockets"])),
        ("acme OR rockets", "acme rockets", Some(&["acme", "rockets"])),
        ("acme OR rockets", "nothing", None),
        ("acme NOT recall", "acme is great", Some(&["acme"])),
        ("acme NOT recall", "acme recall notice", None),
        ("acme NOT recall NOT lawsuit", "acme lawsuit", None),
        ("acme AND NOT recall", "acme recall", None),
        ("acme AND NOT recall", "acme", Some(&["acme"])),
        ("acme AND NOT recall rockets", "acme rockets", Some(&["acme", "rockets"])),
        ("acme NOT recall NOT lawsuit", "acme news", Some(&["acme"])),
        ("a OR b c", "b", None),
        ("a OR b c", "a", Some(&["a"])),
        ("a OR b c", "b c", Some(&["b", "c"])),
        ("a OR b AND c", "b c", Some(&["b", "c"])),
        ("a b OR c", "c", Some(&["c"])),
        ("a b OR c", "a", None),
        ("a OR b NOT c", "a c", Some(&["a"])),
        ("a OR b NOT c", "b c", None),
        ("a OR b NOT c", "b", Some(&["b"])),
        ("a b NOT c", "a b c", None),
        ("a b NOT c", "a b", Some(&["a", "b"])),
        ("(a OR b) NOT c", "b c", None),
        ("(a OR b) c", "b c", Some(&["b", "c"])),
        ("(a OR b) c", "a b", None),
        ("a NOT (b OR c)", "a c", None),
        ("a NOT (b OR c)", "a d", Some(&["a"])),
        ("a NOT (b NOT c)", "a b c", Some(&["a"])),
        ("a NOT (b NOT c)", "a b", None),
        ("((a))", "a", Some(&["a"])),
        ("(a OR b) (c OR d)", "d b", Some(&["b", "d"])),
        ("(a b) OR (c d)", "a b c d", Some(&["a", "b", "c", "d"])),
        ("(a b) OR (c d)", "a c", None),
        ("acme OR acme", "acme", Some(&["acme"])),
        ("Acme OR \"ACME\"", "acme", Some(&["acme"])),
        // NEAR/n
        ("acme NEAR/3 outage", "acme has an outage", Some(&["acme", "outage"])),
        ("acme NEAR/3 outage", "outage hits acme", Some(&["acme", "outage"])),
        ("acme NEAR/2 outage", "acme one two three outage", None),
        ("acme NEAR/3 outage", "acme one two three outage", Some(&["acme", "outage"])),
        ("acme NEAR/3 outage", "outage one two three acme", Some(&["acme", "outage"])),
        ("acme NEAR/3 outage", "outage one two three four acme", None),
        ("acme NEAR/0 outage", "acme outage", Some(&["acme", "outage"])),
        ("acme NEAR/0 outage", "outage, acme", Some(&["acme", "outage"])),
        ("acme NEAR/0 outage", "acme big outage", None),
        ("acme NEAR/5 outage", "acme", None),
        ("acme NEAR/5 acme", "acme", None),
        ("acme NEAR/5 acme", "acme and acme", Some(&["acme"])),
        ("acme NEAR/5 acme*", "acme", None),
        (
            "acme NEAR/5 outage",
            "acme launched. Ten words later, one two three four five six, outage. acme",
            Some(&["acme", "outage"]),
        ),
        ("\"acme cloud\" NEAR/1 down", "acme cloud is down", Some(&["acme cloud", "down"])),
        ("\"acme cloud\" NEAR/0 down", "down acme cloud", Some(&["acme cloud", "down"])),
        ("\"acme cloud\" NEAR/0 down", "acme cloud is down", None),
        ("(acme OR acmecorp) NEAR/2 (outage OR down)", "acmecorp site down", Some(&["acmecorp", "down"])),
        ("(acme OR acmecorp) NEAR/2 (outage OR down)", "acmecorp site is totally down", None),
        ("acme NEAR/2 outage OR recall", "recall", Some(&["recall"])),
        ("acme NEAR/2 outage NOT test", "acme outage test", None),
        ("acme NEAR/2 outage NOT test", "acme outage", Some(&["acme", "outage"])),
        ("acme* NEAR/1 down", "acmecloud down", Some(&["acme*", "down"])),
        // wildcards
        ("acme*", "acmeville", Some(&["acme*"])),
        ("acme*", "acme", Some(&["acme*"])),
        ("acme*", "the acme's", Some(&["acme*"])),
        ("acme*", "superacme", None),
        ("*acme", "superacme", Some(&["*acme"])),
        ("*acme", "acmes", None),
        ("colo*r", "colour", Some(&["colo*r"])),
        ("colo*r", "color", Some(&["colo*r"])),
        ("colo*r", "colorful", None),
        ("a*b*c", "axxbyyc", Some(&["a*b*c"])),
        ("a*b*c", "axxc", None),
        ("ab*ba", "aba", None),
        ("ab*ba", "abba", Some(&["ab*ba"])),
        ("ac**me", "acme", Some(&["ac**me"])),
        ("\"acme rock*\"", "acme rockets", Some(&["acme rock*"])),
        ("\"acme rock*\"", "acme pebbles", None),
        ("Acme*", "ACMEVILLE", Some(&["acme*"])),
        // title and text
        ("acme", "", None),
        // Unicode letters, accents and case
        ("café", "Café Acme", Some(&["café"])),
        ("café", "CAFÉ ACME", Some(&["café"])),
        ("café", "cafe", None),
        ("cafe", "café", Some(&["cafe"])),
        ("straße", "STRASSE", Some(&["straße"])),
        ("STRASSE", "Straße", Some(&["strasse"])),
        ("strasse", "STRAẞE", Some(&["strasse"])),
        ("istanbul", "İstanbul", Some(&["istanbul"])),
        ("İSTANBUL", "istanbul", Some(&["istanbul"])),
        ("istanbul", "ISTANBUL", Some(&["istanbul"])),
        ("istanbul", "ıstanbul", Some(&["istanbul"])),
        ("ıstanbul", "istanbul", None),
        ("σοφος", "ΣΟΦΟΣ", Some(&["σοφος"])),
        ("σοφός", "σοφός.", Some(&["σοφός"])),
        ("москва", "Я люблю МОСКВА!", Some(&["москва"])),
        ("hindi", "हिन्दी hindi", Some(&["hindi"])),
        ("हिन्दी", "मैं हिन्दी बोलता हूँ", Some(&["हिन्दी"])),
        ("हिन्दी", "हिन्द", None),
        ("acme", "ＡＣＭＥ rocks", Some(&["acme"])),
        ("acme", "acme🚀", Some(&["acme"])),
        ("acme", "❤acme❤", Some(&["acme"])),
        ("acme", "«acme»", Some(&["acme"])),
        ("acme", "\u{FEFF}Acme", Some(&["acme"])),
        ("acme", "ac\u{AD}me", Some(&["acme"])),
        ("acme", "acme\u{200B}rockets", None),
        ("acmerockets", "acme\u{200B}rockets", Some(&["acmerockets"])),
        ("\"acme rockets\"", "acme—rockets", Some(&["acme rockets"])),
        // scripts without spaces: substring matching
        ("手机", "我的新手机很好", Some(&["手机"])),
        ("手机", "手機", None),
        ("アクメ", "アクメの新製品", Some(&["アクメ"])),
        ("ソニー", "ソニー株式会社", Some(&["ソニー"])),
        ("삼성", "삼성이 새 폰을", Some(&["삼성"])),
        ("ไทย", "ประเทศไทยสวย", Some(&["ไทย"])),
        ("acme手机", "我买了Acme手机", Some(&["acme手机"])),
        ("acme手机", "我买了Acme电脑手机", None),
        ("\"手机 acme\"", "新手机acme", Some(&["手机 acme"])),
        ("\"acme 手机\"", "acme 手机", Some(&["acme 手机"])),
        ("\"acme 手机\"", "acme 新手机", None),
        ("acme 手机", "acme 新手机", Some(&["acme", "手机"])),
        ("手机 NEAR/1 acme", "手机很好 the acme", Some(&["手机", "acme"])),
        ("手*好", "手机很好", Some(&["手*好"])),
        ("acme", "我喜欢acme", Some(&["acme"])),
        ("acme", "我喜欢acmes", None),
    ];

    #[test]
    fn query_matches_table() {
        let mut failures = Vec::new();
        for &(query, text, want) in MATCHES {
            let got = found(query, None, text);
            let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
            if got != want {
                failures.push(format!("{query:?} on {text:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Accents and scripts, by script: (query, text, terms reported or None for no match). A row marked
    /// `kept` matched the same way before accent folding and script boundaries; every other row is a change.
    const SCRIPT_MATCHES: &[(&str, &str, Option<&[&str]>)] = &[
        // Latin accents: a word without accents finds accented forms, one with accents only that form
        ("nestle", "Nestlé", Some(&["nestle"])),
        ("nestle", "NESTLÉ recalls", Some(&["nestle"])),
        ("Nestle", "nestle\u{301}", Some(&["nestle"])),
        ("nestlé", "Nestle", None),              // kept
        ("nestlé", "NESTLÉ", Some(&["nestlé"])), // kept
        ("nestlé", "nestle\u{301}", Some(&["nestlé"])),
        ("nestle\u{301}", "Nestlé", Some(&["nestle\u{301}"])),
        ("cafe", "CAFÉ", Some(&["cafe"])),
        ("café", "cafe", None), // kept
        ("muller", "Müller", Some(&["muller"])),
        ("muller", "Mu\u{308}ller", Some(&["muller"])),
        ("Müller", "Muller", None),              // kept
        ("Müller", "MÜLLER", Some(&["müller"])), // kept
        ("resume", "résumé", Some(&["resume"])),
        ("résumé", "resume", None), // kept
        ("résume", "résumé", None), // kept: a word with an accent is compared as written
        ("cafe*", "Cafés", Some(&["cafe*"])),
        ("café*", "cafeteria", None),         // kept
        ("café*", "cafés", Some(&["café*"])), // kept
        ("\"creme brulee\"", "Crème Brûlée", Some(&["creme brulee"])),
        ("\"crème brûlée\"", "creme brulee", None), // kept
        ("\"crème brulee\"", "crème brûlée", Some(&["crème brulee"])),
        ("\"crème brulee\"", "creme brûlée", None), // kept
        ("creme NEAR/1 brulee", "crème au brûlée", Some(&["creme", "brulee"])),
        // Vietnamese: stacked marks in canonical order, whatever order the text has them in
        ("viet", "Việt Nam", Some(&["viet"])),
        ("việt", "vie\u{323}\u{302}t", Some(&["việt"])),
        ("việt", "vie\u{302}\u{323}t", Some(&["việt"])),
        ("việt", "viết", None), // kept
        // Greek and Cyrillic accents; Greek capitals drop the tonos, so write Greek queries without it
        ("αθηνα", "Αθήνα", Some(&["αθηνα"])),
        ("αθήνα", "ΑΘΗΝΑ", None), // kept
        ("ежик", "Ёжик", Some(&["ежик"])),
        // German
        ("strasse", "Straße", Some(&["strasse"])), // kept
        ("grüße", "GRÜSSE", Some(&["grüße"])),     // kept
        ("grusse", "Grüße", Some(&["grusse"])),
        ("grüße", "grusse", None), // kept
        // French
        ("francais", "Français", Some(&["francais"])),
        ("français", "francais", None), // kept
        ("noel", "Noël", Some(&["noel"])),
        ("oreal", "L’Oréal", Some(&["oreal"])),
        ("l'oréal", "L’ORÉAL", Some(&["l'oréal"])), // kept
        ("oeuvre", "Œuvre", Some(&["oeuvre"])),
        ("œuvre", "oeuvre", None), // kept
        // Spanish
        ("espana", "España", Some(&["espana"])),
        ("nino", "NIÑO", Some(&["nino"])),
        ("españa", "Espana", None),        // kept
        ("niño", "NIÑO", Some(&["niño"])), // kept
        // Turkish: İ is the capital of i; ı and the cedilla letters fold like accents
        ("yapi kredi", "Yapı Kredi", Some(&["yapi", "kredi"])),
        ("isbank", "İşbank", Some(&["isbank"])),
        ("işbank", "ISBANK", None),              // kept
        ("İŞBANK", "işbank", Some(&["işbank"])), // kept
        ("turk telekom", "Türk Telekom", Some(&["turk", "telekom"])),
        // letters that do not decompose
        ("orsted", "Ørsted", Some(&["orsted"])),
        ("ørsted", "Orsted", None), // kept
        ("lodz", "Łódź", Some(&["lodz"])),
        ("aero", "Ærø", Some(&["aero"])),
        // Arabic: harakat, tatweel, hamza and madda ignored on both sides
        ("أرامكو", "أَرَامْكُو", Some(&["أرامكو"])),
        ("أرامكو", "أرامــكو", Some(&["أرامكو"])),
        ("أرامكو", "ارامكو", Some(&["أرامكو"])),
        ("ارامكو", "إرامكو", Some(&["ارامكو"])),
        ("الجزيرة", "قناة الجزيره", Some(&["الجزيرة"])),
        ("مصطفى", "مصطفي", Some(&["مصطفى"])),
        ("أرامكو", "أرامكو تعلن", Some(&["أرامكو"])), // kept
        ("أرامكو", "أرامكوية", None),                 // kept
        // Arabic: punctuation separates words
        ("أرامكو", "هل أرامكو؟", Some(&["أرامكو"])),
        ("أرامكو", "أرامكو، سابك", Some(&["أرامكو"])),
        // Arabic: right-to-left marks, embeddings and isolates inside or around words are ignored
        ("أرامكو", "أرا\u{200F}مكو", Some(&["أرامكو"])),
        ("أرامكو", "أرامكو\u{61C} سابك", Some(&["أرامكو"])),
        ("أرامكو", "\u{202B}أرامكو\u{202C} تعلن", Some(&["أرامكو"])), // kept
        ("acme", "\u{200F}ac\u{2067}me\u{2069}", Some(&["acme"])),
        // Arabic: proclitics on the first word of a term (و ف, then ب ل ك, then ال)
        ("أرامكو", "وأرامكو", Some(&["أرامكو"])),
        ("أرامكو", "لأرامكو", Some(&["أرامكو"])),
        ("أرامكو", "فبأرامكو", Some(&["أرامكو"])),
        ("أرامكو", "سأرامكو", None), // kept: not a proclitic of nouns
        ("بنك", "البنك", Some(&["بنك"])),
        ("بنك", "للبنك", Some(&["بنك"])),
        ("البنك", "للبنك", Some(&["البنك"])),
        ("البنك", "والبنك", Some(&["البنك"])),
        ("البنك", "بنك", None), // kept: an article written in the query is required
        ("\"بنك مصر\"", "وبنك مصر يعلن", Some(&["بنك مصر"])),
        ("\"بنك مصر\"", "بنك لمصر", None), // kept: not on the words inside a phrase
        ("أرامكو NEAR/2 أرباح", "أعلنت أرامكو عن أرباح", Some(&["أرامكو", "أرباح"])), // kept
        // Arabic next to another script: the script change ends a word
        ("iphone", "اشتريت لـiPhone جديد", Some(&["iphone"])),
        ("apple", "وApple", Some(&["apple"])),
        ("أرامكو", "أرامكو2030", Some(&["أرامكو"])),
        // Hebrew points ignored
        ("שלום", "שָׁלוֹם", Some(&["שלום"])),
        // Devanagari: vowel signs and viramas are inside words, dandas separate them
        ("टाटा", "टाटा मोटर्स", Some(&["टाटा"])), // kept
        ("टाटा", "टाटानगर", None),               // kept
        ("टाटा", "टूटा", None),                   // kept
        ("टाटा", "मैंने टाटा।", Some(&["टाटा"])),
        ("टाटा", "टाटा॥", Some(&["टाटा"])),
        ("\"टाटा मोटर्स\"", "टाटा मोटर्स की नई कार", Some(&["टाटा मोटर्स"])), // kept
        ("\"टाटा मोटर्स\"", "टाटा की मोटर्स", None),                         // kept
        ("tata", "Tataमोटर्स", Some(&["tata"])),
        ("क्षेत्र", "क्\u{200D}षेत्र", Some(&["क्षेत्र"])), // kept
        // Devanagari nukta: precomposed = decomposed, and folded like an accent
        ("\u{95B}ोमैटो", "\u{91C}\u{93C}ोमैटो", Some(&["\u{95B}ोमैटो"])),
        ("जोमैटो", "ज़ोमैटो", Some(&["जोमैटो"])),
        ("ज़ोमैटो", "जोमैटो", None), // kept
        // Japanese and Chinese: substring matching; half-width katakana, decomposed kana, compatibility ideographs
        ("ソニー", "ソニー株式会社", Some(&["ソニー"])), // kept
        ("ソニー", "ｿﾆｰの新製品", Some(&["ソニー"])),
        ("ガンダム", "ｶﾞﾝﾀﾞﾑ", Some(&["ガンダム"])),
        ("ガンダム", "カ\u{3099}ンタ\u{3099}ム", Some(&["ガンダム"])),
        ("カンタム", "ガンダム", None), // kept: voicing marks are not accents
        ("神社", "\u{FA19}社", Some(&["神社"])),
        ("手机", "我的新手机很好", Some(&["手机"])), // kept
        ("手机", "手\u{200B}机", Some(&["手机"])),
        // Korean: substring matching on syllables, also when the text spells them in jamo
        ("삼성", "삼성전자가 발표했다", Some(&["삼성"])), // kept
        ("사", "삼성", None),                             // kept: syllables are not decomposed
        ("삼성", "\u{1109}\u{1161}\u{11B7}\u{1109}\u{1165}\u{11BC}전자", Some(&["삼성"])),
        // mixed scripts
        ("samsung", "三星Samsung手机", Some(&["samsung"])),   // kept
        ("\"acme 手机\"", "Acme 手机", Some(&["acme 手机"])), // kept
        // invisible characters inside a word: soft hyphen, zero-width space, joiners
        ("nestle", "Nes\u{AD}tlé", Some(&["nestle"])),
        ("\"acme rockets\"", "ac\u{AD}me rock\u{AD}ets", Some(&["acme rockets"])), // kept
        ("acme", "ac\u{200B}me", Some(&["acme"])),
        ("acme", "👩\u{200D}🚀acme", Some(&["acme"])),           // kept
        ("acme", "acme\u{200D}👍", Some(&["acme"])),             // kept
        ("acme", "acme👨\u{200D}👩\u{200D}👧", Some(&["acme"])), // kept
        ("acme", "1\u{FE0F}\u{20E3} acme", Some(&["acme"])),     // kept
    ];

    #[test]
    fn script_matches_table() {
        let mut failures = Vec::new();
        for &(query, text, want) in SCRIPT_MATCHES {
            let got = found(query, None, text);
            let want: Option<Vec<String>> = want.map(|w| w.iter().map(|s| s.to_string()).collect());
            if got != want {
                failures.push(format!("{query:?} on {text:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn title_and_text_are_both_searched_but_not_joined() {
        let rows: &[(&str, Option<&str>, &str, bool)] = &[
            ("acme", Some("Acme news"), "nothing here", true),
            ("acme outage", Some("Acme news"), "big outage", true),
            ("\"acme outage\"", Some("News about acme"), "outage today", false),
            ("acme NEAR/1000 outage", Some("News about acme"), "outage today", false),
            ("\"acme outage\"", Some("acme outage"), "", true),
            ("acme", Some(""), "acme", true),
            ("acme", None, "", false),
        ];
        for &(query, title, text, want) in rows {
            assert_eq!(found(query, title, text).is_some(), want, "{query:?} on {title:?} / {text:?}");
        }
    }

    /// (query, column, message)
    const INVALID: &[(&str, usize, &str)] = &[
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ("acme (rockets", 6, "unbalanced parenthesis"),
        ("acme rockets)", 13, "unbalanced parenthesis"),
        ("(acme OR (rockets)", 1, "unbalanced parenthesis"),
        (")acme", 1, "unbalanced parenthesis"),
        ("\"acme", 1, "unterminated quote"),
        ("acme \"rockets", 6, "unterminated quote"),
        ("acme \"\"", 6, "empty phrase"),
        ("acme \"  \"", 6, "empty phrase"),
        ("acme NEAR/ outage", 11, "NEAR/ needs a number"),
        ("acme NEAR/x outage", 11, "NEAR/ needs a number"),
        ("acme NEAR/-1 outage", 11, "NEAR/ needs a number"),
        ("acme NEAR/1001 outage", 11, "NEAR/ distance must be at most 1000"),
        ("acme NEAR/99999999999 x", 11, "NEAR/ distance must be at most 1000"),
        ("acme NEAR outage", 6, "NEAR needs a distance in words, e.g. NEAR/3"),
        ("acme NEAR/3", 6, "NEAR/ needs something after it"),
        ("NEAR/3 acme", 1, "NEAR/3 needs a word or phrase before it"),
        ("acme NEAR/3 (a AND b)", 6, "NEAR/3 needs a word, a phrase or a parenthesised OR of them on each side"),
        ("(a NOT b) NEAR/3 c", 11, "NEAR/3 needs a word, a phrase or a parenthesised OR of them on each side"),
        ("a NEAR/2 b NEAR/2 c", 12, "NEAR/ cannot be chained; join two NEAR/ with AND"),
        ("NOT acme", 1, "NOT needs something before it to exclude from, e.g. `acme NOT recall`"),
        ("acme (NOT recall)", 7, "NOT needs something before it to exclude from, e.g. `acme NOT recall`"),
        ("acme NOT", 6, "NOT needs something to exclude after it"),
        ("acme AND", 6, "AND needs something after it"),
        ("acme OR", 6, "OR needs something after it"),
        ("acme OR OR b", 6, "OR needs something after it"),
        ("acme AND OR b", 6, "AND needs something after it"),
        ("(acme OR) b", 7, "OR needs something after it"),
        ("AND acme", 1, "AND needs something before it"),
        ("OR acme", 1, "OR needs something before it"),
        ("(OR acme)", 2, "OR needs something before it"),
        ("()", 1, "empty parentheses"),
        ("acme ()", 6, "empty parentheses"),
        ("!!!", 1, "`!!!` has no letters or digits to match"),
        ("acme \"?!\"", 7, "`?!` has no letters or digits to match"),
        ("\u{301}", 1, "`\u{301}` has no letters or digits to match"),
        ("ـــ", 1, "`ـــ` has no letters or digits to match"),
        ("acme *", 6, "`*`: a wildcard `*` needs letters or digits next to it"),
        ("acme \"* rockets\"", 7, "`* rockets`: a wildcard `*` needs letters or digits next to it"),
        (
            "日本 (((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))))",
            36,
            "parentheses nested more than 32 deep",
        ),
    ];

    /// Found by tests/fuzz_mutations.rs: `a NOT b NOT c …` was a left-deep chain of binary nodes, so a long one
    /// overflowed the stack when matched and again when dropped. Long operator chains of every kind now parse,
    /// match and drop on a thread with tokio's 2 MiB stack.
    #[test]
    fn long_operator_chains_do_not_recurse() {
        let handle = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
            let text = MatchText::new(None, "a b z");
            for (op, want) in [("NOT", false), ("AND NOT", false), ("OR", true), ("AND", true), ("", true)] {
                let query = format!("a {op} ").repeat(100_000) + "z";
                let q = Query::parse(&query).unwrap_or_else(|e| panic!("{op}: {e}"));
                assert_eq!(q.matches(&text).is_some(), want, "{op}");
                drop(q);
            }
            assert_eq!(found("a NOT b NOT c", None, "a c"), None);
            assert_eq!(found("a NOT b NOT c", None, "a d"), Some(vec!["a".to_string()]));
        });
        handle.unwrap().join().expect("no stack overflow");
    }

    /// Found by tests/fuzz_mutations.rs: NEAR compared every occurrence of one side with every occurrence of the
    /// other, so a mention repeating both (any platform user can post one) cost seconds per brand.
    #[test]
    fn near_is_not_quadratic_in_the_text() {
        let text = MatchText::new(None, &"acme down ".repeat(50_000));
        let start = std::time::Instant::now();
        for (query, want) in [
            ("acme NEAR/0 down", true),
            ("(acme OR x) NEAR/3 (down OR y)", true),
            ("acme NEAR/0 acme", false),
            ("down NEAR/1000 nothing", false),
        ] {
            assert_eq!(Query::parse(query).unwrap().matches(&text).is_some(), want, "{query}");
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "took {:?}", start.elapsed());
    }

    /// `within_gap` (binary search per occurrence) agrees with comparing every pair of occurrences.
    #[test]
    fn within_gap_agrees_with_every_pair() {
        fn next(seed: &mut u64, n: u32) -> u32 {
            *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (*seed >> 33) as u32 % n
        }
        fn occurrences(seed: &mut u64) -> Vec<(u32, u32)> {
            let len = next(seed, 3);
            let mut pos: Vec<u32> = (0..next(seed, 6)).map(|_| next(seed, 40)).collect();
            pos.sort_unstable();
            pos.dedup();
            pos.into_iter().map(|p| (p, p + len)).collect()
        }
        let mut seed = 23u64;
        for _ in 0..5_000 {
            let (a, b) = (occurrences(&mut seed), occurrences(&mut seed));
            let gap = next(&mut seed, 5);
            let every_pair = a.iter().any(|&(ls, le)| {
                b.iter().any(|&(rs, re)| match () {
                    _ if le < rs => rs - le - 1 <= gap,
                    _ if re < ls => ls - re - 1 <= gap,
                    _ => false,
                })
            });
            assert_eq!(within_gap(&a, &b, gap), every_pair, "{a:?} {b:?} gap {gap}");
        }
    }

    #[test]
    fn invalid_queries_table() {
        let mut failures = Vec::new();
        for &(query, column, message) in INVALID {
            let want = QueryError::new(column, message);
            match Query::parse(query) {
                Err(got) if got == want => {}
                other => failures.push(format!("{query:?}: got {other:?}, want {want}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn error_display_has_the_column() {
        let e = Query::parse("acme (rockets OR x").unwrap_err();
        assert_eq!(e.to_string(), "unbalanced parenthesis at column 6");
        let e = Query::parse("a b NOT c (d").unwrap_err();
        assert_eq!(e.column, 11);
    }

    #[test]
    fn thirty_two_levels_of_parentheses_are_fine() {
        let q = format!("{}acme{}", "(".repeat(32), ")".repeat(32));
        assert!(found(&q, None, "acme").is_some());
    }

    #[test]
    fn search_terms_are_the_positive_terms() {
        let rows: &[(&str, &[&str])] = &[
            ("acme", &["acme"]),
            ("Acme OR \"Acme Rockets\" OR acme", &["acme", "acme rockets"]),
            ("\"Acme\" rockets", &["acme", "rockets"]),
            ("acme NOT (recall OR lawsuit)", &["acme"]),
            ("acme NOT recall OR recall", &["acme", "recall"]),
            ("a NOT (b NOT c)", &["a"]),
            ("a AND NOT b", &["a"]),
            ("(acme OR acmecorp) NEAR/3 outage*", &["acme", "acmecorp", "outage"]),
            ("acme* OR acme OR colo*r OR \"acme rock*\"", &["acme", "color", "acme rock"]),
            ("acme's", &["acme's"]),
        ];
        for &(query, want) in rows {
            let got = Query::parse(query).unwrap().search_terms();
            assert_eq!(got, want, "{query:?}");
        }
    }

    fn brand(
        query: &str,
        phrases: &[&str],
        authors: &[&str],
        domains: &[&str],
        langs: &[&str],
    ) -> Result<BrandMatcher, String> {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        BrandMatcher::new("Acme", query, &own(phrases), &own(authors), &own(domains), &own(langs))
            .map_err(|(field, e)| format!("{field}: {e}"))
    }

    /// (text, author, url, lang, matches)
    type CandidateRow = (&'static str, Option<&'static str>, Option<&'static str>, Option<&'static str>, bool);

    #[test]
    fn brand_exclusions_and_languages() {
        let b = brand(
            "acme OR \"acme rockets\"",
            &["acme giveaway", "free acme*"],
            &["@SpamBot", "promo_acme"],
            &["spam.example", "*.ads.example", "Shop.Example."],
            &["en", "DE"],
        )
        .unwrap();
        let rows: &[CandidateRow] = &[
            ("acme is great", None, None, None, true),
            ("nothing", None, None, None, false),
            ("Acme GIVEAWAY today", None, None, None, false),
            ("acme, giveaway!", None, None, None, false),
            ("acme give away", None, None, None, true),
            ("free acmerockets, acme for all", None, None, None, false),
            ("acme is great", Some("spambot"), None, None, false),
            ("acme is great", Some("@spambot"), None, None, false),
            ("acme is great", Some(" SPAMBOT "), None, None, false),
            ("acme is great", Some("@Promo_Acme"), None, None, false),
            ("acme is great", Some("spambot2"), None, None, true),
            ("acme is great", Some("not@spambot"), None, None, true),
            ("acme", None, Some("https://spam.example/post/1"), None, false),
            ("acme", None, Some("https://SPAM.example:8443/x"), None, false),
            ("acme", None, Some("https://www.spam.example/"), None, false),
            ("acme", None, Some("http://user:pw@a.b.spam.example./x"), None, false),
            ("acme", None, Some("https://notspam.example/"), None, true),
            ("acme", None, Some("https://spam.example.org/"), None, true),
            ("acme", None, Some("https://ads.example/"), None, false),
            ("acme", None, Some("https://x.ads.example/"), None, false),
            ("acme", None, Some("https://shop.example?q=1"), None, false),
            ("acme", None, Some("https://good.example/?r=https://spam.example/"), None, true),
            ("acme", None, Some("not a url"), None, true),
            ("acme", None, Some("https://[::1]:8080/"), None, true),
            ("acme", None, None, Some("en"), true),
            ("acme", None, None, Some("en-US"), true),
            ("acme", None, None, Some("EN_gb"), true),
            ("acme", None, None, Some("de-AT"), true),
            ("acme", None, None, Some("fr"), false),
            ("acme", None, None, Some("fr-CA"), false),
            ("acme", None, None, Some(""), true),
            ("acme", None, None, Some("und"), true),
            ("nothing", None, None, Some("en"), false),
        ];
        for &(text, author, url, lang, want) in rows {
            let t = MatchText::new(None, text);
            let c = Candidate { text: &t, author, url, lang };
            assert_eq!(b.matches(&c).is_some(), want, "{text:?} author={author:?} url={url:?} lang={lang:?}");
        }
    }

    #[test]
    fn brand_without_languages_takes_every_language() {
        let b = brand("acme", &[], &[], &[], &[]).unwrap();
        let t = MatchText::new(Some("Acme"), "");
        let c = Candidate { text: &t, author: Some("someone"), url: Some("https://example.com/"), lang: Some("ja") };
        assert_eq!(b.matches(&c), Some(Match { terms: vec!["acme".into()] }));
        assert_eq!(b.name, "Acme");
        assert_eq!(b.query().search_terms(), ["acme"]);
    }

    #[test]
    fn excluded_ignores_the_query() {
        let b = brand("acme", &["giveaway"], &["spambot"], &["spam.example"], &["en"]).unwrap();
        let rows: &[CandidateRow] = &[
            ("great service", None, None, None, false),
            ("great service", Some("@SpamBot"), None, None, true),
            ("great service", None, Some("https://m.spam.example/1"), None, true),
            ("great service", None, None, Some("fr"), true),
            ("giveaway inside", None, None, None, true),
            ("acme giveaway", None, None, None, true),
        ];
        for &(text, author, url, lang, want) in rows {
            let t = MatchText::new(None, text);
            let c = Candidate { text: &t, author, url, lang };
            assert_eq!(b.excluded(&c), want, "{text:?} author={author:?} url={url:?} lang={lang:?}");
        }
    }

    #[test]
    fn brand_errors_name_the_field() {
        let rows: &[(String, &str)] = &[
            (brand("acme (", &[], &[], &[], &[]).unwrap_err(), "query: unbalanced parenthesis at column 6"),
            (brand("acme", &["ok", "  "], &[], &[], &[]).unwrap_err(), "exclude_phrases[1]: empty phrase at column 1"),
            (
                brand("acme", &["!!"], &[], &[], &[]).unwrap_err(),
                "exclude_phrases[0]: `!!` has no letters or digits to match at column 1",
            ),
            (brand("acme", &[], &["@"], &[], &[]).unwrap_err(), "exclude_authors[0]: empty author at column 1"),
            (
                brand("acme", &[], &[], &["ok.example", "https://x.example/"], &[]).unwrap_err(),
                "exclude_domains[1]: `https://x.example/` is a URL; write just the domain, \
                 e.g. `example.com` at column 1",
            ),
            (
                brand("acme", &[], &[], &[" x.example/path"], &[]).unwrap_err(),
                "exclude_domains[0]: `x.example/path` is not a domain; write just the host name, \
                 e.g. `example.com` at column 11",
            ),
            (brand("acme", &[], &[], &["*."], &[]).unwrap_err(), "exclude_domains[0]: empty domain at column 1"),
            (
                brand("acme", &[], &[], &[], &["en", "english!"]).unwrap_err(),
                "languages[1]: `english!` is not a language tag; write e.g. `en` or `pt-BR` \
                 at column 1",
            ),
        ];
        for (err, want) in rows {
            assert_eq!(err.to_string(), *want);
        }
    }

    #[test]
    fn host_extraction() {
        let rows: &[(&str, Option<&str>)] = &[
            ("https://example.com/a", Some("example.com")),
            ("https://example.com", Some("example.com")),
            ("http://u:p@Example.com:80/a?b#c", Some("Example.com")),
            ("//cdn.example.com/x", Some("cdn.example.com")),
            ("https://[2001:db8::1]:443/", Some("2001:db8::1")),
            ("https://example.com./", Some("example.com")),
            ("example.com/a", None),
            ("https:///path", None),
            ("", None),
        ];
        for &(url, want) in rows {
            assert_eq!(host_of(url), want, "{url:?}");
        }
    }

    #[test]
    fn tokens_are_folded_words() {
        let t = MatchText::new(Some("Hello, WORLD"), "Acme’s café—ß 手机 ＡＢ x_y");
        let plain: Vec<&str> = t.tokens.iter().map(|tok| t.plain(tok)).collect();
        assert_eq!(plain, ["hello", "world", "acme", "s", "cafe", "ss", "手机", "ab", "x_y"]);
        let exact: Vec<&str> = t.tokens.iter().map(|tok| t.exact(tok)).collect();
        assert_eq!(exact, ["hello", "world", "acme", "s", "cafe\u{301}", "ss", "手机", "ab", "x_y"]);
        assert_eq!(t.tokens[2].pos, 2 + SEGMENT_GAP);
    }
}
