//! `hearsay alerts …` and `hearsay backtest`: the alert history, silences, a test email, and a replay of a history
//! through the detector.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use super::{write_json_lines, CmdResult, Failure, Globals};
use crate::alert::{chart, detect_config, email, lifecycle_config, send};
use crate::backtest::ExplainFilter;
use crate::duration::HumanDuration;
use crate::store::{Access, QueuedEmail};

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Recent alert events (firing, reminder, resolved) and active silences
    List {
        /// Every event, not just the last 20
        #[arg(long)]
        all: bool,
    },
    /// Stop notifications for a brand for a while (alerts are still recorded)
    Silence {
        #[arg(long)]
        brand: String,
        /// How long: 2h, 48h, 7d
        #[arg(long = "for", value_name = "DURATION")]
        duration: HumanDuration,
        #[arg(long)]
        comment: Option<String>,
    },
    /// End a silence early
    Unsilence {
        /// The id shown by `hearsay alerts list`
        id: i64,
    },
    /// Send a sample alert email through the configured `[smtp]` section (or the outbox directory)
    Test {
        /// Send to this address instead of [alerts] recipients
        #[arg(long)]
        to: Option<String>,
    },
}

pub async fn alerts(globals: &Globals, c: AlertsCommand) -> CmdResult {
    match c {
        AlertsCommand::List { all } => {
            let store = globals.store(Access::Existing).await?;
            let rows = store.alerts(if all { i64::MAX } else { 20 }).await?;
            let t = |ts: i64| {
                DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
            };
            if rows.is_empty() {
                println!("no alerts recorded");
            } else {
                println!("{:>6} {:<16} {:<16} {:<14} {:<9} summary", "id", "recorded (UTC)", "brand", "kind", "event");
            }
            for r in &rows {
                let d: serde_json::Value = serde_json::from_str(&r.details).unwrap_or_default();
                let summary = match (d["observed"].as_u64(), d["expected"].as_f64()) {
                    (Some(o), Some(e)) if r.kind != "source_down" => format!("{o} negative, usually {e:.1}"),
                    _ => d["platform"].as_str().map(|p| format!("source {p}")).unwrap_or_default(),
                };
                println!(
                    "{:>6} {:<16} {:<16} {:<14} {:<9} {}",
                    r.id,
                    t(r.recorded_at),
                    r.brand,
                    r.kind,
                    r.event,
                    summary
                );
            }
            let silences = store.active_silences(Utc::now()).await?;
            if !silences.is_empty() {
                println!("\nactive silences:");
                for s in silences {
                    println!("{:>6} {} until {} {}", s.id, s.brand, t(s.until), s.comment.unwrap_or_default());
                }
            }
            println!("\nemails waiting in the outbox: {}", store.outbox_backlog().await?);
            Ok(())
        }
        AlertsCommand::Silence { brand, duration, comment } => {
            let store = globals.store(Access::ReadWrite).await?;
            let until = Utc::now() + duration.as_chrono();
            let id = store.add_silence(&brand, until, comment.as_deref(), &super::users::actor()).await?;
            println!(
                "silence {id}: no alert emails for {brand} until {} (end it early: hearsay alerts unsilence {id})",
                until.format("%Y-%m-%d %H:%M UTC")
            );
            Ok(())
        }
        AlertsCommand::Unsilence { id } => {
            let store = globals.store(Access::ReadWrite).await?;
            if !store.remove_silence(id, &super::users::actor()).await? {
                return Err(Failure::Usage(format!("no silence with id {id}; see `hearsay alerts list`")));
            }
            println!("silence {id} ended");
            Ok(())
        }
        AlertsCommand::Test { to } => {
            let config = globals.load_config()?;
            let store = super::open_store(&config.storage.database, Access::ReadWrite).await?;
            let recipients = match to {
                Some(t) => vec![t],
                None if config.alerts.recipients.is_empty() => {
                    return Err(Failure::Usage("no recipients: give --to ADDR or set [alerts] recipients".into()))
                }
                None => config.alerts.recipients.clone(),
            };
            let email = sample_email(&send::from_address(&config), &recipients)?;
            store.queue_email(&email).await?;
            send::flush_outbox(&config, &store, Utc::now()).await?;
            let pending = store.due_emails(Utc::now() + chrono::Duration::days(1)).await?;
            if pending.iter().any(|r| r.message_id == email.message_id) {
                return Err(Failure::Runtime(anyhow::anyhow!("the test email could not be sent; it stays in the outbox and is retried by the daemon (see the log above)")));
            }
            match &config.smtp {
                Some(s) => println!("test email sent via {}:{} to {}", s.host, s.port, recipients.join(", ")),
                None => println!("no [smtp]: test email written to {}", config.storage.outbox_dir.display()),
            }
            Ok(())
        }
    }
}

/// A sample alert with made-up numbers, clearly marked as a test.
fn sample_email(from: &str, to: &[String]) -> Result<QueuedEmail, Failure> {
    use crate::detect::{AlertKind, Finding, Level, PlatformCount};
    let now = Utc::now();
    let finding = Finding {
        kind: AlertKind::NegativeSpike,
        brand: "Example".into(),
        level: Level::Firing,
        window_start: now - chrono::Duration::hours(1),
        window_end: now,
        observed: 38,
        expected: 4.2,
        p_value: 1e-12,
        ratio: 9.0,
        total: 61,
        expected_total: 30.0,
        negative_share: 0.62,
        baseline_share: 0.14,
        share_p_value: 1e-10,
        cold_start: false,
        top_platforms: vec![PlatformCount { platform: "reddit".into(), total: 30, negative: 22 }],
        platform: None,
        since: None,
    };
    let obs: Vec<f64> = (0..72).map(|h| if h > 69 { 30.0 } else { 3.0 + (h % 24) as f64 / 6.0 }).collect();
    let exp: Vec<f64> = (0..72).map(|h| 3.0 + (h % 24) as f64 / 6.0).collect();
    let ctx = email::AlertContext {
        brand: "Example (test email)",
        kind: AlertKind::NegativeSpike,
        event: "firing",
        finding: &finding,
        fired_at: now,
        window: std::time::Duration::from_secs(3600),
        examples: &[],
        top_terms: &[("test email".into(), 1)],
        hourly_observed: &obs,
        hourly_expected: &exp,
        console: None,
    };
    let id = email::message_id(&format!("hearsay-test-{}", now.timestamp_nanos_opt().unwrap_or_default()));
    let png = chart::render(&obs, &exp).ok();
    let message = email::compose(&ctx, from, to, &id, png).map_err(|e| Failure::Usage(format!("{e:#}")))?;
    Ok(QueuedEmail { message_id: id, recipients: to.to_vec(), subject: email::subject(&ctx), message })
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// JSON lines with at least brand, platform, created_at, sentiment
    #[arg(long)]
    pub input: PathBuf,
    /// Evaluate every STEP of simulated time
    #[arg(long, default_value = "5m")]
    pub step: HumanDuration,
    /// Also write every evaluation (each scanned window's statistics and which firing conditions it met) to
    /// FILE as JSON lines; narrow it down with --explain-brand/--explain-from/--explain-until
    #[arg(long, value_name = "FILE")]
    pub explain: Option<PathBuf>,
    /// Explain this brand only
    #[arg(long, value_name = "BRAND", requires = "explain")]
    pub explain_brand: Option<String>,
    /// Explain evaluations at or after this time (RFC 3339, e.g. 2025-02-25T12:00:00Z)
    #[arg(long, value_name = "TIME", requires = "explain")]
    pub explain_from: Option<DateTime<Utc>>,
    /// Explain evaluations at or before this time (RFC 3339)
    #[arg(long, value_name = "TIME", requires = "explain")]
    pub explain_until: Option<DateTime<Utc>>,
}

/// `hearsay backtest`: replay a JSONL history through the daemon's detector and lifecycle, print alert events;
/// with `--explain`, also write the evaluations the filter selects to that file as JSON lines.
pub async fn backtest(globals: &Globals, a: BacktestArgs) -> CmdResult {
    let input = &a.input;
    let alerts = globals.optional_config()?.map(|c| c.alerts).unwrap_or_default();
    let file =
        std::fs::File::open(input).map_err(|e| Failure::Usage(format!("cannot open {}: {e}", input.display())))?;
    let (records, errors) = crate::backtest::parse_jsonl(std::io::BufReader::new(file));
    for (line, e) in errors.iter().take(20) {
        eprintln!("{}:{line}: rejected: {e}", input.display());
    }
    let dcfg = detect_config(&alerts);
    let lcfg = lifecycle_config(&alerts);
    let mut explain_out = match a.explain {
        None => None,
        Some(path) => {
            let file = std::fs::File::create(&path)
                .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", path.display())))?;
            let filter = ExplainFilter { brand: a.explain_brand, from: a.explain_from, until: a.explain_until };
            Some((path, filter, std::io::BufWriter::new(file)))
        }
    };
    let mut write_error: Option<std::io::Error> = None;
    let events = match explain_out.as_mut() {
        None => crate::backtest::run(records, &dcfg, &lcfg, a.step.0),
        Some((_, filter, w)) => crate::backtest::run_explained(records, &dcfg, &lcfg, a.step.0, filter, &mut |x| {
            if write_error.is_none() {
                write_error = write_json_lines(w, [x]).err();
            }
        }),
    }
    .map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some((path, _, mut w)) = explain_out {
        if let Some(e) = write_error.or_else(|| w.flush().err()) {
            return Err(Failure::Data(format!("cannot write {}: {e}", path.display())));
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    write_json_lines(&mut out, &events)?;
    out.flush()?;
    if !errors.is_empty() {
        return Err(Failure::Data(format!("{} line(s) rejected", errors.len())));
    }
    Ok(())
}
