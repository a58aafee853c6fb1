//! The command line: argument definitions (clap) and the dispatch from a [`Command`] to the code that runs it.
//!
//! One file per group of commands. Every command returns a [`CmdResult`], and [`Failure`] (`crate::exit`) carries
//! the exit code, so the mapping from outcome to exit status lives in one place:
//! 0 ok, 1 runtime failure, 2 usage or config error, 65 bad input data.

mod alerts;
mod check;
mod history;
// Public for its line parser (`import::parse_line`), which the fuzz targets (`fuzz/`, `tests/fuzz_mutations.rs`) call.
pub mod import;
mod ops;
mod report;
mod sources;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
pub use crate::exit::{open_store, CmdResult, Failure};
use crate::sentiment::Label;
use crate::store::{Access, Store};

/// hearsay: brand-reputation monitoring. Polls platforms for mentions of your brands, classifies their sentiment
/// locally, keeps the history in SQLite, and emails you when negative mentions spike.
#[derive(Debug, Parser)]
#[command(name = "hearsay", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Config file [default: $HEARSAY_CONFIG, then /etc/hearsay/hearsay.toml]
    #[arg(short, long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use this database file instead of the `[storage]` database (no config needed for queries)
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll sources, classify, detect spikes, send alerts (until SIGTERM)
    Run,
    /// Poll sources once, classify what arrived, evaluate alerts, then exit
    Poll(ops::PollArgs),
    /// Show stored mentions, newest first
    Mentions(history::MentionsArgs),
    /// Set a mention's sentiment by hand; wins over the model everywhere and is kept for retraining
    Relabel(history::RelabelArgs),
    /// Mentions per sentiment per hour or day, with a sparkline and the negative share
    Stats(history::StatsArgs),
    /// Write mentions as CSV or JSON lines
    Export(history::ExportArgs),
    /// Store mentions from a JSON-lines file (the `sources parse` record format), deduplicating
    Import(import::ImportArgs),
    /// Validate the config file and report every problem with its key path
    CheckConfig,
    /// Classify texts from stdin, one per line; writes one JSON object per line
    Classify(ops::ClassifyArgs),
    /// Re-label stored mentions with the current model (manual overrides are kept)
    Reclassify(ops::ReclassifyArgs),
    /// Write manual sentiment overrides as TSV (`label<TAB>text`) for fine-tuning
    ExportTraining(ops::ExportTrainingArgs),
    /// Inspect sources: parse a saved payload, show health
    #[command(subcommand)]
    Sources(sources::SourcesCommand),
    /// Alert events, silences, and a test email
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Replay a mention history through the spike detector and print alert events as JSON lines
    Backtest(alerts::BacktestArgs),
    /// Run the whole pipeline on a built-in fictional brand and show the alert it produces
    Demo(ops::DemoArgs),
    /// Write a self-contained HTML report: mentions and negative share per day, platforms, themes, alerts
    Report(report::ReportArgs),
    /// Accounts of the web console: add, passwd, remove, list
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Who changed what and when: relabels, silences, accounts (the audit log)
    Audit(users::AuditArgs),
    /// Print shell completions
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
}

/// Runs the parsed command line and returns the process exit code.
pub fn main(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "hearsay", &mut std::io::stdout());
            Ok(())
        }
        Command::Classify(ref a) => ops::classify(a),
        Command::Sources(sources::SourcesCommand::Parse(ref a)) => sources::sources_parse(a),
        _ => runtime().and_then(|rt| rt.block_on(dispatch(cli))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `hearsay mentions | head`: the reader went away, which is not an error of ours.
        Err(Failure::Runtime(e)) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(f) => {
            match &f {
                Failure::Runtime(e) => eprintln!("hearsay: error: {e:#}"),
                Failure::Usage(m) | Failure::Data(m) => eprintln!("hearsay: {m}"),
            }
            ExitCode::from(f.code())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>().and_then(|j| j.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

async fn dispatch(cli: Cli) -> CmdResult {
    let globals = Globals { config: cli.config, db: cli.db };
    match cli.command {
        Command::Run => crate::daemon::run(globals.load_config()?, Some(crate::console::pages())).await,
        Command::Poll(a) => ops::poll(&globals, a).await,
        Command::Mentions(a) => history::mentions(&globals, a).await,
        Command::Relabel(a) => history::relabel(&globals, a).await,
        Command::Stats(a) => history::stats(&globals, a).await,
        Command::Export(a) => history::export(&globals, a).await,
        Command::Import(a) => import::import(&globals, a).await,
        Command::CheckConfig => check::check_config(&globals).await,
        Command::Reclassify(a) => ops::reclassify(&globals, a).await,
        Command::ExportTraining(a) => ops::export_training(&globals, a).await,
        Command::Sources(c) => sources::sources(&globals, c).await,
        Command::Alerts(c) => alerts::alerts(&globals, c).await,
        Command::Backtest(a) => alerts::backtest(&globals, a).await,
        Command::Demo(a) => ops::demo(a).await,
        Command::Report(a) => report::report(&globals, a).await,
        Command::Users(c) => users::users(&globals, c).await,
        Command::Audit(a) => users::audit(&globals, a).await,
        Command::Completions { .. } | Command::Classify(_) => unreachable!("handled before the runtime starts"),
    }
}

/// The global options (`--config`, `--db`) and what they give every command: the config (loaded on demand) and
/// the database.
pub struct Globals {
    pub config: Option<PathBuf>,
    pub db: Option<PathBuf>,
}

impl Globals {
    /// The validated config, or a usage failure listing every problem.
    pub fn load_config(&self) -> Result<Config, Failure> {
        let path = Config::locate(self.config.as_deref());
        Config::load(&path).map_err(|e| Failure::Usage(e.to_string()))
    }

    /// The config if one was given or exists at the default places; `None` when none is to be found.
    pub fn optional_config(&self) -> Result<Option<Config>, Failure> {
        let path = Config::locate(self.config.as_deref());
        if self.config.is_none() && !path.exists() {
            return Ok(None);
        }
        self.load_config().map(Some)
    }

    /// Opens the database named by `--db`, else by the config.
    pub async fn store(&self, access: Access) -> Result<Store, Failure> {
        let path = match &self.db {
            Some(p) => p.clone(),
            None => match self.optional_config()? {
                Some(c) => c.storage.database,
                None => {
                    return Err(Failure::Usage(format!(
                        "no database: pass --db PATH, or --config FILE (none at {})",
                        crate::config::DEFAULT_PATH
                    )))
                }
            },
        };
        open_store(&path, access).await
    }
}

/// Filters shared by `mentions` and `export`.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only this brand
    #[arg(long)]
    pub brand: Option<String>,
    /// Only this platform (reddit, hackernews, …)
    #[arg(long)]
    pub platform: Option<String>,
    /// Only this sentiment (manual overrides win)
    #[arg(long, value_enum)]
    pub sentiment: Option<SentimentArg>,
    /// Since: a duration back from now (24h, 7d) or a time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_parser = parse_when)]
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive), same forms as --since
    #[arg(long, value_parser = parse_when)]
    pub until: Option<DateTime<Utc>>,
    /// Full-text search over title and text: words, "exact phrases", OR, NOT, prefix*
    #[arg(long)]
    pub search: Option<String>,
    /// Only mentions in this language (de, pt-BR: its primary subtag; und: too short to tell)
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<String>,
}

/// A `--lang` value: its primary subtag, lower-case, as `mentions.lang` stores it.
fn parse_lang(s: &str) -> Result<String, String> {
    if s.trim().eq_ignore_ascii_case(crate::lang::UNDETERMINED) {
        return Ok(crate::lang::UNDETERMINED.into());
    }
    crate::lang::normalise_tag(s)
        .ok_or_else(|| format!("`{s}` is not a language code; write e.g. `de`, `pt-BR` or `und`"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SentimentArg {
    Negative,
    Neutral,
    Positive,
}

impl From<SentimentArg> for Label {
    fn from(s: SentimentArg) -> Label {
        match s {
            SentimentArg::Negative => Label::Negative,
            SentimentArg::Neutral => Label::Neutral,
            SentimentArg::Positive => Label::Positive,
        }
    }
}

pub use crate::duration::parse_when;
pub use crate::store::write_json_lines;
