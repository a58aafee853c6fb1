//! Read-only summaries: a brand's period in figures (per platform and language; its negative mentions, by the
//! model's confidence or by engagement) for alert emails, digests, the report and the console's overview, and
//! whole-store totals for the demo.
//!
//! A brand's period is read along the index `mention_brands_brand_time` (brand, time, first copy, label): one
//! lookup of the brand's id by name, one range scan over the period, the matches' mentions by primary key. The
//! platform and language split reads its whole days from the `brand_days` rollup instead.
//! Most whole-store totals read every mention or label (no index could spare them that): they are meant for the
//! demo's few thousand, not for a history of millions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};

/// A negative mention shown in an alert email.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub id: i64,
    pub platform: String,
    pub author: Option<String>,
    pub text: String,
    pub url: Option<String>,
    pub created_at: i64,
    pub score: f64,
    pub terms: Option<String>,
    /// `mentions.lang`: ISO 639-1, "und", or `None` for a mention stored untagged before languages were kept.
    pub lang: Option<String>,
}

/// A negative mention with its engagement: the sum of its platform counters (score, comments, favourites…).
#[derive(Debug, Clone, PartialEq)]
pub struct EngagedMention {
    pub platform: String,
    pub author: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub url: Option<String>,
    pub created_at: i64,
    /// The platform's counters by name; empty when there are none, or when one of them is not an integer.
    pub metrics: BTreeMap<String, i64>,
    pub engagement: i64,
}

/// How many mentions the store holds, and from how many platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MentionTotals {
    pub mentions: i64,
    pub platforms: i64,
}

/// Mentions of one platform or one language, and how many of them are negative and positive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTotals {
    /// The platform, or the language as stored (`?` for a mention stored before languages were kept).
    pub key: String,
    /// Every mention of the group, labelled or not.
    pub mentions: i64,
    pub negative: i64,
    pub positive: i64,
}

/// A brand's mentions of a period by platform and by language ([`Store::brand_split`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandSplit {
    pub platforms: Vec<GroupTotals>,
    /// Keyed by `mentions.lang` (ISO 639-1 or "und"), `?` for mentions stored before languages were kept.
    pub languages: Vec<GroupTotals>,
}

/// One (platform, language, label) cell of a split and its count.
struct SplitCell {
    platform: String,
    lang: String,
    label: String,
    n: i64,
}

fn split_cell(r: &sqlx::sqlite::SqliteRow) -> SplitCell {
    SplitCell { platform: r.get(0), lang: r.get(1), label: r.get(2), n: r.get(3) }
}

impl BrandSplit {
    fn of(cells: &[SplitCell]) -> BrandSplit {
        let group = |key: &dyn Fn(&SplitCell) -> String| {
            let mut by: BTreeMap<String, GroupTotals> = BTreeMap::new();
            for c in cells.iter().filter(|c| c.n != 0) {
                let k = key(c);
                let g = by.entry(k.clone()).or_insert(GroupTotals { key: k, mentions: 0, negative: 0, positive: 0 });
                g.mentions += c.n;
                match c.label.as_str() {
                    "negative" => g.negative += c.n,
                    "positive" => g.positive += c.n,
                    _ => {}
                }
            }
            let mut v: Vec<GroupTotals> = by.into_values().filter(|g| g.mentions > 0).collect();
            v.sort_by(|a, b| b.negative.cmp(&a.negative).then(b.mentions.cmp(&a.mentions)).then(a.key.cmp(&b.key)));
            v
        };
        BrandSplit {
            platforms: group(&|c| c.platform.clone()),
            languages: group(&|c| if c.lang.is_empty() { "?".to_string() } else { c.lang.clone() }),
        }
    }
}

/// Labelled mentions, by effective label (the manual one where set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentimentTotals {
    pub labelled: i64,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
}

impl Store {
    /// Per-platform (total, negative) counts of a brand in `[from, until)`, syndicated copies once, the most
    /// negative first: [`Store::brand_split`]'s platforms.
    pub async fn platform_counts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let split = self.brand_split(brand, from, until).await?;
        Ok(split.platforms.into_iter().map(|g| (g.key, g.mentions, g.negative)).collect())
    }

    /// A brand's mentions in `[from, until)` by platform and by language (syndicated copies and marked matches
    /// left out, as in every count), each group's most negative first. Whole UTC days come from the
    /// `brand_days` rollup (one row per brand, day, platform, language and label: a month of a busy brand is
    /// about a thousand rows); the partial days at either end of the period from the brand matches themselves,
    /// along `mention_brands_brand_time` with each match's mention by primary key.
    pub async fn brand_split(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<BrandSplit, StoreError> {
        const DAY: i64 = 86_400;
        let (from, until) = (from.timestamp(), until.timestamp());
        let mut cells: Vec<SplitCell> = Vec::new();
        // The rollup's day is `created_at / 86400` in SQL, which truncates: for times before 1970 it is not the
        // floor, so such a period is read from the matches.
        let lo = if from >= 0 { (from + DAY - 1) / DAY } else { i64::MAX };
        let hi = until.div_euclid(DAY);
        if lo < hi {
            let rows = sqlx::query(
                "SELECT bd.platform, bd.lang, bd.label, sum(bd.n) FROM brand_days bd JOIN brands b ON b.id = bd.brand_id
                 WHERE b.name = ?1 AND bd.day >= ?2 AND bd.day < ?3 GROUP BY 1, 2, 3",
            )
            .bind(brand)
            .bind(lo)
            .bind(hi)
            .fetch_all(&self.pool)
            .await?;
            cells.extend(rows.iter().map(split_cell));
            for (a, b) in [(from, lo * DAY), (hi * DAY, until)] {
                if a < b {
                    cells.extend(self.split_scan(brand, a, b).await?);
                }
            }
        } else {
            cells.extend(self.split_scan(brand, from, until).await?);
        }
        Ok(BrandSplit::of(&cells))
    }

    /// `brand_split`'s cells read from the brand matches of `[from, until)`.
    async fn split_scan(&self, brand: &str, from: i64, until: i64) -> Result<Vec<SplitCell>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.platform, coalesce(m.lang, ''), coalesce(mb.label, ''), count(*)
             FROM mention_brands mb JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.created_at >= ?2 AND mb.created_at < ?3
             GROUP BY 1, 2, 3",
        )
        .bind(brand)
        .bind(from)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(split_cell).collect())
    }

    /// The brand's negative mentions in `[from, until)`, most confidently negative first. The period's range of
    /// `mention_brands_brand_time`; the negative first copies' mentions and sentiments by primary key.
    pub async fn negative_examples(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Example>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.platform, m.author, trim(coalesce(m.title || ' — ', '') || m.text), m.url, m.created_at,
                    CASE WHEN s.override_label = 'negative' THEN 1.0 ELSE coalesce(s.score_negative, 0.5) END, mb.terms,
                    m.lang
             FROM mention_brands mb JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             JOIN sentiment s ON s.mention_id = mb.mention_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.label = 'negative'
               AND mb.created_at >= ?2 AND mb.created_at < ?3
             ORDER BY 7 DESC, m.created_at DESC LIMIT ?4",
        )
        .bind(brand)
        .bind(from.timestamp())
        .bind(until.timestamp())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Example {
                id: r.get(0),
                platform: r.get(1),
                author: r.get(2),
                text: r.get(3),
                url: r.get(4),
                created_at: r.get(5),
                score: r.get(6),
                terms: r.get(7),
                lang: r.get(8),
            })
            .collect())
    }

    /// The brand's negative mentions in `[from, until)` (syndicated copies once) with the most engagement
    /// first, newest first among equals. The period's range of `mention_brands_brand_time` is read without
    /// touching the table (the index covers brand, time, first copy and label), then each negative match's
    /// mention by primary key for its counters; the top `limit` are sorted in a temporary b-tree.
    pub async fn most_engaged_negatives(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<EngagedMention>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.platform, m.author, m.title, m.text, m.url, m.created_at,
                    CASE WHEN json_valid(m.metrics) THEN m.metrics END AS metrics,
                    CASE WHEN json_valid(m.metrics) THEN
                        (SELECT coalesce(sum(CAST(value AS INTEGER)), 0) FROM json_each(m.metrics) WHERE type IN ('integer', 'real'))
                    ELSE 0 END AS engagement
             FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.label = 'negative'
               AND mb.created_at >= ?2 AND mb.created_at < ?3
             ORDER BY engagement DESC, m.created_at DESC LIMIT ?4",
        )
        .bind(brand)
        .bind(from.timestamp())
        .bind(until.timestamp())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| EngagedMention {
                platform: r.get(0),
                author: r.get(1),
                title: r.get(2),
                text: r.get(3),
                url: r.get(4),
                created_at: r.get(5),
                metrics: r.get::<Option<String>, _>(6).and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
                engagement: r.get(7),
            })
            .collect())
    }
}

/// The whole store at once (`hearsay demo`'s totals).
impl Store {
    /// Mentions stored, and the platforms they came from. Two scans of a covering index, no table read:
    /// `mentions_text_hash16` (the narrowest) for the count, `sqlite_autoindex_mentions_1` (platform,
    /// external id) for the platforms, in order, so that counting them distinctly needs no temporary b-tree.
    pub async fn mention_totals(&self) -> Result<MentionTotals, StoreError> {
        let mentions: i64 = sqlx::query_scalar("SELECT count(*) FROM mentions").fetch_one(&self.pool).await?;
        let platforms: i64 =
            sqlx::query_scalar("SELECT count(DISTINCT platform) FROM mentions").fetch_one(&self.pool).await?;
        Ok(MentionTotals { mentions, platforms })
    }

    /// Per platform: its mentions, negative and positive, most mentions first. A scan of the covering index
    /// `sqlite_autoindex_mentions_1` (grouped by platform in its order), each mention's sentiment by primary key.
    pub async fn totals_by_platform(&self) -> Result<Vec<GroupTotals>, StoreError> {
        self.group_totals(
            "SELECT m.platform, count(*), coalesce(sum(s.effective = 'negative'), 0), coalesce(sum(s.effective = 'positive'), 0)
             FROM mentions m LEFT JOIN sentiment s ON s.mention_id = m.id GROUP BY m.platform ORDER BY 2 DESC",
        )
        .await
    }

    /// Per language (`?` where none is stored): its mentions, negative and positive, most mentions first. A scan
    /// of `mentions` (no index has `lang`), each mention's sentiment by primary key, grouped in a temporary b-tree.
    pub async fn totals_by_language(&self) -> Result<Vec<GroupTotals>, StoreError> {
        self.group_totals(
            "SELECT coalesce(m.lang, '?'), count(*), coalesce(sum(s.effective = 'negative'), 0), coalesce(sum(s.effective = 'positive'), 0)
             FROM mentions m LEFT JOIN sentiment s ON s.mention_id = m.id GROUP BY 1 ORDER BY 2 DESC",
        )
        .await
    }

    async fn group_totals(&self, sql: &str) -> Result<Vec<GroupTotals>, StoreError> {
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| GroupTotals { key: r.get(0), mentions: r.get(1), negative: r.get(2), positive: r.get(3) })
            .collect())
    }

    /// Every labelled mention, by effective label. A scan of `sentiment` (one row per labelled mention; its
    /// `effective` index was dropped in migration 6 as no query narrows by it).
    pub async fn label_totals(&self) -> Result<SentimentTotals, StoreError> {
        let r = sqlx::query(
            "SELECT count(*), coalesce(sum(effective = 'negative'), 0), coalesce(sum(effective = 'neutral'), 0),
                    coalesce(sum(effective = 'positive'), 0) FROM sentiment",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(sentiment_totals(&r))
    }

    /// Labelled mentions in `lang` (as stored: ISO 639-1 or "und") created since `since`, by effective label.
    /// The range of `mentions_created_at` from `since`, each mention's sentiment by primary key.
    pub async fn language_totals_since(&self, lang: &str, since: DateTime<Utc>) -> Result<SentimentTotals, StoreError> {
        let r = sqlx::query(
            "SELECT count(*), coalesce(sum(s.effective = 'negative'), 0), coalesce(sum(s.effective = 'neutral'), 0),
                    coalesce(sum(s.effective = 'positive'), 0) FROM mentions m
             JOIN sentiment s ON s.mention_id = m.id WHERE m.lang = ?1 AND m.created_at >= ?2",
        )
        .bind(lang)
        .bind(since.timestamp())
        .fetch_one(&self.pool)
        .await?;
        Ok(sentiment_totals(&r))
    }
}

/// A row of (labelled, negative, neutral, positive).
fn sentiment_totals(r: &sqlx::sqlite::SqliteRow) -> SentimentTotals {
    SentimentTotals { labelled: r.get(0), negative: r.get(1), neutral: r.get(2), positive: r.get(3) }
}
