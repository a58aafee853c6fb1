//! Operating commands: `poll`, `classify`, `reclassify`, `export-training`, `sources …`, `backtest`, `demo`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CmdResult, Context, Failure};
use crate::sentiment::{self, Backend, LoadOptions};
use crate::store::Access;

#[derive(Debug, Args)]
pub struct PollArgs {
    /// Run one cycle, then exit (required: the long-running form is `hearsay run`)
    #[arg(long)]
    pub once: bool,
    /// Only this source (its `name`)
    #[arg(long)]
    pub source: Option<String>,
}

pub async fn poll(ctx: &Context, a: PollArgs) -> CmdResult {
    if !a.once {
        return Err(Failure::Usage("poll needs --once; to keep polling, run `hearsay run`".into()));
    }
    crate::daemon::poll_once(ctx.load_config()?, a.source.as_deref()).await
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    /// native, candle (cargo feature `candle`) or rust-bert (cargo feature `rust-bert`)
    #[arg(long, default_value = "native")]
    pub backend: Backend,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Model directory [default: [model] dir, $HEARSAY_MODEL_DIR, ./models/sentiment]
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The model for the other languages [default: sentiment-multilingual next to the model directory]
    #[arg(long, conflicts_with = "no_multilingual")]
    pub multilingual_model: Option<PathBuf>,
    /// Only the one model: texts in the languages it does not list get no label
    #[arg(long)]
    pub no_multilingual: bool,
    /// f32, int8 (native), f16 (candle) or bf16 (rust-bert) [default: int8 for native, f32 otherwise]
    #[arg(long)]
    pub precision: Option<sentiment::Precision>,
}

pub fn classify(a: &ClassifyArgs) -> CmdResult {
    let model = crate::config::ModelConfig {
        dir: Some(a.model.clone().unwrap_or_else(crate::config::default_model_dir)),
        multilingual_dir: if a.no_multilingual { Some(PathBuf::new()) } else { a.multilingual_model.clone() },
        ..Default::default()
    };
    let precision = a.precision.unwrap_or_else(|| a.backend.default_precision());
    let opts = LoadOptions { batch_size: a.batch_size.max(1), precision, ..LoadOptions::default() };
    let mut models =
        sentiment::load_models(&model.resolve_dir(), model.resolve_multilingual_dir().as_deref(), a.backend, &opts)
            .map_err(|e| Failure::Usage(e.to_string()))?;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let lang_of = |t: &str| crate::lang::detect(t).0;
    sentiment::run_classify(stdin, stdout, &mut models, &lang_of, a.batch_size.max(1))
        .map_err(|e| Failure::Runtime(e.into()))?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct ReclassifyArgs {
    /// Only mentions created since (24h, 30d, a date)
    #[arg(long, value_parser = super::parse_when)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn reclassify(ctx: &Context, a: ReclassifyArgs) -> CmdResult {
    let config = ctx.optional_config()?;
    let store = ctx.store(Access::Existing).await?;
    let langs = store.backfill_languages(a.since).await?;
    if langs > 0 {
        println!("{langs} mention(s) stored before languages were recorded now have one");
    }
    let queued = store.queue_reclassify(a.since).await?;
    let model = config.map(|c| c.model).unwrap_or_default();
    let n = crate::daemon::classify_pending(&store, &model).await?;
    println!("{n} mention(s) re-labelled ({queued} newly queued); manual overrides unchanged");
    Ok(())
}

#[derive(Debug, Args)]
pub struct ExportTrainingArgs {
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

pub async fn export_training(ctx: &Context, a: ExportTrainingArgs) -> CmdResult {
    let store = ctx.store(Access::Existing).await?;
    let rows = store.overrides().await?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| Failure::Usage(format!("cannot create {}: {e}", p.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    writeln!(out, "label\ttext")?;
    for (label, text) in &rows {
        writeln!(out, "{}\t{}", label.as_str(), text.split_whitespace().collect::<Vec<_>>().join(" "))?;
    }
    eprintln!("{} manual label(s) exported", rows.len());
    Ok(())
}

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
    /// reddit, hackernews, mastodon, bluesky, lemmy, youtube, stackexchange, github, appstore, trustpilot, yelp, feed, html
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
    use crate::sources::{parse_payload, HtmlSelectors, ParseContext, Platform};
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

pub async fn sources(ctx: &Context, c: SourcesCommand) -> CmdResult {
    match c {
        SourcesCommand::Status => crate::sources::poll::print_status(&ctx.store(Access::Existing).await?).await,
        SourcesCommand::Check { name } => crate::sources::poll::check(&ctx.load_config()?, name.as_deref()).await,
        SourcesCommand::Parse(_) => unreachable!("handled before the runtime starts"),
    }
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// JSON lines with at least brand, platform, created_at, sentiment
    #[arg(long)]
    pub input: PathBuf,
    /// Evaluate every STEP of simulated time
    #[arg(long, default_value = "5m")]
    pub step: crate::duration::HumanDuration,
    /// Also write every evaluation (each scanned window's statistics and which firing conditions it met) to
    /// FILE as JSON lines; narrow it down with --explain-brand/--explain-from/--explain-until
    #[arg(long, value_name = "FILE")]
    pub explain: Option<PathBuf>,
    /// Explain this brand only
    #[arg(long, value_name = "BRAND", requires = "explain")]
    pub explain_brand: Option<String>,
    /// Explain evaluations at or after this time (RFC 3339, e.g. 2025-02-25T12:00:00Z)
    #[arg(long, value_name = "TIME", requires = "explain")]
    pub explain_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Explain evaluations at or before this time (RFC 3339)
    #[arg(long, value_name = "TIME", requires = "explain")]
    pub explain_until: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn backtest(ctx: &Context, a: BacktestArgs) -> CmdResult {
    let explain = a.explain.map(|path| {
        let filter =
            crate::backtest::ExplainFilter { brand: a.explain_brand, from: a.explain_from, until: a.explain_until };
        (path, filter)
    });
    crate::alert::backtest_cli(ctx, &a.input, a.step, explain).await
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo database, outbox and report (reset when it exists)
    #[arg(long, default_value = "hearsay-demo")]
    pub dir: PathBuf,
    /// A shorter history (eight days instead of three weeks), for tests
    #[arg(long, hide = true)]
    pub quick: bool,
}

pub async fn demo(a: DemoArgs) -> CmdResult {
    crate::demo::main(&crate::demo::DemoOptions { dir: a.dir, quick: a.quick }).await
}
