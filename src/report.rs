//! `hearsay report`: one self-contained HTML page about a brand's reputation over a period, for a browser or an
//! email client.
//!
//! Per brand: headline numbers, mentions per day by sentiment and the negative share per day (inline SVG, with the
//! numbers repeated in a table for clients that drop SVG), the split by platform and by language, the most
//! frequent terms of the negative mentions, the most-engaged negative mentions (by the platform counters in
//! `metrics`), and the alerts of the period.
//!
//! Self-contained means: inline SVG and one `<style>` block, no script, no external stylesheet, font or image, so
//! the page renders offline and survives being attached to an email. Every text that comes from a mention or the
//! database is HTML-escaped. Links to the mentions themselves are ordinary `<a href>`s, written only for the URLs
//! that [`crate::link::safe_href`] accepts (absolute `http`/`https`).
//!
//! Read-only: the report queries the store and writes nothing to it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use crate::alert::email::{escape, top_terms};
use crate::sentiment::Label;
use crate::store::{AlertRow, BrandSplit, EngagedMention, GroupTotals, MentionFilter, Store};

/// What to report on.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// One brand, or every brand in the store.
    pub brand: Option<String>,
    pub since: DateTime<Utc>,
    /// Exclusive.
    pub until: DateTime<Utc>,
    /// Words that say nothing about what people complain of (the brand's own query terms).
    pub exclude_terms: Vec<String>,
    /// The recurring words come from the negative mentions since this time only (the console: the last day),
    /// rather than from the whole period.
    pub terms_since: Option<DateTime<Utc>>,
}

/// One day of one brand.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Day {
    /// Midnight UTC, Unix seconds.
    pub start: i64,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
    pub unclassified: i64,
}

impl Day {
    pub fn total(&self) -> i64 {
        self.negative + self.neutral + self.positive + self.unclassified
    }

    /// Negative share of the labelled mentions, `None` when none is labelled.
    pub fn negative_share(&self) -> Option<f64> {
        let labelled = self.negative + self.neutral + self.positive;
        (labelled > 0).then(|| self.negative as f64 / labelled as f64)
    }
}

const DAY_SECS: i64 = 86_400;
const NEG: &str = "#c62828";
const NEU: &str = "#9e9e9e";
const POS: &str = "#2e7d32";

/// The whole page.
pub async fn render(store: &Store, opts: &ReportOptions) -> anyhow::Result<String> {
    let brands = match &opts.brand {
        Some(b) => vec![b.clone()],
        None => store.brand_names().await?,
    };
    let title = match brands.as_slice() {
        [one] => format!("{one}: reputation report"),
        _ => "Reputation report".to_string(),
    };
    let period = format!(
        "{} – {} (UTC)",
        opts.since.format("%Y-%m-%d %H:%M"),
        (opts.until - Duration::seconds(1)).format("%Y-%m-%d %H:%M")
    );
    let mut h = String::with_capacity(64 * 1024);
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
    let _ = write!(h, "<title>{}</title><style>{STYLE}</style></head><body><div class=\"page\">", escape(&title));
    let _ = write!(
        h,
        "<h1>{}</h1><p class=\"muted\">{} · generated {} by hearsay</p>",
        escape(&title),
        escape(&period),
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    if brands.is_empty() {
        h += "<p>No mentions in the database yet.</p>";
    }
    for brand in &brands {
        let data = brand_data(store, brand, opts).await?;
        brand_section(&mut h, &data, brands.len() > 1);
    }
    h += "<p class=\"muted foot\">Sentiment is the local model's label, or the manual label where one was set \
          (<code>hearsay relabel</code>). Syndicated copies of the same text count once. Days are UTC.</p>";
    h += "</div></body></html>\n";
    Ok(h)
}

/// One brand's part of the report (charts per day, platforms and languages, recurring words, the most engaged
/// negatives, the alerts of the period) as an HTML fragment, every value escaped: the web console's overview
/// shows it. Its classes are styled by [`STYLE`].
pub async fn brand_fragment(store: &Store, brand: &str, opts: &ReportOptions) -> anyhow::Result<String> {
    let data = brand_data(store, brand, opts).await?;
    let mut h = String::with_capacity(32 * 1024);
    brand_section(&mut h, &data, false);
    Ok(h)
}

/// What the report shows of one brand, read from the store before any HTML is written.
#[derive(Debug, Clone)]
struct BrandData {
    brand: String,
    /// Every day of the period, days without mentions included.
    days: Vec<Day>,
    /// Mentions by platform and by language, syndicated copies once.
    split: BrandSplit,
    /// The most frequent terms of the negative mentions (of up to 5,000, newest first), with their counts; the
    /// brand's name, its query terms and the terms each mention matched left out.
    terms: Vec<(String, usize)>,
    /// `terms` come from the last part of the period only (`ReportOptions::terms_since`).
    terms_recent: bool,
    /// The ten negative mentions with the most engagement.
    engaged: Vec<EngagedMention>,
    /// The brand's alert events fired in the period, the latest recorded first.
    alerts: Vec<AlertRow>,
}

/// Reads what the report shows of `brand` in the period.
async fn brand_data(store: &Store, brand: &str, opts: &ReportOptions) -> anyhow::Result<BrandData> {
    let filter = MentionFilter {
        brand: Some(brand.to_string()),
        since: Some(opts.since),
        until: Some(opts.until),
        ..MentionFilter::default()
    };
    let terms_from = opts.terms_since.map_or(opts.since, |t| t.max(opts.since));
    let negatives_filter = MentionFilter {
        sentiment: Some(Label::Negative),
        since: Some(terms_from),
        limit: Some(5000),
        ..filter.clone()
    };
    // Independent reads, side by side on the store's reader connections: the page waits for the slowest one
    // (the per-platform split) rather than for their sum.
    let (days, split, negatives, engaged, alerts) = tokio::try_join!(
        async { days(store, &filter, opts).await },
        async { Ok(store.brand_split(brand, opts.since, opts.until).await?) },
        async { Ok(store.mentions(&negatives_filter).await?) },
        async { Ok(store.most_engaged_negatives(brand, opts.since, opts.until, 10).await?) },
        async { Ok(store.alerts(10_000).await?) },
    )?;
    let alerts: Vec<AlertRow> = alerts
        .into_iter()
        .filter(|a| {
            a.brand.eq_ignore_ascii_case(brand)
                && (opts.since.timestamp()..opts.until.timestamp()).contains(&a.fired_at)
        })
        .collect();

    let texts: Vec<String> =
        negatives.iter().map(|m| format!("{} {}", m.title.as_deref().unwrap_or(""), m.text)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut exclude: Vec<String> = brand.split_whitespace().map(str::to_string).collect();
    exclude.extend(opts.exclude_terms.iter().cloned());
    exclude.extend(negatives.iter().flat_map(|m| m.terms.iter().cloned()));
    exclude.sort();
    exclude.dedup();
    let terms = top_terms(&refs, &exclude, 15);
    let terms_recent = terms_from > opts.since;
    Ok(BrandData { brand: brand.to_string(), days, split, terms, terms_recent, engaged, alerts })
}

/// One brand's part of the page, under its name when the report covers several (`heading`).
fn brand_section(h: &mut String, data: &BrandData, heading: bool) {
    let BrandData { brand, days, split, terms, engaged, alerts, .. } = data;
    let total: i64 = days.iter().map(Day::total).sum();
    let neg: i64 = days.iter().map(|d| d.negative).sum();
    let labelled: i64 = days.iter().map(|d| d.negative + d.neutral + d.positive).sum();
    let pos: i64 = days.iter().map(|d| d.positive).sum();
    if heading {
        let _ = write!(h, "<h2 class=\"brand\">{}</h2>", escape(brand));
    }
    h.push_str("<table class=\"cards\" role=\"presentation\"><tr>");
    let share =
        |n: i64| if labelled > 0 { format!("{:.0}%", n as f64 * 100.0 / labelled as f64) } else { "–".into() };
    for (value, label, class) in [
        (total.to_string(), "mentions", ""),
        (share(neg), "negative", " neg"),
        (share(pos), "positive", " pos"),
        (split.platforms.len().to_string(), "platforms", ""),
        (alerts.iter().filter(|a| a.event == "firing").count().to_string(), "alerts fired", ""),
    ] {
        let _ = write!(
            h,
            "<td class=\"card\"><div class=\"big{class}\">{value}</div><div class=\"muted\">{label}</div></td>"
        );
    }
    h.push_str("</tr></table>");

    h.push_str("<h3>Mentions per day</h3>");
    h.push_str(&volume_chart(days));
    h.push_str("<h3>Negative share per day</h3>");
    h.push_str(&share_chart(days));
    day_table(h, days);

    h.push_str("<h3>Where</h3>");
    split_table(h, "platform", &split.platforms);
    h.push_str("<h3>In which languages</h3>");
    split_table(h, "language", &split.languages);

    h.push_str(if data.terms_recent {
        "<h3>What the negative mentions of the last day talk about</h3>"
    } else {
        "<h3>What the negative mentions talk about</h3>"
    });
    if terms.is_empty() {
        h.push_str("<p class=\"muted\">Too few negative mentions to find recurring terms.</p>");
    } else {
        h.push_str("<p class=\"terms\">");
        for (t, n) in terms {
            let _ = write!(h, "<span class=\"term\">{} <b>{n}</b></span> ", escape(t));
        }
        h.push_str("</p>");
    }

    h.push_str("<h3>Most-engaged negative mentions</h3>");
    if engaged.is_empty() {
        h.push_str("<p class=\"muted\">No negative mentions in this period.</p>");
    } else {
        h.push_str("<table class=\"data\"><tr><th>when</th><th>where</th><th>mention</th><th class=\"num\">engagement</th></tr>");
        for m in engaged {
            let when = DateTime::from_timestamp(m.created_at, 0).unwrap_or_default().format("%Y-%m-%d %H:%M");
            let text = excerpt(&match &m.title {
                Some(t) if !t.is_empty() && !m.text.is_empty() => format!("{t} — {}", m.text),
                Some(t) if !t.is_empty() => t.clone(),
                _ => m.text.clone(),
            });
            let link = match m.url.as_deref().and_then(crate::link::safe_href) {
                Some(u) => format!(" <a href=\"{}\">open</a>", escape(u.as_str())),
                None => String::new(),
            };
            let counters: Vec<String> = m.metrics.iter().map(|(k, v)| format!("{v} {}", k.replace('_', " "))).collect();
            let _ = write!(
                h,
                "<tr><td class=\"nowrap\">{when}</td><td>{}<br><span class=\"muted\">{}</span></td><td>{}{link}</td>\
                 <td class=\"num\" title=\"{}\">{}</td></tr>",
                escape(&m.platform),
                escape(m.author.as_deref().unwrap_or("")),
                escape(&text),
                escape(&counters.join(", ")),
                m.engagement
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h3>Alerts</h3>");
    if alerts.is_empty() {
        h.push_str("<p class=\"muted\">No alerts in this period.</p>");
    } else {
        h.push_str("<table class=\"data\"><tr><th>fired</th><th>alert</th><th>event</th><th>details</th></tr>");
        for a in alerts {
            let d: serde_json::Value = serde_json::from_str(&a.details).unwrap_or_default();
            let details = match (d["observed"].as_u64(), d["expected"].as_f64()) {
                (Some(o), Some(e)) if a.kind != "source_down" => format!(
                    "{o} negative in the window, about {e:.1} expected ({:.1}× normal); negative share {:.0}%",
                    d["ratio"].as_f64().unwrap_or(0.0),
                    d["negative_share"].as_f64().unwrap_or(0.0) * 100.0
                ),
                _ => d["platform"].as_str().map(|p| format!("source {p}")).unwrap_or_default(),
            };
            let _ = write!(
                h,
                "<tr><td class=\"nowrap\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                DateTime::from_timestamp(a.fired_at, 0).unwrap_or_default().format("%Y-%m-%d %H:%M"),
                escape(&a.kind.replace('_', " ")),
                escape(&a.event),
                escape(&details)
            );
        }
        h.push_str("</table>");
    }
}

/// A split of the period's mentions (by platform or language), the most mentions first, each with its negatives
/// and a bar.
fn split_table(h: &mut String, what: &str, groups: &[GroupTotals]) {
    if groups.is_empty() {
        h.push_str("<p class=\"muted\">No mentions in this period.</p>");
        return;
    }
    let max = groups.iter().map(|g| g.mentions).max().unwrap_or(1).max(1);
    let _ = write!(
        h,
        "<table class=\"data\"><tr><th>{what}</th><th class=\"num\">mentions</th><th class=\"num\">negative</th>\
         <th class=\"num\">share</th><th></th></tr>"
    );
    let mut sorted: Vec<&GroupTotals> = groups.iter().collect();
    sorted.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.key.cmp(&b.key)));
    for g in sorted {
        let (n, ng) = (g.mentions, g.negative);
        let width = (n as f64 / max as f64 * 200.0).round().max(1.0);
        let neg_width = (ng as f64 / max as f64 * 200.0).round();
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{n}</td><td class=\"num\">{ng}</td><td class=\"num\">{:.0}%</td>\
             <td><div class=\"hbar\" style=\"width:{width}px\"><div class=\"hneg\" style=\"width:{neg_width}px\"></div></div></td></tr>",
            escape(&g.key),
            if n > 0 { ng as f64 * 100.0 / n as f64 } else { 0.0 }
        );
    }
    h.push_str("</table>");
}

/// Per-day counts over the whole period, days without mentions included.
async fn days(store: &Store, filter: &MentionFilter, opts: &ReportOptions) -> anyhow::Result<Vec<Day>> {
    let rows = store.stats(filter, DAY_SECS).await?;
    let by_day: BTreeMap<i64, Day> = rows
        .iter()
        .map(|r| {
            let start = r.bucket_start.timestamp();
            (
                start,
                Day {
                    start,
                    negative: r.negative,
                    neutral: r.neutral,
                    positive: r.positive,
                    unclassified: r.unclassified,
                },
            )
        })
        .collect();
    let first = opts.since.timestamp().div_euclid(DAY_SECS) * DAY_SECS;
    let last = (opts.until.timestamp() - 1).div_euclid(DAY_SECS) * DAY_SECS;
    let mut out = Vec::new();
    let mut d = first;
    // A report over years still draws one bar a day; past ~3 years the chart would be unreadable anyway.
    while d <= last && out.len() < 1200 {
        out.push(by_day.get(&d).copied().unwrap_or(Day { start: d, ..Day::default() }));
        d += DAY_SECS;
    }
    Ok(out)
}

fn excerpt(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= 280 {
        s
    } else {
        format!("{}…", s.chars().take(280).collect::<String>())
    }
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A "nice" axis maximum and tick step for values up to `max`.
fn nice_axis(max: f64) -> (f64, f64) {
    let max = max.max(1.0);
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag).max(1.0);
    ((max / step).ceil() * step, step)
}

/// The SVG frame: grid lines, y labels, and a date label every few days.
fn frame(svg: &mut String, days: &[Day], y_max: f64, step: f64, y_label: &dyn Fn(f64) -> String, title: &str) {
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" height=\"{CHART_H}\" viewBox=\"0 0 {CHART_W} {CHART_H}\" \
         role=\"img\" aria-label=\"{}\" class=\"chart\" font-family=\"Helvetica,Arial,sans-serif\" font-size=\"11\">",
        escape(title)
    );
    let plot_h = CHART_H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let y = TOP + plot_h - v / y_max * plot_h;
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e6e6e6\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#666\">{}</text>",
            CHART_W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            y_label(v)
        );
        v += step;
    }
    let n = days.len().max(1);
    let every = n.div_ceil(8).max(1);
    let slot = (CHART_W - LEFT - RIGHT) / n as f64;
    for (i, d) in days.iter().enumerate() {
        if i % every == 0 {
            let x = LEFT + slot * (i as f64 + 0.5);
            let label = DateTime::from_timestamp(d.start, 0).unwrap_or_default().format("%d %b");
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#666\">{label}</text>",
                CHART_H - 8.0
            );
        }
    }
}

/// Stacked bars per day: negative at the bottom (it is what matters), then neutral, then positive.
pub fn volume_chart(days: &[Day]) -> String {
    let max = days.iter().map(Day::total).max().unwrap_or(0) as f64;
    let (y_max, step) = nice_axis(max);
    let mut svg = String::new();
    frame(&mut svg, days, y_max, step, &|v| format!("{v:.0}"), "Mentions per day by sentiment");
    let plot_h = CHART_H - TOP - BOTTOM;
    let slot = (CHART_W - LEFT - RIGHT) / days.len().max(1) as f64;
    let bar_w = (slot * 0.75).max(1.0);
    for (i, d) in days.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let mut base = TOP + plot_h;
        let date = DateTime::from_timestamp(d.start, 0).unwrap_or_default().format("%Y-%m-%d");
        for (n, colour, what) in [
            (d.negative, NEG, "negative"),
            (d.unclassified, "#d7ccc8", "not yet labelled"),
            (d.neutral, NEU, "neutral"),
            (d.positive, POS, "positive"),
        ] {
            if n == 0 {
                continue;
            }
            let hgt = n as f64 / y_max * plot_h;
            base -= hgt;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{base:.1}\" width=\"{bar_w:.1}\" height=\"{hgt:.1}\" fill=\"{colour}\"><title>{date}: {n} {what}</title></rect>"
            );
        }
    }
    svg.push_str("</svg>");
    format!(
        "<div class=\"chartbox\">{svg}<div class=\"legend\"><span style=\"color:{NEG}\">■</span> negative \
         <span style=\"color:{NEU}\">■</span> neutral <span style=\"color:{POS}\">■</span> positive</div></div>"
    )
}

/// The negative share per day as a line with dots, against the period's overall share (dashed).
pub fn share_chart(days: &[Day]) -> String {
    let points: Vec<(usize, f64)> =
        days.iter().enumerate().filter_map(|(i, d)| d.negative_share().map(|s| (i, s))).collect();
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let y_max = if max <= 0.25 {
        0.25
    } else if max <= 0.5 {
        0.5
    } else {
        1.0
    };
    let step = y_max / 5.0;
    let mut svg = String::new();
    frame(&mut svg, days, y_max, step, &|v| format!("{:.0}%", v * 100.0), "Negative share per day");
    let plot_h = CHART_H - TOP - BOTTOM;
    let slot = (CHART_W - LEFT - RIGHT) / days.len().max(1) as f64;
    let xy = |i: usize, s: f64| (LEFT + slot * (i as f64 + 0.5), TOP + plot_h - s / y_max * plot_h);
    let (neg, labelled) =
        days.iter().fold((0, 0), |(n, l), d| (n + d.negative, l + d.negative + d.neutral + d.positive));
    if labelled > 0 {
        let (_, y) = xy(0, neg as f64 / labelled as f64);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#777\" stroke-dasharray=\"4 3\"><title>period average {:.0}%</title></line>",
            CHART_W - RIGHT,
            neg as f64 * 100.0 / labelled as f64
        );
    }
    if points.len() > 1 {
        let path: Vec<String> = points.iter().map(|(i, s)| xy(*i, *s)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ =
            write!(svg, "<polyline points=\"{}\" fill=\"none\" stroke=\"{NEG}\" stroke-width=\"2\"/>", path.join(" "));
    }
    for (i, s) in &points {
        let (x, y) = xy(*i, *s);
        let date = DateTime::from_timestamp(days[*i].start, 0).unwrap_or_default().format("%Y-%m-%d");
        let _ = write!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{NEG}\"><title>{date}: {:.0}% negative</title></circle>", s * 100.0);
    }
    svg.push_str("</svg>");
    format!("<div class=\"chartbox\">{svg}<div class=\"legend\"><span style=\"color:{NEG}\">●</span> negative share of the day's labelled mentions · dashed: the period's average</div></div>")
}

/// The chart's numbers, for readers (and email clients) without SVG.
fn day_table(h: &mut String, days: &[Day]) {
    h.push_str("<details><summary>Numbers per day</summary><table class=\"data small\"><tr><th>day</th><th class=\"num\">mentions</th><th class=\"num\">negative</th><th class=\"num\">neutral</th><th class=\"num\">positive</th><th class=\"num\">negative share</th></tr>");
    for d in days.iter().rev() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            DateTime::from_timestamp(d.start, 0).unwrap_or_default().format("%a %Y-%m-%d"),
            d.total(),
            d.negative,
            d.neutral,
            d.positive,
            d.negative_share().map(|s| format!("{:.0}%", s * 100.0)).unwrap_or_else(|| "–".into())
        );
    }
    h.push_str("</table></details>");
}

pub const STYLE: &str = "body{margin:0;background:#f6f6f4;color:#222;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.45}\
.page{max-width:760px;margin:0 auto;padding:16px 20px 32px;background:#fff}\
h1{font-size:22px;margin:8px 0 2px}h2.brand{font-size:19px;margin:28px 0 4px;border-top:2px solid #222;padding-top:12px}\
h3{font-size:15px;margin:22px 0 6px}.muted{color:#777}.foot{font-size:12px;margin-top:28px}\
.cards{border-collapse:separate;border-spacing:6px;width:100%;margin:8px -6px}.card{background:#f3f3f1;padding:8px 10px;border-radius:6px;vertical-align:top}\
.big{font-size:22px;font-weight:600}.big.neg{color:#c62828}.big.pos{color:#2e7d32}\
.chartbox{overflow-x:auto}.chart{max-width:100%;height:auto}.legend{font-size:12px;color:#555;margin:2px 0 0 44px}\
table.data{border-collapse:collapse;width:100%}table.data th{text-align:left;font-weight:600;border-bottom:1px solid #ccc;padding:4px 6px}\
table.data td{border-bottom:1px solid #eee;padding:5px 6px;vertical-align:top}.num{text-align:right}.nowrap{white-space:nowrap}\
table.small{font-size:12px}details{margin:8px 0}summary{cursor:pointer;color:#555;font-size:12px}\
.hbar{background:#9e9e9e;height:10px;border-radius:2px}.hneg{background:#c62828;height:10px;border-radius:2px}\
.terms{line-height:2}.term{display:inline-block;background:#fdecea;color:#8e1b1b;border-radius:10px;padding:0 9px;margin:0 2px}\
code{background:#f3f3f1;padding:0 3px;border-radius:3px}a{color:#1565c0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
        assert_eq!(nice_axis(37.0), (40.0, 10.0));
        assert_eq!(nice_axis(130.0), (150.0, 50.0));
    }

    /// The section is drawn from its data alone: no store, so a renderer test needs no database.
    #[test]
    fn a_brand_section_is_drawn_from_its_data() {
        let alert = |event: &str| AlertRow {
            id: 1,
            brand: "A&B".into(),
            kind: "source_down".into(),
            event: event.into(),
            fired_at: DAY_SECS,
            recorded_at: DAY_SECS,
            details: r#"{"platform":"reddit"}"#.into(),
        };
        let data = BrandData {
            brand: "A&B".into(),
            days: vec![Day { start: 0, negative: 3, neutral: 0, positive: 1, unclassified: 2 }],
            split: BrandSplit {
                platforms: vec![GroupTotals { key: "reddit".into(), mentions: 6, negative: 3, positive: 1 }],
                languages: vec![GroupTotals { key: "de".into(), mentions: 6, negative: 3, positive: 1 }],
            },
            terms: vec![("refund".into(), 2)],
            engaged: vec![EngagedMention {
                platform: "reddit".into(),
                author: None,
                title: None,
                text: "<b>awful</b>".into(),
                url: Some("javascript:alert(1)".into()),
                created_at: 0,
                metrics: BTreeMap::from([("num_comments".into(), 4)]),
                engagement: 4,
            }],
            alerts: vec![alert("resolved"), alert("firing")],
            terms_recent: false,
        };
        let mut h = String::new();
        brand_section(&mut h, &data, true);
        assert!(h.starts_with("<h2 class=\"brand\">A&amp;B</h2>"), "{h}");
        assert!(h.contains("<div class=\"big\">6</div><div class=\"muted\">mentions</div>"));
        assert!(h.contains("<div class=\"big neg\">75%</div>"), "3 of 4 labelled");
        assert!(h.contains("<div class=\"big\">1</div><div class=\"muted\">alerts fired</div>"));
        assert!(h.contains("refund <b>2</b>") && h.contains("title=\"4 num comments\""));
        assert!(h.contains("&lt;b&gt;awful&lt;/b&gt;") && !h.contains("href=\"javascript"), "{h}");
        assert!(h.contains("source reddit"));
        assert!(h.contains("<th>language</th>") && h.contains("<tr><td>de</td><td class=\"num\">6</td>"), "{h}");
    }

    #[test]
    fn charts_are_svg_with_one_bar_per_nonzero_count() {
        let days = [
            Day { start: 0, negative: 2, neutral: 3, positive: 1, unclassified: 0 },
            Day { start: DAY_SECS, ..Day::default() },
            Day { start: 2 * DAY_SECS, negative: 9, neutral: 1, positive: 0, unclassified: 0 },
        ];
        let v = volume_chart(&days);
        assert!(v.contains("<svg") && v.ends_with("</div>"));
        assert_eq!(v.matches("<rect").count(), 5);
        let s = share_chart(&days);
        assert_eq!(s.matches("<circle").count(), 2, "no point for the empty day");
        assert!(s.contains("90% negative"));
    }
}
