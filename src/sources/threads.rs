//! Threads: the Threads API keyword search (`GET graph.threads.net/v1.0/keyword_search`), with a Threads user
//! access token.
//!
//! A response is `{"data": [media…], "paging": {"cursors": {"before", "after"}, "next"}}`, each media object with
//! `id`, `text`, `media_type`, `permalink`, `timestamp` (`2023-10-17T05:42:03+0000`), `username`, `is_reply`,
//! `is_quote_post`, `has_replies`, and `replied_to{id}` on replies when asked. A post is a mention of kind `post`, a
//! reply one of kind `comment`; the link is the `permalink`, the author the `username`. Posts without text (an
//! image alone) are kept with empty text. Threads gives no language.
//!
//! Search results are not about the brand by construction: they are matched against the brand query like any
//! other search. A `{"error": …}` body is a [`ParseError`] carrying Graph's type, code and message.

use super::graph::{self, Fields};
use super::requests::{each_term, enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{bool_at, id_at, mention, parse_json, ParseContext, ParseError, ParsedPage, Platform};
use crate::config::sources::ThreadsSettings;
use crate::mention::{MentionKind, NewMention};

const P: Platform = Platform::Threads;

/// Said with every configuration error of a `threads` source (`sources::advice`): the permissions, and the refresh
/// call of a long-lived token (valid 60 days, refreshable once it is a day old and until it expires).
pub(super) const ADVICE: &str = "threads needs a long-lived Threads user access token with the permissions \
     threads_basic and threads_keyword_search (until the app passes review for the latter, search sees only the \
     token owner's posts); refresh it before it expires with GET https://graph.threads.net/refresh_access_token?\
     grant_type=th_refresh_token&access_token=TOKEN, put the new token in access_token (or its file) and the date \
     expires_in gives in access_token_expires, then reload (SIGHUP)";

/// Parses a keyword search response. `next_page` is the `after` cursor.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let items = graph::top_items(P, &root, "keyword search response")?;
    let mut page = ParsedPage::default();
    for v in items {
        match item(v) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = graph::next_cursor(&root);
    Ok(page)
}

fn item(v: &serde_json::Value) -> Option<NewMention> {
    let f = Fields::of(v)?;
    let reply = bool_at(v, &["is_reply"]) == Some(true);
    let mut m = mention(P, f.id, f.created_at, if reply { MentionKind::Comment } else { MentionKind::Post });
    m.text = f.text.unwrap_or_default();
    m.author = f.author.map(str::to_string);
    m.url = f.permalink.map(str::to_string);
    m.parent_id = id_at(v, &["replied_to", "id"]);
    Some(m)
}

/// The fields asked of each result.
const FIELDS: &str = "id,text,media_type,permalink,timestamp,username,is_reply,is_quote_post,has_replies";

/// Threads refuses a `since` before its launch (2023-07-05).
const EARLIEST_SINCE: i64 = 1_688_540_400;

/// What to ask Threads for one brand: a recent keyword search per term (no OR), newest first, since the cursor,
/// paged by `after`, with the user access token as a bearer token. Each query counts against the user's 2,200 a
/// rolling day (those that find nothing do not).
pub(super) fn plan(s: &ThreadsSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let since = since.map(|t| format!("&since={}", t.max(EARLIEST_SINCE))).unwrap_or_default();
    let feeds = each_term(terms)
        .map(|t| {
            let url = format!(
                "{base}/v1.0/keyword_search?q={}&search_type=RECENT&fields={}&limit=100{since}",
                enc(t),
                enc(FIELDS)
            );
            Feed::new(format!("q:{t}"), url, Paging::Token("after"))
        })
        .collect();
    RequestPlan { feeds, auth: Auth::Bearer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_comments_and_errors_are_parse_errors() {
        let body = r#"{"data":[
            {"id":"1","text":"acme is down again","timestamp":"2026-11-02T10:00:00+0000","username":"ann",
             "permalink":"https://www.threads.net/@ann/post/A","is_reply":false},
            {"id":"2","text":"same","timestamp":"2026-11-02T10:05:00+0000","username":"bo","is_reply":true,
             "replied_to":{"id":"1"}},
            {"id":"3"}]}"#;
        let page = parse(body, &ParseContext::default()).unwrap();
        assert_eq!((page.mentions.len(), page.skipped, page.next_page.as_deref()), (2, 1, None));
        assert_eq!(page.mentions[0].kind, MentionKind::Post);
        assert_eq!(page.mentions[1].kind, MentionKind::Comment);
        assert_eq!(page.mentions[1].parent_id.as_deref(), Some("1"));
        let err = parse(
            r#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463}}"#,
            &ParseContext::default(),
        )
        .unwrap_err();
        assert!(err.reason.contains("OAuthException 190: Error validating access token"), "{err}");
    }

    #[test]
    fn the_plan_searches_each_term_since_the_cursor() {
        let s: ThreadsSettings = toml::from_str("base_url = 'http://th.test/'").unwrap();
        let plan = plan(&s, &["acme".into(), "acme corp".into()], Some(1_700_000_000));
        assert_eq!(plan.auth, Auth::Bearer);
        let urls: Vec<&str> = plan.feeds.iter().map(|f| f.url.as_str()).collect();
        assert_eq!(urls.len(), 2);
        assert!(
            urls[1].starts_with("http://th.test/v1.0/keyword_search?q=acme+corp&search_type=RECENT&fields=id%2Ctext")
        );
        assert!(urls[1].ends_with("&limit=100&since=1700000000"), "{}", urls[1]);
        assert!(plan.feeds.iter().all(|f| !f.owned && f.paging == Paging::Token("after")));
        let early = super::plan(&s, &["acme".into()], Some(5));
        assert!(early.feeds[0].url.ends_with("&since=1688540400"));
    }
}
