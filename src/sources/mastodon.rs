//! Mastodon: `/api/v2/search` (an object with a `statuses` array) and the timelines
//! (`/api/v1/timelines/tag/:tag`, `/api/v1/timelines/public`: a bare array of Status).
//!
//! The `external_id` is the status `uri` (its ActivityPub id), which is the same on every instance,
//! so a status seen through two instances is stored once. A reblog is read as the status it boosts.
//! `content` is HTML; a content warning (`spoiler_text`) becomes the title.

use serde_json::Value;

use super::requests::{each_term, enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, id_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage,
    Platform,
};
use crate::config::sources::MastodonSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{html_to_text, plain_text};

const P: Platform = Platform::Mastodon;

/// Parses a search result or a timeline. `next_page` is the instance-local `id` of the last status,
/// to pass as `max_id=` for the next, older page.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let statuses = match &root {
        Value::Array(items) => items,
        obj => match at(obj, &["statuses"]) {
            Some(Value::Array(items)) => items,
            _ => {
                let reason = match str_at(obj, &["error"]) {
                    Some(msg) => format!("error response: {msg}"),
                    None => "neither an array of statuses nor a search result with `statuses`".to_string(),
                };
                return Err(ParseError::new(P, reason));
            }
        },
    };
    let mut page = ParsedPage::default();
    for status in statuses {
        if !status.is_object() {
            page.skipped += 1;
            continue;
        }
        match item(status) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = statuses.last().and_then(|s| id_at(s, &["id"]));
    Ok(page)
}

fn item(status: &Value) -> Option<NewMention> {
    let s = match at(status, &["reblog"]) {
        Some(reblog) if reblog.is_object() => reblog,
        _ => status,
    };
    let external_id = string_at(s, &["uri"]).or_else(|| string_at(s, &["url"]))?;
    let created_at = time_at(s, &["created_at"])?;
    let reply_to = id_at(s, &["in_reply_to_id"]);
    let kind = if reply_to.is_some() { MentionKind::Comment } else { MentionKind::Post };
    let mut m = mention(P, external_id, created_at, kind);
    m.url = string_at(s, &["url"]).or_else(|| string_at(s, &["uri"]));
    m.author = author(s);
    m.title = str_at(s, &["spoiler_text"]).map(plain_text);
    m.text = str_at(s, &["content"]).map(html_to_text).unwrap_or_default();
    m.lang = string_at(s, &["language"]);
    m.parent_id = reply_to;
    copy_metrics(&mut m.metrics, s, &["replies_count", "reblogs_count", "favourites_count"]);
    Some(m)
}

/// `user@instance`: `acct` is only `user` for accounts local to the instance that answered, so the
/// domain is taken from the profile URL then.
fn author(s: &Value) -> Option<String> {
    let acct = str_at(s, &["account", "acct"]).or_else(|| str_at(s, &["account", "username"]))?;
    if acct.contains('@') {
        return Some(acct.to_string());
    }
    let host = str_at(s, &["account", "url"])
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    Some(match host {
        Some(h) => format!("{acct}@{h}"),
        None => acct.to_string(),
    })
}

/// What to ask each Mastodon instance for one brand: a status search per term (no OR) when `search` is on, and
/// each hashtag's timeline. A token is sent when one is configured: most instances refuse search without it.
pub(super) fn plan(s: &MastodonSettings, terms: &[String]) -> RequestPlan {
    let mut feeds = Vec::new();
    for inst in &s.instances {
        let base = trim_base(inst);
        if s.search {
            for t in each_term(terms) {
                let url = format!("{base}/api/v2/search?q={}&type=statuses&resolve=false&limit=40", enc(t));
                feeds.push(Feed::new(format!("{base} q:{t}"), url, Paging::Token("max_id")));
            }
        }
        for tag in &s.hashtags {
            let url = format!("{base}/api/v1/timelines/tag/{}?limit=40", enc(tag.trim_start_matches('#')));
            feeds.push(Feed::new(format!("{base} #{tag}"), url, Paging::Token("max_id")));
        }
    }
    let token = &s.token;
    let auth =
        if token.inline.is_some() || token.file.is_some() || token.env.is_some() { Auth::Bearer } else { Auth::None };
    RequestPlan { feeds, auth }
}
