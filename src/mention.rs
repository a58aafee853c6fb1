//! The mention record: what every source produces, what `hearsay import` reads and what
//! `hearsay sources parse` prints, one JSON object per line.
//!
//! This is a stable, documented interchange format (README "Record format"), so field names never change
//! meaning. It deliberately carries no sentiment or brand: those are decided after storage
//! (see `sentiment` and `query`), except that `hearsay import` accepts them as optional extras.
//!
//! [`Platform`], the closed set of platforms a mention can come from, lives here too (pure, at the bottom of the
//! layers) so that language detection and the config can name it without depending on `sources`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The platforms hearsay can read, named as in `[[sources]] type = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Reddit,
    HackerNews,
    Mastodon,
    Bluesky,
    Lemmy,
    YouTube,
    StackExchange,
    GitHub,
    AppStore,
    Trustpilot,
    Yelp,
    /// X (formerly Twitter), API v2 recent search.
    X,
    /// Google Play reviews of the brand's apps (Play Developer API).
    GooglePlay,
    /// Google Business Profile reviews of the brand's locations.
    #[serde(rename = "google_business")]
    GoogleBusiness,
    /// Threads, keyword search.
    Threads,
    /// Comments on a Facebook page the brand manages, and posts on it by others (Graph API).
    #[serde(rename = "facebook_page")]
    FacebookPage,
    /// Comments on an Instagram professional account's media, and media that tag it (Graph API).
    Instagram,
    Feed,
    Html,
}

impl Platform {
    pub const ALL: [Platform; 19] = [
        Platform::Reddit,
        Platform::HackerNews,
        Platform::Mastodon,
        Platform::Bluesky,
        Platform::Lemmy,
        Platform::YouTube,
        Platform::StackExchange,
        Platform::GitHub,
        Platform::AppStore,
        Platform::Trustpilot,
        Platform::Yelp,
        Platform::X,
        Platform::GooglePlay,
        Platform::GoogleBusiness,
        Platform::Threads,
        Platform::FacebookPage,
        Platform::Instagram,
        Platform::Feed,
        Platform::Html,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Reddit => "reddit",
            Platform::HackerNews => "hackernews",
            Platform::Mastodon => "mastodon",
            Platform::Bluesky => "bluesky",
            Platform::Lemmy => "lemmy",
            Platform::YouTube => "youtube",
            Platform::StackExchange => "stackexchange",
            Platform::GitHub => "github",
            Platform::AppStore => "appstore",
            Platform::Trustpilot => "trustpilot",
            Platform::Yelp => "yelp",
            Platform::X => "x",
            Platform::GooglePlay => "googleplay",
            Platform::GoogleBusiness => "google_business",
            Platform::Threads => "threads",
            Platform::FacebookPage => "facebook_page",
            Platform::Instagram => "instagram",
            Platform::Feed => "feed",
            Platform::Html => "html",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL.into_iter().find(|p| p.as_str().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown platform {s:?}; expected one of {}", names.join(", "))
        })
    }
}

/// What sort of thing a mention is, in the platform's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MentionKind {
    Post,
    Comment,
    Review,
    Article,
}

impl MentionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MentionKind::Post => "post",
            MentionKind::Comment => "comment",
            MentionKind::Review => "review",
            MentionKind::Article => "article",
        }
    }
}

/// One mention as a source saw it, before storage.
///
/// `(platform, external_id)` identifies it: storing the same pair twice is a no-op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMention {
    /// Platform type as in `[[sources]] type`, e.g. `reddit`, `hackernews`, `feed`.
    pub platform: String,
    /// The platform's own id for the item (for Mastodon the status `uri`, for App Store `country:id`).
    pub external_id: String,
    /// Link to the item as the platform gave it (not canonicalised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Plain text: HTML removed, entities decoded, whitespace collapsed.
    #[serde(default)]
    pub text: String,
    /// When the author published it (RFC 3339 UTC on the wire).
    #[serde(with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    pub kind: MentionKind,
    /// BCP 47 language tag when the platform says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Star rating 1–5 for reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Platform counters (score, replies, likes, …), names as the platform uses them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, i64>,
    /// The platform id of the item this one answers (comments, replies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// The place a review is about, by the name configured for it (a Google Business Profile location), so that
    /// `hearsay stats --by location` can split a brand's reviews by shop or branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// RFC 3339 with a `Z` suffix and whole seconds, the one time format of the record.
pub mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("created_at {s:?} is not RFC 3339: {e}")))
    }
}
