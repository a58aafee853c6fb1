//! Stack Exchange API 2.x: `/search/excerpts` (items with `item_type` question or answer) and plain
//! `/questions`, `/answers`, `/comments`, `/search/advanced` lists.
//!
//! Post ids are only unique within one site, so the `external_id` is `{site host}:{id}`
//! (`stackoverflow.com:11227809`). The host comes from the item's `link` or, for excerpts that carry no
//! link, from [`ParseContext::base_url`]: either the site itself or the API URL with `site=`. The
//! envelope's `backoff`, `quota_remaining` and `has_more` are returned as [`PageHints`]; the API pages
//! by number, so `next_page` stays empty and the poller asks for the next page while `has_more`.
//!
//! [`PageHints`]: super::PageHints

use serde_json::Value;

use super::requests::{each_term, enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, bool_at, copy_metrics, i64_at, id_at, mention, parse_json, str_at, string_at, unix_at, ParseContext,
    ParseError, ParsedPage, Platform,
};
use crate::config::sources::StackExchangeSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{html_to_text, plain_text};

const P: Platform = Platform::StackExchange;

pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(Value::Array(items)) = at(&root, &["items"]) else {
        let reason = match (str_at(&root, &["error_name"]), str_at(&root, &["error_message"])) {
            (Some(name), Some(msg)) => format!("error response: {name}: {msg}"),
            (_, Some(msg)) => format!("error response: {msg}"),
            _ => "not an API response: no items array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    };
    let site = ctx.base_url.as_deref().and_then(site_host);
    let mut page = ParsedPage::default();
    for it in items {
        match item(it, site.as_deref()) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.hints.has_more = bool_at(&root, &["has_more"]);
    page.hints.quota_remaining = i64_at(&root, &["quota_remaining"]);
    page.hints.backoff_secs = i64_at(&root, &["backoff"]).and_then(|b| u64::try_from(b).ok());
    Ok(page)
}

fn item(it: &Value, site: Option<&str>) -> Option<NewMention> {
    let item_type = str_at(it, &["item_type"]);
    let (kind, id, parent) = if let Some(id) = id_at(it, &["comment_id"]).filter(|_| item_type.is_none()) {
        (MentionKind::Comment, id, id_at(it, &["post_id"]))
    } else if item_type == Some("answer") || (item_type.is_none() && it.get("answer_id").is_some()) {
        (MentionKind::Comment, id_at(it, &["answer_id"])?, id_at(it, &["question_id"]))
    } else {
        (MentionKind::Post, id_at(it, &["question_id"])?, None)
    };
    let created_at = unix_at(it, &["creation_date"])?;
    let link = string_at(it, &["link"]);
    let host = link
        .as_deref()
        .and_then(|l| url::Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .or_else(|| site.map(str::to_string));
    let external_id = match &host {
        Some(h) => format!("{h}:{id}"),
        None => id.clone(),
    };
    let mut m = mention(P, external_id, created_at, kind);
    m.url = link.or_else(|| {
        let letter = if kind == MentionKind::Post { "q" } else { "a" };
        host.as_ref().map(|h| format!("https://{h}/{letter}/{id}"))
    });
    m.author = str_at(it, &["owner", "display_name"]).map(plain_text);
    m.title = str_at(it, &["title"]).map(plain_text);
    m.text = str_at(it, &["excerpt"])
        .or_else(|| str_at(it, &["body"]))
        .map(html_to_text)
        .or_else(|| str_at(it, &["body_markdown"]).map(plain_text))
        .unwrap_or_default();
    m.parent_id = parent.map(|p| match &host {
        Some(h) => format!("{h}:{p}"),
        None => p,
    });
    copy_metrics(&mut m.metrics, it, &["score", "answer_count", "view_count"]);
    Some(m)
}

/// The site's host from a base URL: the URL's own host, or for `api.stackexchange.com` the `site=`
/// parameter (`stackoverflow` → `stackoverflow.com`, `math` → `math.stackexchange.com`).
fn site_host(base: &str) -> Option<String> {
    let u = url::Url::parse(base).ok()?;
    let host = u.host_str()?;
    if host != "api.stackexchange.com" {
        return Some(host.to_string());
    }
    let site = u.query_pairs().find(|(k, _)| k == "site")?.1.to_ascii_lowercase();
    Some(match site.as_str() {
        s if s.contains('.') => s.to_string(),
        "stackoverflow" | "superuser" | "serverfault" | "askubuntu" | "stackapps" => format!("{site}.com"),
        "mathoverflow" | "mathoverflow.net" => "mathoverflow.net".to_string(),
        s => format!("{s}.stackexchange.com"),
    })
}

/// What to ask Stack Exchange for one brand: on each site, an excerpt search per term (no OR), newest first,
/// created since the cursor, pages numbered from 1 while `has_more`. The optional key travels in the query
/// string, added by the poller.
pub(super) fn plan(s: &StackExchangeSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let from = since.map(|t| format!("&fromdate={t}")).unwrap_or_default();
    let mut feeds = Vec::new();
    for site in &s.sites {
        for t in each_term(terms) {
            let url = format!(
                "{base}/2.3/search/excerpts?order=desc&sort=creation&site={}&q={}&pagesize=100{from}",
                enc(site),
                enc(t)
            );
            feeds.push(Feed::new(format!("{site} q:{t}"), url, Paging::Number { param: "page", first: 1 }));
        }
    }
    RequestPlan { feeds, auth: Auth::None }
}
