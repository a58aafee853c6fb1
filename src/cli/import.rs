//! `hearsay import FILE.jsonl|-`: bring mentions in from JSON lines (our record format, or another tool's export
//! converted to it), deduplicating, in batched transactions.
//!
//! A bad line is rejected with its line number and reason and the import goes on. A batch is acknowledged
//! (counted as stored) only once its transaction has committed, so SIGTERM / Ctrl-C mid-import stops after the
//! batch in hand and loses nothing already acknowledged.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use clap::Args;

use super::{CmdResult, Failure, Globals};
use crate::mention::NewMention;
use crate::query::{BrandMatcher, Candidate, MatchText};
use crate::sentiment::Label;
use crate::store::{Access, BrandMatch, GivenSentiment, IngestItem, IngestReport, Store, StoreError};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON-lines file, or - for stdin
    pub file: PathBuf,
    /// Mentions per transaction: the bigger, the fewer times each index page is written again (a 1M import
    /// runs 1.3x faster at 50,000 than at 5,000, and about 1.15x faster again at 200,000). A transaction holds
    /// the write lock, and a running daemon waits at most 5 s for it: keep the default beside a daemon
    #[arg(long, default_value_t = 50_000)]
    pub batch: usize,
    /// Leave mentions without a given sentiment queued for the daemon instead of classifying them now
    #[arg(long)]
    pub no_classify: bool,
    /// At most this many rejected lines are printed (all are counted)
    #[arg(long, default_value_t = 20)]
    pub max_errors_shown: usize,
    /// SQLite page cache for the import, in MiB: the indexes' pages that stay cached are not written again
    /// by every batch (allocated as used, so a small import stays small)
    #[arg(long, default_value_t = 512, value_name = "MIB")]
    pub cache_mib: i64,
}

/// The model version recorded for labels that came with the imported data.
pub const IMPORTED_LABEL_VERSION: &str = "imported";

/// One parsed input line, or why it was rejected.
pub fn parse_line(line: &str, matchers: &[BrandMatcher]) -> Result<IngestItem, String> {
    let mut obj: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(line) {
        Ok(serde_json::Value::Object(o)) => o,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("invalid JSON: {e}")),
    };
    let brand = match obj.remove("brand") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(_) => return Err("\"brand\" must be a non-empty string".into()),
    };
    let sentiment = match obj.remove("sentiment") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => {
            Some(s.parse::<Label>().map_err(|_| format!("\"sentiment\" {s:?} is not negative, neutral or positive"))?)
        }
        Some(_) => return Err("\"sentiment\" must be a string".into()),
    };
    obj.entry("kind").or_insert_with(|| "post".into());
    let mention: NewMention = serde_json::from_value(serde_json::Value::Object(obj)).map_err(|e| e.to_string())?;
    if mention.platform.trim().is_empty() || mention.external_id.trim().is_empty() {
        return Err("\"platform\" and \"external_id\" must not be empty".into());
    }
    if mention.rating.is_some_and(|r| !(1..=5).contains(&r)) {
        return Err("\"rating\" must be between 1 and 5".into());
    }
    // The language first: the brands' `languages` filter on it, and it is stored with the mention.
    let lang = crate::lang::of_mention(&mention);
    let brands = match brand {
        Some(b) => vec![BrandMatch { brand: b, terms: Vec::new() }],
        None if matchers.is_empty() => {
            return Err("no \"brand\" given, and no config with [[brands]] to match it against".into())
        }
        None => {
            let text = MatchText::new(mention.title.as_deref(), &mention.text);
            let cand = Candidate {
                text: &text,
                author: mention.author.as_deref(),
                url: mention.url.as_deref(),
                lang: Some(&lang.code),
            };
            let found: Vec<BrandMatch> = matchers
                .iter()
                .filter_map(|m| m.matches(&cand).map(|hit| BrandMatch { brand: m.name.clone(), terms: hit.terms }))
                .collect();
            if found.is_empty() {
                return Err("matches no configured brand query".into());
            }
            found
        }
    };
    // A record's own label wins; a rating without words gives one (as the poller does); else the model's.
    let sentiment = sentiment
        .map(|label| GivenSentiment { label, scores: None, model_version: IMPORTED_LABEL_VERSION.into() })
        .or_else(|| GivenSentiment::from_stars(&mention));
    Ok(IngestItem { derived: None, mention, source: None, brands, lang: Some(lang), sentiment }.derive())
}

pub async fn import(globals: &Globals, a: ImportArgs) -> CmdResult {
    let config = globals.optional_config()?;
    let matchers = config.as_ref().map(|c| c.matchers()).unwrap_or_default();
    let store = globals.store(Access::ReadWrite).await?;
    store.prepare_bulk_import(a.cache_mib).await?;
    let input: Box<dyn Read + Send> = if a.file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&a.file)
                .map_err(|e| Failure::Usage(format!("cannot open {}: {e}", a.file.display())))?,
        )
    };

    // Lines are read and parsed on a blocking thread; batches come back over a channel of depth 2, so reading
    // the next batch overlaps with writing the last.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(2);
    let batch_size = a.batch.max(1);
    let reader = tokio::task::spawn_blocking(move || read_batches(input, &matchers, batch_size, &tx));

    let mut report = IngestReport::default();
    let mut rejected = 0u64;
    let mut shown = 0usize;
    let mut interrupted = false;
    let mut lines_done = 0u64;
    let mut shutdown = std::pin::pin!(crate::daemon::shutdown_signal()?);
    let mut checkpoints = Checkpoints::new(&store);
    loop {
        let batch = tokio::select! {
            b = rx.recv() => match b { Some(b) => b, None => break },
            _ = &mut shutdown => { interrupted = true; break; }
        };
        for (line_no, reason) in &batch.errors {
            rejected += 1;
            if shown < a.max_errors_shown {
                eprintln!("{}:{line_no}: rejected: {reason}", a.file.display());
                shown += 1;
            }
        }
        report += store.ingest(&batch.items).await?;
        lines_done = batch.last_line;
        // Freeing 50,000 mentions' strings takes a while; not on the writer's thread.
        tokio::task::spawn_blocking(move || drop(batch));
        checkpoints.after_batch().await;
    }
    drop(rx);
    let read_result = if interrupted { Ok(()) } else { reader.await.map_err(anyhow::Error::from)? };

    let mut classified = 0usize;
    if !interrupted && !a.no_classify && store.unclassified_count().await? > 0 {
        let model = config.as_ref().map(|c| c.model.clone()).unwrap_or_default();
        match crate::daemon::classify_pending(&store, &model).await {
            Ok(n) => classified = n,
            Err(e) => eprintln!("note: mentions stay queued for classification: {e:#}"),
        }
    }
    let pending = store.unclassified_count().await?;
    // The last checkpoint runs to the end here (`close`), not left to whoever opens the database next.
    checkpoints.finish().await;
    store.close().await;
    println!(
        "{} inserted, {} duplicate, {} rejected{}{}",
        report.inserted,
        report.duplicate,
        rejected,
        if classified > 0 { format!(", {classified} classified") } else { String::new() },
        if pending > 0 { format!(", {pending} awaiting classification") } else { String::new() },
    );
    if interrupted {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "interrupted: stopped after line {lines_done}; everything before it is stored, run the import again to finish (duplicates are skipped)"
        )));
    }
    read_result.map_err(|e| Failure::Data(format!("{}: {e}", a.file.display())))?;
    if rejected > 0 {
        return Err(Failure::Data(format!("{rejected} line(s) rejected; the others were stored")));
    }
    Ok(())
}

/// WAL pages (4 KiB each) past which the import waits for a checkpoint to copy everything, so that the next
/// batch starts the WAL over instead of making it longer.
const WAL_RESTART_PAGES: i64 = 65_536;

/// The import's checkpoints (the writer makes none of its own, `Store::prepare_bulk_import`): after each batch
/// one runs on another connection (and core) while the next batch is written. The WAL can only start over
/// at a transaction that finds it wholly copied, which never happens while checkpoints only run beside the
/// writer, so once it is longer than `WAL_RESTART_PAGES` the import waits for one to finish.
struct Checkpoints {
    store: Store,
    running: Option<tokio::task::JoinHandle<Result<i64, StoreError>>>,
    wal_pages: i64,
}

impl Checkpoints {
    fn new(store: &Store) -> Checkpoints {
        Checkpoints { store: store.clone(), running: None, wal_pages: 0 }
    }

    async fn after_batch(&mut self) {
        let restart = self.wal_pages > WAL_RESTART_PAGES;
        if let Some(c) = self.running.take_if(|c| restart || c.is_finished()) {
            self.note(c.await);
        }
        if self.running.is_none() {
            let store = self.store.clone();
            let c = tokio::spawn(async move { store.checkpoint().await });
            if restart {
                self.note(c.await);
                self.wal_pages = 0;
            } else {
                self.running = Some(c);
            }
        }
    }

    fn note(&mut self, r: Result<Result<i64, StoreError>, tokio::task::JoinError>) {
        match r {
            Ok(Ok(pages)) => self.wal_pages = pages,
            // The next one (or `close`) copies what this one did not; nothing is lost.
            Ok(Err(e)) => tracing::warn!("checkpoint during import failed: {e}"),
            Err(e) => tracing::warn!("checkpoint during import failed: {e}"),
        }
    }

    async fn finish(mut self) {
        if let Some(c) = self.running.take() {
            let r = c.await;
            self.note(r);
        }
    }
}

struct Batch {
    items: Vec<IngestItem>,
    errors: Vec<(u64, String)>,
    last_line: u64,
}

fn read_batches(
    input: Box<dyn Read + Send>,
    matchers: &[BrandMatcher],
    batch_size: usize,
    tx: &tokio::sync::mpsc::Sender<Batch>,
) -> Result<(), String> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut batch = Batch { items: Vec::with_capacity(batch_size), errors: Vec::new(), last_line: 0 };
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| format!("read error after line {line_no}: {e}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match std::str::from_utf8(raw) {
            Err(e) => batch.errors.push((line_no, format!("invalid UTF-8 at byte {}", e.valid_up_to()))),
            Ok(line) => match parse_line(line, matchers) {
                Ok(item) => batch.items.push(item),
                Err(reason) => batch.errors.push((line_no, reason)),
            },
        }
        if batch.items.len() >= batch_size {
            batch.last_line = line_no;
            let full = std::mem::replace(
                &mut batch,
                Batch { items: Vec::with_capacity(batch_size), errors: Vec::new(), last_line: 0 },
            );
            if tx.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    batch.last_line = line_no;
    let _ = tx.blocking_send(batch);
    Ok(())
}
