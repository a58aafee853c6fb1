//! Table tests of the detector on small synthetic series (deterministic pseudo-random noise).

use super::*;

/// xorshift64*: deterministic noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, mean: f64) -> u32 {
        // Knuth for small means, normal approximation above.
        if mean > 50.0 {
            let u1 = self.next_f64().max(1e-12);
            let u2 = self.next_f64();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            return (mean + z * mean.sqrt()).round().max(0.0) as u32;
        }
        let l = (-mean).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.next_f64();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap()
}

/// `days` of history with a daily cycle: negatives per hour `neg_rate`, totals `total_rate`.
fn history(days: usize, neg_rate: f64, total_rate: f64, seed: u64) -> BucketSeries {
    let mut rng = Rng(seed);
    let buckets = (0..days * DAY)
        .map(|i| {
            let hour = (i % DAY) as f64 / 12.0;
            let shape = 1.0 + 0.6 * ((hour - 15.0) / 24.0 * 2.0 * std::f64::consts::PI).cos();
            let neg = rng.poisson(neg_rate * shape / 12.0);
            let other = rng.poisson((total_rate - neg_rate) * shape / 12.0);
            Bucket { total: neg + other, negative: neg }
        })
        .collect();
    BucketSeries { start: t0(), buckets }
}

/// Adds `negative` negatives and `other` other mentions spread over the last `buckets` buckets.
fn inject(series: &mut BucketSeries, buckets: usize, negative: u32, other: u32) {
    let n = series.buckets.len();
    for k in 0..negative {
        let b = &mut series.buckets[n - 1 - (k as usize % buckets)];
        b.negative += 1;
        b.total += 1;
    }
    for k in 0..other {
        series.buckets[n - 1 - (k as usize % buckets)].total += 1;
    }
}

fn run(series: &BucketSeries, cfg: &DetectConfig) -> Evaluation {
    let now = series.bucket_start(series.buckets.len());
    evaluate(&DetectInput { brand: "acme", series, now, platforms: &[], sources: &[] }, cfg)
}

fn level(eval: &Evaluation, kind: AlertKind) -> Option<Level> {
    eval.finding(kind).map(|f| f.level)
}

#[test]
fn spike_table() {
    struct Case {
        name: &'static str,
        days: usize,
        neg_rate: f64,
        total_rate: f64,
        /// (buckets, extra negatives, extra other mentions)
        inject: (usize, u32, u32),
        volume_spike: bool,
        negative: Option<Level>,
        volume: Option<Level>,
    }
    let cases = [
        Case {
            name: "quiet history, nothing new",
            days: 28,
            neg_rate: 0.2,
            total_rate: 2.0,
            inject: (12, 0, 0),
            volume_spike: false,
            negative: None,
            volume: None,
        },
        Case {
            name: "single negative on a quiet brand is never a spike",
            days: 28,
            neg_rate: 0.0,
            total_rate: 0.5,
            inject: (1, 1, 0),
            volume_spike: false,
            negative: None,
            volume: None,
        },
        Case {
            name: "four negatives on a silent brand: below min_count, elevated at most",
            days: 28,
            neg_rate: 0.0,
            total_rate: 0.5,
            inject: (12, 4, 0),
            volume_spike: false,
            negative: Some(Level::Elevated),
            volume: None,
        },
        Case {
            name: "quiet brand, burst of 12 negatives in an hour",
            days: 28,
            neg_rate: 0.2,
            total_rate: 2.0,
            inject: (12, 12, 0),
            volume_spike: false,
            negative: Some(Level::Firing),
            volume: None,
        },
        Case {
            name: "busy brand, negatives x3 for 40 minutes",
            days: 42,
            neg_rate: 30.0,
            total_rate: 200.0,
            inject: (8, 40, 0),
            volume_spike: false,
            negative: Some(Level::Firing),
            volume: None,
        },
        Case {
            name: "campaign: all mentions x4 at the usual share is not a crisis",
            days: 42,
            neg_rate: 10.0,
            total_rate: 100.0,
            inject: (12, 30, 270),
            volume_spike: false,
            negative: None,
            volume: None,
        },
        Case {
            name: "campaign reported as volume_spike when enabled",
            days: 42,
            neg_rate: 10.0,
            total_rate: 100.0,
            inject: (12, 30, 270),
            volume_spike: true,
            negative: None,
            volume: Some(Level::Firing),
        },
        Case {
            name: "single negative on a quiet brand with two days of history (cold start)",
            days: 2,
            neg_rate: 0.0,
            total_rate: 0.5,
            inject: (1, 1, 0),
            volume_spike: false,
            negative: None,
            volume: None,
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let mut series = history(c.days, c.neg_rate, c.total_rate, 7 + i as u64);
        inject(&mut series, c.inject.0, c.inject.1, c.inject.2);
        let cfg = DetectConfig { volume_spike: c.volume_spike, ..DetectConfig::default() };
        let eval = run(&series, &cfg);
        assert_eq!(level(&eval, AlertKind::NegativeSpike), c.negative, "{}: {:#?}", c.name, eval.main);
        assert_eq!(level(&eval, AlertKind::VolumeSpike), c.volume, "{}: {:#?}", c.name, eval.main);
    }
}

/// A modest rise (10 extra negatives in an hour on about 13 expected, ×1.8, under `min_ratio`) keeps an alert
/// open but should not open one. Counting noise makes single draws land anywhere, so this is checked over
/// many: at the time of writing 2 of 29 fire and 13 are elevated or firing (17 while one past week's same
/// hour weighed more: `HOUR_OF_WEEK_PRIOR_COUNT` 40, not 160; the floor below was 15 then).
#[test]
fn modest_rise_keeps_an_alert_open_but_rarely_opens_one() {
    let (mut firing, mut open) = (0, 0);
    for seed in 1..30u64 {
        let mut series = history(42, 20.0, 100.0, seed);
        inject(&mut series, 12, 10, 0);
        match level(&run(&series, &DetectConfig::default()), AlertKind::NegativeSpike) {
            Some(Level::Firing) => {
                firing += 1;
                open += 1;
            }
            Some(Level::Elevated) => open += 1,
            None => {}
        }
    }
    assert!(firing <= 3, "{firing} of 29 modest rises fired");
    assert!(open >= 11, "only {open} of 29 modest rises kept an alert open");
}

#[test]
fn cold_start_is_flagged_and_still_detects() {
    let mut series = history(2, 1.0, 10.0, 3);
    inject(&mut series, 12, 25, 0);
    let eval = run(&series, &DetectConfig::default());
    assert!(eval.cold_start);
    let f = eval.finding(AlertKind::NegativeSpike).expect("fires");
    assert_eq!(f.level, Level::Firing);
    assert!(f.cold_start);
}

#[test]
fn cold_start_thresholds_are_ten_times_stricter() {
    for sens in [Sensitivity::Low, Sensitivity::Balanced, Sensitivity::High] {
        assert_eq!(sens.thresholds(false), (sens.count_threshold(), sens.share_threshold()));
        let (c, s) = sens.thresholds(true);
        assert!((c - 0.1 * sens.count_threshold()).abs() < 1e-15, "{sens:?}");
        assert!((s - 0.1 * sens.share_threshold()).abs() < 1e-15, "{sens:?}");
    }
}

#[test]
fn cold_start_needs_stronger_evidence() {
    // Two days of history: a burst whose hour passes every warm test does not fire yet; a clearer one does.
    let cfg = DetectConfig::default();
    let (warm_count, warm_share) = cfg.sensitivity.thresholds(false);
    let passes_warm = |s: &WindowStats| {
        s.p_value < warm_count
            && s.share_p_value < warm_share
            && s.observed >= cfg.min_count as u64
            && s.ratio >= cfg.min_ratio
    };
    let mut held_back = None;
    let mut fired = None;
    for extra in 5..60 {
        let mut series = history(2, 2.0, 20.0, 13);
        inject(&mut series, 12, extra, 0);
        let eval = run(&series, &cfg);
        assert!(eval.cold_start);
        let firing = level(&eval, AlertKind::NegativeSpike) == Some(Level::Firing);
        if !firing && passes_warm(&eval.main) && held_back.is_none() {
            held_back = Some(extra);
        }
        if firing && fired.is_none() {
            let f = eval.finding(AlertKind::NegativeSpike).unwrap();
            assert!(f.cold_start && f.share_p_value < cfg.sensitivity.thresholds(true).1, "{f:?}");
            fired = Some(extra);
        }
    }
    let (held_back, fired) = (held_back.expect("a burst held back"), fired.expect("a burst fires"));
    assert!(held_back < fired, "{held_back} {fired}");
}

#[test]
fn too_little_history_never_fires() {
    let mut series = history(0, 1.0, 10.0, 3);
    series.buckets = vec![Bucket::default(); 30];
    inject(&mut series, 12, 25, 0);
    let eval = run(&series, &DetectConfig::default());
    assert!(eval.findings.is_empty());
    assert!(eval.cold_start);
}

#[test]
fn finding_carries_the_numbers() {
    let mut series = history(28, 2.0, 20.0, 11);
    inject(&mut series, 12, 30, 0);
    let eval = run(&series, &DetectConfig::default());
    let f = eval.finding(AlertKind::NegativeSpike).expect("fires");
    assert!(f.observed >= 30);
    assert!(f.expected > 0.5 && f.expected < 10.0, "{f:?}");
    assert!(f.p_value < 1e-4 && f.share_p_value < 1e-3);
    assert!(f.negative_share > f.baseline_share);
    assert!((f.ratio - f.observed as f64 / f.expected).abs() < 1e-9);
    assert!(f.window_end > f.window_start);
    assert_eq!(f.window_end, series.bucket_start(series.buckets.len()));
}

#[test]
fn recovering_source_backlog_is_suppressed() {
    let mut series = history(28, 2.0, 20.0, 5);
    inject(&mut series, 12, 30, 0);
    let now = series.bucket_start(series.buckets.len());
    let platforms = [
        PlatformCount { platform: "reddit".into(), total: 30, negative: 28 },
        PlatformCount { platform: "hackernews".into(), total: 10, negative: 4 },
    ];
    let table = [
        (None, None, false),
        (Some(now - chrono::Duration::minutes(90)), None, true),
        (None, Some(now - chrono::Duration::minutes(30)), true),
        (None, Some(now - chrono::Duration::hours(5)), false),
    ];
    for (degraded_since, recovered_at, suppressed) in table {
        let sources = [SourceHealth { platform: "reddit".into(), degraded_since, recovered_at }];
        let input = DetectInput { brand: "acme", series: &series, now, platforms: &platforms, sources: &sources };
        let eval = evaluate(&input, &DetectConfig::default());
        assert_eq!(eval.suppressed.is_some(), suppressed, "{degraded_since:?} {recovered_at:?}");
        assert_eq!(eval.finding(AlertKind::NegativeSpike).is_none(), suppressed);
        if !suppressed {
            assert_eq!(eval.finding(AlertKind::NegativeSpike).unwrap().top_platforms[0].platform, "reddit");
        }
        // Degraded for 90 minutes > the default hour: source_down fires.
        assert_eq!(eval.finding(AlertKind::SourceDown).is_some(), degraded_since.is_some());
    }
}

#[test]
fn source_down_waits_for_the_configured_time() {
    let series = history(3, 1.0, 10.0, 1);
    let now = series.bucket_start(series.buckets.len());
    for (minutes, fires) in [(10, false), (59, false), (60, true), (600, true)] {
        let sources = [SourceHealth {
            platform: "mastodon".into(),
            degraded_since: Some(now - chrono::Duration::minutes(minutes)),
            recovered_at: None,
        }];
        let input = DetectInput { brand: "acme", series: &series, now, platforms: &[], sources: &sources };
        let eval = evaluate(&input, &DetectConfig::default());
        let f = eval.finding(AlertKind::SourceDown);
        assert_eq!(f.is_some(), fires, "{minutes} min");
        if let Some(f) = f {
            assert_eq!(f.platform.as_deref(), Some("mastodon"));
        }
    }
}

#[test]
fn series_from_sql_rows() {
    let from = Utc.with_ymd_and_hms(2025, 1, 1, 0, 2, 0).unwrap();
    let until = from + chrono::Duration::minutes(20);
    let b0 = from.timestamp() / BUCKET_SECS;
    let s = BucketSeries::from_rows(from, until, [(b0, 3, 1), (b0 + 2, 5, 2), (b0 + 2, 1, 1), (b0 + 99, 9, 9)]);
    assert_eq!(s.start.timestamp() % BUCKET_SECS, 0);
    assert_eq!(s.buckets.len(), 5);
    assert_eq!(s.buckets[0], Bucket { total: 3, negative: 1 });
    assert_eq!(s.buckets[2], Bucket { total: 6, negative: 3 });
}

#[test]
fn partial_current_bucket_is_included() {
    let mut series = history(28, 0.2, 2.0, 9);
    inject(&mut series, 6, 12, 0);
    let now = series.bucket_start(series.buckets.len() - 1) + chrono::Duration::seconds(60);
    let eval = evaluate(
        &DetectInput { brand: "acme", series: &series, now, platforms: &[], sources: &[] },
        &DetectConfig::default(),
    );
    assert!(eval.main.observed >= 12);
}

#[test]
fn replay_is_fast_and_matches_evaluate() {
    let series = history(56, 50.0, 300.0, 2);
    let cfg = DetectConfig::default();
    let mut d = Detector::new("acme", &series, &cfg);
    let started = std::time::Instant::now();
    let mut last = None;
    for end in 1..=d.len() {
        last = Some(d.evaluate_at(end));
    }
    let elapsed = started.elapsed();
    let direct = run(&series, &cfg);
    assert_eq!(last.unwrap().main, direct.main);
    // Debug builds are slow; the release backtest is measured by tools/eval-detector.py.
    assert!(elapsed.as_secs() < 60, "{elapsed:?}");
}

#[test]
fn dispersion_estimate_table() {
    // (mean per window, true alpha, lowest and highest estimate accepted over 20 seeds of 336 windows).
    // Quiet Poisson brands must stay near the prior instead of swinging with the noise of a few counts;
    // busy over-dispersed brands must get their own alpha.
    let table: [(f64, f64, f64, f64); 4] =
        [(0.5, 0.0, 0.02, 0.2), (2.0, 0.0, 0.02, 0.12), (20.0, 0.0, 0.02, 0.06), (20.0, 0.3, 0.15, 0.45)];
    for (mu, alpha, lo, hi) in table {
        for seed in 1..=20u64 {
            let mut rng = Rng(seed * 7919);
            let rows: Vec<(f64, f64)> = (0..336)
                .map(|_| {
                    // Gamma(k, 1/k) multiplier by the sum of k exponentials (k = 1/alpha, an integer here).
                    let m = if alpha > 0.0 {
                        let k = (1.0 / alpha).round() as usize;
                        (0..k).map(|_| -rng.next_f64().max(1e-12).ln()).sum::<f64>() / k as f64
                    } else {
                        1.0
                    };
                    (rng.poisson(mu * m) as f64, mu)
                })
                .collect();
            let a = nb_alpha(rows.iter().copied());
            assert!((lo..=hi).contains(&a), "mu {mu} alpha {alpha} seed {seed}: estimate {a}");
        }
    }
}

#[test]
fn volume_factor_table() {
    // (other mentions, expected other, lowest and highest factor accepted)
    let table = [
        (3.0, 1.0, 1.0, 1.5),     // three stray mentions on a quiet brand: barely more talk
        (0.0, 2.0, 0.0, 1.0),     // less talk than usual: never below 1 in the test, below 1 here
        (40.0, 10.0, 3.0, 3.5),   // a campaign's dozens: most of the ×4 is believed
        (400.0, 100.0, 3.8, 4.0), // a busy brand's campaign: fully
    ];
    for (other, expected, lo, hi) in table {
        let f = volume_factor(other, expected);
        assert!((lo..=hi).contains(&f), "{other} over {expected}: {f}");
    }
}

/// The share test compares negatives with the other mentions, so both streams must be predicted the same way:
/// here every bucket holds exactly 10 % negatives, but weekends follow a daily shape shifted by three hours, which
/// the busy total stream's hour-of-week layer would learn and the quiet negative stream's would not if each
/// stream's smoothing followed its own count. Then on weekend evenings the baseline share would drift from 10 %,
/// and a plain seasonal surprise in the negatives would look like a share rise (it was 5.8 points off here before
/// the totals took the negatives' smoothing; 0.9 now, from the recent-level factors' different shrinkage).
#[test]
fn both_streams_are_predicted_alike_so_the_baseline_share_holds() {
    let buckets = (0..5 * WEEK)
        .map(|i| {
            let day = i / DAY; // t0 is a Monday
            let hour = (i % DAY) / 12;
            let weekend = day % 7 >= 5;
            let plateau = if weekend { (12..20).contains(&hour) } else { (9..17).contains(&hour) };
            let total = match (weekend, plateau) {
                (false, true) => 50,
                (true, true) => 30,
                _ => 10,
            };
            Bucket { total, negative: total / 10 }
        })
        .collect();
    let series = BucketSeries { start: t0(), buckets };
    let cfg = DetectConfig::default();
    let mut detector = Detector::new("acme", &series, &cfg);
    // The last Sunday, 12:00 to 22:00.
    let sunday = 4 * WEEK + 6 * DAY;
    let mut worst: (f64, usize) = (0.0, 0);
    for end in (sunday + 12 * 12..=sunday + 22 * 12).step_by(3) {
        for s in detector.evaluate_at(end).scales {
            let off = (s.baseline_share - 0.1).abs();
            if off > worst.0 {
                worst = (off, end);
            }
        }
    }
    assert!(worst.0 < 0.02, "baseline share off by {:.4} at bucket {}", worst.0, worst.1);
}

/// The share test's volume posterior: an ordinary window keeps the tight prior (a crisis with the usual number of
/// other mentions is judged as before), a clear surge of other mentions is believed to be a campaign, so its
/// usual-share negatives are not a share rise even on a quiet brand.
#[test]
fn volume_posterior_table() {
    let threshold = Sensitivity::Balanced.share_threshold();
    // (negatives, expected negatives, other mentions, expected other, campaign weight range, fires)
    let table = [
        (8, 1.0, 3.0, 3.0, (0.0, 0.05), true),   // crisis on a quiet brand, ordinary volume
        (8, 1.0, 5.0, 3.0, (0.0, 0.05), true),   // crisis with two stray other mentions
        (7, 0.5, 6.0, 1.5, (0.15, 0.5), false),  // ×4 campaign on a quiet brand (the Gamma(4, 4) prior alone fired)
        (12, 2.0, 24.0, 6.0, (0.5, 0.9), false), // ×4 campaign, somewhat busier
        (60, 25.0, 400.0, 100.0, (0.9, 1.0), false), // busy brand's campaign: fully believed
    ];
    for (negatives, expected, other, expected_other, (lo, hi), fires) in table {
        let v = VolumePosterior::new(other, expected_other);
        let p = v.share_p_value(negatives, expected, 0.05);
        let case = format!("{negatives} negatives over {expected}, {other} other over {expected_other}");
        assert!((lo..=hi).contains(&v.campaign_weight), "{case}: campaign weight {}", v.campaign_weight);
        assert_eq!(p < threshold, fires, "{case}: share p {p:.2e}");
        assert!(v.factor() >= 1.0 && v.mean() <= v.campaign.max(v.ordinary), "{case}");
    }
    // What the ordinary prior alone said about the quiet brand's campaign: a share rise.
    assert!(neg_binomial_sf(7, 0.5 * volume_factor(6.0, 1.5), 0.05) < threshold);
}

/// A campaign that filled one weekday in a past week must not raise the expectation for that weekday in later
/// weeks: the day-of-week factor is the median week's from three weeks on.
#[test]
fn a_past_campaign_day_does_not_raise_the_same_weekday() {
    // Five weeks of a flat 6 negatives and 24 mentions an hour (two mentions in every five-minute bucket, one of
    // them negative in every other bucket); the evaluation is at noon of the fifth Thursday.
    let make = |campaign: bool| {
        let buckets = (0..4 * WEEK + 3 * DAY + DAY / 2)
            .map(|i| {
                let day = i / DAY; // t0 is a Monday; day 24 is the fourth Thursday
                let m = if campaign && day == 3 * 7 + 3 { 4 } else { 1 };
                Bucket { total: 2 * m, negative: (i % 2) as u32 * m }
            })
            .collect();
        BucketSeries { start: t0(), buckets }
    };
    let cfg = DetectConfig::default();
    let plain = run(&make(false), &cfg).main.expected;
    let after_campaign = run(&make(true), &cfg).main.expected;
    assert!(
        after_campaign < 1.1 * plain,
        "expected {after_campaign:.2} negatives after a campaign on the same weekday a week ago, {plain:.2} without"
    );
}
