//! Text normalisation applied before tokenisation ("preprocess v1").
//!
//! This is a contract with the training code (`tools/train-sentiment/common.py`, `preprocess_v1`): the
//! model only ever saw text that went through these three steps, so they must stay identical byte for byte.
//! A change here needs a new `"preprocess"` tag in `labels.json` and a retrained model.
//!
//! The Python side is three regular expressions; they are simple enough that a hand-written scanner matches
//! them exactly without pulling in the `regex` crate:
//!
//! 1. `@[A-Za-z0-9_]+(@[A-Za-z0-9_.-]+)?` → `@user` (handles, including fediverse `@name@instance`),
//! 2. `https?://\S+|www\.\S+` → `http`,
//! 3. `" ".join(text.split())`: whitespace runs become one space, ends trimmed.
//!
//! Lower-casing is *not* done here: the tokenizer's normaliser does it.
//!
//! Architecture Invariant: this module is pure string code; it knows nothing about tokens or models.

/// The preprocess tag this module implements, as written in `labels.json`.
pub const PREPROCESS_V1: &str = "v1";

/// Applies preprocess "v1" (see the module docs) and returns the normalised text.
pub fn preprocess_v1(text: &str) -> String {
    let text = replace_mentions(text);
    let text = replace_urls(&text);
    collapse_whitespace(&text)
}

/// Python's `str.isspace()` (what `\s` and `str.split()` use): Unicode `White_Space` plus the four ASCII
/// information separators U+001C..U+001F, which Rust's `char::is_whitespace` leaves out.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_handle_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_instance_char(b: u8) -> bool {
    is_handle_char(b) || b == b'.' || b == b'-'
}

/// Length of the run of bytes at the start of `s` that satisfy `pred`.
fn run_len(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| pred(b)).count()
}

/// Step 1: `@[A-Za-z0-9_]+(@[A-Za-z0-9_.-]+)?` → `@user`, leftmost-first and greedy like Python's `re`.
fn replace_mentions(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0; // bytes[..copied] are already in `out`
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' {
            i += 1;
            continue;
        }
        let handle = run_len(&bytes[i + 1..], is_handle_char);
        if handle == 0 {
            i += 1;
            continue;
        }
        let mut end = i + 1 + handle;
        if bytes.get(end) == Some(&b'@') {
            let instance = run_len(&bytes[end + 1..], is_instance_char);
            if instance > 0 {
                end += 1 + instance;
            }
        }
        // Every byte matched is ASCII, so `i` and `end` are char boundaries.
        out.push_str(&text[copied..i]);
        out.push_str("@user");
        copied = end;
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Step 2: `https?://\S+|www\.\S+` → `http`.
fn replace_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let prefix = ["https://", "http://", "www."].into_iter().find(|p| rest.starts_with(p)).map_or(0, str::len);
        if prefix > 0 {
            let tail: usize = rest[prefix..].chars().take_while(|&c| !is_py_space(c)).map(char::len_utf8).sum();
            if tail > 0 {
                out.push_str(&text[copied..i]);
                out.push_str("http");
                i += prefix + tail;
                copied = i;
                continue;
            }
        }
        // Advance by one character so that `i` stays on a char boundary.
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    out.push_str(&text[copied..]);
    out
}

/// Step 3: `" ".join(text.split())`.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(is_py_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::preprocess_v1;

    #[test]
    fn table() {
        // (input, expected) pairs; the expectations were checked against the Python `preprocess_v1`.
        let cases = [
            ("", ""),
            ("   ", ""),
            ("plain text", "plain text"),
            ("@jack hello", "@user hello"),
            ("hi @jack_2!", "hi @user!"),
            ("ping @alice@mastodon.social now", "ping @user now"),
            ("trailing @alice@ x", "trailing @user@ x"),
            ("mail me: bob@example.com", "mail me: bob@user.com"),
            ("@ alone", "@ alone"),
            ("@@double", "@@user"),
            ("@émile", "@émile"),
            ("see https://t.co/abc123 now", "see http now"),
            ("see http://x.y/z?q=1&r=2.", "see http"),
            ("www.example.com/path rocks", "http rocks"),
            ("awww.com", "ahttp"),
            ("http:// nothing", "http:// nothing"),
            ("https://", "https://"),
            ("HTTPS://CAPS.COM", "HTTPS://CAPS.COM"),
            ("url https://x.com/@someone end", "url http end"),
            ("café\u{a0}au\u{3000}lait", "café au lait"),
            ("tabs\tand\nnewlines\r\n", "tabs and newlines"),
            ("sep\u{1f}unit\u{1c}file", "sep unit file"),
            ("zero\u{200b}width", "zero\u{200b}width"),
            ("  many    spaces  ", "many spaces"),
            ("😀 @x https://y.z 日本語", "😀 @user http 日本語"),
        ];
        for (input, expected) in cases {
            assert_eq!(preprocess_v1(input), expected, "input {input:?}");
        }
    }
}
