//! The alert lifecycle: turns a stream of detector findings for one `(brand, kind)` into a few events worth
//! an email, Alertmanager-style.
//!
//! ```text
//!            finding (firing)            group_wait elapsed, still present
//! inactive ───────────────────▶ pending ───────────────────────────────────▶ firing ──┐ repeat_interval
//!    ▲                             │ gone                                     │  ▲    │ → Reminder
//!    └─────────────────────────────┘                                          │  └────┘
//!    ▲          clear for ≥ 2 evaluations and ≥ resolve_after                 │
//!    └──────────────────────────────────── Resolved ◀─────────────────────────┘
//! ```
//!
//! *Hysteresis*: an alert opens on a [`Level::Firing`] finding but stays open while the detector still reports
//! [`Level::Elevated`] (rate above the lower threshold); it resolves only after the condition has been fully
//! clear for two consecutive evaluations and for `resolve_after`. *Silences* (decided by the caller from
//! brand + until) and *quiet hours* never change the state, only whether an event notifies: a firing held back
//! by quiet hours is sent when they end if the alert is still open; a silenced one is never sent, and neither
//! is the resolution of an alert nobody was told about. Reminders are only produced when they would notify.
//!
//! Every event carries an idempotency key (`brand`, kind, `fired_at`, sequence number) that the outbox uses as
//! the email's Message-ID, so a crash between "decided" and "sent" never sends twice.
//!
//! Architecture Invariant: a pure function of the persisted [`AlertState`], the finding, `now` and the
//! configuration. It neither reads the clock nor touches the database; the daemon stores the state as JSON.

use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::detect::{AlertKind, Finding, Level};

/// Lifecycle settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleConfig {
    /// How long a new condition waits (and must persist) before the first email, to gather a burst into one.
    pub group_wait: Duration,
    /// How long the condition must have been clear before an alert resolves.
    pub resolve_after: Duration,
    /// Re-send an open alert this often.
    pub repeat_interval: Duration,
    /// Send an email when an alert resolves (only for alerts whose firing was sent).
    pub notify_resolved: bool,
    pub quiet_hours: Option<QuietHours>,
}

/// The same defaults as `[alerts]` in the configuration (`config::AlertsConfig`).
impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            group_wait: Duration::ZERO,
            resolve_after: Duration::from_secs(30 * 60),
            repeat_interval: Duration::from_secs(4 * 3600),
            notify_resolved: false,
            quiet_hours: None,
        }
    }
}

/// Local times during which notifications wait, e.g. 22:00–07:00 at UTC+1. `start == end` means never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Minutes after local midnight.
    pub start_minute: u32,
    pub end_minute: u32,
    /// Local time minus UTC, in minutes.
    pub utc_offset_minutes: i32,
}

impl QuietHours {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let utc = (t.hour() * 60 + t.minute()) as i32;
        let local = (utc + self.utc_offset_minutes).rem_euclid(24 * 60) as u32;
        let (s, e) = (self.start_minute % 1440, self.end_minute % 1440);
        if s <= e {
            s <= local && local < e
        } else {
            local >= s || local < e
        }
    }
}

/// Where one `(brand, kind)` alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Inactive,
    Pending { since: DateTime<Utc> },
    Firing,
}

/// The persisted state of one `(brand, kind)` alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub brand: String,
    pub kind: AlertKind,
    pub phase: Phase,
    /// When the open alert fired (the identity of the episode).
    pub fired_at: Option<DateTime<Utc>>,
    /// Events emitted in this episode; part of the idempotency key.
    pub seq: u32,
    /// Last time an event of this episode notified.
    pub last_notified_at: Option<DateTime<Utc>>,
    /// The firing notification was held back by quiet hours and is still owed.
    pub notify_owed: bool,
    pub clear_since: Option<DateTime<Utc>>,
    pub clear_evaluations: u32,
    /// The latest firing-level finding: what the emails describe.
    pub last_finding: Option<Finding>,
}

impl AlertState {
    pub fn new(brand: &str, kind: AlertKind) -> Self {
        AlertState {
            brand: brand.to_string(),
            kind,
            phase: Phase::Inactive,
            fired_at: None,
            seq: 0,
            last_notified_at: None,
            notify_owed: false,
            clear_since: None,
            clear_evaluations: 0,
            last_finding: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Firing,
    Reminder,
    Resolved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Firing => "firing",
            EventKind::Reminder => "reminder",
            EventKind::Resolved => "resolved",
        }
    }
}

/// Why an event does not notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    Silenced,
    QuietHours,
    /// Resolved notifications are off, or the firing was never sent.
    NotWanted,
}

/// Something that happened to an alert. The daemon records every event and emails those with `notify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub event: EventKind,
    pub brand: String,
    pub kind: AlertKind,
    pub at: DateTime<Utc>,
    pub fired_at: DateTime<Utc>,
    pub notify: bool,
    pub held: Option<Held>,
    /// Stable across retries: use as the email Message-ID local part.
    pub idempotency_key: String,
    pub finding: Option<Finding>,
}

/// Advances one alert by one evaluation. `finding` is the detector's finding of this alert's kind for this
/// brand (`None`: condition clear); `silenced` is whether a silence covers the brand at `now`.
pub fn step(
    state: &mut AlertState,
    finding: Option<&Finding>,
    now: DateTime<Utc>,
    cfg: &LifecycleConfig,
    silenced: bool,
) -> Vec<AlertEvent> {
    let mut events = Vec::new();
    let quiet = cfg.quiet_hours.is_some_and(|q| q.contains(now));
    let firing_finding = finding.filter(|f| f.level == Level::Firing);
    match state.phase {
        Phase::Inactive => {
            if let Some(f) = firing_finding {
                state.last_finding = Some(f.clone());
                state.phase = Phase::Pending { since: now };
                if cfg.group_wait.is_zero() {
                    fire(state, now, silenced, quiet, &mut events);
                }
            }
        }
        Phase::Pending { since } => match finding {
            None => {
                state.phase = Phase::Inactive;
                state.last_finding = None;
            }
            Some(f) => {
                if f.level == Level::Firing {
                    state.last_finding = Some(f.clone());
                }
                if now - since >= chrono_duration(cfg.group_wait) {
                    fire(state, now, silenced, quiet, &mut events);
                }
            }
        },
        Phase::Firing => match finding {
            Some(f) => {
                state.clear_since = None;
                state.clear_evaluations = 0;
                if f.level == Level::Firing {
                    state.last_finding = Some(f.clone());
                }
                let fired_at = state.fired_at.unwrap_or(now);
                if state.notify_owed && !quiet && !silenced {
                    state.notify_owed = false;
                    events.push(event(state, EventKind::Firing, now, fired_at, None));
                } else if !quiet && !silenced {
                    let last = state.last_notified_at.unwrap_or(fired_at);
                    if now - last >= chrono_duration(cfg.repeat_interval) {
                        events.push(event(state, EventKind::Reminder, now, fired_at, None));
                    }
                }
            }
            None => {
                state.clear_evaluations += 1;
                let clear_since = *state.clear_since.get_or_insert(now);
                if state.clear_evaluations >= 2 && now - clear_since >= chrono_duration(cfg.resolve_after) {
                    let fired_at = state.fired_at.unwrap_or(now);
                    let held = if silenced {
                        Some(Held::Silenced)
                    } else if !cfg.notify_resolved || state.last_notified_at.is_none() {
                        Some(Held::NotWanted)
                    } else if quiet {
                        Some(Held::QuietHours)
                    } else {
                        None
                    };
                    events.push(event(state, EventKind::Resolved, now, fired_at, held));
                    *state = AlertState::new(&state.brand, state.kind);
                }
            }
        },
    }
    events
}

fn fire(state: &mut AlertState, now: DateTime<Utc>, silenced: bool, quiet: bool, events: &mut Vec<AlertEvent>) {
    state.phase = Phase::Firing;
    state.fired_at = Some(now);
    state.seq = 0;
    state.last_notified_at = None;
    state.clear_since = None;
    state.clear_evaluations = 0;
    let held = if silenced {
        Some(Held::Silenced)
    } else if quiet {
        state.notify_owed = true;
        Some(Held::QuietHours)
    } else {
        None
    };
    events.push(event(state, EventKind::Firing, now, now, held));
}

fn event(
    state: &mut AlertState,
    kind: EventKind,
    now: DateTime<Utc>,
    fired_at: DateTime<Utc>,
    held: Option<Held>,
) -> AlertEvent {
    state.seq += 1;
    let notify = held.is_none();
    if notify {
        state.last_notified_at = Some(now);
    }
    AlertEvent {
        event: kind,
        brand: state.brand.clone(),
        kind: state.kind,
        at: now,
        fired_at,
        notify,
        held,
        idempotency_key: idempotency_key(&state.brand, state.kind, fired_at, state.seq),
        finding: state.last_finding.clone(),
    }
}

/// `hearsay.<brand>.<kind>.<fired_at unix>.<seq>`, with the brand reduced to characters valid in a
/// Message-ID local part (plus a length-independent checksum so distinct brands never collide).
pub fn idempotency_key(brand: &str, kind: AlertKind, fired_at: DateTime<Utc>, seq: u32) -> String {
    let clean: String = brand
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(40)
        .collect();
    // FNV-1a over the raw brand: two brands that clean to the same text still get different keys.
    let hash = brand.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("hearsay.{clean}-{:08x}.{}.{}.{seq}", hash as u32, kind.as_str(), fired_at.timestamp())
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 3, 12, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    fn finding(level: Level) -> Finding {
        Finding {
            kind: AlertKind::NegativeSpike,
            brand: "acme".into(),
            level,
            window_start: t(-60),
            window_end: t(0),
            observed: 20,
            expected: 2.0,
            p_value: 1e-9,
            ratio: 10.0,
            total: 40,
            expected_total: 20.0,
            negative_share: 0.5,
            baseline_share: 0.1,
            share_p_value: 1e-9,
            cold_start: false,
            top_platforms: Vec::new(),
            platform: None,
            since: None,
        }
    }

    /// What a replay emits: (minute, event, notify).
    type Emitted = Vec<(i64, EventKind, bool)>;

    /// Input per 5-minute evaluation: 'F' firing, 'e' elevated, '.' clear, 's' firing while silenced.
    fn replay(script: &str, cfg: &LifecycleConfig) -> Emitted {
        let mut state = AlertState::new("acme", AlertKind::NegativeSpike);
        let mut out = Vec::new();
        for (i, c) in script.chars().enumerate() {
            let now = t(5 * i as i64);
            let f = match c {
                'F' | 's' => Some(finding(Level::Firing)),
                'e' => Some(finding(Level::Elevated)),
                _ => None,
            };
            for e in step(&mut state, f.as_ref(), now, cfg, c == 's') {
                out.push((5 * i as i64, e.event, e.notify));
            }
            // The state survives a JSON round trip at every step, as it does in SQLite.
            let json = serde_json::to_string(&state).unwrap();
            state = serde_json::from_str(&json).unwrap();
        }
        out
    }

    #[test]
    fn lifecycle_table() {
        use EventKind::*;
        let base = LifecycleConfig { group_wait: Duration::from_secs(5 * 60), ..LifecycleConfig::default() };
        let no_wait = LifecycleConfig { group_wait: Duration::ZERO, ..base.clone() };
        let resolved_on = LifecycleConfig { notify_resolved: true, ..base.clone() };
        let cases: Vec<(&str, &str, &LifecycleConfig, Emitted)> = vec![
            ("blip shorter than group_wait", "F....", &base, vec![]),
            ("fires after group_wait", "FF", &base, vec![(5, Firing, true)]),
            ("group_wait zero fires at once", "F", &no_wait, vec![(0, Firing, true)]),
            ("elevated keeps pending alive", "Fe", &base, vec![(5, Firing, true)]),
            ("elevated alone never opens", "eeee", &base, vec![]),
            (
                "resolves after 30 min clear, silently by default",
                "FF.......",
                &base,
                vec![(5, Firing, true), (40, Resolved, false)],
            ),
            (
                "resolution notifies when enabled",
                "FF.......",
                &resolved_on,
                vec![(5, Firing, true), (40, Resolved, true)],
            ),
            (
                "hysteresis: elevated resets the clear clock",
                "FF.....e.......",
                &base,
                vec![(5, Firing, true), (70, Resolved, false)],
            ),
            ("silenced firing does not notify", "ss", &base, vec![(5, Firing, false)]),
            (
                "silenced alert's resolution is not sent",
                "ss.......",
                &resolved_on,
                vec![(5, Firing, false), (40, Resolved, false)],
            ),
        ];
        for (name, script, cfg, want) in cases {
            assert_eq!(replay(script, cfg), want, "{name}");
        }
    }

    #[test]
    fn reminders_every_repeat_interval() {
        let cfg = LifecycleConfig {
            group_wait: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(3600),
            ..Default::default()
        };
        let events = replay(&"F".repeat(30), &cfg);
        let kinds: Vec<_> = events.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(kinds, vec![(5, EventKind::Firing), (65, EventKind::Reminder), (125, EventKind::Reminder)]);
    }

    #[test]
    fn quiet_hours_defer_the_firing() {
        // Quiet 12:00–12:30 UTC: the firing at 12:05 is held and sent at 12:30.
        let cfg = LifecycleConfig {
            group_wait: Duration::from_secs(5 * 60),
            quiet_hours: Some(QuietHours { start_minute: 12 * 60, end_minute: 12 * 60 + 30, utc_offset_minutes: 0 }),
            ..Default::default()
        };
        let events = replay("FFFFFFFFF", &cfg);
        assert_eq!(events, vec![(5, EventKind::Firing, false), (30, EventKind::Firing, true)]);
        // Over midnight, with an offset: 22:00–07:00 at UTC+1 contains 05:30 UTC and not 07:30 UTC.
        let q = QuietHours { start_minute: 22 * 60, end_minute: 7 * 60, utc_offset_minutes: 60 };
        assert!(q.contains(Utc.with_ymd_and_hms(2025, 1, 1, 5, 30, 0).unwrap()));
        assert!(!q.contains(Utc.with_ymd_and_hms(2025, 1, 1, 7, 30, 0).unwrap()));
    }

    #[test]
    fn idempotency_keys_are_stable_and_distinct() {
        let mut state = AlertState::new("Acme Co.", AlertKind::NegativeSpike);
        let cfg = LifecycleConfig::default();
        let first = step(&mut state, Some(&finding(Level::Firing)), t(0), &cfg, false);
        let key = &first[0].idempotency_key;
        assert!(key.starts_with("hearsay.Acme-Co--"), "{key}");
        assert!(key.ends_with(&format!(".negative_spike.{}.1", t(0).timestamp())), "{key}");
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        assert_eq!(key, &idempotency_key("Acme Co.", AlertKind::NegativeSpike, t(0), 1));
        assert_ne!(key, &idempotency_key("Acme-Co.", AlertKind::NegativeSpike, t(0), 1));
        assert_eq!(first[0].finding.as_ref().unwrap().observed, 20);
    }
}
