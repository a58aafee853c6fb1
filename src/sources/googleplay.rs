//! Google Play reviews of the brand's own apps, in either of the two formats Google serves them.
//!
//! **The Play Developer API** (`GET /androidpublisher/v3/applications/{packageName}/reviews`, what hearsay polls):
//! `reviews[]` with `reviewId`, `authorName` and `comments[]`, where the reviewer's comment is
//! `userComment {text, lastModified {seconds, nanos}, starRating, reviewerLanguage, device, appVersionName,
//! thumbsUpCount, thumbsDownCount}` and the developer's answer `developerComment {text, lastModified}`; the next
//! page's token is `tokenPagination.nextPageToken`. Google leaves empty lists out, so a week without reviews is
//! `{}`. A review written with a title has it before a tab in `text`. The newest created or edited comment comes
//! first, so `lastModified` is the mention's time (an edited review moves up with its new text).
//!
//! **play.google.com's `batchexecute` reply** (rpc id `UsvDTd`, what the public store page loads and what
//! scrapers save): the anti-XSSI prefix `)]}'`, then one JSON array of envelopes (or, with `rt=c`, several, each
//! after its length) `["wrb.fr", "UsvDTd", "<JSON as a string>", …]`. The inner JSON is `[reviews, …, [null,
//! token]]`; a review is a positional array: `[0]` id, `[1][0]` author, `[2]` stars, `[4]` text, `[5]` `[seconds,
//! nanos]`, `[6]` thumbs up, `[7]` the developer's reply (`[1]` text, `[2]` time), `[10]` app version (layout as
//! google-play-scraper reads it). Which format a body is, is told by its content.
//!
//! Both carry the same review ids (`gp:…`), which are the `external_id`. Neither names the app, so the link to a
//! review (`https://play.google.com/store/apps/details?id={package}&reviewId={id}`) is made only when the URL the
//! body came from names the package ([`ParseContext::base_url`]). A developer reply is counted in the metrics
//! (`developer_reply: 1`), not stored as a mention: it is the brand's own voice.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, i64_at, mention, parse_json, rating_at, str_at, string_at, unix_time, ParseContext, ParseError, ParsedPage,
    Platform,
};
use crate::config::sources::{is_package_name, GooglePlaySettings};
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::GooglePlay;

/// Said with every configuration error of a `googleplay` source (`sources::advice`): a refused key, a missing
/// permission, an app the account cannot see.
pub(super) const ADVICE: &str = "googleplay needs a service account's JSON key (service_account_key; a deleted or \
     disabled key is refused) from a Cloud project where the Google Play Android Developer API is enabled, and Play \
     Console > Users and permissions must give the service account's email the \"Reply to reviews\" permission for \
     each app in package_names (scope https://www.googleapis.com/auth/androidpublisher)";

/// The anti-XSSI prefix of Google's JSON-over-HTTP replies.
const XSSI_PREFIX: &str = ")]}'";

/// The rpc id of the store page's review list.
const REVIEWS_RPC: &str = "UsvDTd";

/// Parses a `reviews.list` response or a `batchexecute` review reply. `next_page` is the next page's token.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let trimmed = text.trim_start_matches('\u{FEFF}').trim_start();
    let package = ctx.base_url.as_deref().and_then(package_of);
    if trimmed.starts_with(XSSI_PREFIX) || (trimmed.starts_with('[') && trimmed.contains("\"wrb.fr\"")) {
        return parse_batchexecute(trimmed.strip_prefix(XSSI_PREFIX).unwrap_or(trimmed), package.as_deref());
    }
    parse_api(text, package.as_deref())
}

// ---- the Play Developer API -------------------------------------------------------------------------------------

fn parse_api(text: &str, package: Option<&str>) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    // Google leaves an empty list out: `{}` (or paging alone) is a week without reviews.
    let reviews = super::google_reviews(P, &root, &["tokenPagination", "pageInfo"])?;
    let mut page = ParsedPage::default();
    for r in reviews {
        match api_item(r, package) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["tokenPagination", "nextPageToken"]);
    Ok(page)
}

fn api_item(r: &Value, package: Option<&str>) -> Option<NewMention> {
    let id = string_at(r, &["reviewId"])?;
    let comments = at(r, &["comments"])?.as_array()?;
    let user = comments.iter().find_map(|c| c.get("userComment").filter(|u| u.is_object()))?;
    let created_at = i64_at(user, &["lastModified", "seconds"]).and_then(|s| unix_time(s as f64))?;
    let mut m = review(id, created_at, package);
    m.author = string_at(r, &["authorName"]);
    // A review written with a title carries it before a tab.
    let raw = str_at(user, &["text"]).unwrap_or_default();
    match raw.split_once('\t') {
        Some((title, body)) if !title.trim().is_empty() => {
            m.title = Some(plain_text(title));
            m.text = plain_text(body);
        }
        _ => m.text = plain_text(raw),
    }
    m.rating = rating_at(user, &["starRating"]);
    // Play writes languages as `en`, `pt_BR`; BCP 47 wants `pt-BR`.
    m.lang = str_at(user, &["reviewerLanguage"]).map(|l| l.trim().replace('_', "-"));
    super::copy_metrics(&mut m.metrics, user, &["thumbsUpCount", "thumbsDownCount"]);
    if comments.iter().any(|c| c.get("developerComment").is_some_and(Value::is_object)) {
        m.metrics.insert("developer_reply".into(), 1);
    }
    Some(m)
}

// ---- play.google.com batchexecute -------------------------------------------------------------------------------

fn parse_batchexecute(body: &str, package: Option<&str>) -> Result<ParsedPage, ParseError> {
    // One array of envelopes, or (`rt=c`) chunks each after its length: read the values one after another.
    let mut inner: Option<String> = None;
    let mut failure: Option<String> = None;
    let mut rpcs: Vec<String> = Vec::new();
    for value in serde_json::Deserializer::from_str(body).into_iter::<Value>() {
        let value = value.map_err(|e| {
            let what = if e.is_eof() { "truncated batchexecute reply" } else { "invalid batchexecute reply" };
            ParseError::new(P, format!("{what}: {e}"))
        })?;
        let Value::Array(envelopes) = value else { continue };
        for env in &envelopes {
            if env.get(0).and_then(Value::as_str) != Some("wrb.fr") {
                continue;
            }
            let rpc = env.get(1).and_then(Value::as_str).unwrap_or_default();
            if rpc != REVIEWS_RPC {
                rpcs.push(rpc.chars().take(20).collect());
                continue;
            }
            match env.get(2).and_then(Value::as_str) {
                Some(s) if inner.is_none() => inner = Some(s.to_string()),
                Some(_) => {}
                // No data: the status, when any, is an array at [5] (`[3]`: the request was refused).
                None => {
                    let code = env.get(5).map(Value::to_string).unwrap_or_else(|| "none".into());
                    failure.get_or_insert(format!("the {REVIEWS_RPC} reply carries no data (status {code})"));
                }
            }
        }
    }
    let Some(inner) = inner else {
        let reason = match (failure, rpcs.is_empty()) {
            (Some(f), _) => f,
            (None, false) => format!("not a review list: replies to {} only", rpcs.join(", ")),
            (None, true) => format!("not a batchexecute reply: no [\"wrb.fr\", \"{REVIEWS_RPC}\", …] envelope"),
        };
        return Err(ParseError::new(P, reason));
    };
    let data: Value = serde_json::from_str(&inner)
        .map_err(|e| ParseError::new(P, format!("the review list inside the reply is not JSON: {e}")))?;
    let mut page = ParsedPage::default();
    let reviews = match data.get(0) {
        Some(Value::Array(r)) => r.as_slice(),
        // An app without (more) reviews answers `[null, …]` or `[]`.
        None | Some(Value::Null) if data.is_array() => &[],
        _ => return Err(ParseError::new(P, "the review list inside the reply is not an array")),
    };
    for r in reviews {
        match scraped_item(r, package) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    // The token is the last element of the last element; on the last page that is a review (an array), not text.
    if data.as_array().is_some_and(|d| d.len() > 1) {
        page.next_page = data
            .as_array()
            .and_then(|d| d.last())
            .and_then(|t| t.as_array()?.last()?.as_str().filter(|s| !s.is_empty()).map(str::to_string));
    }
    Ok(page)
}

/// `v[i][j]…` through arrays.
fn idx<'a>(v: &'a Value, path: &[usize]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, i| v.as_array()?.get(*i))
}

fn scraped_item(r: &Value, package: Option<&str>) -> Option<NewMention> {
    let id = idx(r, &[0])?.as_str().map(str::trim).filter(|s| !s.is_empty())?.to_string();
    let created_at = idx(r, &[5, 0]).and_then(Value::as_f64).and_then(unix_time)?;
    let mut m = review(id, created_at, package);
    m.author = idx(r, &[1, 0]).and_then(Value::as_str).filter(|s| !s.trim().is_empty()).map(str::to_string);
    m.text = idx(r, &[4]).and_then(Value::as_str).map(plain_text).unwrap_or_default();
    m.rating = idx(r, &[2]).and_then(|v| rating_at(v, &[]));
    if let Some(n) = idx(r, &[6]).and_then(Value::as_i64) {
        m.metrics.insert("thumbsUpCount".into(), n);
    }
    if idx(r, &[7, 1]).and_then(Value::as_str).is_some() {
        m.metrics.insert("developer_reply".into(), 1);
    }
    Some(m)
}

// ---- both -------------------------------------------------------------------------------------------------------

fn review(id: String, created_at: DateTime<Utc>, package: Option<&str>) -> NewMention {
    let mut m = mention(P, id, created_at, MentionKind::Review);
    m.url = package
        .map(|p| format!("https://play.google.com/store/apps/details?id={}&reviewId={}", enc(p), enc(&m.external_id)));
    m
}

/// The app's package name from the URL a body came from: `…/applications/{package}/reviews` (the API) or
/// `?id={package}` (the store page).
fn package_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let mut segs = u.path_segments()?;
    let from_path = segs.by_ref().find(|s| *s == "applications").and_then(|_| segs.next()).map(str::to_string);
    from_path
        .or_else(|| u.query_pairs().find(|(k, _)| k == "id").map(|(_, v)| v.into_owned()))
        .filter(|p| is_package_name(p))
}

/// What to ask the Play Developer API for one brand: each app's newest reviews, paged by `token`, under the
/// service account's access token. The reviews are of the brand's own apps, so they need not name it.
pub(super) fn plan(s: &GooglePlaySettings) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let feeds = s
        .package_names
        .iter()
        .map(|p| {
            let url = format!(
                "{base}/androidpublisher/v3/applications/{}/reviews?maxResults={}",
                enc(p),
                s.max_results.clamp(1, 100)
            );
            Feed { owned: true, ..Feed::new(p.clone(), url, Paging::Token("token")) }
        })
        .collect();
    RequestPlan { feeds, auth: Auth::OAuth2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_comes_from_the_api_path_or_the_store_query() {
        assert_eq!(
            package_of("https://androidpublisher.googleapis.com/androidpublisher/v3/applications/com.acme.app/reviews?maxResults=100")
                .as_deref(),
            Some("com.acme.app")
        );
        assert_eq!(
            package_of("https://play.google.com/store/apps/details?id=com.acme.app").as_deref(),
            Some("com.acme.app")
        );
        assert_eq!(package_of("https://play.google.com/_/PlayStoreUi/data/batchexecute?rpcids=UsvDTd"), None);
        assert_eq!(package_of("https://x.test/applications/not a package/reviews"), None);
    }

    #[test]
    fn the_plan_pages_each_app_by_token() {
        let s: GooglePlaySettings =
            toml::from_str("package_names = ['com.acme.app']\nbase_url = 'http://gp.test/'\nmax_results = 50").unwrap();
        let plan = plan(&s);
        assert_eq!(plan.auth, Auth::OAuth2);
        assert_eq!(
            plan.feeds[0].url,
            "http://gp.test/androidpublisher/v3/applications/com.acme.app/reviews?maxResults=50"
        );
        assert_eq!(plan.feeds[0].paging, Paging::Token("token"));
        assert!(plan.feeds[0].owned);
    }

    #[test]
    fn chunked_batchexecute_replies_are_read_too() {
        let inner = serde_json::to_string(&serde_json::json!([
            [["gp:1", ["Ann"], 4, null, "ok", [1_700_000_000, 0], 2]],
            [null, "next"]
        ]))
        .unwrap();
        let envelope =
            serde_json::to_string(&serde_json::json!([["wrb.fr", "UsvDTd", inner, null, null, null, "generic"]]))
                .unwrap();
        let body = format!(")]}}'\n\n{}\n{envelope}\n57\n[[\"di\",68],[\"af.httprm\",67,\"-1\",1]]\n", envelope.len());
        let page = parse(&body, &ParseContext::default()).unwrap();
        assert_eq!(page.mentions.len(), 1);
        assert_eq!(page.mentions[0].rating, Some(4));
        assert_eq!(page.next_page.as_deref(), Some("next"));
    }
}
