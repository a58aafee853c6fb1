//! The mention record: what every source produces, what `hearsay import` reads and what
//! `hearsay sources parse` prints, one JSON object per line.
//!
//! This is a stable, documented interchange format (README "Record format"), so field names never change
//! meaning. It deliberately carries no sentiment or brand: those are decided after storage
//! (see `sentiment` and `query`), except that `hearsay import` accepts them as optional extras.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

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
