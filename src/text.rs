//! Text normalisation shared by every source parser: charset decoding of response bodies, HTML to plain
//! text, URL canonicalisation and the syndication hash.
//!
//! Everything here is a pure function over untrusted input: no IO, no panics, and linear time in the
//! input length (hostile payloads are run through these functions, so no backtracking regexes and no
//! recursion).
//!
//! Architecture Invariant: this module knows nothing about platforms. Platform quirks (Reddit's
//! pre-escaped markdown, Google Alerts' `<b>` titles) are handled in `sources/`, which calls these helpers.

use std::borrow::Cow;

use encoding_rs::Encoding;
use sha2::{Digest, Sha256};
use url::Url;

/// How far into a body we look for an XML declaration or a `<meta charset>`, as browsers do.
const SNIFF_LEN: usize = 1024;

/// Decodes a response body to a `String`.
///
/// The charset is taken from, in order: a byte-order mark, the `charset=` parameter of the HTTP
/// `Content-Type`, an XML declaration's `encoding="…"`, a `<meta charset>` / `http-equiv` in the first
/// 1 KiB, and finally UTF-8. The BOM goes first (as in the WHATWG encoding standard) because a server
/// that writes one knows the bytes better than a proxy's default `Content-Type`. Labels are resolved
/// the WHATWG way (`latin1` and `iso-8859-1` mean windows-1252). Invalid sequences become U+FFFD.
pub fn decode_body(bytes: &[u8], content_type: Option<&str>) -> String {
    let (encoding, bom_len) = match Encoding::for_bom(bytes) {
        Some((enc, len)) => (enc, len),
        None => {
            let enc = content_type
                .and_then(charset_param)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
                .or_else(|| sniff_declared(bytes))
                .unwrap_or(encoding_rs::UTF_8);
            (enc, 0)
        }
    };
    let body = bytes.get(bom_len..).unwrap_or_default();
    let (text, _had_errors) = encoding.decode_without_bom_handling(body);
    text.into_owned()
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// Looks for an XML declaration or an HTML `<meta>` charset in the first [`SNIFF_LEN`] bytes.
///
/// A declared UTF-16 is read as UTF-8: we could only read the declaration because the bytes are
/// ASCII-compatible, so the declaration is wrong (this is what browsers do too).
fn sniff_declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let label = xml_declared_encoding(&lower).or_else(|| meta_charset(&lower))?;
    let enc = Encoding::for_label(label)?;
    if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
        Some(encoding_rs::UTF_8)
    } else {
        Some(enc)
    }
}

fn xml_declared_encoding(lower: &[u8]) -> Option<&[u8]> {
    let start = lower.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = lower.get(start..)?;
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = find(rest, b"?>")?;
    let decl = &rest[..end];
    let at = find(decl, b"encoding")?;
    attr_value_after(&decl[at + b"encoding".len()..])
}

fn meta_charset(lower: &[u8]) -> Option<&[u8]> {
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"<meta") {
        let tag_start = from + at;
        let tag_end = lower[tag_start..].iter().position(|&b| b == b'>').map_or(lower.len(), |p| tag_start + p);
        let tag = &lower[tag_start..tag_end];
        if let Some(cs) = find(tag, b"charset") {
            if let Some(v) = attr_value_after(&tag[cs + b"charset".len()..]) {
                return Some(v);
            }
        }
        from = tag_end;
    }
    None
}

/// Reads `= "value"` (quotes optional) and returns `value`.
fn attr_value_after(s: &[u8]) -> Option<&[u8]> {
    let s = trim_ascii_start(s);
    let s = trim_ascii_start(s.strip_prefix(b"=")?);
    let (quote, s) = match s.first() {
        Some(&q @ (b'"' | b'\'')) => (Some(q), &s[1..]),
        _ => (None, s),
    };
    let end = s
        .iter()
        .position(|&b| match quote {
            Some(q) => b == q,
            None => b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b';' | b'>' | b'/'),
        })
        .unwrap_or(s.len());
    let v = &s[..end];
    (!v.is_empty()).then_some(v)
}

fn trim_ascii_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Tags whose boundaries separate words (`a<br>b` is two words, `a<b>b</b>` is one).
fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "thead"
            | "tbody"
            | "blockquote"
            | "pre"
            | "hr"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "aside"
            | "nav"
            | "figure"
            | "figcaption"
            | "main"
            | "form"
            | "title"
            | "img"
    )
}

/// Converts an HTML fragment or document to plain text.
///
/// Tags are removed (block-level tags and `<br>` separate words), `<script>`, `<style>` and comments
/// are dropped with their content, entities are decoded and whitespace is collapsed to single spaces.
/// A `<` that cannot start a tag (`a < b`) is kept as text. Runs in one pass; an unterminated tag at
/// the end of a truncated input is dropped.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let bytes = html.as_bytes();
    let mut i = 0;
    let mut text_start = 0;
    while let Some(off) = memchr_lt(&bytes[i..]) {
        let lt = i + off;
        let next = bytes.get(lt + 1).copied();
        let starts_tag = matches!(next, Some(b) if b.is_ascii_alphabetic() || b == b'/' || b == b'!' || b == b'?');
        if !starts_tag {
            i = lt + 1;
            continue;
        }
        raw.push_str(&html[text_start..lt]);
        if html[lt..].starts_with("<!--") {
            i = match html[lt + 4..].find("-->") {
                Some(end) => lt + 4 + end + 3,
                None => bytes.len(),
            };
            text_start = i;
            continue;
        }
        let Some(tag_end) = tag_end(bytes, lt + 1) else {
            i = bytes.len();
            text_start = i;
            break;
        };
        let name = tag_name(&html[lt + 1..tag_end]);
        let closing = next == Some(b'/');
        i = tag_end + 1;
        if !closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
            let close = if name.eq_ignore_ascii_case("script") { "</script" } else { "</style" };
            i = match find_ascii_ci(&bytes[i..], close.as_bytes()) {
                Some(p) => i + p,
                None => bytes.len(),
            };
        } else if is_block_tag(&name.to_ascii_lowercase()) {
            raw.push(' ');
        }
        text_start = i;
    }
    if text_start < bytes.len() {
        raw.push_str(&html[text_start..]);
    }
    collapse_whitespace(&decode_entities(&raw))
}

fn memchr_lt(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'<')
}

/// Index of the `>` that ends a tag starting at `from`, honouring quoted attribute values.
fn tag_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (off, &b) in bytes.get(from..)?.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => return Some(from + off),
            None => {}
        }
    }
    None
}

fn tag_name(inner: &str) -> &str {
    let inner = inner.trim_start_matches(['/', '!', '?']);
    let end = inner.find(|c: char| c.is_ascii_whitespace() || c == '/' || c == '>').unwrap_or(inner.len());
    &inner[..end]
}

fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// Decodes HTML character references as the WHATWG HTML tokenizer does (with `htmlize`, which carries the spec's
/// table): every named reference (`&hellip;`, `&eacute;`, `&rarr;`, …), decimal and hex references, where
/// 128–159 are read as windows-1252 (`&#150;` is `–`, as browsers do) and 0, surrogates and numbers past U+10FFFF
/// become U+FFFD. Unknown names stay as written (`&bogus;`, `Q&A`).
///
/// The legacy names that the spec reads without a semicolon (`&amp`, `&copy`, `&eacute`) are decoded by its rule
/// for attribute values: not when a letter, digit or `=` follows, so a bare link's query string
/// (`?id=1&region=eu&timestamp=2`) stays intact. Platforms hand us text that is escaped but not HTML (markdown,
/// feeds' plain-text descriptions) full of such links; in text content the spec would make that `®ion=eu`.
///
/// Every character stays the character it is: `&shy;` is U+00AD, `&zwj;` U+200D (so emoji sequences hold),
/// `&nbsp;` U+00A0. The brand matcher skips invisible characters inside words (`src/query.rs`), so `ac&shy;me`
/// is still found by `acme`; [`collapse_whitespace`] turns the no-break space, which is whitespace, into a space.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    htmlize::unescape_attribute(s)
}

/// Collapses every run of whitespace to one space and trims the ends. Only whitespace: zero-width and other
/// invisible characters (U+200B, U+200D, U+00AD, U+2060, U+FEFF) are not spaces and stay where they are, inside
/// their word or emoji sequence.
pub fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Plain text that a platform has HTML-escaped but not marked up (Reddit's markdown, YouTube's
/// `textOriginal`): entities decoded, whitespace collapsed, `<` kept.
pub fn plain_text(s: &str) -> String {
    collapse_whitespace(&decode_entities(s))
}

/// Query parameters that only track where a click came from; dropping them lets the same article
/// shared from two places compare equal.
fn is_tracking_param(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_")
        || matches!(
            lower.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gbraid"
                | "wbraid"
                | "msclkid"
                | "yclid"
                | "twclid"
                | "ttclid"
                | "mc_cid"
                | "mc_eid"
                | "ref"
                | "ref_src"
                | "ref_url"
                | "igshid"
                | "si"
                | "_ga"
                | "_gl"
                | "_hsenc"
                | "_hsmi"
                | "mkt_tok"
                | "oly_anon_id"
                | "oly_enc_id"
                | "vero_id"
                | "spm"
                | "cmpid"
                | "ncid"
        )
}

/// A canonical form of an absolute http(s) URL for deduplication, or `None` when `raw` is not one.
///
/// Scheme and host are lower-cased, default ports and the fragment dropped, tracking parameters
/// (`utm_*`, `fbclid`, `gclid`, `ref`, `si`, …) removed and the rest sorted. Google redirect links
/// (`https://www.google.com/url?…&url=REAL` or `q=REAL`, as in Google Alerts) are unwrapped first.
pub fn canonical_url(raw: &str) -> Option<String> {
    let url = Url::parse(raw.trim()).ok()?;
    let url = unwrap_google_redirect(&url).unwrap_or(url);
    canonicalise(url)
}

fn canonicalise(mut url: Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_fragment(None);
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if params.is_empty() {
        url.set_query(None);
    } else {
        params.sort();
        url.query_pairs_mut().clear().extend_pairs(params);
    }
    Some(url.into())
}

/// The target of a `google.<tld>/url?url=…` (or `q=…`) redirect, when `url` is one.
pub fn unwrap_google_redirect(url: &Url) -> Option<Url> {
    let host = url.host_str()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    if !host.starts_with("google.") || url.path() != "/url" {
        return None;
    }
    url.query_pairs()
        .find(|(k, _)| k == "url" || k == "q")
        .and_then(|(_, v)| Url::parse(&v).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Same as [`unwrap_google_redirect`] on a string; returns the input unchanged when it is not one.
pub fn unwrap_google_redirect_str(raw: &str) -> String {
    Url::parse(raw).ok().and_then(|u| unwrap_google_redirect(&u)).map_or_else(|| raw.to_string(), String::from)
}

/// Hex SHA-256 of the normalised title and text, so syndicated copies of one story count once.
///
/// Normalisation: lower-case, URLs removed (words starting `http://`, `https://` or `www.`), every
/// non-alphanumeric character a space, whitespace collapsed. Markup should already be gone
/// (use [`html_to_text`] first).
pub fn text_hash(title: Option<&str>, text: &str) -> String {
    let mut norm = String::with_capacity(text.len() + title.map_or(0, str::len) + 1);
    for part in title.into_iter().chain(std::iter::once(text)) {
        for word in part.split_whitespace() {
            let lower = word.to_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("www.") {
                continue;
            }
            for c in lower.chars() {
                if c.is_alphanumeric() {
                    norm.push(c);
                } else if !norm.ends_with(' ') {
                    norm.push(' ');
                }
            }
            if !norm.is_empty() && !norm.ends_with(' ') {
                norm.push(' ');
            }
        }
    }
    let digest = Sha256::digest(norm.trim_end().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{MatchText, Query};

    fn found(query: &str, text: &str) -> bool {
        Query::parse(query).unwrap().matches(&MatchText::new(None, text)).is_some()
    }

    /// Soft hyphens and zero-width characters stay the invisible characters they are, so the brand matcher
    /// (which skips them inside words) still sees one word.
    #[test]
    fn invisible_entities_stay_inside_their_word() {
        for html in ["ac&shy;me", "ac&#173;me", "ac&#xAD;me", "ac&zwnj;me", "ac&zwj;me", "ac&#8203;me", "ac&NoBreak;me"]
        {
            let text = html_to_text(html);
            assert!(found("acme", &text), "{html} → {text:?}");
            assert!(!text.contains(' '), "{html} → {text:?}");
        }
        assert_eq!(html_to_text("ac&shy;me rockets"), "ac\u{AD}me rockets");
        assert_eq!(plain_text("ac&shy;me"), "ac\u{AD}me");
        assert_eq!(collapse_whitespace(" a\u{200B}b \u{FEFF}c\u{2060}d\n"), "a\u{200B}b \u{FEFF}c\u{2060}d");
    }

    #[test]
    fn zwj_emoji_sequences_survive() {
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}";
        assert_eq!(
            html_to_text("family &#x1F468;&zwj;&#x1F469;&zwj;&#x1F467; at acme"),
            format!("family {family} at acme")
        );
        assert_eq!(html_to_text(&format!("<p>{family}</p>")), family);
        assert_eq!(plain_text("\u{1F469}&#8205;\u{1F680} acme"), "\u{1F469}\u{200D}\u{1F680} acme");
        assert!(found("acme", &html_to_text(&format!("acme{family}"))));
    }

    /// The WHATWG numeric character reference rules: 0x80–0x9F are read as windows-1252, and code points
    /// that cannot be characters become U+FFFD.
    #[test]
    fn numeric_references_follow_the_html_spec() {
        for (html, want) in [
            ("&#150;", "–"),
            ("&#x96;", "–"),
            ("&#128;", "€"),
            ("&#146;", "’"),
            ("&#159;", "Ÿ"),
            ("&#129;", "\u{81}"), // no windows-1252 character there: kept as is
            ("&#233;", "é"),
            ("&#0;", "\u{FFFD}"),
            ("&#xD800;", "\u{FFFD}"),
            ("&#x110000;", "\u{FFFD}"),
            ("&#99999999999999;", "\u{FFFD}"),
            ("&#39", "'"),
        ] {
            assert_eq!(decode_entities(html), want, "{html}");
        }
    }

    #[test]
    fn named_references_use_the_full_table() {
        for (html, want) in [
            ("&hellip;", "…"),
            ("&eacute;", "é"),
            ("&rarr;", "→"),
            ("&Ccaron;", "Č"),
            ("&lsquo;x&rsquo;", "‘x’"),
            ("&amp;", "&"),
            // The legacy forms without a semicolon that the spec still reads.
            ("AT&amp T", "AT& T"),
            ("&copy 2024", "© 2024"),
            ("caf&eacute", "café"),
            // Unknown names, and names the spec only knows with a semicolon, stay as written.
            ("&bogus;", "&bogus;"),
            ("&hellip", "&hellip"),
            ("Q&A", "Q&A"),
            ("a & b", "a & b"),
        ] {
            assert_eq!(decode_entities(html), want, "{html}");
        }
        assert_eq!(html_to_text("wait&hellip; <b>caf&eacute;</b> &rarr; ok"), "wait… café → ok");
        // `&nbsp;` is the no-break space, which is whitespace like any other.
        assert_eq!(html_to_text("a&nbsp;&nbsp;b"), "a b");
    }

    /// A legacy name followed by a letter, digit or `=` is not a reference (the spec's rule for attribute values),
    /// so links in text keep their query strings.
    #[test]
    fn bare_links_keep_their_query_strings() {
        let link = "https://shop.example/?id=1&region=eu&copy=2&timestamp=3&notify";
        assert_eq!(decode_entities(link), link);
        assert_eq!(html_to_text(&format!("<p>see {link}</p>")), format!("see {link}"));
        assert_eq!(decode_entities("&copy2024 &amp;region=eu"), "&copy2024 &region=eu");
    }
}
