//! Operating commands: `poll`, `classify`, `reclassify`, `export-training`, `demo`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Failure, Globals};
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

pub async fn poll(globals: &Globals, a: PollArgs) -> CmdResult {
    if !a.once {
        return Err(Failure::Usage("poll needs --once; to keep polling, run `hearsay run`".into()));
    }
    crate::daemon::poll_once(globals.load_config()?, a.source.as_deref()).await
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

pub async fn reclassify(globals: &Globals, a: ReclassifyArgs) -> CmdResult {
    let config = globals.optional_config()?;
    let store = globals.store(Access::Existing).await?;
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

pub async fn export_training(globals: &Globals, a: ExportTrainingArgs) -> CmdResult {
    let store = globals.store(Access::Existing).await?;
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

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder for the demo database, outbox and report (reset when it exists)
    #[arg(long, default_value = "hearsay-demo")]
    pub dir: PathBuf,
    /// A shorter history (eight days instead of three weeks), for tests
    #[arg(long, hide = true)]
    pub quick: bool,
    /// Then serve the web console on the demo's database until Ctrl-C (at ADDR, default 127.0.0.1:9464), with an
    /// account made for it
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9464")]
    pub serve: Option<String>,
}

pub async fn demo(a: DemoArgs) -> CmdResult {
    crate::demo::main(&crate::demo::DemoOptions { dir: a.dir, quick: a.quick, serve: a.serve }).await
}
