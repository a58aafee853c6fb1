//! Composing alert emails: a subject readable on a phone, plain text + HTML (multipart/alternative) with the
//! chart inline (multipart/related), and a footer that says how to silence the brand.
//!
//! Composition is pure: everything it shows is passed in as an [`AlertContext`]. A mention's URL is a link (and is
//! shown in the text part) only when [`crate::link::safe_href`] says it is a web link.

use chrono::{DateTime, Utc};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::detect::{AlertKind, Finding};
use crate::link::safe_href;
use crate::store::Example;

/// Everything an alert email shows.
pub struct AlertContext<'a> {
    pub brand: &'a str,
    pub kind: AlertKind,
    /// `firing`, `reminder` or `resolved`.
    pub event: &'a str,
    pub finding: &'a Finding,
    pub fired_at: DateTime<Utc>,
    pub window: std::time::Duration,
    pub examples: &'a [Example],
    pub top_terms: &'a [(String, usize)],
    /// Negatives per hour over the last days, and what is typical for those hours.
    pub hourly_observed: &'a [f64],
    pub hourly_expected: &'a [f64],
    /// Links into the web console, when `[http] public_url` says where it is.
    pub console: Option<&'a ConsoleLinks>,
}

/// Where the web console shows what an alert is about (`[http] public_url`).
#[derive(Debug, Clone)]
pub struct ConsoleLinks {
    base: url::Url,
    /// The feed of the brand's negative mentions in the alert's window.
    pub mentions: String,
    /// The brand's alerts, with their evidence and the silence form.
    pub alerts: String,
    /// This alert's own page (its evidence, its email's delivery, the silence form), once its row has an id
    /// ([`ConsoleLinks::for_alert`]); the email links there rather than to the brand's alerts.
    pub alert: Option<String>,
}

impl ConsoleLinks {
    /// `None` when `public_url` is not a web address (the configuration refuses those anyway).
    pub fn new(public_url: &str, brand: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Option<ConsoleLinks> {
        let href = safe_href(public_url)?;
        let mut base = url::Url::parse(href.as_str()).ok()?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mentions = base.join(&negatives_feed(brand, since, until)).ok()?;
        let alerts = base
            .join(&format!(
                "alerts?{}",
                url::form_urlencoded::Serializer::new(String::new()).append_pair("brand", brand).finish()
            ))
            .ok()?;
        Some(ConsoleLinks { mentions: mentions.into(), alerts: alerts.into(), alert: None, base })
    }

    /// The same links, and the page of the alert event whose row is `id`.
    pub fn for_alert(self, id: i64) -> ConsoleLinks {
        ConsoleLinks { alert: Some(self.alert_page(id)), ..self }
    }

    /// One mention's page.
    pub fn mention(&self, id: i64) -> String {
        self.base.join(&format!("mentions/{id}")).map(String::from).unwrap_or_default()
    }

    /// One alert event's page (`/alerts/{id}`, `id` its row in the notification log).
    pub fn alert_page(&self, id: i64) -> String {
        self.base.join(&format!("alerts/{id}")).map(String::from).unwrap_or_default()
    }
}

/// The console's feed of a brand's negative mentions in `[since, until)`, relative to the console's root
/// (`mentions?brand=…&sentiment=negative&since=…&until=…`, times as Unix seconds): what an alert links to.
pub fn negatives_feed(brand: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("brand", brand)
        .append_pair("sentiment", "negative")
        .append_pair("since", &since.timestamp().to_string())
        .append_pair("until", &until.timestamp().to_string())
        .finish();
    format!("mentions?{q}")
}

/// "1h", "30m", "2h30m" for the window.
fn window_words(w: std::time::Duration) -> String {
    crate::duration::HumanDuration(w).to_string()
}

pub fn subject(c: &AlertContext<'_>) -> String {
    let f = c.finding;
    let w = window_words(c.window);
    match (c.kind, c.event) {
        (AlertKind::SourceDown, "resolved") => {
            format!("[hearsay] {}: source {} is back", c.brand, f.platform.as_deref().unwrap_or("?"))
        }
        (AlertKind::SourceDown, _) => {
            format!("[hearsay] {}: source {} is down", c.brand, f.platform.as_deref().unwrap_or("?"))
        }
        (_, "resolved") => format!("[hearsay] {}: negative mentions back to normal", c.brand),
        (AlertKind::VolumeSpike, _) => format!(
            "[hearsay] {}: mentions {}× normal ({} in {w}), usual tone",
            c.brand,
            ratio_words(f.total as f64 / f.expected_total.max(0.1)),
            f.total
        ),
        (_, ev) => format!(
            "[hearsay] {}: negative mentions {}× normal ({} in {w}){}",
            c.brand,
            ratio_words(f.ratio),
            f.observed,
            if ev == "reminder" { " — still going" } else { "" }
        ),
    }
}

fn ratio_words(r: f64) -> String {
    if r >= 10.0 || !r.is_finite() {
        format!("{:.0}", r.min(999.0))
    } else {
        format!("{r:.1}").trim_end_matches(".0").to_string()
    }
}

/// How unlikely the count is, in words a brand manager can act on.
pub fn p_value_words(p: f64) -> String {
    if p <= 0.0 || p < 1e-9 {
        "far too many to be chance (less than one in a billion)".into()
    } else if p < 1e-6 {
        format!("about a one-in-{} chance of happening by accident", group(1.0 / p))
    } else if p < 0.01 {
        format!("a one-in-{} chance of happening by accident", group(1.0 / p))
    } else {
        format!("a {:.0}% chance of happening by accident", p * 100.0)
    }
}

fn group(x: f64) -> String {
    let n = if x > 1e6 {
        (x / 1e6).round() as u64 * 1_000_000
    } else if x > 1000.0 {
        (x / 1000.0).round() as u64 * 1000
    } else {
        x.round() as u64
    };
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn expected_words(e: f64) -> String {
    if e < 1.0 {
        "usually fewer than 1".into()
    } else {
        format!("usually {:.0}", e)
    }
}

fn silence_command(brand: &str) -> String {
    let b = if brand.contains(char::is_whitespace) { format!("\"{brand}\"") } else { brand.to_string() };
    format!("hearsay alerts silence --brand {b} --for 48h --comment \"why\"")
}

/// The plain-text body.
pub fn text_body(c: &AlertContext<'_>) -> String {
    let f = c.finding;
    let w = window_words(c.window);
    let mut s = String::new();
    match c.kind {
        AlertKind::SourceDown => {
            s += &format!(
                "The {} source for {} has been failing since {}.\nWhile it is down, hearsay cannot see mentions there: no news from it is not good news.\nRun `hearsay sources status` for the error.\n",
                f.platform.as_deref().unwrap_or("?"),
                c.brand,
                f.since.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "?".into())
            );
        }
        _ if c.event == "resolved" => {
            s += &format!(
                "Negative mentions of {} are back to normal ({} in the last {w}; {}).\n",
                c.brand,
                f.observed,
                expected_words(f.expected)
            );
        }
        _ => {
            s += &format!(
                "{} negative mentions of {} in the last {w}; {}.\nThat is {}× the usual number, {}.\nNegative share: {:.0}% of all {} mentions (usually {:.0}%).\nStarted: around {} (alert fired {}).\n",
                f.observed,
                c.brand,
                expected_words(f.expected),
                ratio_words(f.ratio),
                p_value_words(f.p_value),
                f.negative_share * 100.0,
                f.total,
                f.baseline_share * 100.0,
                f.window_start.format("%Y-%m-%d %H:%M UTC"),
                c.fired_at.format("%H:%M UTC"),
            );
            if f.cold_start {
                s +=
                    "Note: hearsay has less than a week of history for this brand, so \"usual\" is a rough estimate.\n";
            }
            if !f.top_platforms.is_empty() {
                let p: Vec<String> =
                    f.top_platforms.iter().take(4).map(|p| format!("{} ({})", p.platform, p.negative)).collect();
                s += &format!("Where: {}.\n", p.join(", "));
            }
            if !c.top_terms.is_empty() {
                let t: Vec<String> = c.top_terms.iter().take(8).map(|(t, n)| format!("\"{t}\" ({n})")).collect();
                s += &format!("What people say: {}.\n", t.join(", "));
            }
            if !c.examples.is_empty() {
                s += "\nRepresentative negative mentions:\n";
                for e in c.examples {
                    s += &format!(
                        "- [{}] {}: {}\n  {}\n",
                        example_where(e),
                        e.author.as_deref().unwrap_or("someone"),
                        excerpt(&e.text, 240),
                        text_link(e)
                    );
                }
            }
        }
    }
    if let Some(l) = c.console {
        let page = match &l.alert {
            Some(a) => format!("this alert, to silence it {a}"),
            None => format!("the brand's alerts {}", l.alerts),
        };
        if c.kind == AlertKind::SourceDown {
            s += &format!("\nIn the console: {page}\n");
        } else {
            s += &format!("\nIn the console: the mentions behind this alert {}\nand {page}\n", l.mentions);
        }
    }
    s += &format!(
        "\n--\nSent by hearsay. To stop alerts for {} for two days: {}\nList recent alerts: hearsay alerts list\n",
        c.brand,
        silence_command(c.brand)
    );
    s
}

/// Where an example was said: its platform, and its language when one was determined (`reddit, de`), so that
/// a complaint wave in another language shows as such.
pub(crate) fn example_where(e: &Example) -> String {
    match e.lang.as_deref().filter(|l| !l.is_empty() && *l != crate::lang::UNDETERMINED) {
        Some(lang) => format!("{}, {lang}", e.platform),
        None => e.platform.clone(),
    }
}

/// An example's URL for a plain-text part: mail clients make links of URLs in text, so only a web link is shown,
/// normalised (one line, spaces encoded); anything else is left out ([`crate::link`]).
pub(crate) fn text_link(e: &Example) -> String {
    e.url.as_deref().and_then(safe_href).map(String::from).unwrap_or_default()
}

/// `s` on one line, cut to `n` characters with an ellipsis.
pub(crate) fn excerpt(s: &str, n: usize) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= n {
        s
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML body; the chart is `cid:chart`. Inline styles only, so email clients render it.
pub fn html_body(c: &AlertContext<'_>) -> String {
    let f = c.finding;
    let w = window_words(c.window);
    let mut h = String::from("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>hearsay alert</title></head><body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#222;max-width:680px;margin:0 auto;padding:12px\">");
    h += &format!(
        "<h2 style=\"margin:0 0 8px;color:#b71c1c\">{}</h2>",
        escape(subject(c).trim_start_matches("[hearsay] "))
    );
    if c.kind == AlertKind::SourceDown || c.event == "resolved" {
        for line in text_body(c).split("\n--\n").next().unwrap_or_default().lines() {
            h += &format!("<p style=\"margin:4px 0\">{}</p>", escape(line));
        }
    } else {
        h += &format!(
            "<p style=\"font-size:18px;margin:8px 0\"><b>{}</b> negative mentions in the last {w}; {}.</p>",
            f.observed,
            expected_words(f.expected)
        );
        h += &format!(
            "<p style=\"margin:4px 0\">{}× the usual number, {}. Negative share {:.0}% (usually {:.0}%). Started around {}.</p>",
            ratio_words(f.ratio),
            escape(&p_value_words(f.p_value)),
            f.negative_share * 100.0,
            f.baseline_share * 100.0,
            f.window_start.format("%Y-%m-%d %H:%M UTC")
        );
        if f.cold_start {
            h += "<p style=\"margin:4px 0;color:#8a6d3b\">Less than a week of history for this brand: “usual” is a rough estimate.</p>";
        }
        h += &format!(
            "<p style=\"margin:12px 0 0\"><img src=\"cid:chart\" width=\"{}\" height=\"{}\" alt=\"Negative mentions per hour (red) against what is typical for the hour (grey)\" style=\"max-width:100%;border:1px solid #eee\"></p><p style=\"margin:0;color:#777;font-size:12px\">Negative mentions per hour over the last {} days (red) and the usual level for each hour of the week (grey).</p>",
            super::chart::WIDTH,
            super::chart::HEIGHT,
            c.hourly_observed.len().div_ceil(24)
        );
        if !f.top_platforms.is_empty() {
            h += "<h3 style=\"margin:16px 0 4px\">Where</h3><p style=\"margin:0\">";
            h += &f
                .top_platforms
                .iter()
                .take(4)
                .map(|p| format!("{} ({})", escape(&p.platform), p.negative))
                .collect::<Vec<_>>()
                .join(", ");
            h += "</p>";
        }
        if !c.top_terms.is_empty() {
            h += "<h3 style=\"margin:16px 0 4px\">What people say</h3><p style=\"margin:0\">";
            h += &c
                .top_terms
                .iter()
                .take(8)
                .map(|(t, n)| format!("“{}” ({n})", escape(t)))
                .collect::<Vec<_>>()
                .join(", ");
            h += "</p>";
        }
        if !c.examples.is_empty() {
            h += "<h3 style=\"margin:16px 0 4px\">Representative negative mentions</h3><ul style=\"padding-left:18px;margin:0\">";
            for e in c.examples {
                let link = e
                    .url
                    .as_deref()
                    .and_then(safe_href)
                    .map(|u| format!(" <a href=\"{}\">link</a>", escape(u.as_str())))
                    .unwrap_or_default()
                    + &c.console
                        .map(|l| format!(" · <a href=\"{}\">in hearsay</a>", escape(&l.mention(e.id))))
                        .unwrap_or_default();
                h += &format!(
                    "<li style=\"margin:6px 0\"><span style=\"color:#777\">{} · {}</span><br>{}{link}</li>",
                    escape(&example_where(e)),
                    escape(e.author.as_deref().unwrap_or("someone")),
                    escape(&excerpt(&e.text, 240))
                );
            }
            h += "</ul>";
        }
    }
    if let Some(l) = c.console {
        h += "<p style=\"margin:16px 0 0\">";
        if c.kind != AlertKind::SourceDown {
            h += &format!(
                "<a href=\"{}\" style=\"font-weight:600\">Open the mentions behind this alert in hearsay</a> · ",
                escape(&l.mentions)
            );
        }
        h += &match &l.alert {
            Some(a) => format!("<a href=\"{}\">This alert in hearsay (silence it there)</a></p>", escape(a)),
            None => format!("<a href=\"{}\">{}'s alerts</a></p>", escape(&l.alerts), escape(c.brand)),
        };
    }
    h += &format!(
        "<hr style=\"border:none;border-top:1px solid #eee;margin:20px 0 8px\"><p style=\"color:#777;font-size:12px\">Sent by hearsay. To stop alerts for {} for two days run <code>{}</code>. List recent alerts with <code>hearsay alerts list</code>.</p></body></html>",
        escape(c.brand),
        escape(&silence_command(c.brand))
    );
    h
}

/// The Message-ID for an idempotency key: stable, so a re-sent message is recognisably the same one.
pub fn message_id(key: &str) -> String {
    let local: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    format!("<{local}@hearsay.invalid>")
}

/// Sender, recipients, subject, Message-ID and date of every email hearsay writes; addresses that do not parse
/// are named in the error.
pub(crate) fn headers(
    from: &str,
    to: &[String],
    subject: &str,
    message_id: &str,
) -> anyhow::Result<lettre::message::MessageBuilder> {
    let from: Mailbox = from.parse().map_err(|e| anyhow::anyhow!("sender {from:?}: {e}"))?;
    let mut b = Message::builder().from(from).subject(subject).message_id(Some(message_id.to_string())).date_now();
    for r in to {
        b = b.to(r.parse().map_err(|e| anyhow::anyhow!("recipient {r:?}: {e}"))?);
    }
    Ok(b)
}

/// The complete RFC 5322 message.
pub fn compose(
    c: &AlertContext<'_>,
    from: &str,
    to: &[String],
    message_id: &str,
    chart_png: Option<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let b = headers(from, to, &subject(c), message_id)?;
    let html_part = SinglePart::builder().header(ContentType::TEXT_HTML).body(html_body(c));
    let alternative = MultiPart::alternative().singlepart(SinglePart::plain(text_body(c)));
    let alternative = match chart_png {
        Some(png) => alternative.multipart(
            MultiPart::related()
                .singlepart(html_part)
                .singlepart(Attachment::new_inline("chart".to_string()).body(png, ContentType::parse("image/png")?)),
        ),
        None => alternative.singlepart(html_part),
    };
    Ok(b.multipart(alternative)?.formatted())
}

/// The most frequent words and two-word phrases of the negative mentions, without stop words and the brand's own
/// query terms: a quick "what are they complaining about".
pub fn top_terms(texts: &[&str], exclude: &[String], n: usize) -> Vec<(String, usize)> {
    use std::collections::HashMap;
    const STOP: &[&str] = &[
        "the", "a", "an", "and", "or", "but", "to", "of", "in", "on", "for", "with", "is", "it", "its", "this", "that",
        "i", "my", "me", "we", "our", "you", "your", "they", "their", "was", "were", "be", "been", "are", "am", "at",
        "by", "from", "as", "so", "if", "not", "no", "just", "have", "has", "had", "do", "does", "did", "can", "will",
        "would", "all", "any", "what", "when", "how", "about", "again", "get", "got", "still", "now", "there", "here",
        "out", "up", "one", "than", "then", "very", "too", "more", "http", "https", "www", "com", "user", "amp", "why",
        "who", "after", "into", "over", "only", "even", "also", "some", "them", "he", "she", "his", "her", "im",
        "dont", "cant", "ive",
    ];
    let excl: Vec<String> = exclude.iter().map(|e| e.to_lowercase()).collect();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for t in texts {
        let words: Vec<String> = t
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .map(|w| w.trim_matches('\'').replace('\'', ""))
            .filter(|w| w.chars().count() > 2 && !w.chars().all(|c| c.is_ascii_digit()))
            .collect();
        let keep = |w: &String| {
            !STOP.contains(&w.as_str())
                && !excl.iter().any(|e| e.split_whitespace().any(|x| x.trim_end_matches('*') == w))
        };
        let mut seen = std::collections::HashSet::new();
        for w in words.iter().filter(|w| keep(w)) {
            if seen.insert(w.clone()) {
                *counts.entry(w.clone()).or_default() += 1;
            }
        }
        for pair in words.windows(2) {
            if keep(&pair[0]) && keep(&pair[1]) {
                let p = format!("{} {}", pair[0], pair[1]);
                if seen.insert(p.clone()) {
                    *counts.entry(p).or_default() += 1;
                }
            }
        }
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    // Prefer phrases when they are as frequent as their words.
    v.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.contains(' ').cmp(&a.0.contains(' '))).then(a.0.cmp(&b.0)));
    let mut out: Vec<(String, usize)> = Vec::new();
    for (t, c) in v {
        if out.iter().any(|(o, oc)| o.contains(' ') && *oc == c && o.split(' ').any(|w| w == t)) {
            continue;
        }
        out.push((t, c));
        if out.len() == n {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_say_their_language_when_one_was_determined() {
        let example = |lang: Option<&str>| Example {
            id: 1,
            platform: "reddit".into(),
            author: None,
            text: "Kundenservice ist eine Katastrophe".into(),
            url: None,
            created_at: 0,
            score: 0.9,
            terms: None,
            lang: lang.map(Into::into),
        };
        assert_eq!(example_where(&example(Some("de"))), "reddit, de");
        assert_eq!(example_where(&example(Some("und"))), "reddit");
        assert_eq!(example_where(&example(None)), "reddit");
    }

    #[test]
    fn p_values_in_words() {
        assert!(p_value_words(1e-12).contains("billion"));
        assert_eq!(p_value_words(1e-4), "a one-in-10,000 chance of happening by accident");
        assert_eq!(p_value_words(0.05), "a 5% chance of happening by accident");
    }

    #[test]
    fn top_terms_prefer_phrases_and_drop_the_brand() {
        let texts = [
            "Acme double charged me, no refund",
            "double charged again by acme",
            "acme support ignores refund requests",
        ];
        let t = top_terms(&texts, &["acme".into()], 5);
        assert_eq!(t[0], ("double charged".to_string(), 2));
        assert!(t.iter().any(|(w, _)| w == "refund"));
        assert!(!t.iter().any(|(w, _)| w.contains("acme")));
    }

    /// A mention link the payload chose is an `href` only when it is a web link, and the text part shows only
    /// web links (mail clients linkify text), normalised.
    #[test]
    fn only_web_links_become_hrefs_or_text_links() {
        use crate::detect::{Finding, Level};
        use crate::link::fixtures::{hrefs, WEB};
        let now = Utc::now();
        let finding = Finding {
            kind: AlertKind::NegativeSpike,
            brand: "Acme".into(),
            level: Level::Firing,
            window_start: now - chrono::Duration::hours(1),
            window_end: now,
            observed: 30,
            expected: 3.0,
            p_value: 1e-9,
            ratio: 10.0,
            total: 40,
            expected_total: 30.0,
            negative_share: 0.75,
            baseline_share: 0.1,
            share_p_value: 1e-9,
            cold_start: false,
            top_platforms: vec![],
            platform: None,
            since: None,
        };
        let examples = crate::alert::tests_support::hostile_examples();
        let c = AlertContext {
            brand: "Acme",
            kind: AlertKind::NegativeSpike,
            event: "firing",
            finding: &finding,
            fired_at: now,
            window: std::time::Duration::from_secs(3600),
            examples: &examples,
            top_terms: &[],
            hourly_observed: &[],
            hourly_expected: &[],
            console: None,
        };
        let html = html_body(&c);
        assert_eq!(hrefs(&html), [WEB.1], "{html}");
        let text = text_body(&c).to_lowercase();
        for bad in ["script:", "data:", "file:"] {
            assert!(!text.contains(bad), "{bad} in the text part: {text}");
        }
        assert!(text.contains("\n  https://news.example/a%20b?x=1&y=2\n"), "{text}");

        // With `public_url`, each example also links to its page in the console, and the email to the feed of the
        // alert's window and the brand's alerts; the brand name is encoded, never markup.
        use chrono::TimeZone as _;
        let at = |h: u32| Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap();
        let links = ConsoleLinks::new("https://hearsay.example/console", "A&B <x>", at(9), at(10)).unwrap();
        assert_eq!(
            links.mentions,
            "https://hearsay.example/console/mentions?brand=A%26B+%3Cx%3E&sentiment=negative&since=1795165200&until=1795168800"
        );
        assert_eq!(links.alerts, "https://hearsay.example/console/alerts?brand=A%26B+%3Cx%3E");
        assert_eq!(links.mention(7), "https://hearsay.example/console/mentions/7");
        assert!(ConsoleLinks::new("javascript:alert(1)//", "Acme", at(9), at(10)).is_none());
        let c = AlertContext { console: Some(&links), ..c };
        let html = html_body(&c);
        let h = hrefs(&html);
        assert!(h.contains(&links.mentions.replace('&', "&amp;").as_str()), "{h:?}");
        assert!(h.iter().any(|x| x.ends_with("/console/mentions/0")), "{h:?}");
        assert!(text_body(&c).contains(&format!("the mentions behind this alert {}", links.mentions)));
        assert!(h.contains(&"https://hearsay.example/console/alerts?brand=A%26B+%3Cx%3E"), "{h:?}");

        // Once the alert's row has an id, the email links to the alert's own page instead of the brand's alerts.
        let links = links.clone().for_alert(42);
        assert_eq!(links.alert.as_deref(), Some("https://hearsay.example/console/alerts/42"));
        let c = AlertContext { console: Some(&links), ..c };
        let h = hrefs(&html_body(&c)).into_iter().map(str::to_string).collect::<Vec<_>>();
        assert!(h.contains(&"https://hearsay.example/console/alerts/42".to_string()), "{h:?}");
        assert!(!h.iter().any(|x| x.contains("alerts?brand=")), "{h:?}");
        assert!(text_body(&c).contains("and this alert, to silence it https://hearsay.example/console/alerts/42\n"));
        let down = AlertContext { kind: AlertKind::SourceDown, ..c };
        assert!(text_body(&down)
            .contains("In the console: this alert, to silence it https://hearsay.example/console/alerts/42\n"));
    }

    #[test]
    fn message_ids_are_stable_and_safe() {
        assert_eq!(
            message_id("Acme Corp/negative_spike/2026-11-20T10:00:00Z/1"),
            "<Acme-Corp-negative_spike-2026-11-20T10-00-00Z-1@hearsay.invalid>"
        );
    }
}
