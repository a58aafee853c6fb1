//! Mentions: batched ingest with dedup, the filtered history query, relabelling, per-bucket statistics.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

use super::{now_ts, Store, StoreError};

/// Mentions per multi-row INSERT: 16 parameters each, under SQLite's 32,766-parameter limit.
const MENTION_ROWS_PER_STATEMENT: usize = 1000;
/// Rows per multi-row INSERT of the narrower tables (at most 7 parameters each).
const ROWS_PER_STATEMENT: usize = 2000;
/// New mention ids per full-text INSERT … SELECT (one JSON array parameter).
const FTS_ROWS_PER_STATEMENT: usize = 50_000;
use crate::mention::NewMention;
use crate::sentiment::Label;

/// A brand a mention matched, with the query terms that matched it.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandMatch {
    pub brand: String,
    pub terms: Vec<String>,
}

/// A sentiment known at ingest time (given in an import, or computed by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct GivenSentiment {
    pub label: Label,
    /// Calibrated scores in label order (negative, neutral, positive), when known.
    pub scores: Option<[f32; 3]>,
    pub model_version: String,
}

/// One mention to store, with what is already known about it.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub mention: NewMention,
    /// The configured source that fetched it (`None` for imports).
    pub source: Option<String>,
    pub brands: Vec<BrandMatch>,
    pub sentiment: Option<GivenSentiment>,
    /// `dedup_hash(&mention)` when the caller computed it already (`hearsay import` does, on its parsing
    /// thread, off the writer's path); `None` = computed by `ingest`.
    pub dedup_hash: Option<String>,
}

/// Counts from one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub inserted: u64,
    pub duplicate: u64,
}

impl std::ops::AddAssign for IngestReport {
    fn add_assign(&mut self, o: IngestReport) {
        self.inserted += o.inserted;
        self.duplicate += o.duplicate;
    }
}

/// Texts shorter than this (normalised characters) are never treated as syndicated copies of each other:
/// "terrible app" from ten reviewers is ten complaints, not one.
const MIN_SYNDICATION_CHARS: usize = 40;

/// Prefix of a `dedup_hash` that is the mention's own identity (a text hash is hex and never has it).
const IDENTITY_HASH_PREFIX: &str = "id:";

/// The dedup hash of a mention: its normalised text, or its own identity when the text is too short to say.
pub fn dedup_hash(m: &NewMention) -> String {
    let normalised_len = m.text.chars().filter(|c| c.is_alphanumeric()).count()
        + m.title.as_deref().map_or(0, |t| t.chars().filter(|c| c.is_alphanumeric()).count());
    if normalised_len < MIN_SYNDICATION_CHARS {
        format!("{IDENTITY_HASH_PREFIX}{}:{}", m.platform, m.external_id)
    } else {
        crate::text::text_hash(m.title.as_deref(), &m.text)
    }
}

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

/// Sentiment rows for `(mention id, given label)` pairs; a mention that already has one keeps it.
async fn insert_labels(tx: &mut Tx, labelled: &[(i64, &GivenSentiment)], now: i64) -> Result<(), StoreError> {
    for chunk in labelled.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR IGNORE INTO sentiment (mention_id, label, score_negative, score_neutral, score_positive, \
             model_version, classified_at) ",
        );
        q.push_values(chunk, |mut b, (id, s)| {
            b.push_bind(*id)
                .push_bind(s.label.as_str())
                .push_bind(s.scores.map(|x| x[0]))
                .push_bind(s.scores.map(|x| x[1]))
                .push_bind(s.scores.map(|x| x[2]))
                .push_bind(s.model_version.as_str())
                .push_bind(now);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Brand matches `(mention id, brand id, created_at, terms JSON, label copy)`; an existing pair is kept.
async fn insert_matches(
    tx: &mut Tx,
    matches: &[(i64, i64, i64, String, Option<&'static str>)],
) -> Result<(), StoreError> {
    for chunk in matches.chunks(ROWS_PER_STATEMENT) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR IGNORE INTO mention_brands (mention_id, brand_id, created_at, terms, first_copy, label) ",
        );
        q.push_values(chunk, |mut b, (id, brand_id, created_at, terms, label)| {
            b.push_bind(*id).push_bind(*brand_id).push_bind(*created_at).push_bind(terms.as_str()).push_bind(1);
            b.push_bind(*label);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

impl Store {
    /// Stores a batch in one transaction. Duplicates (same platform + external id, also within the batch)
    /// are counted, not stored again, but any new brand matches they bring are added. Mentions without a
    /// given sentiment are queued for classification.
    ///
    /// Every table gets multi-row statements with bound parameters (a few per thousand mentions): the new
    /// mentions' ids come back from `RETURNING`, so nothing is looked up again by `(platform, external_id)`;
    /// only a mention already in the database costs a lookup of its own. Labels are written before the brand
    /// matches, which then carry their label from the start instead of being updated by a trigger row by row.
    ///
    /// Mentions new to the database are written with the `ingest_bulk` row present (migration 5), so the
    /// per-row triggers stand aside and their work is done here once per batch: the new rows go into the
    /// full-text index in one `INSERT … SELECT`, and `brand_hours` gets one upsert per (brand, hour, label).
    /// What touches mentions stored before this batch (a label for a queued mention, a new brand match of an
    /// old mention, syndication marks) runs after the row is gone, through the triggers, as any other writer.
    pub async fn ingest(&self, items: &[IngestItem]) -> Result<IngestReport, StoreError> {
        if items.is_empty() {
            return Ok(IngestReport::default());
        }
        let now = now_ts();
        let hashes: Vec<std::borrow::Cow<str>> = items
            .iter()
            .map(|it| it.dedup_hash.as_deref().map_or_else(|| dedup_hash(&it.mention).into(), Into::into))
            .collect();
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO ingest_bulk (since) VALUES (?1)").bind(now).execute(&mut *tx).await?;

        // 1. Mentions. `stored[key]` = (id, created_at, inserted by this batch).
        let mut stored: HashMap<String, (i64, i64, bool)> = HashMap::with_capacity(items.len());
        let mut new_ids: Vec<i64> = Vec::with_capacity(items.len());
        for (chunk, chunk_hashes) in
            items.chunks(MENTION_ROWS_PER_STATEMENT).zip(hashes.chunks(MENTION_ROWS_PER_STATEMENT))
        {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT OR IGNORE INTO mentions (platform, external_id, url, canonical_url, author, title, text, \
                 text_hash, created_at, fetched_at, kind, lang, rating, metrics, parent_id, source) ",
            );
            q.push_values(chunk.iter().zip(chunk_hashes), |mut b, (it, hash)| {
                let m = &it.mention;
                b.push_bind(m.platform.as_str())
                    .push_bind(m.external_id.as_str())
                    .push_bind(m.url.as_deref())
                    .push_bind(m.url.as_deref().and_then(crate::text::canonical_url))
                    .push_bind(m.author.as_deref())
                    .push_bind(m.title.as_deref())
                    .push_bind(m.text.as_str())
                    .push_bind(hash.as_ref())
                    .push_bind(m.created_at.timestamp())
                    .push_bind(now)
                    .push_bind(m.kind.as_str())
                    .push_bind(m.lang.as_deref())
                    .push_bind(m.rating.map(i64::from))
                    .push_bind(if m.metrics.is_empty() { None } else { serde_json::to_string(&m.metrics).ok() })
                    .push_bind(m.parent_id.as_deref())
                    .push_bind(it.source.as_deref());
            });
            q.push(" RETURNING id, platform, external_id, created_at");
            for row in q.build().fetch_all(&mut *tx).await? {
                let (platform, external_id): (String, String) = (row.try_get(1)?, row.try_get(2)?);
                let id: i64 = row.try_get(0)?;
                stored.insert(format!("{platform}\u{0}{external_id}"), (id, row.try_get(3)?, true));
                new_ids.push(id);
            }
        }
        let inserted = new_ids.len() as u64;
        // The new mentions' full-text entries, in rowid order (FTS5 appends cheapest that way).
        new_ids.sort_unstable();
        for chunk in new_ids.chunks(FTS_ROWS_PER_STATEMENT) {
            sqlx::query(
                "INSERT INTO mentions_fts (rowid, title, text)
                 SELECT id, title, text FROM mentions WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
            )
            .bind(serde_json::to_string(chunk).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        // Each item's stored mention, in item order. Mentions that were already stored before this batch cost
        // one lookup each (rare outside re-imports).
        let mut slots: Vec<Option<(i64, i64, bool)>> = Vec::with_capacity(items.len());
        for it in items {
            let slot = match stored.entry(format!("{}\u{0}{}", it.mention.platform, it.mention.external_id)) {
                std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let row: Option<(i64, i64)> =
                        sqlx::query_as("SELECT id, created_at FROM mentions WHERE platform = ?1 AND external_id = ?2")
                            .bind(&it.mention.platform)
                            .bind(&it.mention.external_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    row.map(|(id, created_at)| *e.insert((id, created_at, false)))
                }
            };
            slots.push(slot);
        }

        // 2. Labels given with the mentions (the first one wins, as for the mention itself), split by whether
        // the mention is new (its brand matches do not exist yet and will carry the label) or was stored before
        // (the trigger copies the label onto its brand matches); and the queue of mentions still to classify.
        let mut label_of: HashMap<i64, &'static str> = HashMap::new();
        let (mut labelled_new, mut labelled_old) = (Vec::new(), Vec::new());
        let mut unlabelled = Vec::new();
        for (it, slot) in items.iter().zip(&slots) {
            let Some((id, _, new)) = *slot else { continue };
            match &it.sentiment {
                Some(s) if new => {
                    label_of.entry(id).or_insert(s.label.as_str());
                    labelled_new.push((id, s));
                }
                Some(s) => labelled_old.push((id, s)),
                None => unlabelled.push(id),
            }
        }
        insert_labels(&mut tx, &labelled_new, now).await?;
        for chunk in unlabelled.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT OR IGNORE INTO classify_queue (mention_id) SELECT v.column1 FROM (",
            );
            q.push_values(chunk, |mut b, id| {
                b.push_bind(*id);
            });
            q.push(") v WHERE NOT EXISTS (SELECT 1 FROM sentiment s WHERE s.mention_id = v.column1)");
            q.build().execute(&mut *tx).await?;
        }

        // 3. Brand matches, with the brand ids resolved once per batch (names are unique without regard to
        // ASCII case, like the column).
        let mut brand_ids: HashMap<String, i64> = HashMap::new();
        for it in items {
            for b in &it.brands {
                let k = b.brand.to_ascii_lowercase();
                if brand_ids.contains_key(&k) {
                    continue;
                }
                sqlx::query("INSERT OR IGNORE INTO brands (name) VALUES (?1)").bind(&b.brand).execute(&mut *tx).await?;
                let (id,): (i64,) =
                    sqlx::query_as("SELECT id FROM brands WHERE name = ?1").bind(&b.brand).fetch_one(&mut *tx).await?;
                brand_ids.insert(k, id);
            }
        }
        // New mentions' matches are all inserted (the first of a pair repeated inside the batch wins, as
        // `INSERT OR IGNORE` does), so their rollup cells are counted here.
        let (mut matches_new, mut matches_old) = (Vec::new(), Vec::new());
        let mut seen_pairs: std::collections::HashSet<(i64, i64)> = std::collections::HashSet::new();
        let mut hours: HashMap<(i64, i64, &'static str), i64> = HashMap::new();
        for (it, slot) in items.iter().zip(&slots) {
            let Some((id, created_at, new)) = *slot else { continue };
            for b in &it.brands {
                let brand_id = brand_ids[&b.brand.to_ascii_lowercase()];
                let terms = serde_json::to_string(&b.terms).unwrap_or_default();
                if !new {
                    matches_old.push((id, brand_id, created_at, terms, None));
                } else if seen_pairs.insert((id, brand_id)) {
                    let label = label_of.get(&id).copied();
                    *hours.entry((brand_id, created_at / 3600, label.unwrap_or(""))).or_default() += 1;
                    matches_new.push((id, brand_id, created_at, terms, label));
                }
            }
        }
        insert_matches(&mut tx, &matches_new).await?;
        let hours: Vec<_> = hours.into_iter().collect();
        for chunk in hours.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO brand_hours (brand_id, hour, label, n) ");
            q.push_values(chunk, |mut b, ((brand_id, hour, label), n)| {
                b.push_bind(*brand_id).push_bind(*hour).push_bind(*label).push_bind(*n);
            });
            q.push(" ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + excluded.n");
            q.build().execute(&mut *tx).await?;
        }

        // What touches mentions stored before this batch goes through the triggers.
        sqlx::query("DELETE FROM ingest_bulk").execute(&mut *tx).await?;
        insert_labels(&mut tx, &labelled_old, now).await?;
        insert_matches(&mut tx, &matches_old).await?;

        // 4. Syndicated copies: an earlier mention of the same brand with the same text hash. Done after the
        // insert so that copies inside this batch see each other. Mentions whose text is too short to be a
        // copy (`dedup_hash` = "id:…") cannot have one and are left out. Hashes are looked up by their first
        // 16 hex digits, the indexed expression, then compared whole.
        let mut candidates: Vec<i64> = items
            .iter()
            .zip(&hashes)
            .zip(&slots)
            .filter(|((it, hash), _)| !it.brands.is_empty() && !hash.starts_with(IDENTITY_HASH_PREFIX))
            .filter_map(|(_, slot)| slot.map(|s| s.0))
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for chunk in candidates.chunks(ROWS_PER_STATEMENT) {
            let ids = serde_json::to_string(chunk).unwrap_or_default();
            sqlx::query(
                "UPDATE mention_brands SET first_copy = 0
                 WHERE first_copy = 1
                   AND mention_id IN (SELECT value FROM json_each(?1))
                   AND EXISTS (SELECT 1 FROM mentions m1
                               JOIN mentions m2 ON substr(m2.text_hash, 1, 16) = substr(m1.text_hash, 1, 16)
                                               AND m2.text_hash = m1.text_hash AND m2.id < m1.id
                               JOIN mention_brands mb2 ON mb2.mention_id = m2.id AND mb2.brand_id = mention_brands.brand_id
                               WHERE m1.id = mention_brands.mention_id)",
            )
            .bind(ids)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(IngestReport { inserted, duplicate: items.len() as u64 - inserted })
    }

    /// Mentions waiting for a model label, oldest first.
    pub async fn unclassified(&self, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, trim(coalesce(m.title || '. ', '') || m.text) FROM classify_queue q
             JOIN mentions m ON m.id = q.mention_id ORDER BY q.attempts, q.mention_id LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Number of mentions still waiting for a model label.
    pub async fn unclassified_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM classify_queue").fetch_one(&self.pool).await?)
    }

    /// Records model labels (never touching manual overrides) and takes the mentions off the queue.
    pub async fn store_labels(&self, labels: &[(i64, Label, [f32; 3])], model_version: &str) -> Result<(), StoreError> {
        let now = now_ts();
        let mut tx = self.write_tx().await?;
        for (id, label, s) in labels {
            sqlx::query(
                "INSERT INTO sentiment (mention_id, label, score_negative, score_neutral, score_positive, model_version, classified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (mention_id) DO UPDATE SET label = excluded.label, score_negative = excluded.score_negative,
                    score_neutral = excluded.score_neutral, score_positive = excluded.score_positive,
                    model_version = excluded.model_version, classified_at = excluded.classified_at",
            )
            .bind(id)
            .bind(label.as_str())
            .bind(s[0])
            .bind(s[1])
            .bind(s[2])
            .bind(model_version)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM classify_queue WHERE mention_id = ?1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Notes a failed classification attempt so the mention is retried later, behind fresher ones.
    pub async fn classify_failed(&self, ids: &[i64], error: &str) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        for id in ids {
            sqlx::query("UPDATE classify_queue SET attempts = attempts + 1, last_error = ?2 WHERE mention_id = ?1")
                .bind(id)
                .bind(error)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues mentions created since `since` for re-labelling by the current model (`hearsay reclassify`).
    /// Manual overrides are untouched: they win whatever the model says.
    pub async fn queue_reclassify(&self, since: Option<DateTime<Utc>>) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "INSERT OR IGNORE INTO classify_queue (mention_id)
             SELECT id FROM mentions WHERE created_at >= ?1",
        )
        .bind(since.map_or(i64::MIN, |t| t.timestamp()))
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Manual sentiment override (`hearsay relabel`). Returns false when the mention does not exist.
    pub async fn relabel(&self, mention_id: i64, label: Label) -> Result<bool, StoreError> {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM mentions WHERE id = ?1")
            .bind(mention_id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sentiment (mention_id, override_label, override_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (mention_id) DO UPDATE SET override_label = excluded.override_label, override_at = excluded.override_at",
        )
        .bind(mention_id)
        .bind(label.as_str())
        .bind(now_ts())
        .execute(&self.pool)
        .await?;
        Ok(true)
    }

    /// Manual overrides with their text, for `hearsay export-training`.
    pub async fn overrides(&self) -> Result<Vec<(Label, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.override_label, trim(coalesce(m.title || '. ', '') || m.text) FROM sentiment s
             JOIN mentions m ON m.id = s.mention_id WHERE s.override_label IS NOT NULL ORDER BY s.override_at",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().filter_map(|r| Some((r.get::<String, _>(0).parse().ok()?, r.get::<String, _>(1)))).collect())
    }

    /// The history query behind `hearsay mentions` and `hearsay export`, newest first.
    pub async fn mentions(&self, f: &MentionFilter) -> Result<Vec<MentionRow>, StoreError> {
        // One brand: its matches' (brand, time) index drives the query. All brands: the mentions do (CROSS
        // JOIN fixes that order), newest first along their time index, or by rowid from the full-text matches.
        // Filters and the order name the driving table's columns (`mb.created_at` is a copy of `m.created_at`,
        // `mb.mention_id` is `m.id`, so the order is the same either way) so that SQLite walks that index
        // newest-first and stops at the limit (sorting every brand match of a 10M history first took 37 s).
        let (from, cols) = if f.brand.is_some() {
            (
                "mention_brands mb JOIN mentions m ON m.id = mb.mention_id",
                FilterCols { time: "mb.created_at", id: "mb.mention_id" },
            )
        } else {
            (
                "mentions m CROSS JOIN mention_brands mb ON mb.mention_id = m.id",
                FilterCols { time: "m.created_at", id: "m.id" },
            )
        };
        let mut sql = format!(
            "SELECT m.id, b.name, m.platform, s.effective, s.override_label IS NOT NULL, m.created_at, m.author,
                    m.title, m.text, m.url, m.kind, m.external_id, s.score_negative, s.score_neutral, s.score_positive,
                    mb.terms, m.rating, m.lang
             FROM {from}
             JOIN brands b ON b.id = mb.brand_id
             LEFT JOIN sentiment s ON s.mention_id = m.id
             WHERE 1 = 1",
        );
        let order = format!(" ORDER BY {} DESC, {} DESC LIMIT ?", cols.time, cols.id);
        let mut binds: Vec<Bind> = Vec::new();
        push_filters(&mut sql, &mut binds, f, cols);
        sql.push_str(&order);
        binds.push(Bind::Int(f.limit.unwrap_or(i64::MAX)));
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let scores =
                    match (r.get::<Option<f64>, _>(12), r.get::<Option<f64>, _>(13), r.get::<Option<f64>, _>(14)) {
                        (Some(a), Some(b), Some(c)) => Some([a as f32, b as f32, c as f32]),
                        _ => None,
                    };
                MentionRow {
                    id: r.get(0),
                    brand: r.get(1),
                    platform: r.get(2),
                    sentiment: r.get::<Option<String>, _>(3).and_then(|s| s.parse().ok()),
                    overridden: r.get::<Option<bool>, _>(4).unwrap_or(false),
                    created_at: DateTime::from_timestamp(r.get(5), 0).unwrap_or_default(),
                    author: r.get(6),
                    title: r.get(7),
                    text: r.get(8),
                    url: r.get(9),
                    kind: r.get(10),
                    external_id: r.get(11),
                    scores,
                    terms: r
                        .get::<Option<String>, _>(15)
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default(),
                    rating: r.get(16),
                    lang: r.get(17),
                }
            })
            .collect())
    }

    /// Counts per sentiment per time bucket (`hearsay stats`), oldest bucket first. Syndicated copies count once.
    pub async fn stats(&self, f: &MentionFilter, bucket_secs: i64) -> Result<Vec<StatsRow>, StoreError> {
        if f.platform.is_some() || f.search.is_some() || bucket_secs <= 0 || bucket_secs % 3600 != 0 {
            return self.stats_scan(f, bucket_secs).await;
        }
        // Whole hours come from the `brand_hours` rollup (one row per brand, hour and label instead of one per
        // mention); the partial hours at either end of the range from the brand matches themselves.
        let hour_start = |t: DateTime<Utc>| t.timestamp().div_euclid(3600);
        let lo = f.since.map(|t| hour_start(t) + i64::from(t.timestamp().rem_euclid(3600) != 0));
        let hi = f.until.map(hour_start);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo >= hi {
                return self.stats_scan(f, bucket_secs).await;
            }
        }
        let mut buckets: std::collections::BTreeMap<i64, StatsRow> = std::collections::BTreeMap::new();
        let mut sql = format!(
            "SELECT (bh.hour * 3600 / {bucket_secs}) * {bucket_secs} AS bucket,
                    sum(bh.n * (bh.label = 'negative')), sum(bh.n * (bh.label = 'neutral')),
                    sum(bh.n * (bh.label = 'positive')), sum(bh.n * (bh.label = ''))
             FROM brand_hours bh JOIN brands b ON b.id = bh.brand_id WHERE 1"
        );
        let mut binds = Vec::new();
        if let Some(b) = &f.brand {
            sql.push_str(" AND b.name = ?");
            binds.push(Bind::Text(b.clone()));
        } else {
            sql.push_str(" AND bh.brand_id IN (SELECT id FROM brands)");
        }
        if let Some(l) = f.sentiment {
            sql.push_str(" AND bh.label = ?");
            binds.push(Bind::Text(l.as_str().into()));
        }
        if let Some(lo) = lo {
            sql.push_str(" AND bh.hour >= ?");
            binds.push(Bind::Int(lo));
        }
        if let Some(hi) = hi {
            sql.push_str(" AND bh.hour < ?");
            binds.push(Bind::Int(hi));
        }
        sql.push_str(" GROUP BY bucket");
        for r in bind_all(sqlx::query(&sql), &binds).fetch_all(&self.pool).await? {
            merge_stats(&mut buckets, stats_row(&r));
        }
        let at = |h: i64| DateTime::from_timestamp(h * 3600, 0);
        let mut edges = Vec::new();
        if let (Some(since), Some(lo)) = (f.since, lo) {
            if since.timestamp() < lo * 3600 {
                edges.push(MentionFilter { until: at(lo), ..f.clone() });
            }
        }
        if let (Some(until), Some(hi)) = (f.until, hi) {
            if until.timestamp() > hi * 3600 {
                edges.push(MentionFilter { since: at(hi), ..f.clone() });
            }
        }
        for edge in edges {
            for r in self.stats_scan(&edge, bucket_secs).await? {
                merge_stats(&mut buckets, r);
            }
        }
        Ok(buckets.into_values().filter(|r| r.negative + r.neutral + r.positive + r.unclassified > 0).collect())
    }

    /// `stats` by scanning the brand matches (any filter, any bucket length).
    async fn stats_scan(&self, f: &MentionFilter, bucket_secs: i64) -> Result<Vec<StatsRow>, StoreError> {
        let mut sql = format!(
            "SELECT (mb.created_at / {bucket_secs}) * {bucket_secs} AS bucket,
                    sum(mb.label = 'negative'), sum(mb.label = 'neutral'), sum(mb.label = 'positive'),
                    sum(mb.label IS NULL)
             FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id
             WHERE mb.first_copy = 1"
        );
        if f.brand.is_none() {
            // Every brand: one range scan of the (brand, time, first_copy, label) index per brand instead of a
            // scan of the whole table (there is no time-first index, and none is needed).
            sql.push_str(" AND mb.brand_id IN (SELECT id FROM brands)");
        }
        let mut binds = Vec::new();
        let needs_mention = f.platform.is_some() || f.search.is_some();
        if needs_mention {
            sql =
                sql.replace("FROM mention_brands mb", "FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id");
        }
        let cols = FilterCols { time: "mb.created_at", id: "mb.mention_id" };
        push_filters(&mut sql, &mut binds, &MentionFilter { limit: None, ..f.clone() }, cols);
        sql.push_str(" GROUP BY bucket ORDER BY bucket");
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(stats_row).collect())
    }

    /// Names of the brands in the database.
    pub async fn brand_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM brands ORDER BY name").fetch_all(&self.pool).await?)
    }

    /// Per-brand 5-minute buckets `(bucket_start_ts, total, negative)` since `since`, syndicated copies once:
    /// the series the spike detector reads.
    pub async fn brand_buckets(
        &self,
        brand: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT (mb.created_at / {bucket_secs}) * {bucket_secs} AS bucket, count(*), coalesce(sum(mb.label = 'negative'), 0)
             FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.created_at >= ?2 AND mb.created_at < ?3
             GROUP BY bucket ORDER BY bucket"
        ))
        .bind(brand)
        .bind(since.timestamp())
        .bind(until.timestamp())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    binds: &[Bind],
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Int(i) => q.bind(*i),
            Bind::Text(s) => q.bind(s.clone()),
        };
    }
    q
}

fn stats_row(r: &sqlx::sqlite::SqliteRow) -> StatsRow {
    StatsRow {
        bucket_start: DateTime::from_timestamp(r.get(0), 0).unwrap_or_default(),
        negative: r.get::<Option<i64>, _>(1).unwrap_or(0),
        neutral: r.get::<Option<i64>, _>(2).unwrap_or(0),
        positive: r.get::<Option<i64>, _>(3).unwrap_or(0),
        unclassified: r.get::<Option<i64>, _>(4).unwrap_or(0),
    }
}

fn merge_stats(buckets: &mut std::collections::BTreeMap<i64, StatsRow>, r: StatsRow) {
    let slot = buckets.entry(r.bucket_start.timestamp()).or_insert(StatsRow {
        bucket_start: r.bucket_start,
        negative: 0,
        neutral: 0,
        positive: 0,
        unclassified: 0,
    });
    slot.negative += r.negative;
    slot.neutral += r.neutral;
    slot.positive += r.positive;
    slot.unclassified += r.unclassified;
}

/// The columns that filters name: the brand match's or, where `mentions m` drives the query, their equal
/// copies on the mention, so that SQLite can use the driving table's index for them.
struct FilterCols {
    time: &'static str,
    id: &'static str,
}

fn push_filters(sql: &mut String, binds: &mut Vec<Bind>, f: &MentionFilter, cols: FilterCols) {
    let FilterCols { time: time_col, id: id_col } = cols;
    if let Some(b) = &f.brand {
        sql.push_str(" AND b.name = ?");
        binds.push(Bind::Text(b.clone()));
    }
    if let Some(p) = &f.platform {
        // `+`: not through the (platform, external_id) index, which would fetch and sort the platform's whole
        // history; the walk in time order stops at the limit.
        sql.push_str(" AND +m.platform = ?");
        binds.push(Bind::Text(p.clone()));
    }
    if let Some(s) = f.sentiment {
        sql.push_str(" AND mb.label = ?");
        binds.push(Bind::Text(s.as_str().into()));
    }
    if let Some(t) = f.since {
        sql.push_str(&format!(" AND {time_col} >= ?"));
        binds.push(Bind::Int(t.timestamp()));
    }
    if let Some(t) = f.until {
        sql.push_str(&format!(" AND {time_col} < ?"));
        binds.push(Bind::Int(t.timestamp()));
    }
    if let Some(q) = &f.search {
        // The match set becomes one in-memory list that the (brand, time) index scan probes; a correlated
        // `EXISTS (… MATCH … AND rowid = …)` re-runs the full-text query per candidate and was 150× slower.
        sql.push_str(&format!(" AND {id_col} IN (SELECT rowid FROM mentions_fts WHERE mentions_fts MATCH ?"));
        binds.push(Bind::Text(fts_query(q)));
        // With a start time, only mention ids from the lowest one in range up can match, and FTS5 seeks its
        // lists to that rowid: ids grow with time as the daemon stores mentions, so "refund in the last 7 days"
        // reads the last week of the word's list instead of all of it. (Out-of-order ids, from importing
        // older history later, only make the bound less tight; it is never wrong.)
        if let Some(t) = f.since {
            match &f.brand {
                Some(b) => {
                    sql.push_str(
                        " AND rowid >= coalesce((SELECT min(mb2.mention_id) FROM mention_brands mb2 \
                         WHERE mb2.brand_id = (SELECT id FROM brands WHERE name = ?) AND mb2.created_at >= ?), 0)",
                    );
                    binds.push(Bind::Text(b.clone()));
                }
                // INDEXED BY: left to itself SQLite finds min(id) by walking the ids up from 1 until one is in
                // range, i.e. through nearly the whole history.
                None => sql.push_str(
                    " AND rowid >= coalesce((SELECT min(id) FROM mentions INDEXED BY mentions_created_at \
                     WHERE created_at >= ?), 0)",
                ),
            }
            binds.push(Bind::Int(t.timestamp()));
        }
        sql.push(')');
    }
}

/// Turns what a user types into a safe FTS5 query: each word becomes a quoted term (so `-`, `:`, `*` in
/// user text cannot be mistaken for syntax), `OR` / `NOT` / `AND` keep their meaning, a trailing `*` keeps
/// prefix search, and `"quoted phrases"` stay phrases.
pub fn fts_query(input: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut rest = input.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let (phrase, tail) = after.split_once('"').unwrap_or((after, ""));
            if !phrase.trim().is_empty() {
                out.push(format!("\"{}\"", phrase.replace('"', "")));
            }
            rest = tail.trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = rest[end..].trim_start();
        match word {
            "OR" | "AND" | "NOT" => out.push(word.to_string()),
            _ => {
                let (w, star) = word.strip_suffix('*').map_or((word, ""), |w| (w, "*"));
                let w = w.replace('"', "");
                if !w.is_empty() {
                    out.push(format!("\"{w}\"{star}"));
                }
            }
        }
    }
    while matches!(out.last().map(String::as_str), Some("OR" | "AND" | "NOT")) {
        out.pop();
    }
    while matches!(out.first().map(String::as_str), Some("OR" | "AND" | "NOT")) {
        out.remove(0);
    }
    if out.is_empty() {
        "\"\"".into()
    } else {
        out.join(" ")
    }
}

/// Filters shared by `mentions`, `export` and `stats`.
#[derive(Debug, Clone, Default)]
pub struct MentionFilter {
    pub brand: Option<String>,
    pub platform: Option<String>,
    pub sentiment: Option<Label>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub search: Option<String>,
    pub limit: Option<i64>,
}

/// One mention as brand managers see it: one row per (mention, brand).
#[derive(Debug, Clone, Serialize)]
pub struct MentionRow {
    pub id: i64,
    pub brand: String,
    pub platform: String,
    pub sentiment: Option<Label>,
    pub overridden: bool,
    #[serde(with = "crate::mention::rfc3339")]
    pub created_at: DateTime<Utc>,
    pub author: Option<String>,
    pub title: Option<String>,
    pub text: String,
    pub url: Option<String>,
    pub kind: String,
    pub external_id: String,
    #[serde(skip)]
    pub scores: Option<[f32; 3]>,
    pub terms: Vec<String>,
    pub rating: Option<i64>,
    pub lang: Option<String>,
}

/// One time bucket of `hearsay stats`.
#[derive(Debug, Clone, Serialize)]
pub struct StatsRow {
    #[serde(with = "crate::mention::rfc3339")]
    pub bucket_start: DateTime<Utc>,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
    pub unclassified: i64,
}
