//! The optional daily digest (`[alerts] daily_digest = true`): once a day, at `digest_at` (UTC), one email per
//! distinct recipient list summarising the 24 hours before for each brand that list follows: mentions, the
//! negative share against its usual level (the 28 days before), the platform split, the alert events of the day
//! and the most clearly negative mentions.
//!
//! Exactly once: the digest's Message-ID is derived from the day and the recipient list and the outbox refuses
//! a second message with the same id, so restarts, repeated cycles and crashes between queueing and sending never
//! produce a second digest for the same day. A day the daemon was not running when `digest_at` passed gets its
//! digest at the next cycle; only the latest day is sent.
//!
//! A mention's URL is a link (and is shown in the text part) only when [`crate::link::safe_href`] says it is a
//! web link; otherwise the mention is listed as text.

use chrono::{DateTime, Duration as CDuration, NaiveTime, Utc};
use lettre::message::{header::ContentType, MultiPart, SinglePart};

use super::email::{escape, example_where, excerpt, headers, message_id, text_link};
use crate::config::Config;
use crate::link::safe_href;
use crate::store::{AlertRow, Example, QueuedEmail, Store};

/// One brand's day.
#[derive(Debug, Clone)]
pub struct BrandDay {
    pub brand: String,
    pub total: i64,
    pub negative: i64,
    /// Negative share over the 28 days before the period (None without history).
    pub usual_share: Option<f64>,
    /// Mentions per day over those 28 days.
    pub usual_total: f64,
    /// (platform, total, negative), most negatives first.
    pub platforms: Vec<(String, i64, i64)>,
    /// The alert events recorded in the period, oldest first.
    pub alerts: Vec<AlertRow>,
    pub examples: Vec<Example>,
    /// Where the console shows the day's negative mentions, the brand's alerts and each alert's page
    /// (`[http] public_url`).
    pub console: Option<super::email::ConsoleLinks>,
}

impl BrandDay {
    pub fn share(&self) -> Option<f64> {
        (self.total > 0).then(|| self.negative as f64 / self.total as f64)
    }
}

/// The digest moment at or before `now` (today's `at`, or yesterday's when `now` is earlier in the day).
pub fn last_digest_time(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = now.date_naive().and_time(at).and_utc();
    if today <= now {
        today
    } else {
        today - CDuration::days(1)
    }
}

/// Queues the digests that are due and not queued yet; returns how many were queued.
pub async fn queue_due(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<usize> {
    if !config.alerts.daily_digest {
        return Ok(0);
    }
    let at = config.alerts.digest_time();
    let end = last_digest_time(now, at);
    let start = end - CDuration::days(1);
    // Recipient list → brands it follows, in config order.
    let mut groups: Vec<(Vec<String>, Vec<&str>)> = Vec::new();
    for b in &config.brands {
        let mut list: Vec<String> = config.alerts.recipients.iter().chain(&b.recipients).cloned().collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            continue;
        }
        match groups.iter_mut().find(|(l, _)| *l == list) {
            Some((_, brands)) => brands.push(&b.name),
            None => groups.push((list, vec![&b.name])),
        }
    }
    let mut queued = 0;
    for (recipients, brands) in groups {
        let key = format!("digest-{}-{}", start.format("%Y-%m-%d"), short_hash(&recipients.join(",")));
        let id = message_id(&key);
        if store.outbox_has(&id).await? {
            continue;
        }
        let mut days = Vec::with_capacity(brands.len());
        let public_url = config.http.as_ref().filter(|h| h.console).and_then(|h| h.public_url.as_deref());
        for brand in brands {
            let mut day = brand_day(store, brand, start, end).await?;
            day.console = public_url.and_then(|u| super::email::ConsoleLinks::new(u, brand, start, end));
            days.push(day);
        }
        let subject = subject(start, &days);
        let message = compose(&super::send::from_address(config), &recipients, &id, &subject, start, end, &days)?;
        store.queue_email(&QueuedEmail { message_id: id, recipients, subject, message }).await?;
        queued += 1;
    }
    Ok(queued)
}

async fn brand_day(store: &Store, brand: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> anyhow::Result<BrandDay> {
    let platforms = store.platform_counts(brand, start, end).await?;
    let (total, negative) = platforms.iter().fold((0, 0), |(t, n), (_, pt, pn)| (t + pt, n + pn));
    let before = store.platform_counts(brand, start - CDuration::days(28), start).await?;
    let (usual_t, usual_n) = before.iter().fold((0i64, 0i64), |(t, n), (_, pt, pn)| (t + pt, n + pn));
    Ok(BrandDay {
        brand: brand.to_string(),
        total,
        negative,
        usual_share: (usual_t > 0).then(|| usual_n as f64 / usual_t as f64),
        usual_total: usual_t as f64 / 28.0,
        platforms,
        alerts: store.alerts_between(brand, start, end).await?,
        examples: store.negative_examples(brand, start, end, 3).await?,
        console: None,
    })
}

fn short_hash(s: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(s.as_bytes());
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

pub fn subject(start: DateTime<Utc>, days: &[BrandDay]) -> String {
    let alerts: usize = days.iter().map(|d| d.alerts.iter().filter(|a| a.event == "firing").count()).sum();
    let brands: Vec<String> = days
        .iter()
        .take(3)
        .map(|d| match d.share() {
            Some(s) => format!("{} {} negative", d.brand, pct(s)),
            None => format!("{} quiet", d.brand),
        })
        .collect();
    let more = if days.len() > 3 { format!(" +{} more", days.len() - 3) } else { String::new() };
    let alerts = match alerts {
        0 => String::new(),
        1 => ", 1 alert".into(),
        n => format!(", {n} alerts"),
    };
    format!("[hearsay] Daily digest {}: {}{more}{alerts}", start.format("%Y-%m-%d"), brands.join(", "))
}

fn share_line(d: &BrandDay) -> String {
    let share = d.share().map(pct).unwrap_or_else(|| "-".into());
    let usual = d.usual_share.map(|u| format!(" (usually {})", pct(u))).unwrap_or_default();
    format!("{} mentions (usually {:.0} a day), {} negative = {share}{usual}", d.total, d.usual_total, d.negative)
}

fn time(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map(|t| t.format("%H:%M UTC").to_string()).unwrap_or_default()
}

pub fn text_body(start: DateTime<Utc>, end: DateTime<Utc>, days: &[BrandDay]) -> String {
    let mut t =
        format!("hearsay daily digest: {} to {}\n", start.format("%Y-%m-%d %H:%M"), end.format("%Y-%m-%d %H:%M UTC"));
    for d in days {
        t += &format!("\n== {} ==\n{}\n", d.brand, share_line(d));
        if !d.platforms.is_empty() {
            let p: Vec<String> = d.platforms.iter().map(|(p, n, neg)| format!("{p} {n} ({neg} negative)")).collect();
            t += &format!("Platforms: {}\n", p.join(", "));
        }
        for a in &d.alerts {
            t += &format!("Alert: {} {} at {}\n", a.kind, a.event, time(a.fired_at));
            if let Some(l) = &d.console {
                t += &format!("  {}\n", l.alert_page(a.id));
            }
        }
        if let Some(l) = &d.console {
            t += &format!("In the console: the day's negative mentions {}\n", l.mentions);
        }
        if !d.examples.is_empty() {
            t += "Most negative:\n";
            for e in &d.examples {
                t += &format!(
                    "  - [{}] {}{}\n    {}\n",
                    example_where(e),
                    e.author.as_deref().map(|a| format!("{a}: ")).unwrap_or_default(),
                    excerpt(&e.text, 200),
                    text_link(e)
                );
            }
        }
    }
    t += "\nSent by hearsay because [alerts] daily_digest = true. Query the day with `hearsay mentions --since 24h`.\n";
    t
}

pub fn html_body(start: DateTime<Utc>, end: DateTime<Utc>, days: &[BrandDay]) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif;max-width:640px\">",
    );
    h += &format!(
        "<h2 style=\"margin-bottom:4px\">Daily digest</h2><p style=\"color:#555;margin-top:0\">{} to {}</p>",
        start.format("%Y-%m-%d %H:%M"),
        end.format("%Y-%m-%d %H:%M UTC")
    );
    for d in days {
        let alarm = d.share().zip(d.usual_share).is_some_and(|(s, u)| s > 1.5 * u && d.negative >= 5);
        h += &format!(
            "<h3 style=\"margin-bottom:2px;{}\">{}</h3><p style=\"margin-top:0\">{}</p>",
            if alarm { "color:#b00020" } else { "" },
            escape(&d.brand),
            escape(&share_line(d))
        );
        if !d.platforms.is_empty() {
            h += "<table style=\"border-collapse:collapse;font-size:14px\"><tr><th align=\"left\">platform</th><th align=\"right\">mentions</th><th align=\"right\">negative</th></tr>";
            for (p, n, neg) in &d.platforms {
                h += &format!(
                    "<tr><td style=\"padding-right:16px\">{}</td><td align=\"right\">{n}</td><td align=\"right\">{neg}</td></tr>",
                    escape(p)
                );
            }
            h += "</table>";
        }
        if !d.alerts.is_empty() {
            h += "<ul>";
            for a in &d.alerts {
                let what = format!("{} {}", escape(&a.kind), escape(&a.event));
                let what = match &d.console {
                    Some(l) => format!("<a href=\"{}\">{what}</a>", escape(&l.alert_page(a.id))),
                    None => what,
                };
                h += &format!("<li>Alert: {what} at {}</li>", time(a.fired_at));
            }
            h += "</ul>";
        }
        if !d.examples.is_empty() {
            h += "<p style=\"margin-bottom:2px\"><b>Most negative</b></p><ul style=\"margin-top:0\">";
            for e in &d.examples {
                let text = escape(&excerpt(&e.text, 200));
                let text = match e.url.as_deref().and_then(safe_href) {
                    Some(u) => format!("<a href=\"{}\">{text}</a>", escape(u.as_str())),
                    None => text,
                };
                h += &format!(
                    "<li><span style=\"color:#777\">{}{}</span> {text}</li>",
                    escape(&example_where(e)),
                    e.author.as_deref().map(|a| format!(" · {}", escape(a))).unwrap_or_default()
                );
            }
            h += "</ul>";
        }
        if let Some(l) = &d.console {
            h += &format!(
                "<p style=\"margin-top:4px\"><a href=\"{}\">The day's negative mentions in hearsay</a> · <a href=\"{}\">alerts</a></p>",
                escape(&l.mentions),
                escape(&l.alerts)
            );
        }
    }
    h += "<hr style=\"border:none;border-top:1px solid #eee\"><p style=\"color:#777;font-size:12px\">Sent by hearsay because <code>[alerts] daily_digest = true</code>.</p></body></html>";
    h
}

fn compose(
    from: &str,
    to: &[String],
    id: &str,
    subject: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    days: &[BrandDay],
) -> anyhow::Result<Vec<u8>> {
    let b = headers(from, to, subject, id)?;
    let body = MultiPart::alternative()
        .singlepart(SinglePart::plain(text_body(start, end, days)))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html_body(start, end, days)));
    Ok(b.multipart(body)?.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: i64, event: &str) -> AlertRow {
        AlertRow {
            id,
            brand: "Acme".into(),
            kind: "negative_spike".into(),
            event: event.into(),
            fired_at: 0,
            recorded_at: 0,
            details: "{}".into(),
        }
    }

    #[test]
    fn the_digest_moment_is_the_latest_one_not_after_now() {
        let at = NaiveTime::from_hms_opt(8, 0, 0).unwrap();
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(last_digest_time(t("2026-11-26T09:30:00Z"), at), t("2026-11-26T08:00:00Z"));
        assert_eq!(last_digest_time(t("2026-11-26T08:00:00Z"), at), t("2026-11-26T08:00:00Z"));
        assert_eq!(last_digest_time(t("2026-11-26T07:59:59Z"), at), t("2026-11-25T08:00:00Z"));
    }

    #[test]
    fn subject_names_brands_shares_and_alerts() {
        let day = |b: &str, total, negative, alerts: usize| BrandDay {
            brand: b.into(),
            total,
            negative,
            usual_share: Some(0.1),
            usual_total: 20.0,
            platforms: vec![],
            alerts: (0..alerts).map(|i| alert(i as i64, "firing")).collect(),
            examples: vec![],
            console: None,
        };
        let start = DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z").unwrap().with_timezone(&Utc);
        let s = subject(start, &[day("Acme", 40, 10, 1), day("Globex", 0, 0, 0)]);
        assert_eq!(s, "[hearsay] Daily digest 2026-11-25: Acme 25% negative, Globex quiet, 1 alert");
        let body = text_body(start, start + CDuration::days(1), &[day("Acme", 40, 10, 0)]);
        assert!(body.contains("40 mentions (usually 20 a day), 10 negative = 25% (usually 10%)"), "{body}");
        let html = html_body(start, start, &[day("<Acme>", 40, 10, 0)]);
        assert!(html.contains("&lt;Acme&gt;") && !html.contains("<Acme>"));
    }

    /// A mention link the payload chose is an `href` only when it is a web link, and the text part shows only
    /// web links (mail clients linkify text), normalised.
    #[test]
    fn only_web_links_become_hrefs_or_text_links() {
        use crate::link::fixtures::{hrefs, WEB};
        let examples = crate::alert::tests_support::hostile_examples();
        let day = BrandDay {
            brand: "Acme".into(),
            total: 10,
            negative: 10,
            usual_share: None,
            usual_total: 0.0,
            platforms: vec![],
            alerts: vec![],
            examples,
            console: None,
        };
        let start = DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z").unwrap().with_timezone(&Utc);
        let days = [day.clone()];
        let html = html_body(start, start, &days);
        assert_eq!(hrefs(&html), [WEB.1], "{html}");
        // With `public_url`, each brand's part links to each of the day's alerts, the day's negatives and the
        // brand's alerts in the console.
        let links = crate::alert::email::ConsoleLinks::new("https://h.example/", "Acme", start, start);
        let with = [BrandDay { console: links, alerts: vec![alert(17, "firing")], ..day }];
        let h = html_body(start, start, &with);
        let found = hrefs(&h);
        assert_eq!(found.len(), 4, "{h}");
        assert_eq!(found[0], "https://h.example/alerts/17");
        assert!(found[2].starts_with("https://h.example/mentions?brand=Acme&amp;sentiment=negative&amp;since="));
        assert_eq!(found[3], "https://h.example/alerts?brand=Acme");
        let text = text_body(start, start, &with);
        assert!(text.contains("the day's negative mentions https://h.example/mentions?brand=Acme"), "{text}");
        assert!(text.contains("Alert: negative_spike firing at 00:00 UTC\n  https://h.example/alerts/17\n"), "{text}");
        assert!(html.contains("Acme complaint 0"), "a mention without a web link is still listed, as text");
        let text = text_body(start, start, &days).to_lowercase();
        for bad in ["script:", "data:", "file:"] {
            assert!(!text.contains(bad), "{bad} in the text part: {text}");
        }
        assert!(text.contains("\n    https://news.example/a%20b?x=1&y=2\n"), "{text}");
    }
}
