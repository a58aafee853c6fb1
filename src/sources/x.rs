//! X (formerly Twitter): API v2 `GET /2/tweets/search/recent`, posts of the last seven days.
//!
//! A response is `data` (posts: `id`, `text`, `author_id`, `created_at`, `lang`, `public_metrics`),
//! `includes.users` (the authors, from `expansions=author_id`: `id`, `username`, `name`) and `meta`
//! (`newest_id`, `oldest_id`, `next_token`, `result_count`). A search that found nothing has no `data` and
//! `meta.result_count = 0`. The `external_id` is the post id; the link is `https://x.com/{username}/status/{id}`
//! and the author `@username`. X tags a post it cannot place with `lang = "und"`, kept as no tag.
//! A body with `errors` and no `data` is a [`ParseError`] carrying X's `title: detail`; `errors` next to `data`
//! (a partial result, e.g. an author that could not be expanded) are ignored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, id_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage,
    Platform,
};
use crate::config::sources::XSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::X;

/// Parses a recent-search response. `next_page` is `meta.next_token`.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    if !root.is_object() {
        return Err(ParseError::new(P, "not a search response: expected a JSON object"));
    }
    let posts = match at(&root, &["data"]) {
        Some(Value::Array(posts)) => posts.as_slice(),
        Some(_) => return Err(ParseError::new(P, "not a search response: `data` is not an array")),
        None => {
            if let Some(reason) = error_message(&root) {
                return Err(ParseError::new(P, format!("error response: {reason}")));
            }
            if at(&root, &["meta", "result_count"]).is_none() {
                return Err(ParseError::new(P, "not a search response: neither `data` nor `meta.result_count`"));
            }
            &[]
        }
    };
    let users: HashMap<String, &str> = match at(&root, &["includes", "users"]) {
        Some(Value::Array(users)) => {
            users.iter().filter_map(|u| Some((id_at(u, &["id"])?, str_at(u, &["username"])?))).collect()
        }
        _ => HashMap::new(),
    };
    let mut page = ParsedPage::default();
    for post in posts {
        match item(post, &users) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["meta", "next_token"]);
    Ok(page)
}

/// The first of `errors[]` as `title: detail` (either alone when the other is missing).
fn error_message(root: &Value) -> Option<String> {
    let first = at(root, &["errors"])?.as_array()?.first()?;
    match (str_at(first, &["title"]), str_at(first, &["detail"])) {
        (Some(t), Some(d)) => Some(format!("{t}: {d}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => str_at(first, &["type"]).or(str_at(first, &["message"])).map(str::to_string),
    }
}

fn item(post: &Value, users: &HashMap<String, &str>) -> Option<NewMention> {
    let id = id_at(post, &["id"])?;
    let created_at = time_at(post, &["created_at"])?;
    let mut m = mention(P, id.clone(), created_at, MentionKind::Post);
    let username = id_at(post, &["author_id"]).and_then(|a| users.get(&a).copied());
    // Without the author's handle, X's `/i/web/status/{id}` still resolves to the post.
    m.url = Some(match username {
        Some(u) => format!("https://x.com/{u}/status/{id}"),
        None => format!("https://x.com/i/web/status/{id}"),
    });
    m.author = username.map(|u| format!("@{u}"));
    m.text = str_at(post, &["text"]).map(plain_text).unwrap_or_default();
    m.lang = string_at(post, &["lang"]).filter(|l| !l.eq_ignore_ascii_case("und"));
    if let Some(metrics) = post.get("public_metrics") {
        copy_metrics(
            &mut m.metrics,
            metrics,
            &["retweet_count", "reply_count", "like_count", "quote_count", "bookmark_count", "impression_count"],
        );
    }
    Some(m)
}

/// X's query length limit on the self-serve tiers; longer queries are refused with 400.
const MAX_QUERY_CHARS: usize = 512;

/// Retweets repeat someone else's post word for word: they would count one complaint many times.
const NO_RETWEETS: &str = " -is:retweet";

/// The brand's terms as one X query: `(a OR "b c") -is:retweet`. Terms are taken in order while the query stays
/// within X's 512 characters; the terms beyond are not searched on X (the full brand query is still applied
/// locally to what comes back). The group is parenthesised because X evaluates AND before OR.
fn search_query(terms: &[String]) -> String {
    let mut taken: Vec<String> = Vec::new();
    for t in terms {
        let t = t.replace('"', "");
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        let t = if t.contains(char::is_whitespace) { format!("\"{t}\"") } else { t.to_string() };
        let mut next = taken.clone();
        next.push(t);
        if grouped(&next).chars().count() + NO_RETWEETS.len() > MAX_QUERY_CHARS {
            break;
        }
        taken = next;
    }
    format!("{}{NO_RETWEETS}", grouped(&taken))
}

fn grouped(terms: &[String]) -> String {
    match terms {
        [one] => one.clone(),
        many => format!("({})", many.join(" OR ")),
    }
}

/// Milliseconds from the Unix epoch to X's id epoch: post ids are snowflakes, `(ms - X_EPOCH_MS) << 22`.
const X_EPOCH_MS: i64 = 1_288_834_974_657;

/// Recent search answers only for the last seven days and refuses a `since_id` older than that; a cursor this
/// much older than now asks for everything instead.
const WINDOW_SECS: i64 = 7 * 24 * 3600 - 3600;

/// `&since_id=…` for the cursor (Unix seconds), as the smallest id X could have given a post at that time, or
/// nothing without a cursor or with one outside the seven-day window. The cursor store keeps times, not ids:
/// a snowflake id orders like its time, so the time says the same as `meta.newest_id` would.
fn since_id(since: Option<i64>, now: DateTime<Utc>) -> String {
    let Some(t) = since.filter(|t| *t > now.timestamp() - WINDOW_SECS) else { return String::new() };
    let ms = t.saturating_mul(1000) - X_EPOCH_MS;
    if ms <= 0 {
        return String::new();
    }
    format!("&since_id={}", ms << 22)
}

/// What to ask X for one brand: one recent search for all terms (X has OR), newest first, paged by
/// `next_token`, under the bearer token; only posts after the cursor.
pub(super) fn plan(s: &XSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    plan_at(s, terms, since, Utc::now())
}

fn plan_at(s: &XSettings, terms: &[String], since: Option<i64>, now: DateTime<Utc>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let url = format!(
        "{base}/2/tweets/search/recent?query={}&max_results={}\
         &tweet.fields=created_at,lang,author_id,public_metrics&expansions=author_id&user.fields=username,name{}",
        enc(&search_query(terms)),
        s.max_results.clamp(10, 100),
        since_id(since, now),
    );
    RequestPlan { feeds: vec![Feed::new("search".into(), url, Paging::Token("next_token"))], auth: Auth::Bearer }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(ts: &[&str]) -> Vec<String> {
        ts.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn the_query_ors_the_terms_quotes_phrases_and_leaves_out_retweets() {
        assert_eq!(search_query(&terms(&["acme"])), "acme -is:retweet");
        assert_eq!(search_query(&terms(&["acme", "acme corp"])), "(acme OR \"acme corp\") -is:retweet");
    }

    #[test]
    fn terms_beyond_512_characters_are_dropped() {
        let many: Vec<String> = (0..100).map(|i| format!("brandterm{i:03}")).collect();
        let q = search_query(&many);
        assert!(q.chars().count() <= MAX_QUERY_CHARS, "{}", q.len());
        assert!(q.contains("brandterm000") && !q.contains("brandterm099"), "{q}");
        assert!(q.ends_with(") -is:retweet"), "{q}");
    }

    #[test]
    fn since_id_is_the_snowflake_of_the_cursor_time_within_the_window() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        // 2023-11-14T22:13:20Z minus an hour.
        let t = 1_700_000_000 - 3600;
        let want = ((t * 1000 - X_EPOCH_MS) << 22).to_string();
        assert_eq!(since_id(Some(t), now), format!("&since_id={want}"));
        assert_eq!(since_id(Some(t - 8 * 24 * 3600), now), "");
        assert_eq!(since_id(None, now), "");
    }

    #[test]
    fn the_plan_asks_for_authors_and_metrics() {
        let s: XSettings = toml::from_str("max_results = 50\nbase_url = 'http://x.test/'").unwrap();
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let plan = plan_at(&s, &terms(&["acme", "acme corp"]), Some(1_699_999_000), now);
        assert_eq!(plan.auth, Auth::Bearer);
        assert_eq!(plan.feeds.len(), 1);
        let url = &plan.feeds[0].url;
        assert!(
            url.starts_with(
                "http://x.test/2/tweets/search/recent?query=%28acme+OR+%22acme+corp%22%29+-is%3Aretweet&max_results=50\
                 &tweet.fields=created_at,lang,author_id,public_metrics&expansions=author_id&user.fields=username,name\
                 &since_id="
            ),
            "{url}"
        );
        assert_eq!(plan.feeds[0].paging, Paging::Token("next_token"));
    }
}
