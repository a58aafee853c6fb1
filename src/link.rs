//! Which URLs hearsay turns into links: absolute `http` and `https` URLs with a host, nothing else.
//!
//! A mention's URL comes from a payload hearsay polled, so whoever writes the feed or page decides it; a brand
//! manager clicks it in an alert email, the daily digest, `hearsay report`, and (issue 24) the web console.
//! Every one of those writes an `href` for a mention only through [`safe_href`], so there is one policy to read
//! and to test.
//!
//! The policy: the text must parse as an absolute URL with the `url` crate (the WHATWG URL parser, the one
//! browsers implement), its scheme must be `http` or `https`, and it must have a host. `javascript:`, `data:`,
//! `vbscript:`, `file:`, `mailto:`, `ftp:`, relative and unparsable links are never links. The parser does what a
//! browser does with the tricks people use to sneak a script past a prefix check: it drops leading and trailing
//! spaces and control characters (`" javascript:…"`, `"\u{1}javascript:…"`), removes tabs and newlines anywhere
//! (`"java\tscript:…"`), and lower-cases the scheme (`"JaVaScRiPt:…"`); so the scheme checked is the scheme a
//! client would run. The `href` written is the parsed URL's serialisation ([`Href`]), not the text we were given:
//! what the reader's client parses is exactly what was checked, on one line, with spaces, quotes and angle
//! brackets percent-encoded. HTML-escaping the attribute (the `&` of a query) is still the renderer's job.
//!
//! What is stored is a separate decision, made in `sources::resolve_link`: the store keeps data, the renderers
//! decide what is a link. A web link is stored resolved against the page it was found on and normalised; a link
//! with any other scheme is stored exactly as the payload gave it (trimmed), neither resolved against the page nor
//! dropped. The mention is kept (a feed item whose only identifier is its link keeps that identifier), the odd
//! value stays visible to `hearsay mentions` and `export` as evidence of what the source sent, and it is never
//! written into an `href` because every renderer asks [`safe_href`] first.
//!
//! Plain text: the text part of alert and digest emails shows a mention's URL only when it passes the same policy,
//! and then in its normalised form. Mail clients turn URLs in plain text into links, and a raw stored value could
//! carry line breaks that forge lines of the message; a URL that is not a web link is left out of the email (the
//! store still has it).
//!
//! Architecture Invariant: pure (no IO, no state), never panics.

use std::fmt;

/// A URL that passed the policy: an absolute `http`/`https` URL with a host, in the `url` crate's serialisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Href(String);

impl Href {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Href {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Href> for String {
    fn from(h: Href) -> String {
        h.0
    }
}

/// `raw` as a link target, when it is an absolute `http`/`https` URL with a host; `None` for anything else.
pub fn safe_href(raw: &str) -> Option<Href> {
    let url = url::Url::parse(raw).ok()?;
    is_web(&url).then(|| Href(url.into()))
}

/// Whether a parsed URL is a web link: `http` or `https` with a non-empty host.
pub fn is_web(url: &url::Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

/// Test data shared by the renderers' tests: links a hostile payload might carry, none of which may become an
/// `href`, and a web link with a query that must.
#[cfg(test)]
pub(crate) mod fixtures {
    pub const HOSTILE: &[&str] = &[
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "\u{1}javascript:alert(1)",
        "java\tscript:alert(1)",
        "java\nscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
    ];
    /// A web link, and its `href` attribute once normalised and HTML-escaped.
    pub const WEB: (&str, &str) = ("https://News.Example/a b?x=1&y=2", "https://news.example/a%20b?x=1&amp;y=2");

    /// Every `href` value in `html`, as written.
    pub fn hrefs(html: &str) -> Vec<&str> {
        html.split("href=\"").skip(1).map(|rest| rest.split('"').next().unwrap_or_default()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_and_https_urls_with_a_host_are_links() {
        let cases: &[(&str, Option<&str>)] = &[
            ("https://news.example/a", Some("https://news.example/a")),
            ("http://news.example", Some("http://news.example/")),
            ("HTTPS://News.Example:443/x?q=1&r=2#c", Some("https://news.example/x?q=1&r=2#c")),
            ("  https://news.example/x \n", Some("https://news.example/x")),
            ("https://news.example/a b\"<>", Some("https://news.example/a%20b%22%3C%3E")),
            ("https://news.ex\tample/\n", Some("https://news.example/")),
            ("https://bücher.example/", Some("https://xn--bcher-kva.example/")),
            ("javascript:alert(1)", None),
            ("JaVaScRiPt:alert(1)", None),
            (" javascript:alert(1)", None),
            ("\u{0}javascript:alert(1)", None),
            ("\u{1}\u{1f}javascript:alert(1)", None),
            ("java\tscript:alert(1)", None),
            ("java\nscript:alert(1)", None),
            ("\u{a0}javascript:alert(1)", None),
            ("javascript://news.example/%0aalert(1)", None),
            ("data:text/html;base64,PHNjcmlwdD4=", None),
            ("DATA:text/html,<script>alert(1)</script>", None),
            ("vbscript:msgbox(1)", None),
            ("file:///etc/passwd", None),
            ("mailto:press@news.example", None),
            ("ftp://news.example/file", None),
            ("//news.example/protocol-relative", None),
            ("/relative/path", None),
            ("news.example/no-scheme", None),
            ("https://", None),
            ("https:// /x", None),
            ("", None),
        ];
        let mut wrong = Vec::new();
        for (raw, want) in cases {
            let got = safe_href(raw).map(String::from);
            if got.as_deref() != *want {
                wrong.push(format!("{raw:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_hostile_fixture_is_refused_and_the_web_one_accepted() {
        for raw in fixtures::HOSTILE {
            assert_eq!(safe_href(raw), None, "{raw:?}");
        }
        assert_eq!(safe_href(fixtures::WEB.0).map(String::from).as_deref(), Some("https://news.example/a%20b?x=1&y=2"));
    }
}
