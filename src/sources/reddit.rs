//! Reddit: the `Listing` JSON of `/search.json` (posts, kind `t3`) and of comment search (kind `t1`).
//!
//! Reddit HTML-escapes `&`, `<` and `>` in titles and markdown bodies unless `raw_json=1` is asked
//! for, so text goes through [`plain_text`] (entities decoded, markup left alone: it is markdown).
//! A body may also be an array of Listings (a post page: the post, then its comments); every
//! Listing in it is read. `more` placeholders are not mentions and are ignored.

use serde_json::Value;

use super::requests::{enc, or_query, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    copy_metrics, id_at, mention, non_empty, parse_json, str_at, string_at, unix_at, ParseContext, ParseError,
    ParsedPage, Platform,
};
use crate::config::sources::RedditSettings;
use crate::mention::MentionKind;
use crate::text::plain_text;

const P: Platform = Platform::Reddit;

/// Parses a Listing (or an array of Listings). `next_page` is `data.after`, the fullname to pass as
/// `after=` for the next, older page.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let listings: Vec<&Value> = match &root {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut page = ParsedPage::default();
    let mut seen_listing = false;
    for listing in listings {
        let Some(Value::Array(children)) = super::at(listing, &["data", "children"]) else {
            continue;
        };
        seen_listing = true;
        if page.next_page.is_none() {
            page.next_page = string_at(listing, &["data", "after"]);
        }
        for child in children {
            let kind = match str_at(child, &["kind"]) {
                Some("t3") => MentionKind::Post,
                Some("t1") => MentionKind::Comment,
                _ => continue,
            };
            match item(child.get("data").unwrap_or(&Value::Null), kind) {
                Some(m) => page.mentions.push(m),
                None => page.skipped += 1,
            }
        }
    }
    if !seen_listing {
        let reason = match str_at(&root, &["message"]).or_else(|| str_at(&root, &["error"])) {
            Some(msg) => format!("error response: {msg}"),
            None => "not a Listing: no data.children array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    }
    Ok(page)
}

fn item(d: &Value, kind: MentionKind) -> Option<super::NewMention> {
    let prefix = if kind == MentionKind::Post { "t3_" } else { "t1_" };
    let external_id = string_at(d, &["name"]).or_else(|| id_at(d, &["id"]).map(|id| format!("{prefix}{id}")))?;
    let created_at = unix_at(d, &["created_utc"]).or_else(|| unix_at(d, &["created"]))?;
    let mut m = mention(P, external_id, created_at, kind);
    m.url = match str_at(d, &["permalink"]) {
        Some(p) if p.starts_with('/') => Some(format!("https://www.reddit.com{p}")),
        Some(p) => Some(p.to_string()),
        None => string_at(d, &["url"]),
    };
    m.author = string_at(d, &["author"]);
    if kind == MentionKind::Post {
        m.title = str_at(d, &["title"]).map(plain_text).and_then(non_empty);
        m.text = str_at(d, &["selftext"]).map(plain_text).unwrap_or_default();
        copy_metrics(&mut m.metrics, d, &["score", "num_comments"]);
    } else {
        m.text = str_at(d, &["body"]).map(plain_text).unwrap_or_default();
        m.parent_id = string_at(d, &["parent_id"]);
        copy_metrics(&mut m.metrics, d, &["score"]);
    }
    Some(m)
}

/// What to ask Reddit for one brand: one search for the whole query (its search has OR), posts and, with
/// `include_comments`, comments, newest first, under an app-only token.
pub(super) fn plan(s: &RedditSettings, terms: &[String]) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let (path, restrict) = if s.subreddits.is_empty() {
        (String::from("/search"), "")
    } else {
        (format!("/r/{}/search", s.subreddits.join("+")), "&restrict_sr=1")
    };
    let q = enc(&or_query(terms));
    let search = |kind: &str| {
        let url = format!("{base}{path}?q={q}&sort=new&type={kind}&limit=100&raw_json=1{restrict}");
        Feed::new(kind.into(), url, Paging::Token("after"))
    };
    let mut feeds = vec![search("link")];
    if s.include_comments {
        feeds.push(search("comment"));
    }
    RequestPlan { feeds, auth: Auth::RedditAppOnly }
}
