//! The console's pages and the actions behind their forms.
//!
//! Reading pages take [`Signed`] (any account); actions take [`Editor`] and check the form's CSRF token first.
//! Filters live in the URL (`GET` forms), so a filtered feed can be bookmarked and mailed.

use axum::extract::{Form, Path, Query, State as AxState};
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::auth::{Editor, Signed};
use super::{error_page, html_response, internal, page, see_other, State};
use crate::link::safe_href;
use crate::report::ReportOptions;
use crate::sentiment::Label;
use crate::sources::poll::Health;
use crate::store::{Mark, MentionFilter, MentionRow};

/// Mentions per page of the feed.
pub const PAGE: i64 = 50;

/// The time ranges the overview and the feed offer.
const RANGES: [(&str, i64); 4] = [("24h", 1), ("7d", 7), ("30d", 30), ("90d", 90)];

fn range_days(r: Option<&str>, default: i64) -> (String, i64) {
    match RANGES.iter().find(|(k, _)| Some(*k) == r) {
        Some((k, d)) => (k.to_string(), *d),
        None => {
            RANGES.iter().find(|(_, d)| *d == default).map(|(k, d)| (k.to_string(), *d)).unwrap_or(("7d".into(), 7))
        }
    }
}

pub(super) fn when(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%d %H:%M").to_string()
}

/// Drops empty query parameters: a GET form sends every field, filled or not.
fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn select(name: &str, options: &[String], chosen: Option<&str>, any: Option<&str>) -> Markup {
    html! {
        select name=(name) {
            @if let Some(any) = any { option value="" selected[chosen.is_none()] { (any) } }
            @for o in options { option value=(o) selected[chosen == Some(o.as_str())] { (o) } }
        }
    }
}

#[derive(Deserialize)]
pub struct OverviewQuery {
    brand: Option<String>,
    range: Option<String>,
}

/// `GET /overview`: one brand over a range: the report's figures and charts, its alert state and its sources.
pub async fn overview(AxState(state): AxState<State>, who: Signed, Query(q): Query<OverviewQuery>) -> Response {
    let brands = match state.store.brand_names().await {
        Ok(b) => b,
        Err(e) => return internal(e, Some(&who)),
    };
    let (range, days) = range_days(q.range.as_deref(), 7);
    let Some(brand) = given(&q.brand).filter(|b| brands.contains(b)).or_else(|| brands.first().cloned()) else {
        let body = html! { p { "No mentions stored yet. Once the daemon has polled its sources, each brand gets its overview here." } };
        return html_response(StatusCode::OK, page("Overview", Some(&who), body));
    };
    let now = Utc::now();
    let until = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + Duration::days(1);
    let opts = ReportOptions {
        brand: Some(brand.clone()),
        since: until - Duration::days(days),
        until,
        exclude_terms: Vec::new(),
        // "What are people complaining about now": the last day's words, whatever the range.
        terms_since: Some(now - Duration::days(1)),
    };
    // Independent reads, side by side on the store's reader connections.
    let read = tokio::try_join!(
        async { crate::report::brand_fragment(&state.store, &brand, &opts).await },
        async { Ok(state.store.active_silences(now).await?) },
        async { Ok(state.store.alerts(200).await?) },
        async { Ok(crate::sources::poll::status(&state.store).await?) },
        async { Ok(usual_level(&state.store, &brand, now, days).await?) },
    );
    let (fragment, silences, firing, sources, usual) = match read {
        Ok(r) => r,
        Err(e) => return internal(format!("{e:#}"), Some(&who)),
    };
    let silences: Vec<_> = silences.into_iter().filter(|s| s.brand == brand).collect();
    let firing: Vec<_> = firing.into_iter().filter(|a| a.brand == brand).take(5).collect();
    let sources: Vec<_> = sources.into_iter().filter(|s| s.state.brand == brand).collect();
    let ranges: Vec<String> = RANGES.iter().map(|(k, _)| k.to_string()).collect();
    let feed = format!(
        "/mentions?brand={}&range={range}&sentiment=negative",
        url::form_urlencoded::byte_serialize(brand.as_bytes()).collect::<String>()
    );
    let body = html! {
        form.filters method="get" action="/overview" {
            label { "Brand" (select("brand", &brands, Some(&brand), None)) }
            label { "Range" (select("range", &ranges, Some(&range), None)) }
            button type="submit" { "Show" }
            a href=(feed) { "Negative mentions in this range →" }
        }
        h3 { "Alert state" }
        @if silences.is_empty() && firing.is_empty() {
            p.muted { "No alerts for " (brand) "." }
        }
        @for s in &silences {
            (silenced(s))
        }
        @if !firing.is_empty() {
            table.data {
                tr { th { "recorded" } th { "kind" } th { "event" } }
                @for a in &firing {
                    tr { td { (when(a.recorded_at)) } td { (a.kind) }
                         td { a href=(format!("/alerts/{}", a.id)) { (a.event) ", its evidence →" } } }
                }
            }
            p { a href="/alerts" { "All alerts →" } }
        }
        h3 { "Negative mentions against the usual level" }
        (usual.chart())
        p.muted { "Red: negative mentions per " (usual.unit) ". Grey: the usual level, the mean of the same "
            (usual.unit) " in the four weeks before, as in the alert email's chart." }
        h3 { "Sources" }
        @if sources.is_empty() { p.muted { "No source has polled for " (brand) " yet." } }
        @else {
            p { @for s in &sources {
                span.badge.(health_class(&s.health)) title=[s.state.last_error.as_deref()] {
                    (s.state.source) " " (health_word(&s.health))
                }
                " "
            } }
            // What is wrong, since when: the sources that fail or are degraded, each on its own line.
            @for s in sources.iter().filter(|s| matches!(s.health, Health::Failing | Health::Degraded)) {
                p.muted {
                    (s.state.source) " " (health_word(&s.health))
                    @if let Some(d) = s.state.degraded_since { " since " (when(d)) " UTC" }
                    @else if let Some(ok) = s.state.last_success_at { " (last success " (when(ok)) " UTC)" }
                    @else { " (never succeeded)" }
                    @if let Some(e) = &s.state.last_error { ": " (excerpt(e, 200)) }
                    " · " a href="/sources" { "all sources →" }
                }
            }
        }
        (PreEscaped(fragment))
    };
    html_response(StatusCode::OK, page(&format!("{brand}: overview"), Some(&who), body))
}

/// Negatives per hour (24 h, 7 d) or per day (30 d, 90 d) over the range, and the usual level for each: the mean
/// of the same hour of the week (or the same day's hours) over the four weeks before, as the alert email draws it.
/// Read from the hourly rollup (`Store::stats` by hour), so a 90-day overview costs about 2,800 rollup rows.
struct Usual {
    unit: &'static str,
    observed: Vec<f64>,
    expected: Vec<f64>,
}

async fn usual_level(
    store: &crate::store::Store,
    brand: &str,
    now: DateTime<Utc>,
    days: i64,
) -> Result<Usual, crate::store::StoreError> {
    const WEEK: i64 = 7 * 24;
    let end_hour = now.timestamp().div_euclid(3600) + 1;
    let hours = days * 24;
    let first_hour = end_hour - hours - 4 * WEEK;
    let filter = MentionFilter {
        brand: Some(brand.to_string()),
        since: DateTime::from_timestamp(first_hour * 3600, 0),
        until: DateTime::from_timestamp(end_hour * 3600, 0),
        ..MentionFilter::default()
    };
    let rows = store.stats(&filter, 3600).await?;
    let history_from = store.brand_history_start(brand).await?.map(|t| t.timestamp().div_euclid(3600));
    let mut neg = vec![0f64; (end_hour - first_hour) as usize];
    for r in rows {
        let h = r.bucket_start.timestamp().div_euclid(3600) - first_hour;
        if let Some(slot) = usize::try_from(h).ok().and_then(|h| neg.get_mut(h)) {
            *slot += r.negative as f64;
        }
    }
    let mut observed = Vec::with_capacity(hours as usize);
    let mut expected = Vec::with_capacity(hours as usize);
    for h in (end_hour - hours)..end_hour {
        observed.push(neg[(h - first_hour) as usize]);
        // Only weeks the brand was watched in: zeros before its first mention are not a usual level.
        let past: Vec<f64> = (1..=4)
            .map(|w| h - w * WEEK)
            .filter(|p| history_from.is_some_and(|from| *p >= from))
            .map(|p| neg[(p - first_hour) as usize])
            .collect();
        expected.push(if past.is_empty() { 0.0 } else { past.iter().sum::<f64>() / past.len() as f64 });
    }
    if days <= 7 {
        return Ok(Usual { unit: "hour", observed, expected });
    }
    let per_day = |v: &[f64]| v.chunks(24).map(|c| c.iter().sum()).collect::<Vec<f64>>();
    Ok(Usual { unit: "day", observed: per_day(&observed), expected: per_day(&expected) })
}

impl Usual {
    /// Bars for the negatives, a grey line for the usual level; inline SVG.
    fn chart(&self) -> Markup {
        const W: f64 = 1000.0;
        const H: f64 = 160.0;
        let n = self.observed.len().max(1) as f64;
        let max = self.observed.iter().chain(&self.expected).copied().fold(1.0f64, f64::max);
        let step = W / n;
        let y = |v: f64| H - v / max * (H - 10.0);
        let line: Vec<String> = self
            .expected
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", (i as f64 + 0.5) * step, y(*v)))
            .collect();
        let total: f64 = self.observed.iter().sum();
        let usual: f64 = self.expected.iter().sum();
        html! {
            svg viewBox=(format!("0 0 {W} {H}")) width="100%" height="160" role="img"
                aria-label=(format!("{total:.0} negative mentions; usually about {usual:.0}")) {
                @for (i, v) in self.observed.iter().enumerate() {
                    @if *v > 0.0 {
                        rect x=(format!("{:.1}", i as f64 * step)) y=(format!("{:.1}", y(*v)))
                            width=(format!("{:.1}", (step - 1.0).max(0.5))) height=(format!("{:.1}", H - y(*v)))
                            fill="#c62828" { title { (format!("{v:.0} negative")) } }
                    }
                }
                polyline points=(line.join(" ")) fill="none" stroke="#757575" stroke-width="2" {}
                text x="4" y="12" font-size="11" fill="#555" { (format!("max {max:.0}")) }
            }
            p.muted { (format!("{total:.0} negative mentions in this range; the usual level adds up to {usual:.0}.")) }
        }
    }
}

fn health_word(h: &Health) -> &'static str {
    match h {
        Health::Healthy => "ok",
        Health::Failing => "failing",
        Health::Degraded => "degraded",
        Health::Quiet => "quiet",
    }
}

fn health_class(h: &Health) -> &'static str {
    match h {
        Health::Healthy => "positive",
        Health::Failing | Health::Degraded => "negative",
        Health::Quiet => "manual",
    }
}

#[derive(Deserialize, Default)]
pub struct FeedQuery {
    brand: Option<String>,
    platform: Option<String>,
    sentiment: Option<String>,
    lang: Option<String>,
    range: Option<String>,
    /// A time range by its ends (Unix seconds or RFC 3339; the alert email's links use these); `range` wins over
    /// `since`.
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    /// `<unix seconds>-<mention id>-<brand id>` of the last row of the previous page.
    before: Option<String>,
}

impl FeedQuery {
    /// This filter as a query string (without `before`), for links to the next page.
    fn query_string(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("brand", &self.brand),
            ("platform", &self.platform),
            ("sentiment", &self.sentiment),
            ("lang", &self.lang),
            ("range", &self.range),
            ("since", &self.since),
            ("until", &self.until),
            ("q", &self.q),
        ] {
            if let Some(v) = given(v) {
                s.append_pair(k, &v);
            }
        }
        s.finish()
    }
}

/// The filter a feed URL asks for, and what in it does not parse (the page shows those; nothing is queried).
fn feed_filter(q: &FeedQuery, limit: i64) -> (MentionFilter, Vec<String>) {
    let mut problems = Vec::new();
    let sentiment = match given(&q.sentiment) {
        None => None,
        Some(s) => match s.parse::<Label>() {
            Ok(l) => Some(l),
            Err(_) => {
                problems.push(format!("unknown sentiment {s:?}"));
                None
            }
        },
    };
    let search = given(&q.q);
    if let Some(s) = &search {
        if let Err(e) = crate::store::fts_query(s) {
            problems.push(format!("search, column {}: {}", e.column, e.message));
        }
    }
    let before = match given(&q.before) {
        None => None,
        Some(b) => match b.splitn(3, '-').map(str::parse::<i64>).collect::<Result<Vec<_>, _>>().ok().as_deref() {
            Some(&[t, id, brand]) => Some((t, id, brand)),
            _ => {
                problems.push(format!("bad page position {b:?}"));
                None
            }
        },
    };
    let range = given(&q.range);
    let days = range.as_deref().and_then(|r| RANGES.iter().find(|(k, _)| *k == r)).map(|(_, d)| *d);
    let mut instant = |name: &str, v: &Option<String>| match given(v) {
        None => None,
        Some(v) => match parse_instant(&v) {
            Some(t) => Some(t),
            None => {
                problems.push(format!(
                    "{name} {v:?} is neither Unix seconds, a duration back from now (24h) nor a time (2026-12-01)"
                ));
                None
            }
        },
    };
    let since = instant("since", &q.since);
    let until = instant("until", &q.until);
    let filter = MentionFilter {
        brand: given(&q.brand),
        platform: given(&q.platform),
        sentiment,
        since: days.map(|d| Utc::now() - Duration::days(d)).or(since),
        until,
        search,
        lang: given(&q.lang).map(|l| l.to_ascii_lowercase()),
        before,
        limit: Some(limit),
        ..MentionFilter::default()
    };
    (filter, problems)
}

/// Rows one export downloads at most; `hearsay export` has no limit.
pub const EXPORT_MAX: i64 = 100_000;

/// `GET /mentions/export.csv`: the feed's filter as CSV (editors; newest first, at most [`EXPORT_MAX`] rows;
/// cells that a spreadsheet would run as formulas are defused).
pub async fn export_csv(state: AxState<State>, who: Editor, q: Query<FeedQuery>) -> Response {
    export(state, who, q, "csv").await
}

/// `GET /mentions/export.jsonl`: the same as JSON lines, the records of `hearsay mentions --format jsonl`.
pub async fn export_jsonl(state: AxState<State>, who: Editor, q: Query<FeedQuery>) -> Response {
    export(state, who, q, "jsonl").await
}

async fn export(
    AxState(state): AxState<State>,
    Editor(who): Editor,
    Query(q): Query<FeedQuery>,
    format: &str,
) -> Response {
    let (filter, problems) = feed_filter(&FeedQuery { before: None, ..q }, EXPORT_MAX);
    if !problems.is_empty() {
        return error_page(StatusCode::BAD_REQUEST, Some(&who), &problems.join("; "));
    }
    let rows = match state.store.mentions(&filter).await {
        Ok(r) => r,
        Err(e) => return internal(e, Some(&who)),
    };
    let mut out = Vec::with_capacity(rows.len() * 256);
    let (written, kind) = match format {
        "csv" => {
            (crate::store::write_csv(&mut out, &rows, true).map_err(anyhow::Error::from), "text/csv; charset=utf-8")
        }
        _ => (crate::store::write_json_lines(&mut out, &rows).map_err(anyhow::Error::from), "application/x-ndjson"),
    };
    if let Err(e) = written {
        return internal(format!("{e:#}"), Some(&who));
    }
    let name = format!("hearsay-mentions-{}.{format}", Utc::now().format("%Y%m%d-%H%M"));
    let mut r = (StatusCode::OK, out).into_response();
    let h = r.headers_mut();
    h.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /mentions`: the feed, newest first, filtered, paged by keyset.
pub async fn mentions(AxState(state): AxState<State>, who: Signed, Query(q): Query<FeedQuery>) -> Response {
    let brands = match state.store.brand_names().await {
        Ok(b) => b,
        Err(e) => return internal(e, Some(&who)),
    };
    let (filter, problems) = feed_filter(&q, PAGE + 1);
    let range = given(&q.range);
    let sentiment = filter.sentiment;
    let (status, mut rows) = if problems.is_empty() {
        match state.store.mentions(&filter).await {
            Ok(r) => (StatusCode::OK, r),
            Err(e) => return internal(e, Some(&who)),
        }
    } else {
        (StatusCode::BAD_REQUEST, Vec::new())
    };
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let next = if more {
        rows.last().map(|r| {
            let qs = q.query_string();
            let sep = if qs.is_empty() { "" } else { "&" };
            format!("/mentions?{qs}{sep}before={}-{}-{}", r.created_at.timestamp(), r.id, r.brand_id)
        })
    } else {
        None
    };
    let sentiments: Vec<String> = Label::ALL.iter().map(|l| l.as_str().to_string()).collect();
    let ranges: Vec<String> = RANGES.iter().map(|(k, _)| k.to_string()).collect();
    let body = html! {
        form.filters method="get" action="/mentions" {
            label { "Brand" (select("brand", &brands, filter.brand.as_deref(), Some("all"))) }
            label { "Platform" input name="platform" size="10" value=[filter.platform.as_deref()]; }
            label { "Sentiment" (select("sentiment", &sentiments, sentiment.map(Label::as_str), Some("any"))) }
            label { "Language" input name="lang" size="4" value=[filter.lang.as_deref()]; }
            label { "Range" (select("range", &ranges, range.as_deref(), Some("all time"))) }
            @if range.is_none() && (filter.since.is_some() || filter.until.is_some()) {
                input type="hidden" name="since" value=[filter.since.map(|t| t.timestamp())];
                input type="hidden" name="until" value=[filter.until.map(|t| t.timestamp())];
                span.muted { (filter.since.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) " – "
                    (filter.until.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) " UTC" }
            }
            label { "Search (brand query language)" input name="q" size="30" value=[filter.search.as_deref()]; }
            button type="submit" { "Filter" }
        }
        @for p in &problems { p.error { (p) } }
        @if problems.is_empty() && rows.is_empty() { p.muted { "No mentions match." } }
        @if !rows.is_empty() {
            table.data {
                tr { th { "when (UTC)" } th { "brand" } th { "where" } th { "who" } th { "mention" } th { "sentiment" } }
                @for m in &rows { (feed_row(m)) }
            }
        }
        @if let Some(next) = next { p { a href=(next) { "Older →" } } }
        @if who.is_editor() && problems.is_empty() {
            p.muted { "Download this filter: "
                a href=(format!("/mentions/export.csv?{}", q.query_string())) { "CSV" } " · "
                a href=(format!("/mentions/export.jsonl?{}", q.query_string())) { "JSON lines" }
                (format!(" (newest first, at most {EXPORT_MAX})")) }
        }
    };
    html_response(status, page("Mentions", Some(&who), body))
}

/// Unix seconds (what the alert email's links carry), or what `--since` takes (`24h`, a date, RFC 3339).
fn parse_instant(v: &str) -> Option<DateTime<Utc>> {
    match v.parse::<i64>() {
        Ok(secs) => DateTime::from_timestamp(secs, 0),
        Err(_) => crate::duration::parse_when(v).ok(),
    }
}

fn feed_row(m: &MentionRow) -> Markup {
    let text = match &m.title {
        Some(t) if !t.is_empty() => format!("{t}. {}", m.text),
        _ => m.text.clone(),
    };
    html! {
        tr {
            td.nowrap { a href=(format!("/mentions/{}", m.id)) { (m.created_at.format("%Y-%m-%d %H:%M")) } }
            td { (m.brand) }
            td.nowrap { (m.platform) @if let Some(l) = &m.lang { " · " (l) } @if let Some(p) = &m.location { br; span.muted { (p) } } }
            td { (m.author.as_deref().unwrap_or("")) }
            td { (excerpt(&text, 240)) }
            td { (label_badge(m)) @if let Some(mark) = &m.mark { " " span.badge.manual title="left out of the brand's counts" { (mark) } } }
        }
    }
}

fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

fn label_badge(m: &MentionRow) -> Markup {
    let confidence = m.scores.map(|s| s.iter().copied().fold(0f32, f32::max));
    html! {
        @match m.sentiment {
            Some(l) => {
                span.badge.(l.as_str()) { (l.as_str()) }
                @if m.overridden { " " span.badge.manual title="set by a person" { "manual" } }
                @else if let Some(c) = confidence { " " span.muted { (format!("{:.0}%", c * 100.0)) } }
            }
            None => {
                @match m.model_version.as_deref() {
                    Some(v) if v.starts_with("uncovered:") => span.badge title="no model covers this language" { "no model" },
                    _ => span.badge { "pending" },
                }
            }
        }
    }
}

/// `GET /mentions/{id}`: one mention, every brand it matched, and (for editors) its relabel form.
pub async fn mention(AxState(state): AxState<State>, who: Signed, Path(id): Path<i64>) -> Response {
    let rows = match state.store.mentions(&MentionFilter { id: Some(id), ..MentionFilter::default() }).await {
        Ok(r) => r,
        Err(e) => return internal(e, Some(&who)),
    };
    let Some(m) = rows.first() else {
        return error_page(StatusCode::NOT_FOUND, Some(&who), &format!("No mention {id}."));
    };
    let body = html! {
        table.data {
            tr { th { "when (UTC)" } td { (m.created_at.format("%Y-%m-%d %H:%M:%S")) } }
            tr { th { "where" } td { (m.platform) " · " (m.kind) @if let Some(p) = &m.location { " · " (p) } } }
            tr { th { "who" } td { (m.author.as_deref().unwrap_or("–")) } }
            tr { th { "link" } td {
                @match m.url.as_deref() {
                    Some(u) => @match safe_href(u) {
                        Some(h) => a href=(h.as_str()) rel="noopener noreferrer nofollow" { (u) },
                        None => span.muted title="not a web link: shown, never linked" { (u) },
                    },
                    None => span.muted { "–" },
                }
            } }
            tr { th { "language" } td { (m.lang.as_deref().unwrap_or("–")) } }
            tr { th { "sentiment" } td { (label_badge(m)) @if let Some(v) = &m.model_version { " " span.muted { (v) } } } }
            @if let Some(r) = m.rating { tr { th { "rating" } td { (r) " / 5" } } }
            tr { th { "brands" } td {
                @for r in &rows {
                    (r.brand) @if !r.terms.is_empty() { span.muted { " (" (r.terms.join(", ")) ")" } }
                    @if let Some(mark) = &r.mark { " " span.badge.manual title="left out of the brand's counts" { "marked " (mark) } }
                    @if who.is_editor() {
                        form.inline method="post" action=(format!("/mentions/{id}/mark")) {
                            input type="hidden" name="csrf" value=(who.csrf);
                            input type="hidden" name="brand" value=(r.brand);
                            @if r.mark.is_some() {
                                button type="submit" name="mark" value="none" { "Count it again" }
                            } @else {
                                button type="submit" name="mark" value="spam" { "Spam" } " "
                                button type="submit" name="mark" value="irrelevant" { "Not about " (r.brand) }
                            }
                        }
                    }
                    br;
                }
            } }
        }
        @if let Some(t) = &m.title { h3 { (t) } }
        p.mtext { (m.text) }
        @if who.is_editor() {
            h3 { "Correct the sentiment" }
            form method="post" action=(format!("/mentions/{id}/label")) {
                input type="hidden" name="csrf" value=(who.csrf);
                @for l in Label::ALL {
                    @if m.sentiment == Some(l) {
                        button type="submit" name="label" value=(l.as_str()) title="its label now" { (l.as_str()) " ✓" } " "
                    } @else {
                        button type="submit" name="label" value=(l.as_str()) { (l.as_str()) } " "
                    }
                }
            }
            p.muted { "A label set here wins over the model's everywhere (counts, alerts, exports), as with "
                code { "hearsay relabel" } ", and is recorded in the audit log." }
        }
    };
    html_response(StatusCode::OK, page(&format!("Mention {id}"), Some(&who), body))
}

#[derive(Deserialize)]
pub struct MarkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    brand: String,
    /// `spam`, `irrelevant`, or `none` to lift the mark.
    #[serde(default)]
    mark: String,
}

/// `POST /mentions/{id}/mark`: spam / not about the brand, or counted again (editors).
pub async fn mark(
    AxState(state): AxState<State>,
    Editor(who): Editor,
    Path(id): Path<i64>,
    Form(f): Form<MarkForm>,
) -> Response {
    if let Some(r) = who.csrf_refusal(&f.csrf) {
        return r;
    }
    let done = match f.mark.as_str() {
        "none" => state.store.unmark(id, &f.brand, &who.actor()).await,
        other => match other.parse::<Mark>() {
            Ok(m) => state.store.mark(id, &f.brand, m, &who.actor()).await,
            Err(e) => return error_page(StatusCode::BAD_REQUEST, Some(&who), &e),
        },
    };
    match done {
        Ok(_) => see_other(&format!("/mentions/{id}")),
        Err(e) => internal(e, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    label: String,
}

/// `POST /mentions/{id}/label`: a manual label (editors).
pub async fn relabel(
    AxState(state): AxState<State>,
    Editor(who): Editor,
    Path(id): Path<i64>,
    Form(f): Form<LabelForm>,
) -> Response {
    if let Some(r) = who.csrf_refusal(&f.csrf) {
        return r;
    }
    let Ok(label) = f.label.parse::<Label>() else {
        return error_page(StatusCode::BAD_REQUEST, Some(&who), &format!("Unknown label {:?}.", f.label));
    };
    match state.store.relabel(id, label, &who.actor()).await {
        Ok(true) => see_other(&format!("/mentions/{id}")),
        Ok(false) => error_page(StatusCode::NOT_FOUND, Some(&who), &format!("No mention {id}.")),
        Err(e) => internal(e, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct AlertsQuery {
    brand: Option<String>,
}

/// `GET /alerts`: silences in force, the notification log and the outbox; `?brand=` keeps one brand's.
pub async fn alerts(AxState(state): AxState<State>, who: Signed, Query(q): Query<AlertsQuery>) -> Response {
    let now = Utc::now();
    let (silences, log, outbox, brands) = match tokio::try_join!(
        state.store.active_silences(now),
        state.store.alerts(200),
        state.store.outbox_counts(),
        state.store.brand_names(),
    ) {
        Ok(x) => x,
        Err(e) => return internal(e, Some(&who)),
    };
    let only = given(&q.brand);
    let mine = |b: &str| only.as_deref().is_none_or(|o| o == b);
    let silences: Vec<_> = silences.into_iter().filter(|s| mine(&s.brand)).collect();
    let log: Vec<_> = log.into_iter().filter(|a| mine(&a.brand)).collect();
    let body = html! {
        @if let Some(b) = &only { p { "Alerts of " b { (b) } ". " a href="/alerts" { "All brands" } } }
        h3 { "Silences in force" }
        @if silences.is_empty() { p.muted { "None." } }
        @else {
            table.data {
                tr { th { "brand" } th { "until (UTC)" } th { "comment" } th {} }
                @for s in &silences {
                    tr {
                        td { (s.brand) } td { (when(s.until)) } td { (s.comment.as_deref().unwrap_or("")) }
                        td { @if who.is_editor() {
                            form.inline method="post" action="/alerts/unsilence" {
                                input type="hidden" name="csrf" value=(who.csrf);
                                input type="hidden" name="id" value=(s.id);
                                button type="submit" { "Unsilence" }
                            }
                        } }
                    }
                }
            }
        }
        @if who.is_editor() && !brands.is_empty() {
            form.filters method="post" action="/alerts/silence" {
                input type="hidden" name="csrf" value=(who.csrf);
                label { "Brand" (select("brand", &brands, only.as_deref(), None)) }
                label { "For" input name="duration" size="6" value="4h" required; }
                label { "Comment" input name="comment" size="40"; }
                button type="submit" { "Silence" }
            }
        }
        h3 { "Notifications" }
        p { "Emails sent: " (outbox.sent) " · waiting in the outbox (sending or retrying): " (outbox.backlog) }
        @if log.is_empty() { p.muted { "No alert has fired yet." } }
        @else {
            table.data {
                tr { th { "recorded (UTC)" } th { "brand" } th { "kind" } th { "event" } th { "evidence" } }
                @for a in &log {
                    tr {
                        td.nowrap { a href=(format!("/alerts/{}", a.id)) { (when(a.recorded_at)) } }
                        td { (a.brand) } td { (a.kind) } td { (a.event) }
                        td { (evidence(a)) }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, page("Alerts", Some(&who), body))
}

/// A silence in force, in a line: until when, and why.
pub(super) fn silenced(s: &crate::store::Silence) -> Markup {
    html! { p { span.badge { "silenced" } " until " (when(s.until)) " UTC" @if let Some(c) = &s.comment { " · " (c) } } }
}

/// An alert's figures in the email's words, and a link to the mentions of its window. Read field by field rather
/// than as a `detect::Finding`, so that rows written by older versions (fewer fields) still show what they have.
pub(super) fn evidence(a: &crate::store::AlertRow) -> Markup {
    let Ok(d) = serde_json::from_str::<serde_json::Value>(&a.details) else {
        return html! { code { (excerpt(&a.details, 300)) } };
    };
    let num = |k: &str| d.get(k).and_then(serde_json::Value::as_f64);
    let text = |k: &str| d.get(k).and_then(serde_json::Value::as_str);
    let window =
        text("window_start").zip(text("window_end")).and_then(|(s, e)| Some((parse_instant(s)?, parse_instant(e)?)));
    let feed = window.map(|(s, e)| format!("/{}", crate::alert::email::negatives_feed(&a.brand, s, e)));
    let platforms: Vec<String> = d
        .get("top_platforms")
        .and_then(serde_json::Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| Some(format!("{} {}", p.get("platform")?.as_str()?, p.get("negative")?.as_i64()?)))
                .collect()
        })
        .unwrap_or_default();
    html! {
        @if a.kind == "source_down" {
            "source " (text("platform").unwrap_or("?")) " failing"
            @if let Some(since) = text("since") { " since " (since) }
        } @else {
            @if let (Some(o), Some(e)) = (num("observed"), num("expected")) {
                b { (format!("{o:.0}")) } (format!(" negative (usually {e:.1})"))
                @if let Some(r) = num("ratio") { (format!(", {r:.1}×")) }
                @if let Some(p) = num("p_value") { ", " (crate::alert::email::p_value_words(p)) }
                br;
            }
            @if let (Some(s), Some(b)) = (num("negative_share"), num("baseline_share")) {
                (format!("negative share {:.0}% (usually {:.0}%)", s * 100.0, b * 100.0))
            }
            @if !platforms.is_empty() { " · where: " (platforms.join(", ")) }
            @if d.get("cold_start").and_then(serde_json::Value::as_bool) == Some(true) { " · short history" }
            @if let Some(f) = feed { br; a href=(f) { "the mentions behind it →" } }
        }
    }
}

#[derive(Deserialize)]
pub struct SilenceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    brand: String,
    #[serde(default)]
    duration: String,
    comment: Option<String>,
    /// Sent by an alert's page: the brand is that alert's, and the answer leads back to it.
    alert: Option<i64>,
}

/// Where a silence form leads back to: the alert's page it was on, else the alerts.
fn back(alert: Option<i64>) -> String {
    alert.map_or_else(|| "/alerts".to_string(), |id| format!("/alerts/{id}"))
}

/// `POST /alerts/silence` (editors).
pub async fn silence(AxState(state): AxState<State>, Editor(who): Editor, Form(mut f): Form<SilenceForm>) -> Response {
    if let Some(r) = who.csrf_refusal(&f.csrf) {
        return r;
    }
    let d = match crate::duration::parse(&f.duration) {
        Ok(d) if d.as_secs() > 0 && d.as_secs() <= 366 * 86_400 => d,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                Some(&who),
                &format!("{:?} is not a duration like \"4h\" or \"2d\" (at most a year).", f.duration),
            )
        }
    };
    // From an alert's page the brand is the alert's, which may have no mention stored yet (a source down from the
    // start); otherwise it must be a brand the store knows: a mistyped name is refused, not a silence of nothing.
    if let Some(id) = f.alert {
        match state.store.alert(id).await {
            Ok(Some(a)) => f.brand = a.brand,
            Ok(None) => return error_page(StatusCode::NOT_FOUND, Some(&who), &format!("No alert {id}.")),
            Err(e) => return internal(e, Some(&who)),
        }
    } else {
        match state.store.brand_names().await {
            Ok(b) if b.contains(&f.brand) => {}
            Ok(_) => return error_page(StatusCode::BAD_REQUEST, Some(&who), &format!("No brand {:?}.", f.brand)),
            Err(e) => return internal(e, Some(&who)),
        }
    }
    let until = Utc::now() + Duration::seconds(d.as_secs() as i64);
    let comment = given(&f.comment);
    match state.store.add_silence(&f.brand, until, comment.as_deref(), &who.actor()).await {
        Ok(_) => see_other(&back(f.alert)),
        Err(e) => internal(e, Some(&who)),
    }
}

#[derive(Deserialize)]
pub struct UnsilenceForm {
    #[serde(default)]
    csrf: String,
    id: i64,
    /// Sent by an alert's page, to lead back to it.
    alert: Option<i64>,
}

/// `POST /alerts/unsilence` (editors).
pub async fn unsilence(AxState(state): AxState<State>, Editor(who): Editor, Form(f): Form<UnsilenceForm>) -> Response {
    if let Some(r) = who.csrf_refusal(&f.csrf) {
        return r;
    }
    match state.store.remove_silence(f.id, &who.actor()).await {
        Ok(_) => see_other(&back(f.alert)),
        Err(e) => internal(e, Some(&who)),
    }
}

/// `GET /sources`: `hearsay sources status` as a table.
pub async fn sources(AxState(state): AxState<State>, who: Signed) -> Response {
    let rows = match crate::sources::poll::status(&state.store).await {
        Ok(r) => r,
        Err(e) => return internal(e, Some(&who)),
    };
    let body = html! {
        @if rows.is_empty() { p.muted { "No source has polled yet." } }
        @else {
            table.data {
                tr { th { "source" } th { "brand" } th { "platform" } th { "health" } th { "last success (UTC)" }
                     th.num { "items/day" } th { "last error" } th { "next poll (UTC)" } }
                @for s in &rows {
                    tr {
                        td { (s.state.source) } td { (s.state.brand) } td { (s.state.platform) }
                        td { span.badge.(health_class(&s.health)) { (health_word(&s.health)) }
                             @if let Some(d) = s.state.degraded_since { " since " (when(d)) } }
                        td { (s.state.last_success_at.map(when).unwrap_or_else(|| "never".into())) }
                        td.num { (format!("{:.1}", s.items_per_day)) }
                        td { @if let Some(e) = &s.state.last_error {
                            (s.state.last_error_class.as_deref().unwrap_or("")) ": " (excerpt(e, 300))
                            @if let Some(at) = s.state.last_error_at { span.muted { " (" (when(at)) ")" } }
                        } }
                        td { (when(s.state.next_poll_at)) }
                    }
                }
            }
        }
    };
    html_response(StatusCode::OK, page("Sources", Some(&who), body))
}
