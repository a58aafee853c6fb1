//! Yelp Fusion `GET /v3/businesses/{id}/reviews`: `reviews[]` with `id`, `text`, `rating`,
//! `time_created`, `user.name`, `url`.
//!
//! `time_created` (`"2016-08-29 00:41:13"`) is in the business's local time with no offset given
//! (Yelp documents it as Pacific time, but that is not true for businesses elsewhere). It is read as
//! UTC: the error is a few hours at most, which matters for neither dedup nor daily spike counts.
//! `text` is an excerpt of at most 160 characters: that is what the API gives.

use serde_json::Value;

use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, mention, parse_json, rating_at, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage, Platform,
};
use crate::config::sources::YelpSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::Yelp;

pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(Value::Array(reviews)) = at(&root, &["reviews"]) else {
        let reason = match (str_at(&root, &["error", "code"]), str_at(&root, &["error", "description"])) {
            (Some(code), Some(d)) => format!("error response: {code}: {d}"),
            (Some(e), None) | (None, Some(e)) => format!("error response: {e}"),
            _ => "not a reviews response: no reviews array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    };
    let mut page = ParsedPage::default();
    for r in reviews {
        match item(r) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    Ok(page)
}

fn item(r: &Value) -> Option<NewMention> {
    let id = string_at(r, &["id"])?;
    let created_at = time_at(r, &["time_created"])?;
    let mut m = mention(P, id, created_at, MentionKind::Review);
    m.url = string_at(r, &["url"]);
    m.author = string_at(r, &["user", "name"]);
    m.text = str_at(r, &["text"]).map(plain_text).unwrap_or_default();
    m.rating = rating_at(r, &["rating"]);
    Some(m)
}

/// What to ask Yelp for one brand: each business's newest reviews (one page: the API gives a few excerpts),
/// with the API key as a bearer token. The reviews are of the brand's own business, so they need not name it.
pub(super) fn plan(s: &YelpSettings) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let feeds = s
        .business_ids
        .iter()
        .map(|b| {
            let url = format!("{base}/businesses/{}/reviews?sort_by=newest&limit=50", enc(b));
            Feed { owned: true, ..Feed::new(b.clone(), url, Paging::None) }
        })
        .collect();
    RequestPlan { feeds, auth: Auth::Bearer }
}
