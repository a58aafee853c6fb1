//! `hearsay report`: the command around `crate::report`, which renders the page.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use clap::Args;

use super::{CmdResult, Failure, Globals};
use crate::report::{render, ReportOptions};
use crate::store::Access;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only this brand [default: every brand in the database]
    #[arg(long)]
    pub brand: Option<String>,
    /// Start of the period: a duration back from now (30d) or a time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_parser = super::parse_when, default_value = "30d")]
    pub since: DateTime<Utc>,
    /// The HTML file to write (`-` for standard output)
    #[arg(long, short)]
    pub output: PathBuf,
}

/// `hearsay report`.
pub async fn report(globals: &Globals, a: ReportArgs) -> CmdResult {
    let store = globals.store(Access::Existing).await?;
    let exclude_terms = match globals.optional_config() {
        Ok(Some(c)) => c.matchers().iter().flat_map(|m| m.search_terms()).collect(),
        _ => Vec::new(),
    };
    if let Some(b) = &a.brand {
        let known = store.brand_names().await?;
        if !known.iter().any(|k| k.eq_ignore_ascii_case(b)) {
            return Err(Failure::Usage(format!("no brand {b:?} in the database; known: {}", known.join(", "))));
        }
    }
    let opts = ReportOptions {
        brand: a.brand.clone(),
        since: a.since,
        until: Utc::now() + Duration::seconds(1),
        exclude_terms,
        terms_since: None,
    };
    let html = render(&store, &opts).await.map_err(Failure::Runtime)?;
    if a.output.as_os_str() == "-" {
        print!("{html}");
    } else {
        std::fs::write(&a.output, html)
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", a.output.display())))?;
        eprintln!("report written to {}", a.output.display());
    }
    Ok(())
}
