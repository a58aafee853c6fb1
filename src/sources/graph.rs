//! Meta's Graph API as `facebook_page`, `instagram` and `threads` share it: the response envelope (`data`,
//! `paging`, `error`), the nested edges of a response (a post's `comments`, a comment's `replies`), request budgets
//! (usage headers, throttling codes), the errors only the operator can fix (a refused token, a missing permission)
//! and the expiry of tokens that have one.
//!
//! Field names differ across Graph API versions and products: Facebook writes `message`, `created_time` and
//! `from{id,name}`, Instagram and Threads `text` (or `caption`), `timestamp` and `username`. [`Fields`] reads either,
//! so a parser does not depend on the version its payload came from.
//!
//! Pure: no IO, no clock (callers pass `now`). The parsers use the envelope helpers; the poller asks
//! [`error_kind`], [`usage_wait`] and [`token_expiry`]. What each Meta source needs (its token, its permissions)
//! is said with its configuration errors by [`super::advice`], like every platform's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::{at, i64_at, id_at, str_at, time_at, ParseError, Platform, PlatformSettings};
use crate::text::collapse_whitespace;

// ---- the response envelope ------------------------------------------------------------------------------------

/// The top-level objects of a response: the `data` array of a list, or the body itself when it is one object
/// with nested edges (`GET /{post-id}?fields=comments{…}`). `what` names the expected response in errors.
pub(super) fn top_items<'a>(p: Platform, root: &'a Value, what: &str) -> Result<&'a [Value], ParseError> {
    let Some(obj) = root.as_object() else {
        return Err(ParseError::new(p, format!("not a {what}: expected a JSON object")));
    };
    match obj.get("data") {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ParseError::new(p, format!("not a {what}: `data` is not an array"))),
        None => {
            if let Some(e) = error_text(root) {
                return Err(ParseError::new(p, format!("error response: {e}")));
            }
            if obj.contains_key("id") && (obj.contains_key("comments") || obj.contains_key("replies")) {
                return Ok(std::slice::from_ref(root));
            }
            Err(ParseError::new(p, format!("not a {what}: no `data` array")))
        }
    }
}

/// A Graph error body's `error` as one line: `OAuthException 190: Error validating access token: …`.
pub(super) fn error_text(root: &Value) -> Option<String> {
    let e = root.get("error")?;
    let message = str_at(e, &["error_user_msg"]).or_else(|| str_at(e, &["message"]));
    let label = match (str_at(e, &["type"]), i64_at(e, &["code"])) {
        (Some(t), Some(c)) => Some(format!("{t} {c}")),
        (Some(t), None) => Some(t.to_string()),
        (None, Some(c)) => Some(format!("code {c}")),
        (None, None) => None,
    };
    match (label, message) {
        (Some(l), Some(m)) => Some(format!("{l}: {m}")),
        (Some(one), None) => Some(one),
        (None, Some(m)) => Some(m.to_string()),
        (None, None) => e.as_str().map(str::to_string),
    }
}

/// The cursor of the next page: `paging.cursors.after` while `paging.next` is there (Graph leaves the cursors on
/// the last page too; only `next` says more follow), else the `after` parameter of `paging.next`.
pub(super) fn next_cursor(root: &Value) -> Option<String> {
    let next = str_at(root, &["paging", "next"])?;
    if let Some(after) = str_at(root, &["paging", "cursors", "after"]) {
        return Some(after.to_string());
    }
    let url = url::Url::parse(next).ok()?;
    let after = url.query_pairs().find(|(k, _)| k == "after").map(|(_, v)| v.into_owned());
    after.filter(|a| !a.trim().is_empty())
}

/// The node and edge a Graph request URL asks for: `…/v25.0/123/feed?…` is `("123", "feed")`. Parsers use it to
/// tell a list of comments from a list of posts, and the page's own posts from its visitors'.
pub(super) fn node_edge(url: &str) -> Option<(String, String)> {
    let url = url::Url::parse(url).ok()?;
    let mut segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let edge = segments.pop()?;
    let node = segments.pop()?;
    Some((node.to_string(), edge.to_ascii_lowercase()))
}

/// The request a body answered: the context's URL, else the body's own `paging.next` or `paging.previous` (the same
/// edge; `hearsay sources parse` has no URL unless `--base-url` gives one).
pub(super) fn request_url<'a>(ctx_url: Option<&'a str>, root: &'a Value) -> Option<&'a str> {
    ctx_url.or_else(|| str_at(root, &["paging", "next"])).or_else(|| str_at(root, &["paging", "previous"]))
}

/// Graph objects nest at most this deep in what hearsay asks for: post → comment → reply.
const MAX_DEPTH: usize = 3;

/// One object of a response and where it sits: `depth` 0 for the top-level ones, `parent` the object whose edge
/// held it, `root` the top-level object it is under (itself at depth 0): the post or media with the link.
pub(super) struct Node<'a> {
    pub v: &'a Value,
    pub depth: usize,
    pub parent: Option<&'a Value>,
    pub root: &'a Value,
}

/// Every object of `items` and of their nested `edges` (each an object `{data: […]}`), parents before their
/// children, at most [`MAX_DEPTH`] levels: an explicit stack, never recursion over the payload.
pub(super) fn walk<'a>(items: &'a [Value], edges: &[&str]) -> Vec<Node<'a>> {
    let mut out = Vec::new();
    let mut stack: Vec<Node<'a>> = items.iter().rev().map(|v| Node { v, depth: 0, parent: None, root: v }).collect();
    while let Some(node) = stack.pop() {
        if node.depth + 1 < MAX_DEPTH {
            for edge in edges {
                if let Some(Value::Array(children)) = at(node.v, &[edge, "data"]) {
                    let (depth, parent, root) = (node.depth + 1, Some(node.v), node.root);
                    stack.extend(children.iter().rev().map(|v| Node { v, depth, parent, root }));
                }
            }
        }
        out.push(node);
    }
    out
}

/// The fields every Graph object of interest has, under either product's names.
pub(super) struct Fields<'a> {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// `message` (Facebook), `text` (Instagram comments, Threads) or `caption` (Instagram media), whitespace
    /// collapsed; `None` when the object carries none.
    pub text: Option<String>,
    /// `from.name` (Facebook), `username` or `from.username` (Instagram, Threads).
    pub author: Option<&'a str>,
    /// `permalink_url` (Facebook) or `permalink` (Instagram, Threads).
    pub permalink: Option<&'a str>,
}

impl<'a> Fields<'a> {
    /// `None` without an id or a readable time: the object is skipped.
    pub(super) fn of(v: &'a Value) -> Option<Fields<'a>> {
        let id = id_at(v, &["id"])?;
        let created_at = time_at(v, &["created_time"]).or_else(|| time_at(v, &["timestamp"]))?;
        let text = ["message", "text", "caption"].iter().find_map(|k| str_at(v, &[k])).map(collapse_whitespace);
        let author = str_at(v, &["from", "name"])
            .or_else(|| str_at(v, &["username"]))
            .or_else(|| str_at(v, &["from", "username"]));
        let permalink = str_at(v, &["permalink_url"]).or_else(|| str_at(v, &["permalink"]));
        Some(Fields { id, created_at, text, author, permalink })
    }
}

// ---- what the poller asks ------------------------------------------------------------------------------------

/// What a Graph error asks of hearsay, by its `code` (Meta's table of error codes) and `is_transient`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 190 (invalid, expired or revoked access token), 102 (session): the operator needs a new token.
    Token,
    /// 10, 200–299: the token lacks a permission.
    Permission,
    /// 100 (invalid parameter, unknown object or field), 803 (unknown alias): the ids or `graph_version` are wrong.
    Request,
    /// 4, 17, 32, 613, 80001–80099: a request budget (app, user, page, business use case) is spent.
    RateLimited,
    /// `is_transient`, 1, 2 and the rest: Meta's side, try again later.
    Transient,
}

impl ErrorKind {
    /// What the kind means for the operator, for the poll's error message.
    pub fn explain(self) -> &'static str {
        match self {
            ErrorKind::Token => "the access token was refused (invalid, expired or revoked)",
            ErrorKind::Permission => "the access token lacks a permission",
            ErrorKind::Request => "the request names an id or field this token cannot read",
            ErrorKind::RateLimited => "rate limited",
            ErrorKind::Transient => "a temporary error",
        }
    }
}

/// The kind of a Graph API error body (`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`);
/// `None` for any other body. A Graph error always names its exception `type` with a numeric `code`, which tells it
/// from Google's `{"error": {"code", "message", "status"}}`.
pub fn error_kind(body: &Value) -> Option<ErrorKind> {
    let e = body.get("error")?;
    let code = e.get("code")?.as_i64()?;
    e.get("type")?.as_str()?;
    if e.get("is_transient").and_then(Value::as_bool) == Some(true) {
        return Some(ErrorKind::Transient);
    }
    Some(match code {
        190 | 102 => ErrorKind::Token,
        10 | 200..=299 => ErrorKind::Permission,
        100 | 803 => ErrorKind::Request,
        4 | 17 | 32 | 613 | 80001..=80099 => ErrorKind::RateLimited,
        _ => ErrorKind::Transient,
    })
}

/// Headers in which Meta reports how much of a budget is used, in per cent: `{"call_count", "total_cputime",
/// "total_time"}` objects, directly (app, page) or as lists under each business id (`X-Business-Use-Case-Usage`,
/// which also says `estimated_time_to_regain_access`, in minutes).
const USAGE_HEADERS: [&str; 4] = ["x-app-usage", "x-page-usage", "x-business-use-case-usage", "x-ad-account-usage"];

/// How long to wait when a usage header says a budget is spent: a figure at 100 or an
/// `estimated_time_to_regain_access` above zero. The wait is the largest estimate Meta gives, else an hour (the
/// app and page budgets are counted over a rolling hour).
pub fn usage_wait(h: &HeaderMap) -> Option<Duration> {
    let mut spent = false;
    let mut regain_minutes = 0i64;
    for name in USAGE_HEADERS {
        let Some(v) = h.get(name).and_then(|v| v.to_str().ok()) else { continue };
        let Ok(v) = serde_json::from_str::<Value>(v) else { continue };
        let entries: Vec<&Value> = if v.get("call_count").is_some() || v.get("total_time").is_some() {
            vec![&v]
        } else {
            v.as_object().into_iter().flat_map(|o| o.values()).filter_map(Value::as_array).flatten().collect()
        };
        for e in entries {
            let most = ["call_count", "total_cputime", "total_time", "acc_id_util_pct"]
                .iter()
                .filter_map(|k| i64_at(e, &[k]))
                .max()
                .unwrap_or(0);
            let regain = i64_at(e, &["estimated_time_to_regain_access"]).unwrap_or(0);
            spent |= most >= 100 || regain > 0;
            regain_minutes = regain_minutes.max(regain);
        }
    }
    spent.then(|| match regain_minutes {
        m if m > 0 => Duration::from_secs(m.unsigned_abs().saturating_mul(60)),
        _ => Duration::from_secs(3600),
    })
}

/// How long before its expiry a token is reported.
pub const EXPIRY_NOTICE_DAYS: i64 = 7;

/// A token that has expired or will within [`EXPIRY_NOTICE_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenExpiry {
    /// Past its time: requests would be refused, so none are made.
    pub expired: bool,
    pub message: String,
}

/// The source's `access_token_expires`, when it has passed or is at most a week away.
pub fn token_expiry(settings: &PlatformSettings, now: DateTime<Utc>) -> Option<TokenExpiry> {
    let expires = match settings {
        PlatformSettings::FacebookPage(s) => s.access_token_expires,
        PlatformSettings::Instagram(s) => s.access_token_expires,
        PlatformSettings::Threads(s) => s.access_token_expires,
        _ => None,
    }?
    .0;
    let day = expires.format("%Y-%m-%d %H:%M UTC");
    if expires <= now {
        return Some(TokenExpiry { expired: true, message: format!("the access token expired on {day}") });
    }
    let left = expires - now;
    (left <= chrono::Duration::days(EXPIRY_NOTICE_DAYS)).then(|| {
        let when = match left.num_hours() {
            h if h < 24 => format!("in {} hours", h.max(1)),
            h if h < 36 => "in 1 day".to_string(),
            h => format!("in {} days", (h + 12) / 24),
        };
        TokenExpiry {
            expired: false,
            message: format!("the access token expires on {day} ({when}); polls go on until then"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_codes_say_who_acts() {
        let kind = |code: i64, extra: Value| {
            let mut e = json!({"message": "m", "type": "OAuthException", "code": code, "fbtrace_id": "x"});
            if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
                e.extend(extra.clone());
            }
            error_kind(&json!({ "error": e }))
        };
        let table: &[(i64, Value, ErrorKind)] = &[
            (190, json!({"error_subcode": 463}), ErrorKind::Token),
            (190, json!({"error_subcode": 460}), ErrorKind::Token),
            (102, json!({}), ErrorKind::Token),
            (10, json!({}), ErrorKind::Permission),
            (200, json!({}), ErrorKind::Permission),
            (283, json!({}), ErrorKind::Permission),
            (100, json!({"error_subcode": 33}), ErrorKind::Request),
            (803, json!({}), ErrorKind::Request),
            (4, json!({"is_transient": true}), ErrorKind::Transient),
            (4, json!({}), ErrorKind::RateLimited),
            (17, json!({}), ErrorKind::RateLimited),
            (32, json!({}), ErrorKind::RateLimited),
            (613, json!({}), ErrorKind::RateLimited),
            (80001, json!({}), ErrorKind::RateLimited),
            (80002, json!({}), ErrorKind::RateLimited),
            (1, json!({}), ErrorKind::Transient),
            (2, json!({"is_transient": true}), ErrorKind::Transient),
        ];
        for (code, extra, want) in table {
            assert_eq!(kind(*code, extra.clone()), Some(*want), "code {code} {extra}");
        }
        // Google's and Yelp's error bodies are not Graph errors.
        let google = json!({"error": {"code": 403, "message": "quota", "status": "PERMISSION_DENIED"}});
        assert_eq!(error_kind(&google), None);
        assert_eq!(error_kind(&json!({"error": {"code": "TOKEN_INVALID", "description": "x"}})), None);
        assert_eq!(error_kind(&json!({"error": "invalid_grant"})), None);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn usage_headers_stop_at_a_spent_budget() {
        let under = r#"{"call_count":28,"total_time":25,"total_cputime":25}"#;
        assert_eq!(usage_wait(&headers(&[("x-app-usage", under)])), None);
        let spent = r#"{"call_count":100,"total_time":25,"total_cputime":25}"#;
        assert_eq!(usage_wait(&headers(&[("x-app-usage", spent)])), Some(Duration::from_secs(3600)));
        let buc = concat!(
            r#"{"1234":[{"type":"pages","call_count":100,"total_cputime":10,"total_time":10,"#,
            r#""estimated_time_to_regain_access":19}],"#,
            r#""5678":[{"type":"instagram","call_count":5,"total_cputime":1,"total_time":1,"#,
            r#""estimated_time_to_regain_access":0}]}"#
        );
        assert_eq!(usage_wait(&headers(&[("x-business-use-case-usage", buc)])), Some(Duration::from_secs(19 * 60)));
        let regaining = r#"{"1":[{"type":"pages","call_count":40,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":3}]}"#;
        assert_eq!(
            usage_wait(&headers(&[("x-app-usage", under), ("x-business-use-case-usage", regaining)])),
            Some(Duration::from_secs(180))
        );
        assert_eq!(usage_wait(&headers(&[("x-app-usage", "not json")])), None);
        assert_eq!(usage_wait(&HeaderMap::new()), None);
    }

    #[test]
    fn the_next_cursor_needs_a_next_page() {
        let more = json!({"paging": {"cursors": {"before": "b", "after": "MTE="}, "next": "https://g/x?after=MTE%3D"}});
        assert_eq!(next_cursor(&more).as_deref(), Some("MTE="));
        let last = json!({"paging": {"cursors": {"before": "b", "after": "a"}}});
        assert_eq!(next_cursor(&last), None);
        let only_next = json!({"paging": {"next": "https://graph.threads.net/v1.0/keyword_search?q=a&after=QVFI%3D"}});
        assert_eq!(next_cursor(&only_next).as_deref(), Some("QVFI="));
        assert_eq!(next_cursor(&json!({"paging": {"next": 5}})), None);
    }

    #[test]
    fn node_and_edge_of_a_request() {
        let ne = |u: &str| node_edge(u).map(|(n, e)| format!("{n} {e}"));
        assert_eq!(ne("https://graph.facebook.com/v25.0/123/feed?fields=a").as_deref(), Some("123 feed"));
        assert_eq!(ne("http://127.0.0.1:9/fb/v25.0/1_2/comments/").as_deref(), Some("1_2 comments"));
        assert_eq!(ne("https://graph.facebook.com/"), None);
        assert_eq!(ne("not a url"), None);
    }

    #[test]
    fn walking_is_bounded_and_in_order() {
        let reply = json!({"id": "r"});
        let v = json!([{"id": "p", "comments": {"data": [{"id": "c", "comments": {"data": [
            {"id": "r", "comments": {"data": [{"id": "too deep"}]}}]}}, reply]}}]);
        let items = v.as_array().unwrap();
        let got: Vec<(String, usize)> = walk(items, &["comments", "replies"])
            .iter()
            .map(|n| (n.v["id"].as_str().unwrap().to_string(), n.depth))
            .collect();
        let want = [("p", 0), ("c", 1), ("r", 2), ("r", 1)].map(|(i, d)| (i.to_string(), d));
        assert_eq!(got, want);
    }

    #[test]
    fn access_token_expires_is_a_date_or_a_time() {
        let read = |value: &str| {
            let toml = format!("type = 'threads'\naccess_token_expires = {value}");
            match toml::from_str::<PlatformSettings>(&toml) {
                Ok(PlatformSettings::Threads(s)) => Ok(s.access_token_expires.map(|t| t.0.to_rfc3339())),
                Ok(other) => Err(format!("{other:?}")),
                Err(e) => Err(e.to_string()),
            }
        };
        let midnight = Ok(Some("2027-02-01T00:00:00+00:00".to_string()));
        assert_eq!(read("'2027-02-01'"), midnight, "a quoted date");
        assert_eq!(read("2027-02-01"), midnight, "a TOML date");
        assert_eq!(read("'2027-02-01T10:00:00+01:00'"), Ok(Some("2027-02-01T09:00:00+00:00".to_string())));
        assert_eq!(read("2027-02-01T09:00:00Z"), Ok(Some("2027-02-01T09:00:00+00:00".to_string())));
        let bad = read("'next tuesday'").unwrap_err();
        assert!(bad.contains("\"next tuesday\" is not a date like \"2027-02-01\""), "{bad}");
    }

    #[test]
    fn expiry_is_reported_a_week_ahead() {
        let s: PlatformSettings =
            toml::from_str("type = 'threads'\naccess_token = 't'\naccess_token_expires = '2027-02-01'").unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(token_expiry(&s, at("2027-01-20T00:00:00Z")), None);
        let soon = token_expiry(&s, at("2027-01-26T00:00:00Z")).unwrap();
        assert!(!soon.expired && soon.message.contains("2027-02-01 00:00 UTC (in 6 days)"), "{soon:?}");
        let hours = token_expiry(&s, at("2027-01-31T21:00:00Z")).unwrap();
        assert!(hours.message.contains("(in 3 hours)"), "{hours:?}");
        let gone = token_expiry(&s, at("2027-02-01T00:00:00Z")).unwrap();
        assert!(gone.expired && gone.message.contains("expired on 2027-02-01"), "{gone:?}");
        let none: PlatformSettings = toml::from_str("type = 'instagram'\nuser_id = '1'").unwrap();
        assert_eq!(token_expiry(&none, at("2027-02-01T00:00:00Z")), None);
    }
}
