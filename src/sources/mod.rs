//! Sources: turning one platform response into [`NewMention`]s.
//!
//! Each platform has one file here with a `pub fn parse(text, ctx) -> Result<ParsedPage, ParseError>`.
//! [`parse_payload`] is the single entry point used by the poller and by `hearsay sources parse`: it
//! decodes the body's charset ([`crate::text::decode_body`]) and dispatches on [`Platform`].
//!
//! Parsers are written for hostile input. They never panic, never recurse over the payload (serde_json
//! caps nesting at 128 levels; the XML and HTML walkers are iterative), and read loosely typed JSON
//! through the helpers below so that a `null` or a number where a string was documented is tolerated.
//! An item without an id or a usable time is skipped and counted in [`ParsedPage::skipped`]; a payload
//! that is not the platform's format at all is a [`ParseError`].
//!
//! Architecture Invariant: this module does no IO and keeps no state. Fetching, cursors, storage,
//! dedup and classification live elsewhere; a parser only says what the page contained and what the
//! platform hinted about the next request ([`PageHints`]).

pub mod appstore;
pub mod bluesky;
pub mod facebook_page;
pub mod feed;
pub mod github;
pub mod google_business;
pub mod googleplay;
pub mod graph;
pub mod hackernews;
pub mod html;
pub mod instagram;
pub mod lemmy;
pub mod mastodon;
pub mod oauth;
pub mod reddit;
pub mod stackexchange;
pub mod threads;
pub mod trustpilot;
pub mod x;
pub mod yelp;
pub mod youtube;

// The polling half: request plans and the shared poll loop. Their `[[sources]]` entries are config's.
pub mod poll;
pub mod requests;

pub use crate::config::sources::{HtmlSelectors, PlatformSettings, SourceConfig};
pub use crate::mention::Platform;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::mention::{MentionKind, NewMention};

/// What the operator must do for a source of platform `p`, said after each of its configuration errors (a refused
/// credential, a missing permission, a wrong id): which token, which permissions or scope, where to set them. Each
/// platform that has something to say keeps it beside its parser (`<platform>::ADVICE`); the others' errors say
/// enough on their own.
pub fn advice(p: Platform) -> Option<&'static str> {
    match p {
        Platform::FacebookPage => Some(facebook_page::ADVICE),
        Platform::Instagram => Some(instagram::ADVICE),
        Platform::Threads => Some(threads::ADVICE),
        Platform::GooglePlay => Some(googleplay::ADVICE),
        Platform::GoogleBusiness => Some(google_business::ADVICE),
        _ => None,
    }
}

/// Bodies larger than this are refused rather than parsed: no platform page comes close, and a
/// runaway response should not take the daemon's memory with it.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// What a parser needs to know beyond the body: things the request knew but the payload may not say.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    /// The URL the body was fetched from. Relative links (`html`, `feed`) are resolved against it, and
    /// Stack Exchange excerpts (which carry no link) get `{base_url}/q/{id}` links from it.
    pub base_url: Option<String>,
    /// App Store storefront, e.g. `"gb"`. Defaults to the feed's own link, then `"us"`.
    pub country: Option<String>,
    /// Required for [`Platform::Html`]: which elements are mentions and where their fields are.
    pub html: Option<HtmlSelectors>,
    /// When the body was fetched; the time given to `html` items when no `date` selector is
    /// configured. Defaults to now.
    pub fetched_at: Option<DateTime<Utc>>,
}

/// Scheduling hints some platforms put in the body (the poller also reads the HTTP headers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageHints {
    /// Seconds to wait before the next request to this method (Stack Exchange `backoff`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_secs: Option<u64>,
    /// Requests left in the current quota (Stack Exchange `quota_remaining`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_remaining: Option<i64>,
    /// Whether the platform says more results follow (Stack Exchange `has_more`), for platforms that
    /// page by number rather than by token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// What one response contained.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedPage {
    pub mentions: Vec<NewMention>,
    /// Opaque token for the next (older) page, when the platform pages by token or link.
    pub next_page: Option<String>,
    /// Items that were recognisably this platform's but lacked an id or a usable time.
    pub skipped: usize,
    pub hints: PageHints,
}

/// The body is not what this platform returns: wrong format, truncated, an error page.
///
/// Callers treat it as a bad payload: count it, log a sample, retry on the normal schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} payload not understood: {reason}")]
pub struct ParseError {
    pub platform: Platform,
    pub reason: String,
}

impl ParseError {
    pub fn new(platform: Platform, reason: impl Into<String>) -> Self {
        ParseError { platform, reason: reason.into() }
    }
}

/// Decodes `body` (charset from `content_type`, BOM, XML or HTML declaration) and parses it as
/// `platform`'s response.
pub fn parse_payload(
    platform: Platform,
    body: &[u8],
    content_type: Option<&str>,
    ctx: &ParseContext,
) -> Result<ParsedPage, ParseError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ParseError::new(
            platform,
            format!("body is {} bytes, over the {MAX_BODY_BYTES}-byte limit", body.len()),
        ));
    }
    let text = crate::text::decode_body(body, content_type);
    match platform {
        Platform::Reddit => reddit::parse(&text, ctx),
        Platform::HackerNews => hackernews::parse(&text, ctx),
        Platform::Mastodon => mastodon::parse(&text, ctx),
        Platform::Bluesky => bluesky::parse(&text, ctx),
        Platform::Lemmy => lemmy::parse(&text, ctx),
        Platform::YouTube => youtube::parse(&text, ctx),
        Platform::StackExchange => stackexchange::parse(&text, ctx),
        Platform::GitHub => github::parse(&text, ctx),
        Platform::AppStore => appstore::parse(&text, ctx),
        Platform::Trustpilot => trustpilot::parse(&text, ctx),
        Platform::Yelp => yelp::parse(&text, ctx),
        Platform::X => x::parse(&text, ctx),
        Platform::GooglePlay => googleplay::parse(&text, ctx),
        Platform::GoogleBusiness => google_business::parse(&text, ctx),
        Platform::Threads => threads::parse(&text, ctx),
        Platform::FacebookPage => facebook_page::parse(&text, ctx),
        Platform::Instagram => instagram::parse(&text, ctx),
        Platform::Feed => feed::parse(&text, ctx),
        Platform::Html => html::parse(&text, ctx),
    }
}

// ---- helpers shared by the parsers -------------------------------------------------------------

/// Parses a JSON body, turning the common wrong answers (an HTML error page, an empty or truncated
/// body) into a one-line reason.
pub(crate) fn parse_json(platform: Platform, text: &str) -> Result<Value, ParseError> {
    let trimmed = text.trim_start_matches('\u{FEFF}').trim_start();
    if trimmed.is_empty() {
        return Err(ParseError::new(platform, "empty body, expected JSON"));
    }
    if trimmed.starts_with('<') {
        let what = if trimmed.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("<?xml")) { "XML" } else { "HTML" };
        return Err(ParseError::new(platform, format!("got {what}, expected JSON: {}", snippet(trimmed))));
    }
    serde_json::from_str(trimmed).map_err(|e| {
        let what = if e.is_eof() { "truncated JSON" } else { "invalid JSON" };
        ParseError::new(platform, format!("{what}: {e}"))
    })
}

/// Pages nested deeper than this are refused before html5ever sees them: its tree builder does
/// work proportional to the depth for every element, so a hostile page of 100 000 nested `<div>`s
/// would take minutes. Browsers cap the DOM depth lower than this (WebKit: 512).
pub const MAX_HTML_DEPTH: usize = 1024;

/// Refuses HTML nested deeper than [`MAX_HTML_DEPTH`], by a linear scan that keeps the open elements
/// (void elements, self-closing tags and elements whose end tag is optional are not counted). An end tag closes
/// its element and any opened inside it, and an end tag for no open element is ignored, as the HTML parser
/// does: counting it as a close let `<div></x>` repeated nest without limit and the parser take quadratic time.
pub(crate) fn check_html_depth(platform: Platform, html: &str) -> Result<(), ParseError> {
    let bytes = html.as_bytes();
    let mut open: Vec<Vec<u8>> = Vec::new();
    let mut i = 0usize;
    while let Some(off) = bytes.get(i..).and_then(|b| b.iter().position(|&c| c == b'<')) {
        let lt = i + off;
        let Some(gt) = bytes.get(lt..).and_then(|b| b.iter().position(|&c| c == b'>')) else { break };
        let tag = &bytes[lt + 1..lt + gt];
        i = lt + gt + 1;
        let closing = tag.first() == Some(&b'/');
        let name: Vec<u8> = tag
            .iter()
            .skip(usize::from(closing))
            .take_while(|c| c.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect();
        if name.is_empty() || tag.ends_with(b"/") || !counts_for_depth(&name) {
            continue;
        }
        if closing {
            if let Some(at) = open.iter().rposition(|n| *n == name) {
                open.truncate(at);
            }
        } else if name == b"script" || name == b"style" {
            let end: &[u8] = if name == b"script" { b"</script" } else { b"</style" };
            i = bytes[i..].windows(end.len()).position(|w| w.eq_ignore_ascii_case(end)).map_or(bytes.len(), |p| i + p);
        } else {
            open.push(name);
            if open.len() > MAX_HTML_DEPTH {
                return Err(ParseError::new(platform, format!("HTML nested deeper than {MAX_HTML_DEPTH} elements")));
            }
        }
    }
    Ok(())
}

fn counts_for_depth(name: &[u8]) -> bool {
    !matches!(
        name,
        b"area"
            | b"base"
            | b"br"
            | b"col"
            | b"embed"
            | b"hr"
            | b"img"
            | b"input"
            | b"link"
            | b"meta"
            | b"source"
            | b"track"
            | b"wbr"
            | b"p"
            | b"li"
            | b"dt"
            | b"dd"
            | b"tr"
            | b"td"
            | b"th"
            | b"option"
            | b"optgroup"
            | b"thead"
            | b"tbody"
            | b"tfoot"
            | b"colgroup"
            | b"caption"
            | b"rb"
            | b"rt"
            | b"rp"
            | b"html"
            | b"head"
            | b"body"
    )
}

/// The first 60 characters of a body, on one line, for error messages.
pub(crate) fn snippet(s: &str) -> String {
    let one_line: String = s.chars().take(60).map(|c| if c.is_control() { ' ' } else { c }).collect();
    one_line.trim().to_string()
}

/// `v[path[0]][path[1]]…`, or `None` when any step is missing or not an object.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.as_object()?.get(*key))
}

/// A non-empty string at `path` (numbers are not strings here; see [`id_at`]).
pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str().filter(|s| !s.trim().is_empty())
}

/// An owned non-empty string at `path`.
pub(crate) fn string_at(v: &Value, path: &[&str]) -> Option<String> {
    str_at(v, path).map(str::to_string)
}

/// An identifier at `path`: a non-empty string, or an integer written out.
pub(crate) fn id_at(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An integer at `path`: a JSON number (floats truncated) or a numeric string.
pub(crate) fn i64_at(v: &Value, path: &[&str]) -> Option<i64> {
    match at(v, path)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
        }
        _ => None,
    }
}

/// A boolean at `path`.
pub(crate) fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    at(v, path)?.as_bool()
}

/// A star rating 1–5 from a number or numeric string (half stars rounded).
pub(crate) fn rating_at(v: &Value, path: &[&str]) -> Option<u8> {
    let r = match at(v, path)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (1.0..=5.0).contains(&r.round()).then(|| r.round() as u8)
}

/// A Unix time (seconds; a number or numeric string) at `path`.
pub(crate) fn unix_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    let secs = match at(v, path)? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    unix_time(secs)
}

pub(crate) fn unix_time(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() || secs.abs() > 1e13 {
        return None;
    }
    DateTime::from_timestamp(secs.trunc() as i64, 0)
}

/// A time written as text at `path`, see [`parse_time`].
pub(crate) fn time_at(v: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    parse_time(str_at(v, path)?)
}

/// Parses the time formats platforms and feeds actually send: RFC 3339, RFC 2822 (also with a wrong
/// weekday or a named zone), ISO 8601 without an offset (read as UTC, as Lemmy 0.18 and Yelp send),
/// `YYYY-MM-DD HH:MM:SS`, a bare date, and Unix seconds.
pub fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t.with_timezone(&Utc));
    }
    // RFC 2822 with a weekday that does not match the date, or with trailing junk like "(UTC)".
    if let Some((_, rest)) = s.split_once(',') {
        if let Ok(t) = DateTime::parse_from_rfc2822(rest.trim()) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f %z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    // Hand-rolled feed dates: "Sat, Dec 16 2023 02:02:33 PM", "16 Dec 2023 14:02 CEST", "June 3, 2024".
    // A zone we cannot name is dropped and the time read as UTC: hours off beats losing the item.
    let no_weekday = match s.split_once(',') {
        Some((day, rest)) if day.len() <= 9 && day.chars().all(char::is_alphabetic) => rest.trim(),
        _ => s,
    };
    let no_zone = match no_weekday.rsplit_once(' ') {
        Some((rest, zone))
            if zone.len() <= 5 && zone.chars().all(|c| c.is_ascii_uppercase()) && zone != "PM" && zone != "AM" =>
        {
            rest
        }
        _ => no_weekday,
    };
    for fmt in [
        "%b %d %Y %I:%M:%S %p",
        "%b %d, %Y %I:%M:%S %p",
        "%b %d, %Y %I:%M %p",
        "%d %b %Y %H:%M:%S",
        "%d %b %Y %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(no_zone, fmt) {
            return Some(t.and_utc());
        }
    }
    for fmt in ["%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(no_zone, fmt) {
            return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        }
    }
    let naive = s.trim_end_matches(['Z', 'z']);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<f64>().ok().and_then(unix_time);
    }
    None
}

/// A mention with the required fields set and the rest empty, for parsers to fill in.
pub(crate) fn mention(
    platform: Platform,
    external_id: String,
    created_at: DateTime<Utc>,
    kind: MentionKind,
) -> NewMention {
    NewMention {
        platform: platform.as_str().to_string(),
        external_id,
        url: None,
        author: None,
        title: None,
        text: String::new(),
        created_at,
        kind,
        lang: None,
        rating: None,
        metrics: BTreeMap::new(),
        parent_id: None,
        location: None,
    }
}

/// Copies the integer counters named in `keys` from `v` into `metrics` (missing ones are left out).
pub(crate) fn copy_metrics(metrics: &mut BTreeMap<String, i64>, v: &Value, keys: &[&str]) {
    for key in keys {
        if let Some(n) = i64_at(v, &[key]) {
            metrics.insert((*key).to_string(), n);
        }
    }
}

/// `Some(s)` unless `s` is blank.
pub(crate) fn non_empty(s: String) -> Option<String> {
    (!s.trim().is_empty()).then_some(s)
}

/// The URL to store for a link found in a payload: a web link (`crate::link`) resolved against `base` (the page
/// it was found on) and normalised; anything else exactly as given, trimmed.
///
/// Only `http`/`https` links count as absolute here. A link with another scheme (`javascript:`, `data:`,
/// `vbscript:`, `file:`, `mailto:`, also written `" JaVaScRiPt:"` or `"java\tscript:"`) is neither resolved nor
/// normalised nor dropped: the mention is stored with the value the source sent, and no renderer makes it a link
/// because they all ask [`crate::link::safe_href`]. A relative link without a usable web base stays as given too.
pub(crate) fn resolve_link(base: Option<&str>, link: &str) -> String {
    let link = link.trim();
    if let Ok(abs) = url::Url::parse(link) {
        return if crate::link::is_web(&abs) { abs.into() } else { link.to_string() };
    }
    base.and_then(|b| url::Url::parse(b).ok())
        .and_then(|b| b.join(link).ok())
        .filter(crate::link::is_web)
        .map_or_else(|| link.to_string(), String::from)
}

/// The `reviews` array of a Google API response (Play Developer API, Business Profile): a body with `error` is a
/// [`ParseError`] carrying Google's message; a missing `reviews` is an empty page when every other key is one of
/// `empty_keys` (Google leaves an empty list out), and any other document is not a reviews response.
pub(crate) fn google_reviews<'v>(p: Platform, root: &'v Value, empty_keys: &[&str]) -> Result<&'v [Value], ParseError> {
    let Some(obj) = root.as_object() else {
        return Err(ParseError::new(p, "not a reviews response: expected a JSON object"));
    };
    if let Some(err) = obj.get("error") {
        let said = str_at(err, &["message"]).or(err.as_str()).unwrap_or("no message");
        return Err(ParseError::new(p, format!("error response: {said}")));
    }
    match obj.get("reviews") {
        Some(Value::Array(r)) => Ok(r.as_slice()),
        Some(_) => Err(ParseError::new(p, "not a reviews response: `reviews` is not an array")),
        None if obj.keys().all(|k| empty_keys.contains(&k.as_str())) => Ok(&[]),
        None => Err(ParseError::new(p, "not a reviews response: no `reviews`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// End tags for elements that are not open change nothing (the HTML parser ignores them), so they cannot
    /// hide nesting; real end tags close what was opened inside their element too.
    #[test]
    fn html_depth_counts_what_the_parser_keeps_open() {
        let stray = [b"<html><body>".as_slice(), &b"<div></x>".repeat(40_000), b"</body></html>"].concat();
        let stray = String::from_utf8(stray).unwrap();
        let started = std::time::Instant::now();
        let err = check_html_depth(Platform::Html, &stray).unwrap_err();
        assert!(err.to_string().contains("nested deeper"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        // `</div>` closes the <span>s opened inside it: flat, however often it repeats.
        let closed = "<div><span><span></div>".repeat(5_000);
        check_html_depth(Platform::Html, &closed).unwrap();
        let nested = "<div><section>".repeat(600);
        assert!(check_html_depth(Platform::Html, &nested).is_err());
    }

    /// Web links are resolved against the page and normalised; a link with any other scheme is kept exactly as
    /// the payload gave it (trimmed), never resolved and never a web link (`crate::link`).
    #[test]
    fn resolve_link_resolves_web_links_and_keeps_other_schemes_as_given() {
        let page = Some("https://forum.example/latest/");
        let cases: &[(Option<&str>, &str, &str)] = &[
            (page, "/thread/1#p1", "https://forum.example/thread/1#p1"),
            (page, "t/2", "https://forum.example/latest/t/2"),
            (page, "//cdn.example/x", "https://cdn.example/x"),
            (page, " HTTPS://Other.Example/t/2 ", "https://other.example/t/2"),
            (None, "/thread/1", "/thread/1"),
            (Some("not a url"), "/thread/1", "/thread/1"),
            (Some("file:///srv/page.html"), "thread/1", "thread/1"),
            (page, "javascript:alert(1)", "javascript:alert(1)"),
            (page, " JaVaScRiPt:alert(1)", "JaVaScRiPt:alert(1)"),
            (page, "java\tscript:alert(1)", "java\tscript:alert(1)"),
            (page, "\u{1}javascript:alert(1)", "\u{1}javascript:alert(1)"),
            (page, "data:text/html,<script>alert(1)</script>", "data:text/html,<script>alert(1)</script>"),
            (page, "VBScript:msgbox(1)", "VBScript:msgbox(1)"),
            (page, "file:///etc/passwd", "file:///etc/passwd"),
            (page, "mailto:press@forum.example", "mailto:press@forum.example"),
        ];
        let mut wrong = Vec::new();
        for (base, link, want) in cases {
            let got = resolve_link(*base, link);
            if got != *want {
                wrong.push(format!("{base:?} + {link:?}: got {got:?}, want {want:?}"));
            }
            let web = crate::link::safe_href(&got).is_some();
            if web != want.starts_with("https://") {
                wrong.push(format!("{base:?} + {link:?}: stored {got:?} is a web link: {web}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
