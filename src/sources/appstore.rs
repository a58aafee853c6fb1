//! Apple App Store customer reviews RSS, JSON flavour
//! (`https://itunes.apple.com/{country}/rss/customerreviews/id={app}/sortBy=mostRecent/json`).
//!
//! Every value is wrapped as `{"label": …}`, and `feed.entry` is an array, a single object when
//! there is one review, or absent when there are none. Older feeds put the app itself first as an
//! entry with `im:name` and no `im:rating`; it is not a review and is ignored. Review ids are per
//! storefront, so the `external_id` is `{country}:{id}`, the country coming from
//! [`ParseContext::country`], else the feed's own links (`itunes.apple.com/jp/rss/…`), else `us`.
//! Some feeds (2020) carry no per-review `updated`; the feed's `updated` (when Apple generated it,
//! so an upper bound on the review time) stands in then.

use serde_json::Value;

use super::requests::{trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, mention, parse_json, rating_at, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage, Platform,
};
use crate::config::sources::AppStoreSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::AppStore;

/// Parses one page. `next_page` is the URL of the feed's `rel="next"` link when present.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(feed) = at(&root, &["feed"]).filter(|f| f.is_object()) else {
        return Err(ParseError::new(P, "not a customer reviews feed: no feed object"));
    };
    let links: Vec<&Value> = match feed.get("link") {
        Some(Value::Array(l)) => l.iter().collect(),
        Some(one) => vec![one],
        None => vec![],
    };
    let link_href = |rel: &str| {
        links
            .iter()
            .find(|l| str_at(l, &["attributes", "rel"]) == Some(rel))
            .and_then(|l| str_at(l, &["attributes", "href"]))
    };
    let country = ctx
        .country
        .as_deref()
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .or_else(|| link_href("self").and_then(country_from_url))
        .or_else(|| str_at(feed, &["id", "label"]).and_then(country_from_url))
        .unwrap_or_else(|| "us".to_string());
    let feed_updated = time_at(feed, &["updated", "label"]);
    let entries: Vec<&Value> = match feed.get("entry") {
        Some(Value::Array(e)) => e.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => vec![],
    };
    let mut page = ParsedPage::default();
    for e in entries {
        if e.get("im:rating").is_none() && e.get("im:name").is_some() {
            continue;
        }
        match item(e, &country, feed_updated) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    let next = link_href("next");
    if next.is_some() && next != link_href("self") {
        page.next_page = next.map(str::to_string);
    }
    Ok(page)
}

fn item(e: &Value, country: &str, feed_updated: Option<chrono::DateTime<chrono::Utc>>) -> Option<NewMention> {
    let id = str_at(e, &["id", "label"])?;
    let created_at = time_at(e, &["updated", "label"]).or(feed_updated)?;
    let mut m = mention(P, format!("{country}:{}", id.trim()), created_at, MentionKind::Review);
    m.url = str_at(e, &["link", "attributes", "href"])
        .or_else(|| str_at(e, &["author", "uri", "label"]))
        .map(str::to_string);
    m.author = string_at(e, &["author", "name", "label"]);
    m.title = str_at(e, &["title", "label"]).map(plain_text);
    m.text = str_at(e, &["content", "label"]).map(plain_text).unwrap_or_default();
    m.rating = rating_at(e, &["im:rating", "label"]);
    for (key, name) in [("im:voteSum", "vote_sum"), ("im:voteCount", "vote_count")] {
        if let Some(n) = super::i64_at(e, &[key, "label"]) {
            m.metrics.insert(name.to_string(), n);
        }
    }
    Some(m)
}

/// The storefront in `https://itunes.apple.com/{cc}/rss/…`: a two-letter first path segment.
fn country_from_url(u: &str) -> Option<String> {
    let u = url::Url::parse(u).ok()?;
    let first = u.path_segments()?.next()?;
    (first.len() == 2 && first.bytes().all(|b| b.is_ascii_alphabetic())).then(|| first.to_ascii_lowercase())
}

/// What to ask the App Store for one brand: the review feed of each app in each storefront, at most `pages`
/// pages. The reviews are of the brand's own apps, so they need not name it.
pub(super) fn plan(s: &AppStoreSettings) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let mut feeds = Vec::new();
    for app in &s.app_ids {
        for c in &s.countries {
            let url = format!("{base}/{c}/rss/customerreviews/page=1/id={app}/sortby=mostrecent/json");
            feeds.push(Feed {
                country: Some(c.clone()),
                owned: true,
                max_pages: Some(s.pages),
                ..Feed::new(format!("{c}:{app}"), url, Paging::AppStorePath)
            });
        }
    }
    RequestPlan { feeds, auth: Auth::None }
}
