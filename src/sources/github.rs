//! GitHub REST `GET /search/issues`: issues and pull requests (a PR carries a `pull_request` key).
//!
//! Bodies are GitHub-flavoured markdown, kept as text. The `external_id` is the numeric `id`, which
//! is global across repositories. Paging is by the HTTP `Link` header, so `next_page` stays empty.
//! A plain array of issues (`/repos/{owner}/{repo}/issues`) is read too.

use serde_json::Value;

use super::requests::{enc, or_query, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, i64_at, id_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError,
    ParsedPage, Platform,
};
use crate::config::sources::GitHubSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::collapse_whitespace;

const P: Platform = Platform::GitHub;

pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let items = match &root {
        Value::Array(items) => items,
        obj => match at(obj, &["items"]) {
            Some(Value::Array(items)) => items,
            _ => {
                let reason = match str_at(obj, &["message"]) {
                    Some(msg) => format!("error response: {msg}"),
                    None => "not a search response: no items array".to_string(),
                };
                return Err(ParseError::new(P, reason));
            }
        },
    };
    let mut page = ParsedPage::default();
    for it in items {
        match item(it) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    Ok(page)
}

fn item(it: &Value) -> Option<NewMention> {
    let id = id_at(it, &["id"])?;
    let created_at = time_at(it, &["created_at"])?;
    let mut m = mention(P, id, created_at, MentionKind::Post);
    m.url = string_at(it, &["html_url"]);
    m.author = string_at(it, &["user", "login"]);
    m.title = str_at(it, &["title"]).map(collapse_whitespace);
    m.text = str_at(it, &["body"]).map(collapse_whitespace).unwrap_or_default();
    copy_metrics(&mut m.metrics, it, &["comments"]);
    if let Some(n) = i64_at(it, &["reactions", "total_count"]) {
        m.metrics.insert("reactions".to_string(), n);
    }
    Some(m)
}

/// What to ask GitHub for one brand: one issue search for the whole query (it has OR) created since the cursor,
/// newest first, pages numbered from 1, with the token when one is configured.
pub(super) fn plan(s: &GitHubSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let created = since
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| format!(" created:>={}", t.format("%Y-%m-%dT%H:%M:%SZ")))
        .unwrap_or_default();
    let q = enc(&format!("{}{created}", or_query(terms)));
    let url = format!("{base}/search/issues?q={q}&sort=created&order=desc&per_page=100");
    RequestPlan {
        feeds: vec![Feed::new("issues".into(), url, Paging::Number { param: "page", first: 1 })],
        auth: Auth::Bearer,
    }
}
