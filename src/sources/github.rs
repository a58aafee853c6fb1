//! GitHub REST `GET /search/issues`: issues and pull requests (a PR carries a `pull_request` key).
//!
//! Bodies are GitHub-flavoured markdown, kept as text. The `external_id` is the numeric `id`, which
//! is global across repositories. Paging is by the HTTP `Link` header, so `next_page` stays empty.
//! A plain array of issues (`/repos/{owner}/{repo}/issues`) is read too.

use serde_json::Value;

use super::{
    at, copy_metrics, i64_at, id_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError,
    ParsedPage, Platform,
};
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
