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
//! Text is split into words at Unicode letters and digits (plus `_` and combining marks); everything else
//! (spaces, punctuation, symbols, emoji) separates words. Title and text are separate: a phrase or NEAR
//! never spans from the end of the title into the text.
//!
//! Case-insensitivity is Unicode lower-casing plus a few foldings so that obvious spellings meet: `ß`/`ẞ`
//! fold to `ss` (`Straße` = `STRASSE`), `İ` folds to `i` (not `i̇`), final `ς` to `σ`, and full-width
//! ASCII (`ＡＣＭＥ`) to ASCII. Turkish dotless `ı` stays distinct from `i`.
//!
//! **Scripts written without spaces** (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) and Korean Hangul
//! (whose particles attach to nouns: 삼성이, 삼성은) cannot be split into words without a dictionary, so a
//! run of such characters is one token and a query term in those scripts matches as a **substring** of it:
//! `手机` matches "我的新手机". Consequences: such a term can match inside a longer word, and NEAR distances
//! count a whole run as one word. In phrases, write these scripts without spaces, as they appear in text.
//!
//! # What it deliberately does not do
//!
//! No IO, no allocation-heavy work per mention beyond the one [`MatchText`], no regex. No stemming
//! (`rocket` does not match "rockets"; write `rocket*`), no fuzzy or accent-insensitive matching (`café` does
//! not match "cafe"; write both), no Unicode normalisation (text with decomposed accents, `e` + U+0301, does
//! not match a query written with `é`; sources are expected to hand over NFC text, as nearly all do). Domains
//! are compared as written: internationalised domains must be written the way the URLs carry them
//! (usually punycode, `xn--…`).

use std::fmt;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters, digits, `_`, combining marks: words separated by anything else.
    Word,
    /// Scripts without spaces between words: a run is one token, matched by substring.
    NoSpace,
    /// Whitespace, punctuation, symbols, emoji.
    Sep,
}

/// Lower-cases one character, with the extra foldings the module docs promise. At most 3 chars come out.
fn fold(c: char) -> ([char; 3], usize) {
    match c {
        'A'..='Z' => ([c.to_ascii_lowercase(), '\0', '\0'], 1),
        c if c.is_ascii() => ([c, '\0', '\0'], 1),
        // Invisible format characters (soft hyphen, zero-width (non-)joiners, word joiner, BOM) are
        // dropped rather than splitting a word: "ac\u{AD}me" is "acme", on both sides.
        '\u{AD}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => (['\0'; 3], 0),
        'ß' | 'ẞ' => (['s', 's', '\0'], 2),
        'İ' => (['i', '\0', '\0'], 1),
        'ς' => (['σ', '\0', '\0'], 1),
        // Caseless, and common in text that is long in characters: skip the lower-casing tables.
        c if is_no_space_script(c) => ([c, '\0', '\0'], 1),
        '\u{FF01}'..='\u{FF5E}' => {
            let ascii = char::from_u32(c as u32 - 0xFEE0).unwrap_or(c);
            ([ascii.to_ascii_lowercase(), '\0', '\0'], 1)
        }
        c => {
            let mut out = ['\0'; 3];
            let mut n = 0;
            for l in c.to_lowercase() {
                out[n] = l;
                n += 1;
            }
            (out, n)
        }
    }
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

/// Non-ASCII punctuation and symbol blocks. Only consulted for characters that are not letters or digits,
/// so the letters inside these blocks (`ª`, `µ`, `ℓ`) still count as word characters.
fn is_punct_or_symbol(c: char) -> bool {
    matches!(c as u32,
        0x0080..=0x00BF | 0x00D7 | 0x00F7
        | 0x2000..=0x2BFF      // general punctuation, currency, letterlike, arrows, maths, shapes, dingbats
        | 0x2E00..=0x2E7F      // supplemental punctuation
        | 0x3000..=0x303F      // CJK symbols and punctuation
        | 0x30FB
        | 0xFE00..=0xFE6F      // variation selectors, vertical and small forms
        | 0xFF00..=0xFF65      // full-width punctuation
        | 0xFFF0..=0xFFFF
        | 0x1F000..=0x1FAFF    // emoji and pictographs
        | 0xE0000..=0xE007F    // tags (flag sequences)
    )
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

fn class(c: char) -> Class {
    if c.is_ascii() {
        if is_ascii_word_byte(c as u8) {
            Class::Word
        } else {
            Class::Sep
        }
    } else if is_no_space_script(c) {
        Class::NoSpace
    } else if c.is_alphanumeric() {
        Class::Word
    } else if c.is_whitespace() || c.is_control() || is_punct_or_symbol(c) {
        Class::Sep
    } else {
        // Combining marks and other joiners (Devanagari viramas, vowel signs, …) stay inside their word.
        Class::Word
    }
}

/// Folds `s` and splits it into tokens, appending the tokens' characters to `buf` (separators are not
/// kept) and calling `emit(start, end, class)` with each token's byte range in `buf`.
///
/// With `keep_stars` (query side), `*` is part of the word it touches; a `*` touching no word becomes a
/// token of its own so that the caller can reject it.
fn split(s: &str, keep_stars: bool, buf: &mut String, emit: impl FnMut(usize, usize, Class)) {
    let mut sp = Splitter { buf, emit, keep_stars, run: Class::Sep, run_start: 0, stars: 0 };
    let mut rest = s;
    while let Some(&b) = rest.as_bytes().first() {
        // Most text is ASCII: its words are copied and lower-cased a run at a time, without decoding,
        // folding tables or Unicode classes.
        if is_ascii_word_byte(b) {
            let len = rest.bytes().position(|b| !is_ascii_word_byte(b)).unwrap_or(rest.len());
            sp.push_ascii_word(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if b.is_ascii() {
            if b == b'*' {
                sp.push('*');
            } else {
                sp.end_run();
                sp.flush_stars();
            }
            rest = &rest[1..];
            continue;
        }
        let mut chars = rest.chars();
        let (folded, n) = fold(chars.next().expect("not empty"));
        rest = chars.as_str();
        for &f in &folded[..n] {
            sp.push(f);
        }
    }
    sp.end_run();
    sp.flush_stars();
}

struct Splitter<'b, F> {
    buf: &'b mut String,
    emit: F,
    keep_stars: bool,
    /// Class of the token being built; `Sep` between tokens.
    run: Class,
    run_start: usize,
    /// `*`s seen outside a token, waiting for the word they prefix.
    stars: usize,
}

impl<F: FnMut(usize, usize, Class)> Splitter<'_, F> {
    fn push(&mut self, f: char) {
        if self.keep_stars && f == '*' {
            if self.run == Class::Sep {
                self.stars += 1;
            } else {
                self.buf.push('*');
            }
            return;
        }
        match class(f) {
            Class::Sep => {
                self.end_run();
                self.flush_stars();
            }
            k => self.push_word_char(f, k),
        }
    }

    fn push_ascii_word(&mut self, word: &str) {
        self.start_run(Class::Word);
        let at = self.buf.len();
        self.buf.push_str(word);
        self.buf[at..].make_ascii_lowercase();
    }

    fn start_run(&mut self, k: Class) {
        if k != self.run {
            self.end_run();
            self.run = k;
            self.run_start = self.buf.len();
            if self.stars > 0 {
                self.buf.extend(std::iter::repeat_n('*', self.stars));
                self.stars = 0;
            }
        }
    }

    fn push_word_char(&mut self, f: char, k: Class) {
        self.start_run(k);
        self.buf.push(f);
    }

    fn end_run(&mut self) {
        if self.run != Class::Sep {
            (self.emit)(self.run_start, self.buf.len(), self.run);
            self.run = Class::Sep;
        }
    }

    /// A `*` touching no word is a token of its own, for the query parser to reject.
    fn flush_stars(&mut self) {
        if self.stars > 0 {
            let start = self.buf.len();
            self.buf.extend(std::iter::repeat_n('*', self.stars));
            (self.emit)(start, self.buf.len(), Class::Word);
            self.stars = 0;
        }
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
    start: usize,
    end: usize,
    key: u64,
    /// Word position; text positions start `SEGMENT_GAP` after the title's last word.
    pos: u32,
}

impl MatchText {
    /// `title` is separate from `text` so that phrases and NEAR do not run from one into the other.
    pub fn new(title: Option<&str>, text: &str) -> Self {
        let mut folded = String::with_capacity(title.map_or(0, str::len) + text.len());
        // About one token per six bytes of English text; avoids most regrowth.
        let mut tokens = Vec::with_capacity((title.map_or(0, str::len) + text.len()) / 6 + 1);
        let mut pos = 0u32;
        if let Some(title) = title {
            split(title, false, &mut folded, |start, end, _| {
                tokens.push(Token { start, end, key: 0, pos });
                pos += 1;
            });
            pos += SEGMENT_GAP;
        }
        split(text, false, &mut folded, |start, end, _| {
            tokens.push(Token { start, end, key: 0, pos });
            pos += 1;
        });
        for t in &mut tokens {
            t.key = key(&folded[t.start..t.end]);
        }
        MatchText { folded, tokens }
    }

    fn word(&self, t: &Token) -> &str {
        &self.folded[t.start..t.end]
    }
}

// ---------------------------------------------------------------------------------------------------------
// The query side.

/// One word of a term, folded like text. Word pieces must equal a whole token (up to wildcards); pieces in
/// scripts without spaces are substrings of a token, anchored on the side where the phrase continues.
#[derive(Debug, Clone)]
struct Piece {
    lit: String,
    /// `lit` split at `*`, when it has any.
    glob: Option<Vec<String>>,
    anchor_start: bool,
    anchor_end: bool,
    /// Quick rejection: a matching token is at least `min_len` bytes and `token.key & mask == key`
    /// (the key of the literal start of an anchored piece; zero otherwise).
    min_len: usize,
    key: u64,
    mask: u64,
}

impl Piece {
    fn new(lit: &str, anchor_start: bool, anchor_end: bool) -> Self {
        let glob: Option<Vec<String>> = lit.contains('*').then(|| lit.split('*').map(String::from).collect());
        let prefix = match &glob {
            _ if !anchor_start => "",
            Some(parts) => parts[0].as_str(),
            None => lit,
        };
        Piece {
            lit: lit.to_string(),
            min_len: lit.len() - lit.matches('*').count(),
            key: key(prefix),
            mask: key_mask(prefix.len()),
            glob,
            anchor_start,
            anchor_end,
        }
    }

    fn matches(&self, text: &MatchText, t: &Token) -> bool {
        let len = t.end - t.start;
        if len < self.min_len || t.key & self.mask != self.key {
            return false;
        }
        let tok = text.word(t);
        match &self.glob {
            None => match (self.anchor_start, self.anchor_end) {
                (true, true) => len == self.lit.len() && (len <= 8 || tok == self.lit),
                (true, false) => tok.starts_with(&self.lit),
                (false, true) => tok.ends_with(&self.lit),
                (false, false) => tok.contains(&self.lit),
            },
            Some(parts) => glob_match(parts, tok, self.anchor_start, self.anchor_end),
        }
    }
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
        split(written, true, &mut buf, |start, end, class| spans.push((start, end, class)));
        if spans.is_empty() {
            return Err(QueryError::new(col, format!("`{written}` has no letters or digits to match")));
        }
        let last = spans.len() - 1;
        let mut pieces = Vec::with_capacity(spans.len());
        for (j, (start, end, class)) in spans.into_iter().enumerate() {
            let lit = &buf[start..end];
            if lit.chars().all(|c| c == '*') {
                return Err(QueryError::new(
                    col,
                    format!("`{written}`: a wildcard `*` needs letters or digits next to it"),
                ));
            }
            let (anchor_start, anchor_end) = match class {
                Class::NoSpace => (j > 0, j < last),
                _ => (true, true),
            };
            pieces.push(Piece::new(lit, anchor_start, anchor_end));
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
    /// Left and not right.
    Not(Box<Node>, Box<Node>),
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
            Node::Not(keep, exclude) => {
                let mark = hits.len();
                if !self.eval(keep, text, hits) {
                    return false;
                }
                if self.eval(exclude, text, hits) {
                    hits.truncate(mark);
                    return false;
                }
                true
            }
            Node::Near { left, right, max_gap } => {
                let spans = |ids: &[usize]| -> Vec<(usize, u32, u32)> {
                    ids.iter().flat_map(|&i| self.terms[i].occurrences(text).map(move |(s, e)| (i, s, e))).collect()
                };
                let ls = spans(left);
                if ls.is_empty() {
                    return false;
                }
                let rs = spans(right);
                let mut found = false;
                for &(li, l_start, l_end) in &ls {
                    for &(ri, r_start, r_end) in &rs {
                        let gap = if l_end < r_start {
                            r_start - l_end - 1
                        } else if r_end < l_start {
                            l_start - r_end - 1
                        } else {
                            continue; // overlapping occurrences are one mention, not two
                        };
                        if gap <= *max_gap {
                            found = true;
                            hits.push(li);
                            hits.push(ri);
                        }
                    }
                }
                found
            }
        }
    }
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
        let mut node = self.near(negated, ctx)?;
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
            let exclude = self.near(true, Ctx::Op("NOT", col))?;
            node = Node::Not(Box::new(node), Box::new(exclude));
        }
        Ok(node)
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
    /// BCP 47 tag as the platform gave it.
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
        ("cafe", "café", None),
        ("straße", "STRASSE", Some(&["straße"])),
        ("STRASSE", "Straße", Some(&["strasse"])),
        ("strasse", "STRAẞE", Some(&["strasse"])),
        ("istanbul", "İstanbul", Some(&["istanbul"])),
        ("İSTANBUL", "istanbul", Some(&["istanbul"])),
        ("istanbul", "ISTANBUL", Some(&["istanbul"])),
        ("istanbul", "ıstanbul", None),
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
        ("acme", "acme\u{200B}rockets", Some(&["acme"])),
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
        ("acme *", 6, "`*`: a wildcard `*` needs letters or digits next to it"),
        ("acme \"* rockets\"", 7, "`* rockets`: a wildcard `*` needs letters or digits next to it"),
        (
            "日本 (((((((((((((((((((((((((((((((((x)))))))))))))))))))))))))))))))))",
            36,
            "parentheses nested more than 32 deep",
        ),
    ];

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
        let words: Vec<&str> = t.tokens.iter().map(|tok| t.word(tok)).collect();
        assert_eq!(words, ["hello", "world", "acme", "s", "café", "ss", "手机", "ab", "x_y"]);
        assert_eq!(t.tokens[2].pos, 2 + SEGMENT_GAP);
    }
}
