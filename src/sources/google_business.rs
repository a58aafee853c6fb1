//! Google Business Profile reviews of the brand's own locations (shops, branches):
//! `GET /v4/accounts/{accountId}/locations/{locationId}/reviews`.
//!
//! A response is `reviews[]`, `averageRating`, `totalReviewCount` and `nextPageToken`; Google leaves an empty
//! list out, so a location without reviews answers `{}` or the totals alone. A review has `name`
//! (`accounts/…/locations/…/reviews/{id}`), `reviewId`, `reviewer {displayName, profilePhotoUrl, isAnonymous}`,
//! `starRating` (`ONE`…`FIVE`), `comment` (absent for a rating without words), `createTime`, `updateTime` and the
//! owner's `reviewReply {comment, updateTime}`. hearsay asks for `orderBy=updateTime desc`, so `updateTime` is the
//! mention's time (an edited review moves up with its new text). A comment Google translated reads
//! `(Translated by Google) … (Original) …`: the original is kept. The owner's reply is counted in the metrics
//! (`owner_reply: 1`), not stored: it is the brand's own voice.
//!
//! The payload does not name the location (only its id, in `name`): the poller gives each mention the location
//! name configured for its feed (`Feed::location`), which `hearsay stats --by location` splits by.

use serde_json::Value;

use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, bool_at, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage, Platform,
};
use crate::config::sources::GoogleBusinessSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::plain_text;

const P: Platform = Platform::GoogleBusiness;

/// Said with every configuration error of a `google_business` source (`sources::advice`): a refused or revoked
/// refresh token, a missing scope, a project without API access.
pub(super) const ADVICE: &str = "google_business needs a refresh token of the OAuth client (client_id, \
     client_secret) granted the scope https://www.googleapis.com/auth/business.manage by an owner or manager of the \
     locations; Google revokes one when the account's password changes, when its access is removed, and after 7 days \
     while the OAuth consent screen is in testing, so create a new one then; the Cloud project needs Business Profile \
     API access approved and the My Business API enabled";

/// Keys of a response without reviews.
const EMPTY_KEYS: [&str; 3] = ["averageRating", "totalReviewCount", "nextPageToken"];

/// Parses one page of a location's reviews. `next_page` is `nextPageToken`.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let reviews = super::google_reviews(P, &root, &EMPTY_KEYS)?;
    let mut page = ParsedPage::default();
    for r in reviews {
        match item(r) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["nextPageToken"]);
    Ok(page)
}

fn item(r: &Value) -> Option<NewMention> {
    let id = string_at(r, &["reviewId"]).or_else(|| str_at(r, &["name"])?.rsplit('/').next().map(str::to_string))?;
    let created_at = time_at(r, &["updateTime"]).or_else(|| time_at(r, &["createTime"]))?;
    let mut m = mention(P, id, created_at, MentionKind::Review);
    if bool_at(r, &["reviewer", "isAnonymous"]) != Some(true) {
        m.author = string_at(r, &["reviewer", "displayName"]);
    }
    m.text = str_at(r, &["comment"]).map(original_text).map(|t| plain_text(&t)).unwrap_or_default();
    m.rating = str_at(r, &["starRating"]).and_then(stars);
    if at(r, &["reviewReply"]).is_some_and(Value::is_object) {
        m.metrics.insert("owner_reply".into(), 1);
    }
    Some(m)
}

/// `ONE`…`FIVE` as 1–5 (`STAR_RATING_UNSPECIFIED` and anything else: none).
fn stars(s: &str) -> Option<u8> {
    ["ONE", "TWO", "THREE", "FOUR", "FIVE"].iter().position(|n| n.eq_ignore_ascii_case(s.trim())).map(|i| i as u8 + 1)
}

/// The reviewer's own words of a comment Google translated (`(Translated by Google) …\n\n(Original)\n…`).
fn original_text(comment: &str) -> String {
    match comment.split_once("(Original)") {
        Some((translated, original))
            if translated.trim_start().starts_with("(Translated by Google)") && !original.trim().is_empty() =>
        {
            original.trim().to_string()
        }
        _ => comment.to_string(),
    }
}

/// What to ask Business Profile for one brand: each configured location's reviews, most recently updated first,
/// paged by `pageToken`, under the OAuth client's access token. The reviews are of the brand's own places, so
/// they need not name it; each feed carries its location's name for the mentions.
pub(super) fn plan(s: &GoogleBusinessSettings) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let feeds = s
        .locations
        .iter()
        .map(|(id, name)| {
            let url = format!(
                "{base}/v4/accounts/{}/locations/{}/reviews?pageSize={}&orderBy=updateTime%20desc",
                enc(&s.account_id),
                enc(id),
                s.page_size.clamp(1, 50)
            );
            let name = if name.trim().is_empty() { id.clone() } else { name.trim().to_string() };
            Feed { owned: true, location: Some(name), ..Feed::new(id.clone(), url, Paging::Token("pageToken")) }
        })
        .collect();
    RequestPlan { feeds, auth: Auth::OAuth2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_ratings_and_translated_comments() {
        let table =
            [("ONE", Some(1)), ("five", Some(5)), ("THREE ", Some(3)), ("STAR_RATING_UNSPECIFIED", None), ("6", None)];
        for (s, want) in table {
            assert_eq!(stars(s), want, "{s}");
        }
        assert_eq!(original_text("(Translated by Google) Good\n\n(Original)\nBien"), "Bien");
        assert_eq!(original_text("Plain (Original) words"), "Plain (Original) words");
    }

    #[test]
    fn the_plan_asks_each_location_newest_first_with_its_name() {
        let s: GoogleBusinessSettings = toml::from_str(
            "account_id = '111'\nlocations = { '22' = 'Acme Paris', '33' = '' }\nbase_url = 'http://gb.test/'",
        )
        .unwrap();
        let plan = plan(&s);
        assert_eq!(plan.auth, Auth::OAuth2);
        let got: Vec<(&str, Option<&str>, bool)> =
            plan.feeds.iter().map(|f| (f.url.as_str(), f.location.as_deref(), f.owned)).collect();
        assert_eq!(
            got,
            [
                (
                    "http://gb.test/v4/accounts/111/locations/22/reviews?pageSize=50&orderBy=updateTime%20desc",
                    Some("Acme Paris"),
                    true
                ),
                (
                    "http://gb.test/v4/accounts/111/locations/33/reviews?pageSize=50&orderBy=updateTime%20desc",
                    Some("33"),
                    true
                ),
            ]
        );
        assert_eq!(plan.feeds[0].paging, Paging::Token("pageToken"));
    }
}
