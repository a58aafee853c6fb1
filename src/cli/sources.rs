//! `hearsay sources status|check|parse`: the poller's view of each source, printed.
//!
//! The data comes from `sources` (`poll::status`, `Poller::check`, `parse_payload`); this file only prints it and
//! decides the exit code.

use std::io::Write;
use std::path::PathBuf;

use chrono::DateTime;
use clap::{Args, Subcommand};

use super::{CmdResult, Failure, Globals};
use crate::config::Config;
use crate::sources::poll::{self, CheckOutcome, Health, Poller};
use crate::sources::{parse_payload, HtmlSelectors, ParseContext, Platform};
use crate::store::{Access, Store};

#[derive(Debug, Subcommand)]
pub enum SourcesCommand {
    /// Health of every (source, brand): last success, last error, next poll, items/day
    Status,
    /// Perform one real request per source and print what came back (stores nothing)
    Check {
        /// Only this source
        name: Option<String>,
    },
    /// Parse a saved response body and print one JSON record per mention (exit 65 when not understood)
    Parse(ParseArgs),
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// reddit, hackernews, mastodon, bluesky, lemmy, youtube, stackexchange, github, appstore, trustpilot, yelp, x, googleplay, google_business, threads, facebook_page, instagram, feed, html
    #[arg(long)]
    pub platform: String,
    /// The saved body, or - for stdin
    pub file: PathBuf,
    /// The Content-Type the server sent, for its charset
    #[arg(long)]
    pub content_type: Option<String>,
    /// Base URL for resolving relative links (html, feed)
    #[arg(long)]
    pub base_url: Option<String>,
    /// App Store country of the feed
    #[arg(long)]
    pub country: Option<String>,
    /// html: CSS selector of one item
    #[arg(long, default_value = "article")]
    pub item: String,
    /// html: CSS selector of the text inside an item
    #[arg(long, default_value = "p")]
    pub text: String,
}

pub fn sources_parse(a: &ParseArgs) -> CmdResult {
    let platform: Platform = a.platform.parse().map_err(|e| Failure::Usage(format!("--platform: {e}")))?;
    let body = if a.file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)?;
        v
    } else {
        std::fs::read(&a.file).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", a.file.display())))?
    };
    let ctx = ParseContext {
        base_url: a.base_url.clone(),
        country: a.country.clone(),
        html: Some(HtmlSelectors { item: a.item.clone(), text: a.text.clone(), ..HtmlSelectors::default() }),
        ..ParseContext::default()
    };
    let page =
        parse_payload(platform, &body, a.content_type.as_deref(), &ctx).map_err(|e| Failure::Data(e.to_string()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    super::write_json_lines(&mut out, &page.mentions)?;
    out.flush()?;
    if page.skipped > 0 {
        eprintln!("{} item(s) skipped (missing id or time)", page.skipped);
    }
    Ok(())
}

pub async fn sources(globals: &Globals, c: SourcesCommand) -> CmdResult {
    match c {
        SourcesCommand::Status => print_status(&globals.store(Access::Existing).await?).await,
        SourcesCommand::Check { name } => check(&globals.load_config()?, name.as_deref()).await,
        SourcesCommand::Parse(_) => unreachable!("handled before the runtime starts"),
    }
}

/// `hearsay sources status`: one line per (source, brand).
async fn print_status(store: &Store) -> CmdResult {
    let rows = poll::status(store).await?;
    if rows.is_empty() {
        println!("no source has been polled yet");
        return Ok(());
    }
    let fmt = |t: Option<i64>| {
        t.and_then(|t| DateTime::from_timestamp(t, 0))
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{:<16} {:<12} {:<10} {:<16} {:<16} {:>9}  last error",
        "source", "brand", "health", "last success", "next poll", "items/day"
    );
    for r in &rows {
        let s = &r.state;
        let health = match r.health {
            Health::Healthy => "ok",
            Health::Failing => "failing",
            Health::Degraded => "DEGRADED",
            Health::Quiet => "QUIET?",
        };
        println!(
            "{:<16} {:<12} {:<10} {:<16} {:<16} {:>9.1}  {}",
            s.source,
            s.brand,
            health,
            fmt(s.last_success_at),
            fmt(Some(s.next_poll_at)),
            r.items_per_day,
            s.last_error
                .as_deref()
                .map(|e| format!("{} ({})", e, s.last_error_class.as_deref().unwrap_or("?")))
                .unwrap_or_default()
        );
    }
    Ok(())
}

/// `hearsay sources check [NAME]`: one real request per source, nothing stored; exit 1 when any failed.
async fn check(config: &Config, only: Option<&str>) -> CmdResult {
    let poller = Poller::new(config).map_err(|e| Failure::Usage(format!("{e:#}")))?;
    let Some(report) = poller.check(only).await else { return Err(Failure::Usage("no brands configured".into())) };
    let mut failed = 0;
    for (name, outcome) in &report.sources {
        match outcome {
            CheckOutcome::NothingToRequest => println!("{name:<16} nothing to request (no feeds configured)"),
            CheckOutcome::Parsed { items, matching, newest } => println!(
                "{name:<16} ok: {items} items ({matching} match {}), newest: {}",
                report.brand,
                newest.map(|t| t.to_rfc3339()).unwrap_or_else(|| "-".into())
            ),
            CheckOutcome::Failed(e) => {
                failed += 1;
                println!("{name:<16} FAILED ({}): {}", e.class.as_str(), e.message);
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Runtime(anyhow::anyhow!("{failed} source(s) failed")));
    }
    Ok(())
}
