//! Lemmy v3: `/api/v3/search` (`posts` and `comments`: PostView / CommentView) and
//! `/api/v3/post/list` (`posts`).
//!
//! The `external_id` is the ActivityPub id (`ap_id`), the same on every federated instance. Bodies are
//! markdown, kept as text. Lemmy 0.18 writes times without an offset (`2023-08-07T13:35:18.433381`);
//! they are UTC and read as such. Authors are `name@instance` from the creator's `actor_id`.

use serde_json::Value;

use super::requests::{each_term, enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, id_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage,
    Platform,
};
use crate::config::sources::LemmySettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::Lemmy;

/// Parses a search or post-list response. `next_page` is the 0.19 `next_page` cursor when present
/// (older versions page by number).
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let posts = at(&root, &["posts"]).and_then(Value::as_array);
    let comments = at(&root, &["comments"]).and_then(Value::as_array);
    if posts.is_none() && comments.is_none() {
        let reason = match str_at(&root, &["error"]) {
            Some(e) => format!("error response: {e}"),
            None => "not a search or post list response: no posts or comments array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    }
    let mut page = ParsedPage::default();
    for view in posts.into_iter().flatten() {
        match post(view) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    for view in comments.into_iter().flatten() {
        match comment(view) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["next_page"]);
    Ok(page)
}

fn post(view: &Value) -> Option<NewMention> {
    let p = view.get("post")?;
    let external_id = string_at(p, &["ap_id"])?;
    let created_at = time_at(p, &["published"])?;
    let mut m = mention(P, external_id.clone(), created_at, MentionKind::Post);
    m.url = Some(external_id);
    m.author = author(view);
    m.title = str_at(p, &["name"]).map(plain_text);
    m.text = str_at(p, &["body"]).map(plain_text).unwrap_or_default();
    if let Some(counts) = view.get("counts") {
        copy_metrics(&mut m.metrics, counts, &["score", "comments", "upvotes", "downvotes"]);
    }
    Some(m)
}

fn comment(view: &Value) -> Option<NewMention> {
    let c = view.get("comment")?;
    let external_id = string_at(c, &["ap_id"])?;
    let created_at = time_at(c, &["published"])?;
    let mut m = mention(P, external_id.clone(), created_at, MentionKind::Comment);
    m.url = Some(external_id);
    m.author = author(view);
    m.text = str_at(c, &["content"]).map(plain_text).unwrap_or_default();
    // `path` is `0.<ancestor ids>.<own id>`; a top-level comment answers the post, whose ap_id we have.
    // Deeper replies answer a comment known here only by its instance-local id, so none is given.
    let depth = str_at(c, &["path"]).map_or(0, |p| p.split('.').count());
    if depth <= 2 {
        m.parent_id = string_at(view, &["post", "ap_id"]).or_else(|| id_at(c, &["post_id"]));
    }
    if let Some(counts) = view.get("counts") {
        copy_metrics(&mut m.metrics, counts, &["score", "child_count", "upvotes", "downvotes"]);
    }
    Some(m)
}

fn author(view: &Value) -> Option<String> {
    let name = str_at(view, &["creator", "name"])?;
    let host = str_at(view, &["creator", "actor_id"])
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string));
    Some(match host {
        Some(h) => format!("{name}@{h}"),
        None => name.to_string(),
    })
}

/// What to ask each Lemmy instance for one brand: a search per term (no OR) over posts and comments, newest
/// first, pages numbered from 1.
pub(super) fn plan(s: &LemmySettings, terms: &[String]) -> RequestPlan {
    let mut feeds = Vec::new();
    for inst in &s.instances {
        let base = trim_base(inst);
        for t in each_term(terms) {
            let url = format!("{base}/api/v3/search?q={}&type_=All&sort=New&listing_type=All&limit=50", enc(t));
            feeds.push(Feed::new(format!("{base} q:{t}"), url, Paging::Number { param: "page", first: 1 }));
        }
    }
    RequestPlan { feeds, auth: Auth::None }
}
