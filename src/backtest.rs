//! Backtest: replay a file of past mentions through the *same* detector and alert lifecycle the daemon uses,
//! and list the alerts it would have sent, so a user can tune `sensitivity`, `window` and `min_ratio` on their
//! own history before trusting the daemon with their inbox.
//!
//! Input is JSON lines, one mention each: `brand`, `platform`, `created_at` (RFC 3339), `sentiment`
//! (`negative` | `neutral` | `positive`), optionally `external_id` (mentions repeating a
//! `(platform, external_id)` pair are counted once, as the store would), `text` and `url`. Simulated time
//! advances in `step`s (default five minutes, the poll interval) from the first mention to a little past the
//! last; at each step every brand is evaluated on the buckets before that moment only, and each
//! `negative_spike` / `volume_spike` finding goes through [`lifecycle::step`]. Firing and resolved transitions
//! come out as [`BacktestEvent`]s, whether or not the lifecycle would have emailed them. On request
//! ([`run_explained`]) every evaluation also comes out as an [`Explanation`]: each scanned window's
//! statistics and which firing conditions it met.
//!
//! Architecture Invariant: pure. No file, clock or database access: the caller opens the file, hands over a
//! reader, and prints the events. Sources cannot fail in a replay, so `source_down` never appears.

use std::collections::{BTreeMap, HashSet};
use std::io::BufRead;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

use crate::alert::lifecycle::{self, AlertState, EventKind, LifecycleConfig};
use crate::detect::{
    AlertKind, Bucket, BucketSeries, Checks, DetectConfig, Detector, Evaluation, Finding, Level, PlatformCount,
    WindowStats, BUCKET_SECS,
};

/// Sentiment label of a backtest record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordSentiment {
    Negative,
    Neutral,
    Positive,
}

/// One mention of the backtest input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BacktestRecord {
    pub brand: String,
    pub platform: String,
    pub created_at: DateTime<Utc>,
    pub sentiment: RecordSentiment,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One alert transition of the replay, printed as one JSON object per line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestEvent {
    /// `firing` or `resolved`.
    pub event: &'static str,
    /// `negative_spike` or `volume_spike`.
    pub kind: &'static str,
    pub brand: String,
    /// When the alert fired (for `resolved`, the firing it ends).
    #[serde(serialize_with = "rfc3339")]
    pub fired_at: DateTime<Utc>,
    /// When this transition happened in simulated time.
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub window_start: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub window_end: DateTime<Utc>,
    pub observed: u64,
    pub expected: f64,
    pub p_value: f64,
    pub ratio: f64,
    pub negative_share: f64,
    pub baseline_share: f64,
    pub cold_start: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub top_platforms: Vec<String>,
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BacktestError {
    #[error("step {0:?} is not a positive multiple of 5 minutes; use e.g. \"5m\" or \"15m\"")]
    BadStep(Duration),
}

/// Reads JSON lines, skipping blank ones. Returns the records and, separately, each bad line's number
/// (1-based) with the reason, so the caller can report them all and still run on the rest.
pub fn parse_jsonl(reader: impl BufRead) -> (Vec<BacktestRecord>, Vec<(usize, String)>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        match line {
            Ok(l) if l.trim().is_empty() => {}
            Ok(l) => match serde_json::from_str::<BacktestRecord>(&l) {
                Ok(r) => records.push(r),
                Err(e) => errors.push((i + 1, e.to_string())),
            },
            Err(e) => errors.push((i + 1, e.to_string())),
        }
    }
    (records, errors)
}

/// One brand's buckets plus per-platform negative prefix sums (for "mostly on …" in findings).
struct BrandData {
    buckets: Vec<Bucket>,
    platforms: BTreeMap<String, Vec<u32>>,
}

/// Which evaluations `--explain` reports: those of `brand` (all brands when `None`) at simulated times in
/// `[from, until]` (open ends when `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplainFilter {
    pub brand: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl ExplainFilter {
    fn wants(&self, brand: &str, at: DateTime<Utc>) -> bool {
        self.brand.as_deref().is_none_or(|b| b == brand)
            && self.from.is_none_or(|f| at >= f)
            && self.until.is_none_or(|u| at <= u)
    }
}

/// One evaluation of the replay with every scale's statistics and which firing conditions each met: the
/// answer to "why did (or didn't) this fire?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub brand: String,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// `firing` (all conditions met on some scale), `elevated` (enough to hold an open alert) or `none`.
    pub negative_spike: &'static str,
    /// Hours of history before the window.
    pub history_hours: f64,
    pub scales: Vec<ScaleExplanation>,
}

/// One scanned window of an [`Explanation`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleExplanation {
    #[serde(flatten)]
    pub stats: WindowStats,
    pub checks: Checks,
}

/// Replays `records` and returns the alert transitions in time order.
pub fn run(
    records: Vec<BacktestRecord>,
    cfg: &DetectConfig,
    lifecycle_cfg: &LifecycleConfig,
    step: Duration,
) -> Result<Vec<BacktestEvent>, BacktestError> {
    replay(records, cfg, lifecycle_cfg, step, None)
}

/// [`run`], also handing every evaluation that `filter` selects to `explain` as it is made (brand by brand,
/// in time order), so that a long replay's explanations can be written out without being held in memory.
pub fn run_explained(
    records: Vec<BacktestRecord>,
    cfg: &DetectConfig,
    lifecycle_cfg: &LifecycleConfig,
    step: Duration,
    filter: &ExplainFilter,
    explain: &mut dyn FnMut(Explanation),
) -> Result<Vec<BacktestEvent>, BacktestError> {
    replay(records, cfg, lifecycle_cfg, step, Some((filter, explain)))
}

/// The replay behind [`run`] and [`run_explained`]; explanations are built only when asked for.
fn replay(
    records: Vec<BacktestRecord>,
    cfg: &DetectConfig,
    lifecycle_cfg: &LifecycleConfig,
    step: Duration,
    mut explain: Option<(&ExplainFilter, &mut dyn FnMut(Explanation))>,
) -> Result<Vec<BacktestEvent>, BacktestError> {
    let step_secs = step.as_secs() as i64;
    if step_secs <= 0 || step_secs % BUCKET_SECS != 0 || step.subsec_nanos() != 0 {
        return Err(BacktestError::BadStep(step));
    }
    let step_buckets = (step_secs / BUCKET_SECS) as usize;
    let (Some(first), Some(last)) =
        (records.iter().map(|r| r.created_at).min(), records.iter().map(|r| r.created_at).max())
    else {
        return Ok(Vec::new());
    };
    let origin = first.timestamp().div_euclid(BUCKET_SECS);
    // Run on past the last mention long enough for open alerts to resolve.
    let tail = 2 * cfg.window.as_secs() + lifecycle_cfg.resolve_after.as_secs() + lifecycle_cfg.group_wait.as_secs();
    let n = (last.timestamp().div_euclid(BUCKET_SECS) - origin + 1) as usize
        + (tail as i64 / BUCKET_SECS) as usize
        + 2 * step_buckets;

    let mut seen = HashSet::new();
    let mut brands: BTreeMap<String, BrandData> = BTreeMap::new();
    for r in records {
        if let Some(id) = &r.external_id {
            if !seen.insert((r.platform.clone(), id.clone())) {
                continue;
            }
        }
        let b = (r.created_at.timestamp().div_euclid(BUCKET_SECS) - origin) as usize;
        let data = brands
            .entry(r.brand)
            .or_insert_with(|| BrandData { buckets: vec![Bucket::default(); n], platforms: BTreeMap::new() });
        data.buckets[b].total += 1;
        if r.sentiment == RecordSentiment::Negative {
            data.buckets[b].negative += 1;
            data.platforms.entry(r.platform).or_insert_with(|| vec![0; n])[b] += 1;
        }
    }

    let start = DateTime::from_timestamp(origin * BUCKET_SECS, 0).unwrap_or_default();
    let mut events = Vec::new();
    for (brand, mut data) in brands {
        for counts in data.platforms.values_mut() {
            let mut acc = 0;
            for c in counts.iter_mut() {
                acc += *c;
                *c = acc;
            }
        }
        // Each brand's history begins at its own first mention, as in the daemon: a brand that appears late in
        // the file has a short history, not weeks of zeros before it.
        let skip = data.buckets.iter().position(|b| b.total > 0).unwrap_or(0);
        data.buckets.drain(..skip);
        for counts in data.platforms.values_mut() {
            counts.drain(..skip);
        }
        let series =
            BucketSeries { start: start + chrono::Duration::seconds(skip as i64 * BUCKET_SECS), buckets: data.buckets };
        let mut detector = Detector::new(&brand, &series, cfg);
        let kinds = [AlertKind::NegativeSpike, AlertKind::VolumeSpike];
        let mut states: Vec<AlertState> = kinds.iter().map(|k| AlertState::new(&brand, *k)).collect();
        // Evaluation times stay on the file's grid of `step`s, whatever bucket a brand starts in.
        for end in (step_buckets..=n).step_by(step_buckets).filter(|end| *end > skip) {
            let mut eval = detector.evaluate_at(end - skip);
            if let Some((filter, sink)) = explain.as_mut() {
                if filter.wants(&brand, eval.at) {
                    sink(explanation(cfg, &eval));
                }
            }
            for f in &mut eval.findings {
                f.top_platforms = top_platforms(&data.platforms, &series, f);
            }
            for (kind, state) in kinds.iter().zip(states.iter_mut()) {
                let finding = eval.finding(*kind);
                for e in lifecycle::step(state, finding, eval.at, lifecycle_cfg, false) {
                    if let Some(ev) = to_event(e) {
                        events.push(ev);
                    }
                }
            }
        }
    }
    events.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.brand.cmp(&b.brand)).then(a.kind.cmp(b.kind)));
    Ok(events)
}

fn explanation(cfg: &DetectConfig, eval: &Evaluation) -> Explanation {
    let negative_spike = match eval.finding(AlertKind::NegativeSpike).map(|f| f.level) {
        Some(Level::Firing) => "firing",
        Some(Level::Elevated) => "elevated",
        None => "none",
    };
    Explanation {
        brand: eval.brand.clone(),
        at: eval.at,
        negative_spike,
        history_hours: eval.history_hours,
        scales: eval.scales.iter().map(|s| ScaleExplanation { stats: s.clone(), checks: cfg.checks(s) }).collect(),
    }
}

fn top_platforms(platforms: &BTreeMap<String, Vec<u32>>, series: &BucketSeries, f: &Finding) -> Vec<PlatformCount> {
    let idx = |t: DateTime<Utc>| ((t - series.start).num_seconds() / BUCKET_SECS) as usize;
    let (a, b) = (idx(f.window_start), idx(f.window_end));
    let mut top: Vec<PlatformCount> = platforms
        .iter()
        .map(|(p, pre)| {
            let upto = |i: usize| if i == 0 { 0 } else { pre[i.min(pre.len()) - 1] };
            PlatformCount { platform: p.clone(), total: 0, negative: upto(b) - upto(a) }
        })
        .filter(|p| p.negative > 0)
        .collect();
    top.sort_by(|x, y| y.negative.cmp(&x.negative).then(x.platform.cmp(&y.platform)));
    top.truncate(3);
    top
}

fn to_event(e: lifecycle::AlertEvent) -> Option<BacktestEvent> {
    let event = match e.event {
        EventKind::Firing => "firing",
        EventKind::Resolved => "resolved",
        EventKind::Reminder => return None,
    };
    let f = e.finding?;
    Some(BacktestEvent {
        event,
        kind: e.kind.as_str(),
        brand: e.brand,
        fired_at: e.fired_at,
        at: e.at,
        window_start: f.window_start,
        window_end: f.window_end,
        observed: f.observed,
        expected: f.expected,
        p_value: f.p_value,
        ratio: f.ratio,
        negative_share: f.negative_share,
        baseline_share: f.baseline_share,
        cold_start: f.cold_start,
        top_platforms: f.top_platforms.into_iter().map(|p| p.platform).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(brand: &str, minutes: i64, negative: bool, id: Option<&str>) -> String {
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes);
        let id = id.map(|i| format!(r#","external_id":"{i}""#)).unwrap_or_default();
        format!(
            r#"{{"brand":"{brand}","platform":"reddit","created_at":"{}","sentiment":"{}"{id}}}"#,
            t.to_rfc3339(),
            if negative { "negative" } else { "neutral" }
        )
    }

    /// Two weeks of one neutral mention every 20 minutes and one negative every 5 hours, then a burst.
    fn history(burst: usize, duplicate_ids: bool) -> String {
        let mut lines = Vec::new();
        let days = 14 * 24 * 60;
        for m in (0..days).step_by(20) {
            lines.push(line("acme", m, false, None));
        }
        for m in (0..days).step_by(300) {
            lines.push(line("acme", m + 7, true, None));
        }
        for k in 0..burst {
            let id = if duplicate_ids { "same".to_string() } else { format!("b{k}") };
            lines.push(line("acme", days + 10 + 3 * k as i64, true, Some(&id)));
        }
        lines.push(line("quiet", 100, true, None));
        lines.join("\n")
    }

    fn replay(input: &str) -> Vec<BacktestEvent> {
        let (records, errors) = parse_jsonl(input.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        run(records, &DetectConfig::default(), &LifecycleConfig::default(), Duration::from_secs(300)).unwrap()
    }

    #[test]
    fn burst_fires_then_resolves() {
        let events = replay(&history(15, false));
        let kinds: Vec<_> = events.iter().map(|e| (e.event, e.kind, e.brand.as_str())).collect();
        assert_eq!(
            kinds,
            vec![("firing", "negative_spike", "acme"), ("resolved", "negative_spike", "acme")],
            "{events:#?}"
        );
        let f = &events[0];
        assert!(f.observed >= 5 && f.ratio >= 2.0 && f.p_value < 1e-4);
        assert!(f.at < DateTime::parse_from_rfc3339("2025-01-15T01:00:00Z").unwrap());
        assert_eq!(f.top_platforms, vec!["reddit".to_string()]);
        let json = serde_json::to_value(f).unwrap();
        assert!(json["fired_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(json["fired_at"].as_str().unwrap().len(), 20);
    }

    #[test]
    fn explanations_agree_with_the_events_and_name_the_failed_checks() {
        let (records, _) = parse_jsonl(history(15, false).as_bytes());
        let cfg = DetectConfig::default();
        let lc = LifecycleConfig::default();
        let burst = DateTime::parse_from_rfc3339("2025-01-15T00:00:00Z").unwrap().with_timezone(&Utc);
        let filter = ExplainFilter {
            brand: Some("acme".into()),
            from: Some(burst - chrono::Duration::hours(1)),
            until: Some(burst + chrono::Duration::hours(2)),
        };
        let mut explained = Vec::new();
        let events =
            run_explained(records, &cfg, &lc, Duration::from_secs(300), &filter, &mut |x| explained.push(x)).unwrap();
        // Every five minutes of the three hours, acme only, each with the three scales (30, 60, 120 min).
        assert_eq!(explained.len(), 37);
        assert!(explained.iter().all(|x| x.brand == "acme" && x.scales.len() == 3));
        assert!(explained.windows(2).all(|w| w[1].at - w[0].at == chrono::Duration::minutes(5)));
        // The replay fired at the first evaluation that explains itself as firing, where some scale passes
        // every check; before it, every scale fails at least one.
        let first = explained.iter().position(|x| x.negative_spike == "firing").expect("a firing evaluation");
        assert_eq!(events[0].at, explained[first].at);
        assert!(explained[first].scales.iter().any(|s| s.checks.all()));
        assert!(explained[..first].iter().all(|x| x.scales.iter().all(|s| !s.checks.all())));
        // Before the burst the brand is quiet: at most a negative or two, so `min_count` fails everywhere.
        assert!(explained[0].scales.iter().all(|s| !s.checks.min_count && s.stats.observed <= 2));
        let json = serde_json::to_value(&explained[first]).unwrap();
        assert!(json["scales"][1]["share_p_value"].is_number() && json["scales"][1]["checks"]["share"].is_boolean());
    }

    #[test]
    fn a_brand_that_starts_late_in_the_file_has_a_short_history() {
        // "acme": two days of chatter, then a burst, in a file whose first record is twelve days earlier.
        let start = 12 * 24 * 60;
        let mut lines = vec![line("other", 0, false, None)];
        for m in (start..start + 2 * 24 * 60).step_by(20) {
            lines.push(line("acme", m, false, None));
        }
        for k in 0..40 {
            lines.push(line("acme", start + 2 * 24 * 60 + 10 + k, true, Some(&format!("b{k}"))));
        }
        let events = replay(&lines.join("\n"));
        let fired = events.iter().find(|e| e.event == "firing").expect("the burst fires");
        assert_eq!(fired.brand, "acme");
        assert!(fired.cold_start, "two days of history is a cold start: {fired:#?}");
    }

    #[test]
    fn duplicates_and_quiet_brands_do_not_fire() {
        // Fifteen copies of one (platform, external_id) are one mention.
        assert!(replay(&history(15, true)).is_empty());
        assert!(replay(&history(0, false)).is_empty());
    }

    #[test]
    fn parse_reports_bad_lines_and_keeps_good_ones() {
        let input = format!(
            "{}\n\nnot json\n{}\n{{\"brand\":\"a\",\"platform\":\"x\",\"created_at\":\"2025-01-01T00:00:00+02:00\",\"sentiment\":\"angry\"}}\n",
            line("a", 0, true, None),
            line("a", 5, false, Some("x1"))
        );
        let (records, errors) = parse_jsonl(input.as_bytes());
        assert_eq!(records.len(), 2);
        assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(records[1].external_id.as_deref(), Some("x1"));
    }

    #[test]
    fn rejects_odd_steps_and_accepts_empty_input() {
        let cfg = DetectConfig::default();
        let lc = LifecycleConfig::default();
        assert!(run(Vec::new(), &cfg, &lc, Duration::from_secs(300)).unwrap().is_empty());
        for bad in [0, 60, 301] {
            assert_eq!(
                run(Vec::new(), &cfg, &lc, Duration::from_secs(bad)),
                Err(BacktestError::BadStep(Duration::from_secs(bad)))
            );
        }
    }
}
