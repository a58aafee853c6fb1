//! Querying the history: `mentions`, `relabel`, `stats`, `export`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{CmdResult, Failure, FilterArgs, Globals, SentimentArg};
use crate::sentiment::Label;
use crate::store::{write_csv, Access, LangStatsRow, LocationStatsRow, MentionFilter, MentionRow, StatsRow};

#[derive(Debug, Args)]
pub struct MentionsArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// At most this many mentions
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// table fits a terminal; json, jsonl and csv are stable formats for scripts
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct RelabelArgs {
    /// The mention id (first column of `hearsay mentions`)
    pub mention_id: i64,
    #[arg(value_enum)]
    pub sentiment: SentimentArg,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[arg(long)]
    pub brand: Option<String>,
    #[arg(long, value_enum, default_value_t = Bucket::Day)]
    pub by: Bucket,
    /// Since: 7d, 24h, or a date/time
    #[arg(long, value_parser = super::parse_when, default_value = "7d")]
    pub since: chrono::DateTime<chrono::Utc>,
    #[arg(long, value_enum, default_value_t = StatsFormat::Table)]
    pub format: StatsFormat,
}

/// What `hearsay stats` counts by: a time bucket, or the mentions' language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Bucket {
    Hour,
    Day,
    /// One row per language (ISO 639-1; "und": too short to tell)
    Lang,
    /// One row per place reviewed (Google Business locations), with the average star rating
    Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Write here instead of stdout
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    #[arg(long)]
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// The store's filter for these arguments. A `--search` that does not parse is a usage error naming its column,
/// found before the store is opened (the store would quietly match nothing).
fn filter(f: &FilterArgs, limit: Option<i64>) -> Result<MentionFilter, Failure> {
    if let Some(q) = &f.search {
        crate::store::fts_query(q).map_err(|e| Failure::Usage(format!("--search: {e}")))?;
    }
    Ok(MentionFilter {
        brand: f.brand.clone(),
        platform: f.platform.clone(),
        sentiment: f.sentiment.map(Label::from),
        since: f.since,
        until: f.until,
        search: f.search.clone(),
        lang: f.lang.clone(),
        limit,
        ..MentionFilter::default()
    })
}

pub async fn mentions(globals: &Globals, a: MentionsArgs) -> CmdResult {
    let filter = filter(&a.filter, Some(a.limit))?;
    let store = globals.store(Access::Existing).await?;
    let rows = store.mentions(&filter).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Table => write_table(&mut out, &rows, terminal_width())?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        Format::Jsonl => write_jsonl(&mut out, &rows)?,
        Format::Csv => write_csv(&mut out, &rows, false)?,
    }
    Ok(())
}

pub async fn export(globals: &Globals, a: ExportArgs) -> CmdResult {
    let filter = filter(&a.filter, a.limit)?;
    let store = globals.store(Access::Existing).await?;
    let rows = store.mentions(&filter).await?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| Failure::Usage(format!("cannot create {}: {e}", p.display())))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match a.format {
        ExportFormat::Csv => write_csv(&mut out, &rows, false)?,
        ExportFormat::Jsonl => write_jsonl(&mut out, &rows)?,
    }
    out.flush()?;
    if let Some(p) = &a.output {
        eprintln!("wrote {} mentions to {}", rows.len(), p.display());
    }
    Ok(())
}

pub async fn relabel(globals: &Globals, a: RelabelArgs) -> CmdResult {
    let store = globals.store(Access::Existing).await?;
    let label = Label::from(a.sentiment);
    if !store.relabel(a.mention_id, label, &super::users::actor()).await? {
        return Err(Failure::Usage(format!("no mention with id {}; see `hearsay mentions`", a.mention_id)));
    }
    println!("mention {} is now {} (manual override)", a.mention_id, label.as_str());
    Ok(())
}

pub async fn stats(globals: &Globals, a: StatsArgs) -> CmdResult {
    let store = globals.store(Access::Existing).await?;
    let f = MentionFilter { brand: a.brand.clone(), since: Some(a.since), ..Default::default() };
    let secs = match a.by {
        Bucket::Hour => 3600,
        Bucket::Day => 86_400,
        Bucket::Lang => {
            let rows = store.stats_by_lang(&f).await?;
            let mut out = std::io::stdout().lock();
            match a.format {
                StatsFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
                StatsFormat::Table => write_lang_stats(&mut out, &rows)?,
            }
            return Ok(());
        }
        Bucket::Location => {
            let rows = store.stats_by_location(&f).await?;
            let mut out = std::io::stdout().lock();
            match a.format {
                StatsFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
                StatsFormat::Table => write_location_stats(&mut out, &rows)?,
            }
            return Ok(());
        }
    };
    let rows = store.stats(&f, secs).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        StatsFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
        StatsFormat::Table => write_stats(&mut out, &rows, a.by)?,
    }
    Ok(())
}

fn write_stats(out: &mut impl Write, rows: &[StatsRow], by: Bucket) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no mentions in this period");
    }
    let fmt = if by == Bucket::Hour { "%Y-%m-%d %H:00" } else { "%Y-%m-%d" };
    writeln!(
        out,
        "{:<16} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "bucket", "negative", "neutral", "positive", "pending", "neg%"
    )?;
    let (mut n, mut u, mut p, mut q) = (0, 0, 0, 0);
    for r in rows {
        let total = r.negative + r.neutral + r.positive;
        writeln!(
            out,
            "{:<16} {:>8} {:>8} {:>8} {:>8} {:>6}",
            r.bucket_start.format(fmt),
            r.negative,
            r.neutral,
            r.positive,
            r.unclassified,
            share(r.negative, total)
        )?;
        (n, u, p, q) = (n + r.negative, u + r.neutral, p + r.positive, q + r.unclassified);
    }
    writeln!(out, "{:<16} {:>8} {:>8} {:>8} {:>8} {:>6}", "total", n, u, p, q, share(n, n + u + p))?;
    let totals: Vec<i64> = rows.iter().map(|r| r.negative + r.neutral + r.positive + r.unclassified).collect();
    let negs: Vec<i64> = rows.iter().map(|r| r.negative).collect();
    writeln!(out, "\nall       {}", sparkline(&totals))?;
    writeln!(out, "negative  {}", sparkline(&negs))
}

fn write_lang_stats(out: &mut impl Write, rows: &[LangStatsRow]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no mentions in this period");
    }
    writeln!(
        out,
        "{:<8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "lang", "negative", "neutral", "positive", "pending", "no model", "neg%"
    )?;
    let (mut n, mut u, mut p, mut q, mut x) = (0, 0, 0, 0, 0);
    for r in rows {
        writeln!(
            out,
            "{:<8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
            r.lang.as_deref().unwrap_or("-"),
            r.negative,
            r.neutral,
            r.positive,
            r.unclassified,
            r.uncovered,
            share(r.negative, r.negative + r.neutral + r.positive)
        )?;
        (n, u, p, q, x) = (n + r.negative, u + r.neutral, p + r.positive, q + r.unclassified, x + r.uncovered);
    }
    writeln!(out, "{:<8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}", "total", n, u, p, q, x, share(n, n + u + p))
}

fn write_location_stats(out: &mut impl Write, rows: &[LocationStatsRow]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no reviews of a location in this period");
    }
    let width = rows.iter().map(|r| r.location.chars().count()).max().unwrap_or(0).clamp(8, 40);
    writeln!(
        out,
        "{:<width$} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "location", "negative", "neutral", "positive", "pending", "neg%", "stars"
    )?;
    for r in rows {
        let name: String = r.location.chars().take(width).collect();
        writeln!(
            out,
            "{name:<width$} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6}",
            r.negative,
            r.neutral,
            r.positive,
            r.unclassified,
            share(r.negative, r.negative + r.neutral + r.positive),
            r.rating.map(|s| format!("{s:.2}")).unwrap_or_else(|| "-".into())
        )?;
    }
    Ok(())
}

fn share(part: i64, total: i64) -> String {
    if total == 0 {
        "-".into()
    } else {
        format!("{:.1}", 100.0 * part as f64 / total as f64)
    }
}

/// ▁▂▃▄▅▆▇█ scaled to the largest value; zero is a space so quiet periods stand out.
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    values
        .iter()
        .map(|&v| if v <= 0 { ' ' } else { BARS[(((v as f64 / max) * 7.0).round() as usize).min(7)] })
        .collect()
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|w| *w >= 60).unwrap_or(120)
}

fn write_table(out: &mut impl Write, rows: &[MentionRow], width: usize) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no mentions match");
    }
    // id, time, brand, platform, language, sentiment, author are fixed; the text takes what is left.
    let fixed = 8 + 1 + 16 + 1 + 10 + 1 + 10 + 1 + 4 + 1 + 9 + 1 + 12 + 1;
    let text_w = width.saturating_sub(fixed).max(1);
    writeln!(
        out,
        "{:>8} {:<16} {:<10} {:<10} {:<4} {:<9} {:<12} text",
        "id", "created (UTC)", "brand", "platform", "lang", "sentiment", "author"
    )?;
    for r in rows {
        let sentiment = match (r.sentiment, r.overridden) {
            (Some(l), true) => format!("{}*", l.as_str()),
            (Some(l), false) => l.as_str().to_string(),
            (None, _) => match uncovered_lang(r) {
                Some(lang) => format!("none:{lang}"),
                None => "pending".into(),
            },
        };
        let text = match &r.title {
            Some(t) if !t.is_empty() => format!("{t} — {}", r.text),
            _ => r.text.clone(),
        };
        writeln!(
            out,
            "{:>8} {:<16} {:<10} {:<10} {:<4} {:<9} {:<12} {}",
            r.id,
            r.created_at.format("%Y-%m-%d %H:%M"),
            clip(&r.brand, 10),
            clip(&r.platform, 10),
            clip(r.lang.as_deref().unwrap_or("-"), 4),
            sentiment,
            clip(r.author.as_deref().unwrap_or("-"), 12),
            clip(&text.replace(['\n', '\r', '\t'], " "), text_w)
        )?;
    }
    if rows.iter().any(|r| r.overridden) {
        writeln!(out, "(* = manual override)")?;
    }
    if rows.iter().any(|r| r.sentiment.is_none() && uncovered_lang(r).is_some()) {
        writeln!(out, "(none:xx = no sentiment model covers language xx; see README \"Sentiment\")")?;
    }
    Ok(())
}

/// The language of a mention that no sentiment model covers (`model_version` = `uncovered:<lang>`).
fn uncovered_lang(r: &MentionRow) -> Option<&str> {
    r.model_version.as_deref()?.strip_prefix(crate::sentiment::UNCOVERED_PREFIX)
}

/// Cuts to `n` characters with an ellipsis, never inside a UTF-8 sequence.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

fn write_jsonl(out: &mut impl Write, rows: &[MentionRow]) -> anyhow::Result<()> {
    Ok(super::write_json_lines(out, rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_marks_zero() {
        assert_eq!(sparkline(&[0, 1, 4, 8]), " ▂▅█");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo wörld", 6), "héllo…");
        assert_eq!(clip("短い", 5), "短い");
    }
}
