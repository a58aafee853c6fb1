//! Alerts: from detector findings to emails, exactly once.
//!
//! At every daemon cycle [`evaluate_and_notify`] builds each brand's five-minute series from the store, runs the
//! pure detector (`crate::detect`) and the pure lifecycle ([`lifecycle`]), and records the lifecycle state, the
//! alert events and their emails in **one transaction** per (brand, kind). [`send::flush_outbox`] then sends what is
//! due (SMTP, or `.eml` files when there is no `[smtp]`) and marks it sent; failures are retried with backoff.
//! Alert event keys and Message-IDs are derived from the episode, so a crash at any point neither loses an alert
//! nor queues it twice; the only window for a duplicate is a crash between the SMTP server's "250 OK" and the
//! `sent_at` update, and that duplicate carries the same Message-ID.

pub mod chart;
pub mod digest;
pub mod email;
pub mod lifecycle;
pub mod send;

use chrono::{DateTime, Duration as CDuration, Utc};

use crate::config::{AlertsConfig, Config};
use crate::detect::{
    self, AlertKind, BucketSeries, DetectConfig, DetectInput, PlatformCount, SourceHealth, BUCKET_SECS,
};
use crate::store::{EmailFor, NewAlert, QueuedEmail, Store};
use lifecycle::{AlertState, LifecycleConfig, QuietHours};

/// Detector settings from `[alerts]`.
pub fn detect_config(a: &AlertsConfig) -> DetectConfig {
    DetectConfig {
        window: a.window.0,
        sensitivity: a.sensitivity,
        min_count: a.min_count,
        min_ratio: a.min_ratio,
        volume_spike: a.volume_spike,
        source_down_after: a.source_down_after.0,
        ..DetectConfig::default()
    }
}

/// Lifecycle settings from `[alerts]`.
pub fn lifecycle_config(a: &AlertsConfig) -> LifecycleConfig {
    LifecycleConfig {
        group_wait: a.group_wait.0,
        repeat_interval: a.repeat_interval.0,
        notify_resolved: a.resolved_emails,
        quiet_hours: a.quiet_hours.as_deref().and_then(crate::config::parse_quiet_hours).map(|(s, e)| QuietHours {
            start_minute: s,
            end_minute: e,
            utc_offset_minutes: 0,
        }),
        ..LifecycleConfig::default()
    }
}

/// Hours of negatives shown in the email chart.
const CHART_HOURS: i64 = 72;

/// Evaluates every brand at `now`, records alert events with their emails, then flushes the outbox.
pub async fn evaluate_and_notify(config: &Config, store: &Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    let dcfg = detect_config(&config.alerts);
    let lcfg = lifecycle_config(&config.alerts);
    let silences = store.active_silences(now).await?;
    let health = source_health(store, now).await?;
    for brand in &config.brands {
        // The series starts where the brand's history does (at most `history_weeks` back): zeros before a new
        // brand's first mention would pass for weeks of quiet history, and its cold start would go unflagged.
        let history = CDuration::weeks(dcfg.history_weeks as i64) + CDuration::hours(2);
        let from = match store.brand_history_start(&brand.name).await? {
            Some(first) => first.max(now - history),
            None => now,
        };
        let rows = store.brand_buckets(&brand.name, from, now + CDuration::seconds(BUCKET_SECS), BUCKET_SECS).await?;
        let series = BucketSeries::from_rows(
            from,
            now,
            rows.iter().map(|(t, total, neg)| (t / BUCKET_SECS, *total as u32, *neg as u32)),
        );
        let recent = now - CDuration::from_std(dcfg.window * 2).unwrap_or(CDuration::hours(2));
        let platforms: Vec<PlatformCount> = store
            .platform_counts(&brand.name, recent, now + CDuration::seconds(1))
            .await?
            .into_iter()
            .map(|(platform, total, negative)| PlatformCount {
                platform,
                total: total as u32,
                negative: negative as u32,
            })
            .collect();
        let brand_health: Vec<SourceHealth> =
            health.iter().filter(|(b, _)| b == &brand.name).map(|(_, h)| h.clone()).collect();
        let eval = detect::evaluate(
            &DetectInput { brand: &brand.name, series: &series, now, platforms: &platforms, sources: &brand_health },
            &dcfg,
        );
        let silenced = silences.iter().any(|s| s.brand.eq_ignore_ascii_case(&brand.name));
        let mut kinds = vec![AlertKind::NegativeSpike, AlertKind::SourceDown];
        if dcfg.volume_spike {
            kinds.push(AlertKind::VolumeSpike);
        }
        let recipients: Vec<String> = config.alerts.recipients.iter().chain(&brand.recipients).cloned().collect();
        for kind in kinds {
            let mut state: AlertState = match store.alert_state(&brand.name, kind.as_str()).await? {
                Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
                    tracing::warn!(brand = %brand.name, kind = kind.as_str(), error = %e, "unreadable alert state; starting afresh");
                    AlertState::new(&brand.name, kind)
                }),
                None => AlertState::new(&brand.name, kind),
            };
            let before = serde_json::to_string(&state)?;
            let events = lifecycle::step(&mut state, eval.finding(kind), now, &lcfg, silenced);
            let after = serde_json::to_string(&state)?;
            if events.is_empty() && before == after {
                continue;
            }
            let mut records = Vec::new();
            for ev in &events {
                let Some(finding) = ev.finding.as_ref() else { continue };
                let email = if ev.notify && !recipients.is_empty() {
                    Some(build_email(config, store, &brand.name, ev, finding, &series, now, &dcfg).await?)
                } else {
                    None
                };
                if ev.notify && recipients.is_empty() {
                    tracing::warn!(brand = %brand.name, "alert fired but [alerts] recipients is empty: recorded, not emailed");
                }
                tracing::warn!(brand = %brand.name, kind = kind.as_str(), event = ev.event.as_str(), observed = finding.observed,
                    expected = finding.expected, notify = ev.notify, "alert");
                records.push((ev, finding, email));
            }
            let new_alerts: Vec<NewAlert<'_>> = records
                .into_iter()
                .map(|(ev, finding, email)| NewAlert {
                    brand: &brand.name,
                    kind: kind.as_str(),
                    event: ev.event.as_str(),
                    fired_at: ev.fired_at,
                    details: serde_json::to_value(finding).unwrap_or_default(),
                    event_key: &ev.idempotency_key,
                    email: email.map(|draft| {
                        Box::new(move |alert_id| draft.compose(alert_id).map_err(|e| format!("{e:#}"))) as EmailFor
                    }),
                })
                .collect();
            store.record_alert(&brand.name, kind.as_str(), &after, new_alerts).await?;
        }
    }
    if let Err(e) = digest::queue_due(config, store, now).await {
        tracing::error!(error = format!("{e:#}"), "daily digest");
    }
    // Outbox rows are stamped with the wall clock when recorded, which is a second or more after `now` when the
    // evaluation crossed a second boundary: flushing only up to `now` left a fresh alert for the next cycle
    // (a poll interval late in the daemon, never sent by `poll --once`).
    send::flush_outbox(config, store, now.max(chrono::Utc::now())).await
}

/// Per (brand, source health): the poller's view of each source, for `source_down` and backlog suppression.
async fn source_health(store: &Store, _now: DateTime<Utc>) -> anyhow::Result<Vec<(String, SourceHealth)>> {
    Ok(store
        .source_states()
        .await?
        .into_iter()
        .map(|s| {
            let recovered_at = match (s.degraded_since, s.last_success_at, s.last_error_at) {
                (None, Some(ok), Some(err)) if err < ok => DateTime::from_timestamp(ok, 0),
                _ => None,
            };
            (
                s.brand,
                SourceHealth {
                    platform: s.platform,
                    degraded_since: s.degraded_since.and_then(|t| DateTime::from_timestamp(t, 0)),
                    recovered_at,
                },
            )
        })
        .collect())
}

/// An alert email with everything gathered but the id of the alert's row, which its link to the alert's page
/// needs: the store gives it when it inserts the row, in the transaction that queues the email ([`EmailFor`]).
struct Draft {
    brand: String,
    event: &'static str,
    finding: detect::Finding,
    fired_at: DateTime<Utc>,
    window: std::time::Duration,
    examples: Vec<crate::store::Example>,
    top_terms: Vec<(String, usize)>,
    hourly_observed: Vec<f64>,
    hourly_expected: Vec<f64>,
    console: Option<email::ConsoleLinks>,
    chart_png: Option<Vec<u8>>,
    from: String,
    recipients: Vec<String>,
    message_id: String,
}

impl Draft {
    /// The complete message, linking to the page of alert `alert_id` when the console's address is known.
    fn compose(self, alert_id: i64) -> anyhow::Result<QueuedEmail> {
        let console = self.console.map(|c| c.for_alert(alert_id));
        let ctx = email::AlertContext {
            brand: &self.brand,
            kind: self.finding.kind,
            event: self.event,
            finding: &self.finding,
            fired_at: self.fired_at,
            window: self.window,
            examples: &self.examples,
            top_terms: &self.top_terms,
            hourly_observed: &self.hourly_observed,
            hourly_expected: &self.hourly_expected,
            console: console.as_ref(),
        };
        let message = email::compose(&ctx, &self.from, &self.recipients, &self.message_id, self.chart_png)?;
        let subject = email::subject(&ctx);
        Ok(QueuedEmail { message_id: self.message_id, recipients: self.recipients, subject, message })
    }
}

/// Gathers what an alert's email shows (examples, terms, the chart) from the store; [`Draft::compose`] writes it.
#[allow(clippy::too_many_arguments)]
async fn build_email(
    config: &Config,
    store: &Store,
    brand: &str,
    ev: &lifecycle::AlertEvent,
    finding: &detect::Finding,
    series: &BucketSeries,
    now: DateTime<Utc>,
    dcfg: &DetectConfig,
) -> anyhow::Result<Draft> {
    let examples = if finding.kind == AlertKind::SourceDown {
        Vec::new()
    } else {
        store.negative_examples(brand, finding.window_start, finding.window_end.max(now), 8).await?
    };
    let texts: Vec<&str> = examples.iter().map(|e| e.text.as_str()).collect();
    let query_terms: Vec<String> = config
        .brands
        .iter()
        .find(|b| b.name == brand)
        .map(|b| {
            b.name
                .split_whitespace()
                .map(str::to_string)
                .chain(b.matcher().map(|m| m.search_terms()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    let top_terms = email::top_terms(&texts, &query_terms, 8);
    let (observed, expected) = hourly(series, now, CHART_HOURS);
    let console = config
        .http
        .as_ref()
        .filter(|h| h.console)
        .and_then(|h| h.public_url.as_deref())
        .and_then(|u| email::ConsoleLinks::new(u, brand, finding.window_start, finding.window_end.max(now)));
    let chart_png = if finding.kind == AlertKind::SourceDown { None } else { chart::render(&observed, &expected).ok() };
    let recipients: Vec<String> = config
        .alerts
        .recipients
        .iter()
        .chain(config.brands.iter().filter(|b| b.name == brand).flat_map(|b| &b.recipients))
        .cloned()
        .collect();
    Ok(Draft {
        brand: brand.to_string(),
        event: ev.event.as_str(),
        finding: finding.clone(),
        fired_at: ev.fired_at,
        window: dcfg.window,
        examples,
        top_terms,
        hourly_observed: observed,
        hourly_expected: expected,
        console,
        chart_png,
        from: send::from_address(config),
        recipients,
        message_id: email::message_id(&ev.idempotency_key),
    })
}

/// Negatives per hour over the last `hours` hours, and the mean of the same hour-of-week over the four weeks
/// before: what the email chart draws.
pub fn hourly(series: &BucketSeries, now: DateTime<Utc>, hours: i64) -> (Vec<f64>, Vec<f64>) {
    let per_hour = (3600 / BUCKET_SECS) as usize;
    let end = ((now - series.start).num_seconds().max(0) / BUCKET_SECS) as usize + 1;
    let neg_in = |end_bucket: usize| -> f64 {
        let lo = end_bucket.saturating_sub(per_hour);
        series
            .buckets
            .get(lo..end_bucket.min(series.buckets.len()))
            .map_or(0.0, |b| b.iter().map(|x| x.negative as f64).sum())
    };
    let mut obs = Vec::new();
    let mut exp = Vec::new();
    for h in (0..hours as usize).rev() {
        let e = end.saturating_sub(h * per_hour);
        obs.push(neg_in(e));
        let week = 7 * 24 * per_hour;
        let past: Vec<f64> = (1..=4).filter(|w| e > w * week).map(|w| neg_in(e - w * week)).collect();
        exp.push(if past.is_empty() { 0.0 } else { past.iter().sum::<f64>() / past.len() as f64 });
    }
    (obs, exp)
}

/// What the email and digest tests share.
#[cfg(test)]
mod tests_support {
    use crate::link::fixtures::{HOSTILE, WEB};
    use crate::store::Example;

    /// One example mention per hostile link of [`crate::link::fixtures`], then one with a web link.
    pub(super) fn hostile_examples() -> Vec<Example> {
        HOSTILE
            .iter()
            .chain([&WEB.0])
            .enumerate()
            .map(|(i, url)| Example {
                id: i as i64,
                platform: "feed".into(),
                author: None,
                text: format!("Acme complaint {i}"),
                url: Some((*url).into()),
                created_at: 0,
                score: 1.0,
                terms: None,
                lang: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Code that builds a `LifecycleConfig` without a configuration file (tests, tools) gets what an empty
    /// `[alerts]` section gives.
    #[test]
    fn lifecycle_defaults_match_the_configuration_defaults() {
        assert_eq!(lifecycle_config(&crate::config::AlertsConfig::default()), LifecycleConfig::default());
    }
}
