//! Hacker News through the Algolia search API (`/api/v1/search_by_date`): stories and comments.
//!
//! Comment and story bodies are HTML (`<p>`, `&#x27;`); titles are plain text. The mention's `url` is
//! the HN item page, since that is where the mention lives (a story's own `url` is the article it
//! links to).

use serde_json::Value;

use super::requests::{each_term, enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, i64_at, id_at, mention, parse_json, str_at, string_at, time_at, unix_at, ParseContext,
    ParseError, ParsedPage, Platform,
};
use crate::config::sources::HackerNewsSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{html_to_text, plain_text};

const P: Platform = Platform::HackerNews;

/// Parses a search response. `next_page` is the next Algolia `page` number while `page < nbPages`
/// (`hints.has_more` says the same for the poller's page-number paging).
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(Value::Array(hits)) = at(&root, &["hits"]) else {
        let reason = match str_at(&root, &["message"]) {
            Some(msg) => format!("error response: {msg}"),
            None => "not an Algolia search response: no hits array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    };
    let mut page = ParsedPage::default();
    for hit in hits {
        match item(hit) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    if let (Some(n), Some(pages)) = (i64_at(&root, &["page"]), i64_at(&root, &["nbPages"])) {
        let more = n.saturating_add(1) < pages;
        page.hints.has_more = Some(more);
        if more {
            page.next_page = Some((n + 1).to_string());
        }
    }
    Ok(page)
}

fn item(hit: &Value) -> Option<NewMention> {
    let id = id_at(hit, &["objectID"])?;
    let created_at = unix_at(hit, &["created_at_i"]).or_else(|| time_at(hit, &["created_at"]))?;
    let is_comment = str_at(hit, &["comment_text"]).is_some()
        || at(hit, &["_tags"])
            .and_then(Value::as_array)
            .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some("comment")));
    let kind = if is_comment { MentionKind::Comment } else { MentionKind::Post };
    let mut m = mention(P, id.clone(), created_at, kind);
    m.url = Some(format!("https://news.ycombinator.com/item?id={id}"));
    m.author = string_at(hit, &["author"]);
    m.title = str_at(hit, &["title"]).map(plain_text);
    let body = if is_comment { str_at(hit, &["comment_text"]) } else { str_at(hit, &["story_text"]) };
    m.text = body.map(html_to_text).unwrap_or_default();
    if is_comment {
        m.parent_id = id_at(hit, &["parent_id"]).or_else(|| id_at(hit, &["story_id"]));
    }
    copy_metrics(&mut m.metrics, hit, &["points", "num_comments"]);
    Some(m)
}

/// What to ask Algolia for one brand: a search per term (no OR), only items newer than the cursor, pages
/// numbered from 0.
pub(super) fn plan(s: &HackerNewsSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let tags = enc(&s.tags);
    let filter = since.map(|t| format!("&numericFilters={}", enc(&format!("created_at_i>{t}")))).unwrap_or_default();
    let feeds = each_term(terms)
        .map(|t| {
            let url = format!("{base}/api/v1/search_by_date?query={}&tags={tags}&hitsPerPage=100{filter}", enc(t));
            Feed::new(format!("q:{t}"), url, Paging::Number { param: "page", first: 0 })
        })
        .collect();
    RequestPlan { feeds, auth: Auth::None }
}
