//! Bluesky: `app.bsky.feed.searchPosts` (`posts`: postView objects, `cursor`).
//!
//! The `external_id` is the post's `at://` URI. Post text is plain text (facets carry links and
//! mentions separately), so it is only whitespace-collapsed. The web link is built as
//! `https://bsky.app/profile/{handle}/post/{rkey}`, falling back to the DID when the handle is missing
//! or `handle.invalid`.

use serde_json::Value;

use super::requests::{each_term, enc, since_rfc3339, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage, Platform,
};
use crate::config::sources::BlueskySettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::collapse_whitespace;

const P: Platform = Platform::Bluesky;

/// Parses a searchPosts response. `next_page` is `cursor`.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(Value::Array(posts)) = at(&root, &["posts"]) else {
        let reason = match (str_at(&root, &["error"]), str_at(&root, &["message"])) {
            (Some(e), Some(msg)) => format!("error response: {e}: {msg}"),
            (Some(e), None) | (None, Some(e)) => format!("error response: {e}"),
            _ => "not a searchPosts response: no posts array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    };
    let mut page = ParsedPage::default();
    for post in posts {
        match item(post) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["cursor"]);
    Ok(page)
}

fn item(post: &Value) -> Option<NewMention> {
    let uri = str_at(post, &["uri"])?;
    let created_at = time_at(post, &["record", "createdAt"]).or_else(|| time_at(post, &["indexedAt"]))?;
    let parent = string_at(post, &["record", "reply", "parent", "uri"]);
    let kind = if parent.is_some() { MentionKind::Comment } else { MentionKind::Post };
    let mut m = mention(P, uri.to_string(), created_at, kind);
    let handle = str_at(post, &["author", "handle"]).filter(|h| *h != "handle.invalid");
    let profile = handle.or_else(|| str_at(post, &["author", "did"]));
    let rkey = uri.rsplit('/').next().filter(|k| !k.is_empty() && !k.contains(':'));
    if let (Some(profile), Some(rkey)) = (profile, rkey) {
        m.url = Some(format!("https://bsky.app/profile/{profile}/post/{rkey}"));
    }
    m.author = handle.or_else(|| str_at(post, &["author", "did"])).map(str::to_string);
    m.text = str_at(post, &["record", "text"]).map(collapse_whitespace).unwrap_or_default();
    m.lang = at(post, &["record", "langs"])
        .and_then(Value::as_array)
        .and_then(|langs| langs.iter().find_map(Value::as_str))
        .map(str::to_string);
    m.parent_id = parent;
    copy_metrics(&mut m.metrics, post, &["replyCount", "repostCount", "likeCount", "quoteCount"]);
    Some(m)
}

/// What to ask Bluesky for one brand: a post search per term (no OR), newest first, only posts since the
/// cursor, under an app-password session.
pub(super) fn plan(s: &BlueskySettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.service);
    let since = since_rfc3339("since", since);
    let feeds = each_term(terms)
        .map(|t| {
            let url = format!("{base}/xrpc/app.bsky.feed.searchPosts?q={}&sort=latest&limit=100{since}", enc(t));
            Feed::new(format!("q:{t}"), url, Paging::Token("cursor"))
        })
        .collect();
    RequestPlan { feeds, auth: Auth::BlueskySession }
}
