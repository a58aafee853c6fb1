//! Negative-spike detection: is the number of negative mentions in the last hour improbable given the brand's
//! own history, and is it negative *word-of-mouth* rather than just more talk?
//!
//! The daemon (and `hearsay backtest`) hands over one brand's mentions as fixed five-minute buckets of
//! `(total, negative)` counts, already deduplicated and with manual sentiment overrides applied, exactly what
//! `SELECT created_at/300 AS bucket, COUNT(*), SUM(negative) … GROUP BY bucket` returns. [`evaluate`]
//! answers for the window ending `now`; [`Detector`] answers for any window end over a whole series and is
//! what the backtest replays, so both paths share every line of the statistics.
//!
//! # Method
//!
//! *Expected count.* For a window `[s, s + w)` the expected number of negatives is built from history before
//! `s` only, in three layers, each shrunk toward the one below it so that thin data never dominates:
//! the overall mean per window over the history (up to `history_weeks`); the same clock time on each of the
//! last 28 days (hour-of-day profile, winsorised, shrunk toward the overall mean, widened by half a window on
//! each side while the counts are thin) times a day-of-week factor
//! (that weekday's share of its week: pooled over the past weeks, the median week's from three weeks on, so
//! that one past campaign day does not raise every later week's expectation); and the same hour-of-week in
//! each past week,
//! whose weight grows with the counts (empirical Bayes: at 0.2 negatives/hour a single week says almost
//! nothing, at 50/hour it says a lot). A floor (`expected_floor_per_hour`) keeps a silent brand from making
//! every mention improbable. Samples are winsorised so that a past crisis at the same hour does not hide the
//! next one. Totals are predicted the same way, with the smoothing the negatives' counts chose, so that the
//! baseline share (their ratio) does not drift where the weekly pattern departs from the daily one.
//!
//! *Dispersion.* Real counts are over-dispersed, and the expected count is itself an estimate. The same
//! predictor is run on the non-overlapping windows of the last 28 days, and the negative-binomial
//! dispersion `alpha` (variance `mu + alpha·mu²`) is estimated from those out-of-sample residuals by the
//! method of moments, shrunk toward a prior of 0.05 (strongly for quiet brands, whose windows say little
//! about it), in passes that drop outlying windows (past crises) after the first. The count
//! test is the negative-binomial upper tail at that `alpha` (floored). A recent-level factor (the last six hours'
//! observed over predicted, shrunk and bounded to ×0.67–1.5) corrects slow drifts and day-level swings.
//!
//! *Share.* "The negative share is above its baseline" is tested conditionally on this window's volume:
//! the non-negative mentions give a volume factor `m = max(1, (other + 4) / (expected_other + 4))` (a few
//! stray mentions barely move it, a campaign's dozens do), and the
//! negatives are tested again against `m × expected`. Because that shrinkage cannot believe a ×4 campaign on a
//! quiet brand (eight other mentions where two were expected give `m = 2`), `m` has a second, campaign
//! component with its own prior (`CAMPAIGN_PRIOR`); the p-value mixes the two components' tails by their
//! posterior weights. The test uses a negative-binomial dispersion estimated, like
//! the first, from the residual windows of this share model (so noise shared by all mentions cancels, and
//! noise that hits negatives alone is measured). A campaign that lifts
//! every mention ×4 at the usual share lifts the expectation ×4 too and is not significant; a crisis that
//! adds negatives alone leaves `m ≈ 1`. Unlike a binomial test on the window's share, this uses the known
//! baseline volume, so it keeps its power at a handful of mentions (six negatives and no other mention on
//! a quiet brand is a clear signal; a binomial test of 6/6 against a 40 % share is not).
//!
//! *Decision.* `negative_spike` fires when, on any of three scales (half, one and two windows: short for
//! fast rises on busy brands, long for slow brands that need two hours to collect `min_count`; the half
//! window only where ≥ 1.5 negatives are expected in it), all hold: the plain count p-value below the
//! preset's count threshold (balanced 1e-2), the volume-adjusted share p-value below the preset's share
//! threshold (balanced 4e-4; this is the stringent test, the count test only insists that the rise is
//! also improbable without looking at volume), at least `min_count` negatives, and observed/expected at
//! least `min_ratio`. While the window's expectation is a cold start (under `warm_history`, or no
//! same-hour-of-week sample) both thresholds are ten times stricter ([`COLD_START_EVIDENCE`]): a seasonal
//! profile from a few days is itself uncertain, which neither p-value accounts for. A campaign at the usual
//! share fails the share test; such a surge is `volume_spike`, off by default. A weaker *elevated* level
//! (ratio half-way to `min_ratio`, count p < 0.01, share p < 0.05) is reported too so that the alert
//! lifecycle can hold an alert open with hysteresis.
//!
//! *Sources.* `source_down` fires for a source degraded longer than `source_down_after`. A source that is
//! down or recovered less than `recovery_period` ago may flush a backlog; a `negative_spike` whose excess
//! negatives come mostly (≥ 50 %) from such sources is suppressed and the evaluation says why.
//!
//! Architecture Invariant: no IO, no clock, no randomness. Everything is a function of the buckets, `now`
//! and the configuration, so the backtest reproduces the daemon exactly and tests are tables.

pub mod stats;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use self::stats::neg_binomial_sf;

/// Length of one bucket of the input series, in seconds.
pub const BUCKET_SECS: i64 = 300;
const DAY: usize = 288;
const WEEK: usize = 7 * DAY;
/// How far back the dispersion estimate looks.
const RESIDUAL_DAYS: usize = 28;
/// How many past days feed the hour-of-day profile.
const PROFILE_DAYS: usize = 28;
/// Below this many expected counts per window, each past day's sample for the hour-of-day profile spans the
/// window widened by half a window on each side (scaled back to one window): at a few negatives per window,
/// 28 one-window samples leave the profile ±20–30 % off by counting noise alone, which the dispersion then
/// charges to every test. On the synthetic histories this cut false firings by 8 % at equal detection.
const PROFILE_SMOOTH_BELOW: f64 = 10.0;
/// The same hour-of-week in past weeks is weighed against the profile below it as if the profile were worth
/// this many negatives divided by the expected count, in weeks: at 20 expected negatives the profile counts
/// as 8 past weeks (half the weight with 8 weeks of history), at 2 as 80 (the layer barely moves it).
/// One week's same hour is mostly counting noise until a brand is busy. Raised from 20 (with the balanced
/// share threshold from 3e-4 to 4e-4) on the synthetic histories: 88.8 % of crises caught (was 87.9 %),
/// median delay 44.6 min (was 45.6), 0.71 false firings per brand per 30 days (was 0.65); on two seeds made
/// later (21, 22; also used to pick among 40, 80, 160, 400) 88.9 % (was 86.1 %) at 0.52 (was 0.48). 40 gave
/// 88.6 % / 0.76 and 87.2 % / 0.54; 400 (the layer nearly off) about what 160 gives, which keeps the layer
/// for busy brands.
const HOUR_OF_WEEK_PRIOR_COUNT: f64 = 160.0;
/// From this many past weeks on, the day-of-week factor is the median week's (this weekday's 24 hours over its
/// week's daily mean) instead of the pooled ratio. A campaign day (every mention ×3–5 for up to a day) in one past
/// week raised the pooled factor by about 40 % with three weeks of history (a third with four), so a crisis on the
/// same weekday a week later had to be that much larger to show. On the synthetic histories: 89.1 → 89.6 % of
/// crises caught at 0.62 → 0.66 false firings per brand per 30 days (tuning sets), 88.0 → 88.5 % at 0.72 → 0.71
/// (ten other sets, crisis-free ones for the false firings).
const DOW_MEDIAN_FROM_WEEKS: usize = 3;
/// Windows more than this many standard deviations above their prediction are left out of the second
/// dispersion pass (they are past incidents, not noise).
const OUTLIER_Z: f64 = 3.5;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// More negative mentions than the brand's history explains, at a higher negative share than usual.
    NegativeSpike,
    /// More mentions of every kind at the usual share (a campaign, a launch). Reported only when enabled.
    VolumeSpike,
    /// A source has been failing for longer than `source_down_after`.
    SourceDown,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::NegativeSpike => "negative_spike",
            AlertKind::VolumeSpike => "volume_spike",
            AlertKind::SourceDown => "source_down",
        }
    }
}

/// How readily a spike fires. Each preset is a pair of p-value thresholds: the count test and the share test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Fewer, surer alerts.
    Low,
    #[default]
    Balanced,
    /// Earlier alerts and more false ones.
    High,
}

impl Sensitivity {
    /// One-sided p-value below which the negative count is improbable (per scale, per evaluation).
    pub fn count_threshold(self) -> f64 {
        match self {
            Sensitivity::Low => 1e-3,
            Sensitivity::Balanced => 1e-2,
            Sensitivity::High => 3e-2,
        }
    }

    /// One-sided p-value below which the negative share is above its baseline.
    pub fn share_threshold(self) -> f64 {
        match self {
            Sensitivity::Low => 1e-5,
            Sensitivity::Balanced => 4e-4,
            Sensitivity::High => 1e-3,
        }
    }

    /// The `(count, share)` thresholds a window must beat: the preset's, or [`COLD_START_EVIDENCE`] times
    /// them when the window's expectation comes from short history (`cold_start`).
    pub fn thresholds(self, cold_start: bool) -> (f64, f64) {
        let f = if cold_start { COLD_START_EVIDENCE } else { 1.0 };
        (self.count_threshold() * f, self.share_threshold() * f)
    }
}

/// How much stronger the evidence must be while the expectation is a cold start (under `warm_history` of
/// history, or no same-hour-of-week sample yet). The tests' p-values account for counting noise and the
/// dispersion seen so far, not for the error of a seasonal profile drawn from a few days: without this, the
/// first week of a brand's history produced about a fifth of all false alarms on the synthetic histories
/// (`tools/gen-histories.py`), with a crisis in it still firing on a clear burst.
pub const COLD_START_EVIDENCE: f64 = 0.1;

/// Detector settings. `Default` is what a brand gets when its configuration says nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// The window the spike is measured over, ending now. Half and double this window are scanned too.
    pub window: Duration,
    pub sensitivity: Sensitivity,
    /// Never fire on fewer negatives than this in the window, however quiet the brand.
    pub min_count: u32,
    /// Never fire unless observed / expected reaches this.
    pub min_ratio: f64,
    /// Report `volume_spike` (all mentions up at the usual share). Off by default: it is not a crisis.
    pub volume_spike: bool,
    /// How many weeks of history the expected rate uses (the series should cover them).
    pub history_weeks: u32,
    /// The smallest expected negative rate, so that a silent brand's first few negatives are not absurdly
    /// improbable.
    pub expected_floor_per_hour: f64,
    /// Below this much history the evaluation is flagged `cold_start`; below `min_history` nothing fires.
    pub warm_history: Duration,
    pub min_history: Duration,
    /// Fire `source_down` once a source has been degraded this long.
    pub source_down_after: Duration,
    /// After a source recovers, its backlog is distrusted for this long.
    pub recovery_period: Duration,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window: Duration::from_secs(3600),
            sensitivity: Sensitivity::Balanced,
            min_count: 5,
            min_ratio: 2.0,
            volume_spike: false,
            history_weeks: 8,
            expected_floor_per_hour: 0.1,
            warm_history: Duration::from_secs(7 * 86_400),
            min_history: Duration::from_secs(6 * 3600),
            source_down_after: Duration::from_secs(3600),
            recovery_period: Duration::from_secs(2 * 3600),
        }
    }
}

impl DetectConfig {
    fn window_buckets(&self) -> usize {
        ((self.window.as_secs() as i64 / BUCKET_SECS) as usize).clamp(1, DAY)
    }

    /// The scanned window lengths in buckets: half, one and two windows (deduplicated, at least one bucket).
    fn scales(&self) -> Vec<usize> {
        let w = self.window_buckets();
        let mut v = vec![(w / 2).max(1), w, (2 * w).min(DAY)];
        v.dedup();
        v
    }

    /// Each condition a window must meet to fire `negative_spike` (see [`Checks`]).
    pub fn checks(&self, s: &WindowStats) -> Checks {
        let (p_count, p_share) = self.sensitivity.thresholds(s.cold_start);
        // The half window only speaks for busy brands: on a quiet one it adds chances for a burst of noise
        // and no speed, since `min_count` negatives take longer than half a window to arrive anyway.
        let short = (s.window_end - s.window_start).num_seconds() < self.window.as_secs() as i64;
        Checks {
            scale: !short || s.expected >= SHORT_SCALE_MIN_EXPECTED,
            count: s.p_value < p_count,
            share: s.share_p_value < p_share,
            min_count: s.observed >= self.min_negatives(),
            min_ratio: s.ratio >= self.min_ratio,
        }
    }

    /// `min_count`, but never under two: a single negative mention is never a spike.
    fn min_negatives(&self) -> u64 {
        self.min_count.max(2) as u64
    }

    /// The resolve (hysteresis) ratio: half-way between 1 and `min_ratio`.
    fn elevated_ratio(&self) -> f64 {
        1.0 + (self.min_ratio - 1.0).max(0.0) / 2.0
    }
}

/// One five-minute bucket of one brand's mentions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub total: u32,
    pub negative: u32,
}

/// A brand's mentions as consecutive five-minute buckets starting at `start` (a multiple of 300 s).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BucketSeries {
    pub start: DateTime<Utc>,
    pub buckets: Vec<Bucket>,
}

impl BucketSeries {
    /// Builds the series covering `[from, until)` from SQL rows `(unix_seconds / 300, total, negative)`;
    /// missing buckets are zero and rows outside the range are ignored.
    pub fn from_rows(
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        rows: impl IntoIterator<Item = (i64, u32, u32)>,
    ) -> Self {
        let first = from.timestamp().div_euclid(BUCKET_SECS);
        let last = (until.timestamp() + BUCKET_SECS - 1).div_euclid(BUCKET_SECS);
        let mut buckets = vec![Bucket::default(); (last - first).max(0) as usize];
        for (b, total, negative) in rows {
            if b >= first && b < last {
                let slot = &mut buckets[(b - first) as usize];
                slot.total += total;
                slot.negative += negative;
            }
        }
        BucketSeries { start: bucket_time(first), buckets }
    }

    /// Start time of bucket `i`.
    pub fn bucket_start(&self, i: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds(i as i64 * BUCKET_SECS)
    }
}

fn bucket_time(bucket_number: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(bucket_number * BUCKET_SECS, 0).single().unwrap_or_default()
}

/// One platform's share of a window, for the alert email ("mostly on Reddit") and for source suppression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformCount {
    pub platform: String,
    pub total: u32,
    pub negative: u32,
}

/// Health of one source as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub platform: String,
    /// Failing since then; `None` when healthy.
    pub degraded_since: Option<DateTime<Utc>>,
    /// When it last came back after a failure, if ever.
    pub recovered_at: Option<DateTime<Utc>>,
}

/// Whether a finding should open an alert or merely keep an open one from resolving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// All firing conditions hold.
    Firing,
    /// Not enough to fire, but the rate has not fallen back below the lower (hysteresis) threshold.
    Elevated,
}

/// Statistics of one window, whatever the decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Negative mentions in the window.
    pub observed: u64,
    /// Expected negatives (seasonal, floored).
    pub expected: f64,
    /// Negative-binomial upper-tail p-value of `observed`.
    pub p_value: f64,
    pub ratio: f64,
    pub total: u64,
    pub expected_total: f64,
    /// Upper-tail p-value of `total` (computed only when `volume_spike` is enabled; 1 otherwise).
    pub total_p_value: f64,
    pub negative_share: f64,
    pub baseline_share: f64,
    /// Upper-tail p-value of the negatives against `expected × volume_factor` (the share test).
    pub share_p_value: f64,
    /// Negative-binomial `alpha` used for the count test.
    pub dispersion: f64,
    /// How much the non-negative mentions exceed their expectation (≥ 1); the share test expects
    /// `expected × volume_factor` negatives.
    pub volume_factor: f64,
    /// Less than `warm_history` of history, or no same-hour-of-week sample yet.
    pub cold_start: bool,
}

/// Which of the firing conditions a window meets; it fires `negative_spike` when all do. `hearsay backtest
/// --explain` prints these next to each scale's statistics, so a user can see which condition held an alert back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// The window's scale may fire here (the half window needs ≥ 1.5 expected negatives).
    pub scale: bool,
    /// Count p-value below the preset's count threshold (ten times stricter in a cold start).
    pub count: bool,
    /// Volume-adjusted share p-value below the preset's share threshold (idem).
    pub share: bool,
    /// At least `min_count` negatives.
    pub min_count: bool,
    /// observed / expected ≥ `min_ratio`.
    pub min_ratio: bool,
}

impl Checks {
    pub fn all(&self) -> bool {
        self.scale && self.count && self.share && self.min_count && self.min_ratio
    }
}

/// Something the alert lifecycle should know about: one kind of condition for one brand, with everything the
/// alert email and the backtest JSON show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: AlertKind,
    pub brand: String,
    pub level: Level,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub observed: u64,
    pub expected: f64,
    pub p_value: f64,
    pub ratio: f64,
    pub total: u64,
    pub expected_total: f64,
    pub negative_share: f64,
    pub baseline_share: f64,
    pub share_p_value: f64,
    /// The expected rate came from short history; the alert should say so.
    pub cold_start: bool,
    /// Platforms with the most negatives in the window, most first (may be empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_platforms: Vec<PlatformCount>,
    /// For `source_down`: the failing platform and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
}

/// The detector's answer for one brand at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub brand: String,
    pub at: DateTime<Utc>,
    /// Statistics of the configured window (what a dashboard shows).
    pub main: WindowStats,
    /// Firing and elevated conditions, at most one per kind (source_down: one per source).
    pub findings: Vec<Finding>,
    pub cold_start: bool,
    /// Hours of history before the window.
    pub history_hours: f64,
    /// Why a negative spike that the counts alone would fire was held back (recovering source backlog).
    pub suppressed: Option<String>,
    /// Statistics of every scanned scale (half, one and two windows), shortest first.
    #[serde(default)]
    pub scales: Vec<WindowStats>,
}

impl Evaluation {
    /// The finding of one kind, if any (the first, for `source_down`).
    pub fn finding(&self, kind: AlertKind) -> Option<&Finding> {
        self.findings.iter().find(|f| f.kind == kind)
    }
}

/// What the daemon knows at one poll for one brand.
#[derive(Debug, Clone, Copy)]
pub struct DetectInput<'a> {
    pub brand: &'a str,
    /// Buckets covering the history and the current window (up to `now`).
    pub series: &'a BucketSeries,
    pub now: DateTime<Utc>,
    /// Per-platform counts over the last two windows (the longest scale), for top platforms and for
    /// discounting a recovering source's backlog.
    pub platforms: &'a [PlatformCount],
    pub sources: &'a [SourceHealth],
}

/// Evaluates one brand at `now`: spike findings on the window ending now, plus `source_down` findings.
pub fn evaluate(input: &DetectInput<'_>, cfg: &DetectConfig) -> Evaluation {
    let since_start = (input.now - input.series.start).num_seconds().max(0);
    // The bucket holding `now` is partly filled; include it so that alerts are not five minutes late.
    let end = ((since_start + BUCKET_SECS - 1) / BUCKET_SECS) as usize;
    let end = end.min(input.series.buckets.len());
    let mut detector = Detector::new(input.brand, input.series, cfg);
    let mut eval = detector.evaluate_at(end);
    eval.at = input.now;
    apply_sources(&mut eval, input.platforms, input.sources, input.now, cfg);
    eval
}

/// Attaches top platforms, suppresses spikes driven by a recovering source's backlog, and adds
/// `source_down` findings.
pub fn apply_sources(
    eval: &mut Evaluation,
    platforms: &[PlatformCount],
    sources: &[SourceHealth],
    now: DateTime<Utc>,
    cfg: &DetectConfig,
) {
    let recovery = chrono::Duration::from_std(cfg.recovery_period).unwrap_or_default();
    let unreliable = |p: &str| {
        sources.iter().any(|s| {
            s.platform == p && (s.degraded_since.is_some() || s.recovered_at.is_some_and(|r| now - r < recovery))
        })
    };
    let mut top: Vec<PlatformCount> = platforms.iter().filter(|p| p.negative > 0).cloned().collect();
    top.sort_by(|a, b| b.negative.cmp(&a.negative).then(a.platform.cmp(&b.platform)));
    top.truncate(3);
    let all_negative: u64 = platforms.iter().map(|p| p.negative as u64).sum();
    let backlog: u64 = platforms.iter().filter(|p| unreliable(&p.platform)).map(|p| p.negative as u64).sum();
    let mut suppressed = None;
    for f in &mut eval.findings {
        f.top_platforms = top.clone();
        if f.kind == AlertKind::NegativeSpike && backlog > 0 {
            // Compare with the excess over expectation, scaled to the platform counts' window.
            let excess = (f.observed as f64 - f.expected).max(1.0);
            let scale = if f.observed > 0 { all_negative as f64 / f.observed as f64 } else { 1.0 };
            if backlog as f64 >= 0.5 * excess * scale.max(1.0) {
                suppressed = Some(format!(
                    "{backlog} of {all_negative} negatives come from sources that are down or recovering"
                ));
            }
        }
    }
    if suppressed.is_some() {
        eval.findings.retain(|f| f.kind != AlertKind::NegativeSpike);
        eval.suppressed = suppressed;
    }
    let after = chrono::Duration::from_std(cfg.source_down_after).unwrap_or_default();
    for s in sources {
        if let Some(since) = s.degraded_since {
            if now - since >= after {
                eval.findings.push(source_down_finding(&eval.brand, &s.platform, since, now));
            }
        }
    }
}

fn source_down_finding(brand: &str, platform: &str, since: DateTime<Utc>, now: DateTime<Utc>) -> Finding {
    Finding {
        kind: AlertKind::SourceDown,
        brand: brand.to_string(),
        level: Level::Firing,
        window_start: since,
        window_end: now,
        observed: 0,
        expected: 0.0,
        p_value: 1.0,
        ratio: 0.0,
        total: 0,
        expected_total: 0.0,
        negative_share: 0.0,
        baseline_share: 0.0,
        share_p_value: 1.0,
        cold_start: false,
        top_platforms: Vec::new(),
        platform: Some(platform.to_string()),
        since: Some(since),
    }
}

/// How a prediction was smoothed: how far each past day's sample was widened ([`PROFILE_SMOOTH_BELOW`]) and
/// the weight of the hour-of-week layer ([`HOUR_OF_WEEK_PRIOR_COUNT`]). Both are chosen from the negatives'
/// counts and imposed on the totals. Chosen from each stream's own counts, a busy total stream would follow its
/// hour-of-week pattern while the quieter negatives followed the daily profile, and where the two differ (a
/// weekend with its own daily shape) the baseline share would drift and an ordinary seasonal surge would pass
/// the share test. On the synthetic histories this cut false firings from 0.66 to 0.64 per brand per 30 days
/// and raised detection from 88.8 % to 89.1 %; one busy Poisson brand with a shifted weekend shape went from six
/// false firings to two.
#[derive(Debug, Clone, Copy)]
struct Smoothing {
    widen: usize,
    hour_of_week_prior: f64,
}

/// The out-of-sample prediction for one window, cached per window end.
#[derive(Debug, Clone, Copy)]
struct Prediction {
    /// Expected negatives, unfloored.
    negative: f64,
    total: f64,
    /// No same-hour-of-week sample was available.
    cold: bool,
}

/// A replayable detector over one brand's series: prefix sums plus per-scale caches of predictions, so that
/// evaluating every five minutes over eight weeks costs a few milliseconds.
pub struct Detector<'a> {
    brand: String,
    cfg: &'a DetectConfig,
    start: DateTime<Utc>,
    neg: Vec<u64>,
    tot: Vec<u64>,
    scales: Vec<usize>,
    /// `cache[scale][end]`: prediction for the window of that scale ending at bucket `end`.
    cache: Vec<Vec<Option<Option<Prediction>>>>,
    /// Absolute bucket number (unix seconds / 300) of bucket 0: residual windows are aligned to it.
    origin: i64,
    /// `residuals[scale][grid point]`: dispersion and recent level, which only change once per window length.
    residuals: Vec<Vec<Option<Residuals>>>,
}

/// What the residual windows of the last 28 days say, for one scale: dispersion of the prediction errors
/// and how far the last [`LEVEL_HOURS`] ran above or below their seasonal prediction.
#[derive(Debug, Clone, Copy)]
struct Residuals {
    alpha_negative: f64,
    /// Dispersion of negatives around the volume-adjusted expectation (the share model).
    alpha_share: f64,
    alpha_total: f64,
    level_negative: f64,
    level_total: f64,
}

/// One residual window: observed and predicted negatives (`y`, `mu`) and totals (`n`, `nu`).
#[derive(Debug, Clone, Copy)]
struct Row {
    y: f64,
    n: f64,
    mu: f64,
    nu: f64,
}

impl<'a> Detector<'a> {
    pub fn new(brand: &str, series: &BucketSeries, cfg: &'a DetectConfig) -> Self {
        let n = series.buckets.len();
        let mut neg = Vec::with_capacity(n + 1);
        let mut tot = Vec::with_capacity(n + 1);
        neg.push(0);
        tot.push(0);
        for b in &series.buckets {
            neg.push(neg.last().copied().unwrap_or(0) + b.negative as u64);
            tot.push(tot.last().copied().unwrap_or(0) + b.total.max(b.negative) as u64);
        }
        let scales = cfg.scales();
        let cache = scales.iter().map(|_| vec![None; n + 1]).collect();
        let residuals = scales.iter().map(|w| vec![None; n / w + 2]).collect();
        let origin = series.start.timestamp().div_euclid(BUCKET_SECS);
        Detector { brand: brand.to_string(), cfg, start: series.start, neg, tot, scales, cache, origin, residuals }
    }

    /// Number of buckets in the series.
    pub fn len(&self) -> usize {
        self.neg.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn time(&self, bucket: usize) -> DateTime<Utc> {
        self.start + chrono::Duration::seconds(bucket as i64 * BUCKET_SECS)
    }

    /// Evaluates the windows ending at bucket `end` (exclusive), using only buckets before `end`.
    pub fn evaluate_at(&mut self, end: usize) -> Evaluation {
        let end = end.min(self.len());
        let main_w = self.cfg.window_buckets();
        let history_hours = end.saturating_sub(main_w) as f64 / 12.0;
        let warm = (self.cfg.warm_history.as_secs() as i64 / BUCKET_SECS) as usize;
        let min_hist = (self.cfg.min_history.as_secs() as i64 / BUCKET_SECS) as usize;

        let mut stats: Vec<(usize, WindowStats)> = Vec::with_capacity(self.scales.len());
        for si in 0..self.scales.len() {
            let w = self.scales[si];
            if end < w {
                continue;
            }
            let mut s = self.window_stats(si, end);
            s.cold_start |= end - w < warm;
            stats.push((w, s));
        }
        let main = stats
            .iter()
            .find(|(w, _)| *w == main_w)
            .or(stats.first())
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| empty_stats(self.time(end.saturating_sub(main_w)), self.time(end)));
        let cold_start = main.cold_start;
        let mut eval = Evaluation {
            brand: self.brand.clone(),
            at: self.time(end),
            main,
            findings: Vec::new(),
            cold_start,
            history_hours,
            suppressed: None,
            scales: stats.iter().map(|(_, s)| s.clone()).collect(),
        };
        if end < main_w + min_hist {
            return eval;
        }

        let cfg = self.cfg;
        let min_count = cfg.min_negatives();
        let fires = |s: &WindowStats| cfg.checks(s).all();
        let elevated = |s: &WindowStats| s.ratio >= cfg.elevated_ratio() && s.p_value < 0.01 && s.share_p_value < 0.05;
        let best = |pred: &dyn Fn(&WindowStats) -> bool, key: &dyn Fn(&WindowStats) -> f64| {
            stats.iter().map(|(_, s)| s).filter(|s| pred(s)).min_by(|a, b| key(a).total_cmp(&key(b))).cloned()
        };
        if let Some(s) = best(&fires, &|s| s.p_value) {
            eval.findings.push(self.finding(AlertKind::NegativeSpike, Level::Firing, &s));
        } else if let Some(s) = best(&elevated, &|s| s.p_value) {
            eval.findings.push(self.finding(AlertKind::NegativeSpike, Level::Elevated, &s));
        }
        if cfg.volume_spike && eval.finding(AlertKind::NegativeSpike).is_none() {
            let p_count = cfg.sensitivity.count_threshold();
            let min_total = min_count;
            let volume = |s: &WindowStats| {
                s.total_p_value < p_count && s.total >= min_total && s.total as f64 >= cfg.min_ratio * s.expected_total
            };
            let volume_elevated =
                |s: &WindowStats| s.total_p_value < 0.01 && s.total as f64 >= cfg.elevated_ratio() * s.expected_total;
            if let Some(s) = best(&volume, &|s| s.total_p_value) {
                eval.findings.push(self.finding(AlertKind::VolumeSpike, Level::Firing, &s));
            } else if let Some(s) = best(&volume_elevated, &|s| s.total_p_value) {
                eval.findings.push(self.finding(AlertKind::VolumeSpike, Level::Elevated, &s));
            }
        }
        eval
    }

    fn finding(&self, kind: AlertKind, level: Level, s: &WindowStats) -> Finding {
        Finding {
            kind,
            brand: self.brand.clone(),
            level,
            window_start: s.window_start,
            window_end: s.window_end,
            observed: s.observed,
            expected: s.expected,
            p_value: s.p_value,
            ratio: s.ratio,
            total: s.total,
            expected_total: s.expected_total,
            negative_share: s.negative_share,
            baseline_share: s.baseline_share,
            share_p_value: s.share_p_value,
            cold_start: s.cold_start,
            top_platforms: Vec::new(),
            platform: None,
            since: None,
        }
    }

    fn window_stats(&mut self, si: usize, end: usize) -> WindowStats {
        let w = self.scales[si];
        let start = end - w;
        let observed = self.neg[end] - self.neg[start];
        let total = self.tot[end] - self.tot[start];
        let window_start = self.time(start);
        let window_end = self.time(end);
        let Some(pred) = self.prediction(si, end) else {
            let mut s = empty_stats(window_start, window_end);
            s.observed = observed;
            s.total = total;
            s.negative_share = share(observed, total);
            s.cold_start = true;
            return s;
        };
        let d = self.residuals(si, start);
        let floor = self.cfg.expected_floor_per_hour * w as f64 / 12.0;
        let expected = (pred.negative * d.level_negative).max(floor).max(1e-6);
        let expected_total = (pred.total * d.level_total).max(expected);
        let baseline_share = (expected / expected_total).clamp(0.0, 1.0);
        let p_value = neg_binomial_sf(observed, expected, d.alpha_negative);
        let total_p_value =
            if self.cfg.volume_spike { neg_binomial_sf(total, expected_total, d.alpha_total) } else { 1.0 };
        let expected_other = (pred.total * d.level_total - pred.negative * d.level_negative).max(0.0);
        let volume = VolumePosterior::new((total - observed) as f64, expected_other);
        let share_p_value = volume.share_p_value(observed, expected, d.alpha_share);
        let volume_factor = volume.factor();
        WindowStats {
            window_start,
            window_end,
            observed,
            expected,
            p_value,
            ratio: observed as f64 / expected,
            total,
            expected_total,
            total_p_value,
            negative_share: share(observed, total),
            baseline_share,
            share_p_value,
            dispersion: d.alpha_negative,
            volume_factor,
            cold_start: pred.cold,
        }
    }

    fn prediction(&mut self, si: usize, end: usize) -> Option<Prediction> {
        if let Some(p) = self.cache[si][end] {
            return p;
        }
        let w = self.scales[si];
        let p = if end < w {
            None
        } else {
            let s = end - w;
            // Totals are smoothed exactly as the negatives were, so that the share test compares like with like.
            let negative = self.predict(&self.neg, s, w, None);
            let total = negative.and_then(|(_, _, smoothing)| self.predict(&self.tot, s, w, Some(smoothing)));
            negative.zip(total).map(|((negative, cold, _), (total, _, _))| Prediction { negative, total, cold })
        };
        self.cache[si][end] = Some(p);
        p
    }

    /// Expected count of one stream (negatives or totals) in `[s, s + w)` from the buckets before `s`.
    /// Returns the estimate, whether it lacked any same-hour-of-week sample, and the smoothing it used, which
    /// is derived from this stream's counts unless `smoothing` imposes another stream's (see [`Smoothing`]).
    fn predict(&self, pre: &[u64], s: usize, w: usize, smoothing: Option<Smoothing>) -> Option<(f64, bool, Smoothing)> {
        let hist_len = self.cfg.history_weeks.max(1) as usize * WEEK;
        let h0 = s.saturating_sub(hist_len);
        if s - h0 < 12 {
            return None;
        }
        let sum = |a: usize, b: usize| (pre[b] - pre[a]) as f64;
        let overall = sum(h0, s) / (s - h0) as f64 * w as f64;

        let mut days = [0.0f64; PROFILE_DAYS];
        let widen = match smoothing {
            Some(sm) => sm.widen,
            None if overall < PROFILE_SMOOTH_BELOW => w / 2,
            None => 0,
        };
        let mut nd = 0;
        for d in 1..=PROFILE_DAYS {
            if d * DAY > s || s - d * DAY < h0 {
                break;
            }
            let a = s - d * DAY;
            let (lo, hi) = (a.saturating_sub(widen).max(h0), (a + w + widen).min(s));
            days[nd] = sum(lo, hi) * w as f64 / (hi - lo) as f64;
            nd += 1;
        }
        let profile = if nd == 0 {
            overall
        } else {
            let days = &mut days[..nd];
            let cap = winsor_cap(median(days).max(overall));
            let total: f64 = days.iter().map(|x| x.min(cap)).sum();
            let prior = 3.0;
            (total + prior * overall) / (nd as f64 + prior)
        };

        // Day-of-week factor: this weekday's 24 hours against its week's daily mean, in past weeks.
        let centre = s + w / 2;
        let (mut day_sum, mut week_sum) = (0.0, 0.0);
        let mut weeks = [0.0f64; 16];
        let mut day_ratios = [0.0f64; 16];
        let mut nw = 0;
        let mut nr = 0;
        for k in 1..=self.cfg.history_weeks.clamp(1, 16) as usize {
            if k * WEEK > s || s - k * WEEK < h0 {
                break;
            }
            let a = s - k * WEEK;
            weeks[nw] = sum(a, a + w);
            nw += 1;
            let c = centre - k * WEEK;
            if c >= h0 + WEEK / 2 {
                let (day, week) = (sum(c - DAY / 2, c + DAY / 2), sum(c - WEEK / 2, c + WEEK / 2) / 7.0);
                day_ratios[nr] = (day + 1.0) / (week + 1.0);
                nr += 1;
                day_sum += day;
                week_sum += week;
            }
        }
        // From three weeks on, the median week's ratio: a campaign or an incident that filled this weekday in one
        // past week would otherwise raise the expectation for the same weekday in every later week.
        let dow = if nr >= DOW_MEDIAN_FROM_WEEKS {
            (median(&mut day_ratios[..nr]) * week_sum + 10.0) / (week_sum + 10.0)
        } else {
            (day_sum + 10.0) / (week_sum + 10.0)
        };
        let base = profile * dow;
        if nw == 0 {
            // No past week yet, so no hour-of-week layer for either stream (both see the same weeks).
            return Some((base, true, Smoothing { widen, hour_of_week_prior: 0.0 }));
        }
        let weeks = &mut weeks[..nw];
        let cap = winsor_cap(base.max(median(weeks)));
        let total: f64 = weeks.iter().map(|x| x.min(cap)).sum();
        // Empirical-Bayes weight of the hour-of-week pattern: at low counts one week is mostly noise.
        let prior = match smoothing {
            Some(sm) => sm.hour_of_week_prior,
            None => (HOUR_OF_WEEK_PRIOR_COUNT / base.max(1e-3)).clamp(0.5, 200.0),
        };
        Some(((total + prior * base) / (nw as f64 + prior), false, Smoothing { widen, hour_of_week_prior: prior }))
    }

    /// Dispersion and recent level for a window starting at `s`, from the grid-aligned, non-overlapping
    /// windows that end at or before `s` (the last 28 days plus [`LEVEL_HOURS`] for the level of the oldest).
    /// Aligning to a fixed grid makes the result depend only on which grid cell `s` falls in, so it is
    /// computed once per window length and the daemon and the backtest agree exactly.
    fn residuals(&mut self, si: usize, s: usize) -> Residuals {
        let w = self.scales[si];
        let wi = w as i64;
        let origin_aligned = self.origin - self.origin.rem_euclid(wi);
        let a_abs = (self.origin + s as i64).div_euclid(wi) * wi;
        let key = ((a_abs - origin_aligned) / wi) as usize;
        if let Some(c) = self.residuals[si].get(key).copied().flatten() {
            return c;
        }
        let a_rel = a_abs - self.origin;
        let level_rows = (LEVEL_HOURS * 12 / w).max(1);
        let want = RESIDUAL_DAYS * DAY / w + level_rows + 2;
        let floor = self.cfg.expected_floor_per_hour * w as f64 / 12.0;
        let mut rows: Vec<Row> = Vec::with_capacity(want);
        for j in 0..want as i64 {
            let e = a_rel - j * wi;
            if e < wi {
                break;
            }
            let e = e as usize;
            let Some(p) = self.prediction(si, e) else { break };
            let mu = p.negative.max(floor);
            rows.push(Row {
                y: (self.neg[e] - self.neg[e - w]) as f64,
                n: (self.tot[e] - self.tot[e - w]) as f64,
                mu,
                nu: p.total.max(mu),
            });
        }
        // Prefix sums over rows for the recent-level factors: row j's level uses rows j+1 ..= j+L
        // (the current window's uses rows 1 ..= L, skipping the window just before it).
        let mut acc = vec![[0.0f64; 4]; rows.len() + 1];
        for (i, r) in rows.iter().enumerate() {
            let a = acc[i];
            acc[i + 1] = [a[0] + r.y, a[1] + r.mu, a[2] + r.n, a[3] + r.nu];
        }
        let level = |from: usize| {
            let lo = from.min(rows.len());
            let hi = (from + level_rows).min(rows.len());
            let d = |k: usize| acc[hi][k] - acc[lo][k];
            let k = LEVEL_PSEUDO;
            (
                ((d(0) + k) / (d(1) + k)).clamp(LEVEL_MIN, LEVEL_MAX),
                ((d(2) + k) / (d(3) + k)).clamp(LEVEL_MIN, LEVEL_MAX),
            )
        };
        let residual_rows = rows.len().min(RESIDUAL_DAYS * DAY / w);
        let adjusted: Vec<Row> = (0..residual_rows)
            .map(|j| {
                let (ln, lt) = level(j + 2);
                let r = rows[j];
                Row { mu: r.mu * ln, nu: r.nu * lt, ..r }
            })
            .collect();
        // The share model's rows, computed once: `nb_alpha` reads its rows in four passes, and the volume
        // posterior's log-gamma terms would otherwise cost more than the rest of the replay.
        let share_rows: Vec<(f64, f64)> = adjusted
            .iter()
            .map(|r| (r.y, r.mu * VolumePosterior::new(r.n - r.y, (r.nu - r.mu).max(0.0)).mean()))
            .collect();
        let (level_negative, level_total) = level(1);
        let c = Residuals {
            alpha_negative: nb_alpha(adjusted.iter().map(|r| (r.y, r.mu))),
            alpha_share: nb_alpha(share_rows.iter().copied()),
            alpha_total: if self.cfg.volume_spike { nb_alpha(adjusted.iter().map(|r| (r.n, r.nu))) } else { 0.0 },
            level_negative,
            level_total,
        };
        if let Some(slot) = self.residuals[si].get_mut(key) {
            *slot = Some(c);
        }
        c
    }
}

/// How many hours before the window the recent-level factors look at. Six hours follow a day that runs hot or
/// cold from its morning on (day-level noise, a slow drift); a whole day mixed yesterday's level into today's:
/// on the synthetic histories (`tools/gen-histories.py`, 150 brands) six hours instead of 24 cut false firings
/// by 14 % at the same detection rate.
const LEVEL_HOURS: usize = 6;

/// Pseudo-count and bounds of the recent-level factors: those hours move the expectation only when they hold
/// enough mentions to mean something, and never by more than half.
const LEVEL_PSEUDO: f64 = 30.0;
const LEVEL_MIN: f64 = 0.67;
const LEVEL_MAX: f64 = 1.5;

fn empty_stats(window_start: DateTime<Utc>, window_end: DateTime<Utc>) -> WindowStats {
    WindowStats {
        window_start,
        window_end,
        observed: 0,
        expected: 0.0,
        p_value: 1.0,
        ratio: 0.0,
        total: 0,
        expected_total: 0.0,
        total_p_value: 1.0,
        negative_share: 0.0,
        baseline_share: 0.0,
        share_p_value: 1.0,
        dispersion: 0.0,
        volume_factor: 1.0,
        cold_start: true,
    }
}

fn share(negative: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        negative as f64 / total as f64
    }
}

/// Caps a sample so that one incident in the history cannot inflate the expectation much.
fn winsor_cap(reference: f64) -> f64 {
    reference + 3.0 * (reference + 0.1 * reference * reference).sqrt() + 1.0
}

fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        0.5 * (xs[m - 1] + xs[m])
    }
}

/// The half-window scale fires only where at least this many negatives are expected in it.
const SHORT_SCALE_MIN_EXPECTED: f64 = 1.5;

/// Prior dispersion and its weight: in pseudo-windows, and at least `PRIOR_INFORMATION` in units of
/// `Σ mu²` (the estimator's denominator). The second matters for quiet brands: at half a negative per
/// window a month of windows holds little information about `alpha` (its standard error is about
/// `sqrt(2 / Σ mu²)`), and an unshrunk estimate swings to 0.2–0.4 on plain Poisson counts, which then
/// blunts the test exactly where a crisis brings only a handful of extra negatives.
const ALPHA_PRIOR: f64 = 0.05;
const ALPHA_FLOOR: f64 = 0.02;
const PRIOR_WINDOWS: f64 = 24.0;
const PRIOR_INFORMATION: f64 = 100.0;

/// Pseudo-count of the volume factor's prior: a window's non-negative mentions say how much more talk
/// there is than usual (a campaign), but a handful of them is mostly noise. `(other + k) / (expected + k)`
/// is the posterior mean of a multiplier with a Gamma(k, k) prior (mean 1): a campaign that brings
/// dozens of extra mentions moves it fully, three stray mentions on a quiet brand barely do.
const VOLUME_PRIOR: f64 = 4.0;

/// How much more non-negative talk a window holds than expected, shrunk toward 1 (see [`VOLUME_PRIOR`]).
fn volume_factor(other: f64, expected_other: f64) -> f64 {
    (other + VOLUME_PRIOR) / (expected_other + VOLUME_PRIOR)
}

/// Prior probability that a window is in a campaign, and the campaign multiplier's prior (a Gamma distribution
/// with this shape and mean; shape 1 is an exponential, agnostic about how large campaigns are). The
/// Gamma([`VOLUME_PRIOR`]) prior alone is right for ordinary windows but cannot believe a ×4 campaign on a quiet
/// brand: eight other mentions where two were expected give a factor of 2, so the campaign's usual-share
/// negatives looked like twice the baseline share. The mixture keeps the tight prior for ordinary windows and
/// lets a clear surge of other mentions be believed. On the synthetic histories false firings fell from 0.65 to
/// 0.58 per brand per 30 days at the same 89.6 % of crises caught (tuning sets) and from 0.71 to 0.67 at 88.5 →
/// 88.1 % (ten other sets); false firings inside or just after campaigns fell by a sixth.
const CAMPAIGN_PRIOR: f64 = 0.05;
const CAMPAIGN_SHAPE: f64 = 1.0;
const CAMPAIGN_MEAN: f64 = 3.0;

/// What a window's other (non-negative) mentions say about its volume multiplier `m`: a two-component posterior,
/// "ordinary window" (Gamma(k, k) prior, mean 1) or "campaign" (see [`CAMPAIGN_PRIOR`]), each updated with the
/// Poisson count of other mentions. The share test's p-value is the posterior mixture of the two components'
/// tails, so a window that is probably a campaign is judged against the campaign's multiplier.
#[derive(Debug, Clone, Copy)]
struct VolumePosterior {
    /// Posterior probability of the campaign component.
    campaign_weight: f64,
    /// Posterior mean multiplier under each component.
    ordinary: f64,
    campaign: f64,
}

impl VolumePosterior {
    fn new(other: f64, expected_other: f64) -> Self {
        let e = expected_other.max(1e-9);
        // Log marginal likelihood of `other` under a Gamma(a, rate b) multiplier (negative binomial), without the
        // `other!` term both components share.
        let ln_marginal = |a: f64, b: f64| {
            stats::ln_gamma(a + other) - stats::ln_gamma(a) + a * (b / (b + e)).ln() + other * (e / (b + e)).ln()
        };
        let campaign_rate = CAMPAIGN_SHAPE / CAMPAIGN_MEAN;
        let log_odds = ln_marginal(CAMPAIGN_SHAPE, campaign_rate) - ln_marginal(VOLUME_PRIOR, VOLUME_PRIOR)
            + (CAMPAIGN_PRIOR / (1.0 - CAMPAIGN_PRIOR)).ln();
        VolumePosterior {
            campaign_weight: 1.0 / (1.0 + (-log_odds).exp()),
            ordinary: volume_factor(other, expected_other),
            campaign: (CAMPAIGN_SHAPE + other) / (campaign_rate + e),
        }
    }

    /// Posterior mean multiplier (may be below 1: less talk than usual).
    fn mean(&self) -> f64 {
        (1.0 - self.campaign_weight) * self.ordinary + self.campaign_weight * self.campaign
    }

    /// The multiplier the share test applies, never below 1 (quiet windows do not make negatives more
    /// suspicious).
    fn factor(&self) -> f64 {
        (1.0 - self.campaign_weight) * self.ordinary.max(1.0) + self.campaign_weight * self.campaign.max(1.0)
    }

    /// Upper-tail p-value of `observed` negatives against `expected × m`, mixed over the posterior of `m`.
    fn share_p_value(&self, observed: u64, expected: f64, alpha: f64) -> f64 {
        let w = self.campaign_weight;
        let ordinary = neg_binomial_sf(observed, expected * self.ordinary.max(1.0), alpha);
        if w < 1e-12 {
            return ordinary;
        }
        (1.0 - w) * ordinary + w * neg_binomial_sf(observed, expected * self.campaign.max(1.0), alpha)
    }
}

/// Method-of-moments negative-binomial `alpha` from `(observed, predicted)` pairs:
/// `E[(y - mu)² - y] = alpha·mu²`, shrunk toward a prior. Windows far above their prediction under the
/// current estimate (past incidents, campaigns) are left out and the estimate redone, four times.
fn nb_alpha(rows: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let pass = |alpha0: f64| {
        let (mut num, mut den, mut n) = (0.0, 0.0, 0.0);
        for (y, mu) in rows.clone() {
            if mu <= 0.0 {
                continue;
            }
            let r = y - mu;
            if r > OUTLIER_Z * (mu + alpha0 * mu * mu).sqrt() + 1.0 {
                continue;
            }
            num += r * r - y;
            den += mu * mu;
            n += 1.0;
        }
        let prior_den = if n > 0.0 { (den / n * PRIOR_WINDOWS).max(PRIOR_INFORMATION) } else { PRIOR_INFORMATION };
        ((num + ALPHA_PRIOR * prior_den) / (den + prior_den)).clamp(ALPHA_FLOOR, 4.0)
    };
    // Start from the prior so that past incidents are recognised as outliers in the first pass; genuinely
    // over-dispersed data re-admits its wide windows as the estimate grows.
    let mut alpha = ALPHA_PRIOR;
    for _ in 0..4 {
        alpha = pass(alpha);
    }
    alpha
}

#[cfg(test)]
mod tests;
