//! Mentions: batched ingest with dedup, the filtered history query, relabelling, per-bucket statistics.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use super::{now_ts, raw, Store, StoreError};

use crate::lang::Language;
use crate::mention::NewMention;
use crate::query::QueryError;
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

impl GivenSentiment {
    /// The label of a review that has stars and no words (no text, no title: a Google Business Profile rating
    /// without a comment, an imported record with only a rating), given at ingest so that it is not queued: the
    /// model would call an empty text neutral with certainty, which a one-star review is not. The rule is the one
    /// the sentiment model's review data was labelled by (`models/sentiment/MODEL_CARD.md`): 1–2 stars negative,
    /// 3 neutral, 4–5 positive. A review with words goes to the model, whatever its stars.
    pub fn from_stars(m: &crate::mention::NewMention) -> Option<GivenSentiment> {
        let wordless = m.text.trim().is_empty() && m.title.as_deref().is_none_or(|t| t.trim().is_empty());
        let label = match m.rating.filter(|_| wordless)? {
            1 | 2 => Label::Negative,
            3 => Label::Neutral,
            4 | 5 => Label::Positive,
            _ => return None,
        };
        Some(GivenSentiment { label, scores: None, model_version: STARS_LABEL_VERSION.into() })
    }
}

/// One mention to store, with what is already known about it.
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub mention: NewMention,
    /// The configured source that fetched it (`None` for imports).
    pub source: Option<String>,
    pub brands: Vec<BrandMatch>,
    pub sentiment: Option<GivenSentiment>,
    /// The mention's language ([`crate::lang::of_mention`]), when the caller resolved it already to match it
    /// to brands (the poller and `hearsay import` do); `None` = resolved by `ingest`.
    pub lang: Option<Language>,
    /// What `ingest` derives from the item, when the caller computed it already (`IngestItem::derive`;
    /// `hearsay import` does, on its parsing thread, off the writer's path); `None` = computed by `ingest`.
    pub derived: Option<Derived>,
}

/// Column values `ingest` derives from an item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    /// `dedup_hash(&mention)`.
    dedup_hash: String,
    canonical_url: Option<String>,
    /// The metrics as a JSON object, `None` when there are none.
    metrics: Option<String>,
    /// Per brand match, its terms as a JSON array.
    terms: Vec<String>,
}

impl Derived {
    fn of(it: &IngestItem) -> Derived {
        let m = &it.mention;
        Derived {
            dedup_hash: dedup_hash(m),
            canonical_url: m.url.as_deref().and_then(crate::text::canonical_url),
            metrics: (!m.metrics.is_empty()).then(|| serde_json::to_string(&m.metrics).ok()).flatten(),
            terms: it.brands.iter().map(|b| serde_json::to_string(&b.terms).unwrap_or_default()).collect(),
        }
    }
}

impl IngestItem {
    /// Computes what `ingest` derives from the item now (call it last: later changes to the item are not
    /// seen again).
    pub fn derive(mut self) -> IngestItem {
        self.derived = Some(Derived::of(&self));
        self
    }
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

impl Store {
    /// Stores a batch in one transaction. Duplicates (same platform + external id, also within the batch)
    /// are counted, not stored again, but any new brand matches they bring are added. Mentions without a
    /// given sentiment are queued for classification.
    ///
    /// The statements run on the writer's own SQLite handle inside the sqlx transaction (`raw`): each is
    /// prepared once per batch and stepped once per row with its texts bound in place, and a new mention's
    /// id is `last_insert_rowid`; only a mention that was already stored costs a lookup by
    /// `(platform, external_id)`. Labels are written before the brand matches, which then carry their label
    /// from the start instead of being updated by a trigger row by row.
    ///
    /// Mentions new to the database are written in bulk mode (`raw::Db::bulk_mode`: no triggers, CHECK
    /// constraints or foreign-key checks on this connection, only values checked here), and their work is
    /// done here: the new rows go into the full-text index with one `INSERT … SELECT` per run of new ids,
    /// and `brand_hours` gets one upsert per (brand, hour, label) of the batch. What touches mentions stored
    /// before this batch (a label for a queued mention, a new brand match of an old mention, syndication
    /// marks) runs after bulk mode ends, through the triggers, as any other writer.
    ///
    /// The SQLite work runs on the calling thread (a 50,000-mention import batch takes about a second; a
    /// poll's batch, milliseconds).
    pub async fn ingest(&self, items: &[IngestItem]) -> Result<IngestReport, StoreError> {
        if items.is_empty() {
            return Ok(IngestReport::default());
        }
        let now = now_ts();
        let derived: Vec<Cow<Derived>> = items
            .iter()
            .map(|it| it.derived.as_ref().map_or_else(|| Cow::Owned(Derived::of(it)), Cow::Borrowed))
            .collect();
        let langs: Vec<Cow<Language>> = items
            .iter()
            .map(|it| it.lang.as_ref().map_or_else(|| Cow::Owned(crate::lang::of_mention(&it.mention)), Cow::Borrowed))
            .collect();
        let mut tx = self.write_tx().await?;
        let report = {
            let mut handle = tx.lock_handle().await?;
            ingest_locked(&raw::Db::new(&mut handle), items, &derived, &langs, now)?
        };
        tx.commit().await?;
        Ok(report)
    }
}

/// The mention's star rating when it is one (1–5); `None` otherwise, which the caller logs (ingest writes
/// with CHECK constraints off, so the schema's own check would not catch it).
fn valid_rating(m: &NewMention) -> Option<i64> {
    let r = m.rating?;
    if (1..=5).contains(&r) {
        Some(i64::from(r))
    } else {
        tracing::warn!(
            platform = %m.platform, external_id = %m.external_id, rating = r, "rating outside 1-5 not stored"
        );
        None
    }
}

/// A language's code and confidence as `ingest` may write them with CHECK constraints off: a code that is not
/// a language tag is "und", a confidence outside 0–1 (or not a number) none.
fn checked_language(lang: &Language) -> (&str, Option<f32>) {
    let ok = (2..=3).contains(&lang.code.len()) && lang.code.bytes().all(|b| b.is_ascii_lowercase());
    let code = if ok { lang.code.as_str() } else { crate::lang::UNDETERMINED };
    (code, lang.confidence.filter(|c| (0.0..=1.0).contains(c)))
}

/// The `model_version` stored with a label read from a review's stars, not given by a model (a rating without
/// words, `sources::poll`): `queue_reclassify` leaves such mentions alone, as a model would only call their empty
/// text neutral.
pub const STARS_LABEL_VERSION: &str = "stars";

/// A given label; a mention that has one keeps it.
const LABEL_SQL: &str = "INSERT OR IGNORE INTO sentiment (mention_id, label, score_negative, score_neutral, \
    score_positive, model_version, classified_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// A brand match (with the label copy, for a new mention); an existing pair is kept.
const MATCH_SQL: &str = "INSERT OR IGNORE INTO mention_brands (mention_id, brand_id, created_at, terms, \
    first_copy, label) VALUES (?1, ?2, ?3, ?4, 1, ?5)";

/// A `sentiment` row's values for a given label.
fn label_row(id: i64, s: &GivenSentiment, now: i64) -> [raw::Val<'_>; 7] {
    use raw::Val;
    [
        Val::Int(id),
        Val::Text(s.label.as_str()),
        s.scores.map(|x| x[0]).into(),
        s.scores.map(|x| x[1]).into(),
        s.scores.map(|x| x[2]).into(),
        Val::Text(s.model_version.as_str()),
        Val::Int(now),
    ]
}

/// Where an item's mention is stored.
#[derive(Debug, Clone, Copy)]
struct Slot {
    id: i64,
    created_at: i64,
    /// Inserted by this batch; `false` for a mention stored before it.
    new: bool,
}

/// `Store::ingest`'s work on the locked writer connection, inside its transaction, phase by phase. What is
/// new to the database is written in bulk mode (no triggers, checks or foreign keys on this connection), each
/// phase doing the triggers' work itself; what touches mentions stored before the batch, and the syndication
/// marks, are written after bulk mode ends, through the triggers.
fn ingest_locked(
    db: &raw::Db<'_>,
    items: &[IngestItem],
    derived: &[Cow<Derived>],
    langs: &[Cow<Language>],
    now: i64,
) -> Result<IngestReport, StoreError> {
    let bulk = db.bulk_mode()?;
    // 1. Mentions, and the new ones' full-text entries.
    let (slots, new_ids) = insert_mentions(db, items, derived, langs, now)?;
    index_new_mentions(db, &new_ids)?;
    // 2. Labels given with the mentions; the others queued for the model.
    let labels = store_given_labels(db, items, &slots, now)?;
    // 3. Brand matches of the new mentions, with their label and their hourly rollup cells.
    let brand_ids = brand_ids(db, items)?;
    let earlier_matches = insert_new_matches(db, items, derived, langs, &slots, &brand_ids, &labels.of_new)?;
    drop(bulk);
    update_earlier_mentions(db, &labels.for_earlier, &earlier_matches, now)?;
    // 4. Syndicated copies, once every mention of the batch is stored.
    mark_syndicated_copies(db, items, derived, &slots)?;
    let inserted = new_ids.len() as u64;
    Ok(IngestReport { inserted, duplicate: items.len() as u64 - inserted })
}

/// Phase 1: inserts the items' mentions, the first of a repeated `(platform, external_id)` winning. Returns
/// each item's slot (`None` when a constraint other than uniqueness refused the row) and the ids this batch
/// inserted. A new mention's id is `last_insert_rowid`; only one stored before (or earlier in the batch)
/// costs a lookup by `(platform, external_id)`.
fn insert_mentions(
    db: &raw::Db<'_>,
    items: &[IngestItem],
    derived: &[Cow<Derived>],
    langs: &[Cow<Language>],
    now: i64,
) -> Result<(Vec<Option<Slot>>, HashSet<i64>), StoreError> {
    use raw::Val;
    let mut insert = db.prepare(
        "INSERT OR IGNORE INTO mentions (platform, external_id, url, canonical_url, author, title, text, \
         text_hash, created_at, fetched_at, kind, lang, rating, metrics, parent_id, source, lang_source, \
         lang_confidence, location) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
    )?;
    let mut find = db.prepare("SELECT id, created_at FROM mentions WHERE platform = ?1 AND external_id = ?2")?;
    let mut new_ids: HashSet<i64> = HashSet::with_capacity(items.len());
    let mut slots: Vec<Option<Slot>> = Vec::with_capacity(items.len());
    for ((it, d), lang) in items.iter().zip(derived).zip(langs) {
        let m = &it.mention;
        let created_at = m.created_at.timestamp();
        let (lang_code, lang_confidence) = checked_language(lang);
        let row = [
            Val::Text(m.platform.as_str()),
            Val::Text(m.external_id.as_str()),
            m.url.as_deref().into(),
            d.canonical_url.as_deref().into(),
            m.author.as_deref().into(),
            m.title.as_deref().into(),
            Val::Text(m.text.as_str()),
            Val::Text(&d.dedup_hash),
            Val::Int(created_at),
            Val::Int(now),
            Val::Text(m.kind.as_str()),
            Val::Text(lang_code),
            valid_rating(m).into(),
            d.metrics.as_deref().into(),
            m.parent_id.as_deref().into(),
            it.source.as_deref().into(),
            Val::Text(lang.source.as_str()),
            lang_confidence.into(),
            m.location.as_deref().into(),
        ];
        let slot = if insert.execute(&row)? == 1 {
            let id = db.last_insert_rowid();
            new_ids.insert(id);
            Some(Slot { id, created_at, new: true })
        } else {
            find.query_ints::<2>(&[Val::Text(m.platform.as_str()), Val::Text(m.external_id.as_str())])?
                .map(|[id, created_at]| Slot { id, created_at, new: new_ids.contains(&id) })
        };
        slots.push(slot);
    }
    Ok((slots, new_ids))
}

/// Phase 1, the trigger's part: the new mentions' full-text entries, one statement per run of consecutive ids
/// (a batch's new ids are one run unless rowids were reused). FTS5 writes its pending entries out at the end
/// of every statement that touches it, so a statement per row would cost a segment each.
fn index_new_mentions(db: &raw::Db<'_>, new_ids: &HashSet<i64>) -> Result<(), StoreError> {
    use raw::Val;
    let mut fts = db.prepare(
        "INSERT INTO mentions_fts (rowid, title, text) SELECT id, title, text FROM mentions WHERE id BETWEEN ?1 AND ?2",
    )?;
    let mut sorted: Vec<i64> = new_ids.iter().copied().collect();
    sorted.sort_unstable();
    for run in sorted.chunk_by(|a, b| b - a == 1) {
        fts.execute(&[Val::Int(run[0]), Val::Int(run[run.len() - 1])])?;
    }
    Ok(())
}

/// What phase 2 leaves to the phases after it.
struct GivenLabels<'i> {
    /// The label stored for each new mention that came with one: its brand matches, written next, carry it
    /// from the start instead of being updated by a trigger row by row.
    of_new: HashMap<i64, &'static str>,
    /// Labels given for mentions stored before the batch: written after bulk mode, so that the trigger copies
    /// them onto the brand matches those mentions already have.
    for_earlier: Vec<(i64, &'i GivenSentiment)>,
}

/// Phase 2: the labels given with new mentions (the first one wins, as for the mention itself), and the
/// classification queue for every stored mention of the batch that has no label yet. Labels for mentions
/// stored before the batch are handed back for later.
fn store_given_labels<'i>(
    db: &raw::Db<'_>,
    items: &'i [IngestItem],
    slots: &[Option<Slot>],
    now: i64,
) -> Result<GivenLabels<'i>, StoreError> {
    use raw::Val;
    let mut label = db.prepare(LABEL_SQL)?;
    let mut of_new: HashMap<i64, &'static str> = HashMap::new();
    let (mut for_earlier, mut unlabelled) = (Vec::new(), Vec::new());
    for (it, slot) in items.iter().zip(slots) {
        let Some(Slot { id, new, .. }) = *slot else { continue };
        match &it.sentiment {
            Some(s) if new => {
                if label.execute(&label_row(id, s, now))? == 1 {
                    of_new.insert(id, s.label.as_str());
                }
            }
            Some(s) => for_earlier.push((id, s)),
            None => unlabelled.push(id),
        }
    }
    let mut queue = db.prepare(
        "INSERT OR IGNORE INTO classify_queue (mention_id) SELECT ?1 \
         WHERE NOT EXISTS (SELECT 1 FROM sentiment WHERE mention_id = ?1)",
    )?;
    for id in unlabelled {
        queue.execute(&[Val::Int(id)])?;
    }
    Ok(GivenLabels { of_new, for_earlier })
}

/// Phase 3, first: the id of every brand the items name, inserting the new ones, keyed by the names as the
/// items spell them. Names are unique without regard to ASCII case, like the column; each spelling costs a
/// lowercase copy once, each brand a lookup once.
fn brand_ids<'i>(db: &raw::Db<'_>, items: &'i [IngestItem]) -> Result<HashMap<&'i str, i64>, StoreError> {
    use raw::Val;
    let mut brand_ids: HashMap<String, i64> = HashMap::new();
    let mut by_name: HashMap<&str, i64> = HashMap::new();
    let mut add = db.prepare("INSERT OR IGNORE INTO brands (name) VALUES (?1)")?;
    let mut get = db.prepare("SELECT id FROM brands WHERE name = ?1")?;
    for b in items.iter().flat_map(|it| &it.brands) {
        if by_name.contains_key(b.brand.as_str()) {
            continue;
        }
        let id = match brand_ids.entry(b.brand.to_ascii_lowercase()) {
            std::collections::hash_map::Entry::Occupied(e) => *e.get(),
            std::collections::hash_map::Entry::Vacant(e) => {
                add.execute(&[Val::Text(&b.brand)])?;
                let [id] = get
                    .query_ints::<1>(&[Val::Text(&b.brand)])?
                    .ok_or_else(|| StoreError::Invalid(format!("brand {:?} vanished while being stored", b.brand)))?;
                *e.insert(id)
            }
        };
        by_name.insert(&b.brand, id);
    }
    Ok(by_name)
}

/// A brand match of a mention stored before the batch: (mention id, brand id, created_at, terms as JSON).
type EarlierMatch<'d> = (i64, i64, i64, &'d str);

/// Phase 3: the new mentions' brand matches, each with its mention's label (`labels`), and the rollup cells
/// they add to (`brand_hours`, one upsert per brand, hour and label; `brand_days`, one per brand, day,
/// platform, language and label). Every match of a new mention is inserted (the first of a pair repeated
/// inside the batch wins, as `INSERT OR IGNORE` does), so its cells are counted here. The matches of mentions
/// stored before the batch are handed back for later.
fn insert_new_matches<'d>(
    db: &raw::Db<'_>,
    items: &[IngestItem],
    derived: &'d [Cow<Derived>],
    langs: &[Cow<Language>],
    slots: &[Option<Slot>],
    brand_ids: &HashMap<&str, i64>,
    labels: &HashMap<i64, &'static str>,
) -> Result<Vec<EarlierMatch<'d>>, StoreError> {
    use raw::Val;
    let mut matched = db.prepare(MATCH_SQL)?;
    let mut earlier = Vec::new();
    let mut hours: HashMap<(i64, i64, &'static str), i64> = HashMap::new();
    let mut days: HashMap<(i64, i64, &str, &str, &'static str), i64> = HashMap::new();
    for (((it, slot), d), lang) in items.iter().zip(slots).zip(derived).zip(langs) {
        let Some(Slot { id, created_at, new }) = *slot else { continue };
        for (b, terms) in it.brands.iter().zip(&d.terms) {
            let brand_id = brand_ids[b.brand.as_str()];
            if !new {
                earlier.push((id, brand_id, created_at, terms.as_str()));
                continue;
            }
            let label = labels.get(&id).copied();
            let row = [Val::Int(id), Val::Int(brand_id), Val::Int(created_at), Val::Text(terms), label.into()];
            if matched.execute(&row)? == 1 {
                let label = label.unwrap_or("");
                *hours.entry((brand_id, created_at / 3600, label)).or_default() += 1;
                // The language as `insert_mentions` stored it.
                let (lang, _) = checked_language(lang);
                let day = (brand_id, created_at / 86_400, it.mention.platform.as_str(), lang, label);
                *days.entry(day).or_default() += 1;
            }
        }
    }
    let mut hour = db.prepare(
        "INSERT INTO brand_hours (brand_id, hour, label, n) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + excluded.n",
    )?;
    for ((brand_id, h, label), n) in hours {
        hour.execute(&[Val::Int(brand_id), Val::Int(h), Val::Text(label), Val::Int(n)])?;
    }
    let mut day = db.prepare(
        "INSERT INTO brand_days (brand_id, day, platform, lang, label, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (brand_id, day, platform, lang, label) DO UPDATE SET n = n + excluded.n",
    )?;
    for ((brand_id, d, platform, lang, label), n) in days {
        day.execute(&[
            Val::Int(brand_id),
            Val::Int(d),
            Val::Text(platform),
            Val::Text(lang),
            Val::Text(label),
            Val::Int(n),
        ])?;
    }
    Ok(earlier)
}

/// After bulk mode: the labels and brand matches that mentions stored before the batch gain, with statements
/// prepared now that the triggers are back on (they copy the label onto brand matches and keep the rollup).
fn update_earlier_mentions(
    db: &raw::Db<'_>,
    labels: &[(i64, &GivenSentiment)],
    matches: &[EarlierMatch<'_>],
    now: i64,
) -> Result<(), StoreError> {
    use raw::Val;
    let mut label = db.prepare(LABEL_SQL)?;
    let mut matched = db.prepare(MATCH_SQL)?;
    for &(id, s) in labels {
        label.execute(&label_row(id, s, now))?;
    }
    for &(id, brand_id, created_at, terms) in matches {
        matched.execute(&[Val::Int(id), Val::Int(brand_id), Val::Int(created_at), Val::Text(terms), Val::Null])?;
    }
    Ok(())
}

/// Phase 4: marks syndicated copies, mentions with an earlier mention of the same brand with the same text
/// hash (`first_copy` = 0). Run after every mention of the batch is stored, so that copies inside it see each
/// other, and through the triggers (it changes brand matches of mentions stored before, and the rollup).
/// Mentions whose text is too short to be a copy (`dedup_hash` = "id:…") cannot have one and are left out.
/// Hashes are looked up by their first 16 hex digits, the indexed expression, then compared whole.
fn mark_syndicated_copies(
    db: &raw::Db<'_>,
    items: &[IngestItem],
    derived: &[Cow<Derived>],
    slots: &[Option<Slot>],
) -> Result<(), StoreError> {
    use raw::Val;
    let mut candidates: Vec<i64> = items
        .iter()
        .zip(derived)
        .zip(slots)
        .filter(|((it, d), _)| !it.brands.is_empty() && !d.dedup_hash.starts_with(IDENTITY_HASH_PREFIX))
        .filter_map(|(_, slot)| slot.map(|s| s.id))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    // Most texts have no earlier copy at all: one index probe says so, and only the others pay for the
    // UPDATE (a statement that changes rows, with its triggers).
    // `m2`: an earlier mention with `m1`'s text (the probe and the UPDATE share it).
    macro_rules! earlier_copy {
        () => {
            "FROM mentions m1 JOIN mentions m2 ON substr(m2.text_hash, 1, 16) = substr(m1.text_hash, 1, 16) \
             AND m2.text_hash = m1.text_hash AND m2.id < m1.id"
        };
    }
    let mut earlier = db.prepare(concat!("SELECT 1 ", earlier_copy!(), " WHERE m1.id = ?1 LIMIT 1"))?;
    let mut copies = db.prepare(concat!(
        "UPDATE mention_brands SET first_copy = 0 WHERE mention_id = ?1 AND first_copy = 1 AND EXISTS (SELECT 1 ",
        earlier_copy!(),
        " JOIN mention_brands mb2 ON mb2.mention_id = m2.id AND mb2.brand_id = mention_brands.brand_id \
         WHERE m1.id = mention_brands.mention_id)"
    ))?;
    for id in candidates {
        if earlier.query_ints::<1>(&[Val::Int(id)])?.is_some() {
            copies.execute(&[Val::Int(id)])?;
        }
    }
    Ok(())
}

/// What a model made of one queued mention: (mention id, label and scores or none, `model_version`).
type ModelResult<'a> = (i64, Option<(Label, [f32; 3])>, std::borrow::Cow<'a, str>);

impl Store {
    /// Mentions waiting for a model label, oldest first: (id, title and text, stored language).
    pub async fn unclassified(&self, limit: i64) -> Result<Vec<(i64, String, Option<String>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, trim(coalesce(m.title || '. ', '') || m.text), m.lang FROM classify_queue q
             JOIN mentions m ON m.id = q.mention_id ORDER BY q.attempts, q.mention_id LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// Number of mentions still waiting for a model label.
    pub async fn unclassified_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM classify_queue").fetch_one(&self.pool).await?)
    }

    /// Records model labels (never touching manual overrides) and takes the mentions off the queue.
    pub async fn store_labels(&self, labels: &[(i64, Label, [f32; 3])], model_version: &str) -> Result<(), StoreError> {
        let rows: Vec<_> =
            labels.iter().map(|&(id, label, scores)| (id, Some((label, scores)), model_version.into())).collect();
        self.store_model_results(&rows).await
    }

    /// Records what [`crate::sentiment::Models`] made of queued mentions, in one transaction: a label with its
    /// model's version, or for a language no model covers a row without label whose `model_version` is
    /// `uncovered:<lang>` (the mention leaves the queue, shows as unlabelled and stays out of the negative share
    /// until `hearsay reclassify` after a model that covers it).
    pub async fn store_routed(&self, results: &[(i64, crate::sentiment::Routed)]) -> Result<(), StoreError> {
        use crate::sentiment::{Routed, UNCOVERED_PREFIX};
        let rows: Vec<_> = results
            .iter()
            .map(|(id, r)| match r {
                Routed::Labelled { prediction, model_version } => {
                    (*id, Some((prediction.label, prediction.scores)), (&**model_version).into())
                }
                Routed::Uncovered { lang } => (*id, None, format!("{UNCOVERED_PREFIX}{lang}").into()),
            })
            .collect();
        self.store_model_results(&rows).await
    }

    async fn store_model_results(&self, rows: &[ModelResult<'_>]) -> Result<(), StoreError> {
        let now = now_ts();
        let mut tx = self.write_tx().await?;
        for (id, label, model_version) in rows {
            let s = label.map(|(_, s)| s);
            sqlx::query(
                "INSERT INTO sentiment (mention_id, label, score_negative, score_neutral, score_positive, model_version, classified_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (mention_id) DO UPDATE SET label = excluded.label, score_negative = excluded.score_negative,
                    score_neutral = excluded.score_neutral, score_positive = excluded.score_positive,
                    model_version = excluded.model_version, classified_at = excluded.classified_at",
            )
            .bind(id)
            .bind(label.map(|(l, _)| l.as_str()))
            .bind(s.map(|s| s[0]))
            .bind(s.map(|s| s[1]))
            .bind(s.map(|s| s[2]))
            .bind(model_version.as_ref())
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
             SELECT m.id FROM mentions m WHERE m.created_at >= ?1
               AND NOT EXISTS (SELECT 1 FROM sentiment s WHERE s.mention_id = m.id AND s.model_version = ?2)",
        )
        .bind(since.map_or(i64::MIN, |t| t.timestamp()))
        .bind(STARS_LABEL_VERSION)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected())
    }

    /// Manual sentiment override (`hearsay relabel`). Returns false when the mention does not exist.
    pub async fn relabel(&self, mention_id: i64, label: Label, by: &super::Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM mentions WHERE id = ?1")
            .bind(mention_id)
            .fetch_optional(&mut *tx)
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
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "label": label.as_str() });
        super::users::audit_in(&mut tx, by, super::AuditAction::Relabel, &mention_id.to_string(), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a brand match as spam or irrelevant: it leaves every count of the brand (`first_copy` = 2, see
    /// migration 0010) until [`Store::unmark`]. Marking a marked match again changes its mark only. Returns false
    /// when the mention did not match that brand.
    pub async fn mark(&self, mention_id: i64, brand: &str, mark: Mark, by: &super::Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "INSERT INTO brand_marks (mention_id, brand_id, mark, prev_first_copy, at, actor)
             SELECT mb.mention_id, mb.brand_id, ?3, mb.first_copy, ?4, ?5 FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id WHERE mb.mention_id = ?1 AND b.name = ?2
             ON CONFLICT (mention_id, brand_id) DO UPDATE SET mark = excluded.mark, at = excluded.at,
                 actor = excluded.actor",
        )
        .bind(mention_id)
        .bind(brand)
        .bind(mark.as_str())
        .bind(now_ts())
        .bind(&by.name)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE mention_brands SET first_copy = 2
             WHERE mention_id = ?1 AND brand_id = (SELECT id FROM brands WHERE name = ?2)",
        )
        .bind(mention_id)
        .bind(brand)
        .execute(&mut *tx)
        .await?;
        let detail = serde_json::json!({ "brand": brand, "mark": mark.as_str() });
        super::users::audit_in(&mut tx, by, super::AuditAction::Mark, &mention_id.to_string(), &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Lifts a mark: the match counts again as it did before. Returns false when it was not marked.
    pub async fn unmark(&self, mention_id: i64, brand: &str, by: &super::Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let prev: Option<(i64, i64)> = sqlx::query_as(
            "DELETE FROM brand_marks WHERE mention_id = ?1 AND brand_id = (SELECT id FROM brands WHERE name = ?2)
             RETURNING brand_id, prev_first_copy",
        )
        .bind(mention_id)
        .bind(brand)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((brand_id, prev)) = prev else { return Ok(false) };
        sqlx::query("UPDATE mention_brands SET first_copy = ?3 WHERE mention_id = ?1 AND brand_id = ?2")
            .bind(mention_id)
            .bind(brand_id)
            .bind(prev)
            .execute(&mut *tx)
            .await?;
        let detail = serde_json::json!({ "brand": brand });
        super::users::audit_in(&mut tx, by, super::AuditAction::Unmark, &mention_id.to_string(), &detail).await?;
        tx.commit().await?;
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
                    mb.terms, m.rating, m.lang, s.model_version, bm.mark, mb.brand_id, m.location
             FROM {from}
             JOIN brands b ON b.id = mb.brand_id
             LEFT JOIN sentiment s ON s.mention_id = m.id
             LEFT JOIN brand_marks bm ON bm.mention_id = mb.mention_id AND bm.brand_id = mb.brand_id
             WHERE 1 = 1",
        );
        // The brand last: a mention matched by several brands has one row each, and a page may end between them.
        let order = format!(" ORDER BY {} DESC, {} DESC, mb.brand_id DESC LIMIT ?", cols.time, cols.id);
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
                    model_version: r.get(18),
                    mark: r.get(19),
                    brand_id: r.get(20),
                    location: r.get(21),
                }
            })
            .collect())
    }

    /// Counts per sentiment per time bucket (`hearsay stats`), oldest bucket first. Syndicated copies count once.
    pub async fn stats(&self, f: &MentionFilter, bucket_secs: i64) -> Result<Vec<StatsRow>, StoreError> {
        if f.platform.is_some() || f.search.is_some() || f.lang.is_some() || bucket_secs <= 0 || bucket_secs % 3600 != 0
        {
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
        let needs_mention = f.platform.is_some() || f.search.is_some() || f.lang.is_some();
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

    /// Gives mentions stored before languages were recorded (`lang_source` NULL) created since `since` their
    /// language, as a new mention would get it (`lang::of_parts`; the stored tag is the platform's); returns
    /// how many. `hearsay reclassify` runs it first. Batches of 2,000, each its own transaction.
    pub async fn backfill_languages(&self, since: Option<DateTime<Utc>>) -> Result<u64, StoreError> {
        let since = since.map_or(i64::MIN, |t| t.timestamp());
        let (mut after, mut done) = (0i64, 0u64);
        loop {
            let rows = sqlx::query(
                "SELECT id, platform, lang, title, text FROM mentions
                 WHERE lang_source IS NULL AND id > ?1 AND created_at >= ?2 ORDER BY id LIMIT 2000",
            )
            .bind(after)
            .bind(since)
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else { return Ok(done) };
            after = last.get(0);
            let langs: Vec<(i64, Language)> = rows
                .iter()
                .map(|r| {
                    let lang = crate::lang::of_parts(
                        r.get::<&str, _>(1),
                        r.get::<Option<&str>, _>(2),
                        r.get::<Option<&str>, _>(3),
                        r.get::<&str, _>(4),
                    );
                    (r.get(0), lang)
                })
                .collect();
            let mut tx = self.write_tx().await?;
            for (id, lang) in &langs {
                let (code, confidence) = checked_language(lang);
                sqlx::query("UPDATE mentions SET lang = ?2, lang_source = ?3, lang_confidence = ?4 WHERE id = ?1")
                    .bind(id)
                    .bind(code)
                    .bind(lang.source.as_str())
                    .bind(confidence)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            done += langs.len() as u64;
        }
    }

    /// Counts per sentiment per language (`hearsay stats --by lang`), most frequent language first. Syndicated
    /// copies count once; mentions stored before languages were recorded (and never tagged) have `lang` `None`.
    pub async fn stats_by_lang(&self, f: &MentionFilter) -> Result<Vec<LangStatsRow>, StoreError> {
        let mut sql = String::from(
            "SELECT m.lang, sum(mb.label = 'negative'), sum(mb.label = 'neutral'), sum(mb.label = 'positive'),
                    sum(mb.label IS NULL), sum(mb.label IS NULL AND s.model_version LIKE 'uncovered:%')
             FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             LEFT JOIN sentiment s ON s.mention_id = mb.mention_id
             WHERE mb.first_copy = 1",
        );
        if f.brand.is_none() {
            // As in `stats_scan`: one range scan of the (brand, time, …) index per brand.
            sql.push_str(" AND mb.brand_id IN (SELECT id FROM brands)");
        }
        let mut binds = Vec::new();
        let cols = FilterCols { time: "mb.created_at", id: "mb.mention_id" };
        push_filters(&mut sql, &mut binds, &MentionFilter { limit: None, ..f.clone() }, cols);
        sql.push_str(" GROUP BY m.lang ORDER BY count(*) DESC, m.lang");
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let unlabelled = r.get::<Option<i64>, _>(4).unwrap_or(0);
                let uncovered = r.get::<Option<i64>, _>(5).unwrap_or(0);
                LangStatsRow {
                    lang: r.get(0),
                    negative: r.get::<Option<i64>, _>(1).unwrap_or(0),
                    neutral: r.get::<Option<i64>, _>(2).unwrap_or(0),
                    positive: r.get::<Option<i64>, _>(3).unwrap_or(0),
                    unclassified: unlabelled - uncovered,
                    uncovered,
                }
            })
            .collect())
    }

    /// `hearsay stats --by location`: the brand matches of mentions about a place (Google Business reviews), one
    /// row per location, with their sentiment and average star rating; mentions without a location are left out.
    pub async fn stats_by_location(&self, f: &MentionFilter) -> Result<Vec<LocationStatsRow>, StoreError> {
        let mut sql = String::from(
            "SELECT m.location, count(*), sum(mb.label = 'negative'), sum(mb.label = 'neutral'),
                    sum(mb.label = 'positive'), avg(m.rating)
             FROM mention_brands mb
             JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             WHERE mb.first_copy = 1 AND m.location IS NOT NULL",
        );
        if f.brand.is_none() {
            // As in `stats_scan`: one range scan of the (brand, time, …) index per brand.
            sql.push_str(" AND mb.brand_id IN (SELECT id FROM brands)");
        }
        let mut binds = Vec::new();
        let cols = FilterCols { time: "mb.created_at", id: "mb.mention_id" };
        push_filters(&mut sql, &mut binds, &MentionFilter { limit: None, ..f.clone() }, cols);
        sql.push_str(" GROUP BY m.location ORDER BY count(*) DESC, m.location");
        let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let (total, negative, neutral, positive): (i64, Option<i64>, Option<i64>, Option<i64>) =
                    (r.get(1), r.get(2), r.get(3), r.get(4));
                let (negative, neutral, positive) =
                    (negative.unwrap_or(0), neutral.unwrap_or(0), positive.unwrap_or(0));
                LocationStatsRow {
                    location: r.get(0),
                    negative,
                    neutral,
                    positive,
                    unclassified: total - negative - neutral - positive,
                    rating: r.get(5),
                }
            })
            .collect())
    }

    /// Names of the brands in the database.
    pub async fn brand_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT name FROM brands ORDER BY name").fetch_all(&self.pool).await?)
    }

    /// Per-brand 5-minute buckets `(bucket_start_ts, total, negative)` since `since`, syndicated copies once:
    /// the series the spike detector reads. `total` counts labelled mentions only: one without a label (not
    /// classified yet, or in a language no model covers) says nothing about the negative share.
    pub async fn brand_buckets(
        &self,
        brand: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        bucket_secs: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT (mb.created_at / {bucket_secs}) * {bucket_secs} AS bucket, count(mb.label), coalesce(sum(mb.label = 'negative'), 0)
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

    /// When a brand's history begins: the time of its oldest stored mention (`None` before the first). The
    /// detector's series starts there, not weeks of zeros earlier, so a new brand is known to be one.
    pub async fn brand_history_start(&self, brand: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let first: Option<i64> = sqlx::query_scalar(
            "SELECT min(mb.created_at) FROM mention_brands mb JOIN brands b ON b.id = mb.brand_id WHERE b.name = ?1",
        )
        .bind(brand)
        .fetch_one(&self.pool)
        .await?;
        Ok(first.and_then(|t| DateTime::from_timestamp(t, 0)))
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
    if let Some(l) = &f.lang {
        sql.push_str(" AND m.lang = ?");
        binds.push(Bind::Text(l.clone()));
    }
    if let Some(id) = f.id {
        sql.push_str(&format!(" AND {id_col} = ?"));
        binds.push(Bind::Int(id));
    }
    if let Some((t, id, brand)) = f.before {
        // The first conjunct bounds the index walk; the second drops the rows of that second already shown (a
        // mention's rows for several brands come in brand order, and a page may end between them).
        sql.push_str(&format!(
            " AND {time_col} <= ? AND ({time_col} < ? OR {id_col} < ? OR ({id_col} = ? AND mb.brand_id < ?))"
        ));
        binds.extend([Bind::Int(t), Bind::Int(t), Bind::Int(id), Bind::Int(id), Bind::Int(brand)]);
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
        // The command line refuses a search that does not parse; any other caller's finds nothing.
        binds.push(Bind::Text(fts_query(q).unwrap_or_else(|_| MATCH_NOTHING.into())));
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

/// What the store searches for when a search does not parse: FTS5's empty phrase, which matches nothing.
const MATCH_NOTHING: &str = "\"\"";

/// Deepest parenthesis nesting a search accepts. FTS5's parser has a stack of 100 entries, and each level of a
/// search can hold nine of them (`x OR y z NOT (…)`); eight levels leave room to spare and are more than anyone types.
const MAX_SEARCH_DEPTH: usize = 8;

/// Translates a search as users type it (`--search`) into an FTS5 query, or says what is wrong with it and at
/// which column, in the shape of a brand query's error ([`QueryError`]): the command line refuses such a search
/// before it opens the store (the store itself matches nothing for one).
///
/// The syntax is the brand query language's (`src/query.rs`) less what FTS5 cannot do the same way (`NEAR/n`,
/// a `*` anywhere but at the end of a word): words, `"exact phrases"`, `AND` (also implied between terms), `OR`,
/// binary `NOT` (`refund NOT acme`), parentheses, `prefix*`. Keywords are operators only in upper case; `NOT`
/// binds tighter than `AND`, `AND` tighter than `OR`. Every word is quoted in the output, so punctuation in what
/// users type (`-`, `:`, `^`) is never FTS5 syntax, and every group is parenthesised, so FTS5 applies exactly
/// the precedence parsed here.
pub fn fts_query(input: &str) -> Result<String, QueryError> {
    let mut p = SearchParser { toks: lex_search(input)?, next: 0, depth: 0 };
    let out = p.or(SearchCtx::Start)?;
    match p.toks.get(p.next) {
        // Everything that can continue an expression was consumed; only a `)` is left over.
        Some(&(_, col)) => Err(search_error(col, "unbalanced parenthesis")),
        None => Ok(out),
    }
}

fn search_error(column: usize, message: impl Into<String>) -> QueryError {
    QueryError { column, message: message.into() }
}

#[derive(Debug, PartialEq)]
enum SearchTok {
    /// An FTS5 string, quoted, with `*` when it is a prefix.
    Term(String),
    LParen,
    RParen,
    And,
    Or,
    Not,
}

fn is_search_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”')
}

/// Tokens with their 1-based character columns.
fn lex_search(src: &str) -> Result<Vec<(SearchTok, usize)>, QueryError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (c, col) = (chars[i], i + 1);
        let tok = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c == '(' || c == ')' {
            i += 1;
            if c == '(' {
                SearchTok::LParen
            } else {
                SearchTok::RParen
            }
        } else if is_search_quote(c) {
            let len = chars[i + 1..]
                .iter()
                .position(|&c| is_search_quote(c))
                .ok_or_else(|| search_error(col, "unterminated quote"))?;
            let phrase: String = chars[i + 1..i + 1 + len].iter().collect();
            i += len + 2;
            if phrase.trim().is_empty() {
                return Err(search_error(col, "empty phrase"));
            }
            if phrase.contains('*') {
                return Err(search_error(col, format!("`{phrase}`: prefix search `*` works on words, not in phrases")));
            }
            SearchTok::Term(fts_string(&phrase, col + 1, "")?)
        } else {
            let len = chars[i..]
                .iter()
                .position(|&c| c.is_whitespace() || c == '(' || c == ')' || is_search_quote(c))
                .unwrap_or(chars.len() - i);
            let word: String = chars[i..i + len].iter().collect();
            i += len;
            match word.as_str() {
                "AND" => SearchTok::And,
                "OR" => SearchTok::Or,
                "NOT" => SearchTok::Not,
                w if w == "NEAR" || w.starts_with("NEAR/") => {
                    return Err(search_error(col, "NEAR/ is for brand queries; a search has AND, OR and NOT"))
                }
                w => {
                    let (stem, star) = w.strip_suffix('*').map_or((w, ""), |s| (s, "*"));
                    if stem.contains('*') {
                        return Err(search_error(col, format!("`{w}`: prefix search `*` goes at the end of a word")));
                    }
                    SearchTok::Term(fts_string(stem, col, star)?)
                }
            }
        };
        out.push((tok, col));
    }
    Ok(out)
}

/// `text` as an FTS5 string (`"…"`, quotes doubled), followed by `suffix`; an error when FTS5 would find no
/// token in it to search for.
fn fts_string(text: &str, col: usize, suffix: &str) -> Result<String, QueryError> {
    if !text.chars().any(char::is_alphanumeric) {
        let shown = if text.is_empty() { suffix } else { text };
        return Err(search_error(col, format!("`{shown}` has no letters or digits to search for")));
    }
    Ok(format!("\"{}\"{suffix}", text.replace('"', "\"\"")))
}

/// What came just before the expression being parsed, to word the error when it is missing.
#[derive(Clone, Copy)]
enum SearchCtx {
    Start,
    /// After a binary operator: its name and column.
    Op(&'static str, usize),
    /// After `(` at this column.
    Paren(usize),
}

/// A recursive-descent parser that writes the FTS5 query as it goes.
struct SearchParser {
    toks: Vec<(SearchTok, usize)>,
    next: usize,
    depth: usize,
}

impl SearchParser {
    fn peek(&self) -> Option<&SearchTok> {
        self.toks.get(self.next).map(|t| &t.0)
    }

    fn col(&self) -> usize {
        self.toks.get(self.next).map_or(0, |t| t.1)
    }

    fn or(&mut self, ctx: SearchCtx) -> Result<String, QueryError> {
        let mut parts = vec![self.and(ctx)?];
        while self.peek() == Some(&SearchTok::Or) {
            let col = self.col();
            self.next += 1;
            parts.push(self.and(SearchCtx::Op("OR", col))?);
        }
        Ok(group(parts, " OR "))
    }

    fn and(&mut self, ctx: SearchCtx) -> Result<String, QueryError> {
        let mut parts = vec![self.not(ctx)?];
        loop {
            match self.peek() {
                Some(SearchTok::And) => {
                    let col = self.col();
                    self.next += 1;
                    parts.push(self.not(SearchCtx::Op("AND", col))?);
                }
                Some(SearchTok::Term(_) | SearchTok::LParen) => parts.push(self.not(SearchCtx::Start)?),
                _ => break,
            }
        }
        Ok(group(parts, " AND "))
    }

    /// `a NOT b NOT c` is written `a NOT (b OR c)`: the same, and flat. FTS5 nests each binary NOT one level
    /// deeper and refuses expressions deeper than 256, while it flattens an OR of any length.
    fn not(&mut self, ctx: SearchCtx) -> Result<String, QueryError> {
        let keep = self.primary(ctx)?;
        let mut excluded = Vec::new();
        loop {
            // `AND NOT` is a spelling of NOT, as in brand queries.
            if self.peek() == Some(&SearchTok::And)
                && self.toks.get(self.next + 1).map(|t| &t.0) == Some(&SearchTok::Not)
            {
                self.next += 1;
            } else if self.peek() != Some(&SearchTok::Not) {
                break;
            }
            let col = self.col();
            self.next += 1;
            excluded.push(self.primary(SearchCtx::Op("NOT", col))?);
        }
        if excluded.is_empty() {
            Ok(keep)
        } else {
            Ok(format!("({keep} NOT {})", group(excluded, " OR ")))
        }
    }

    fn primary(&mut self, ctx: SearchCtx) -> Result<String, QueryError> {
        let Some((tok, col)) = self.toks.get(self.next) else { return Err(missing_in_search(ctx, None)) };
        let col = *col;
        match tok {
            SearchTok::Term(t) => {
                let t = t.clone();
                self.next += 1;
                Ok(t)
            }
            SearchTok::LParen => {
                if self.depth == MAX_SEARCH_DEPTH {
                    return Err(search_error(col, format!("parentheses nested more than {MAX_SEARCH_DEPTH} deep")));
                }
                self.next += 1;
                self.depth += 1;
                let inner = self.or(SearchCtx::Paren(col))?;
                self.depth -= 1;
                if self.peek() != Some(&SearchTok::RParen) {
                    return Err(search_error(col, "unbalanced parenthesis"));
                }
                self.next += 1;
                Ok(inner)
            }
            SearchTok::RParen => Err(missing_in_search(ctx, Some(col))),
            SearchTok::And | SearchTok::Or if matches!(ctx, SearchCtx::Op(..)) => {
                Err(missing_in_search(ctx, Some(col)))
            }
            SearchTok::And => Err(search_error(col, "AND needs something before it")),
            SearchTok::Or => Err(search_error(col, "OR needs something before it")),
            SearchTok::Not => {
                Err(search_error(col, "NOT needs something before it to exclude from, e.g. `refund NOT acme`"))
            }
        }
    }
}

/// `parts` joined by `op`, parenthesised when there is more than one.
fn group(parts: Vec<String>, op: &str) -> String {
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(op))
    }
}

/// The error for an expression missing where `ctx` expected one; `at` is the column of the token found instead
/// (`None` at the end of the search).
fn missing_in_search(ctx: SearchCtx, at: Option<usize>) -> QueryError {
    match ctx {
        SearchCtx::Start => match at {
            None => search_error(1, "empty search"),
            Some(col) => search_error(col, "unbalanced parenthesis"),
        },
        SearchCtx::Op("NOT", col) => search_error(col, "NOT needs something to exclude after it"),
        SearchCtx::Op(op, col) => search_error(col, format!("{op} needs something after it")),
        SearchCtx::Paren(col) if at.is_none() => search_error(col, "unbalanced parenthesis"),
        SearchCtx::Paren(col) => search_error(col, "empty parentheses"),
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
    /// Only mentions in this language: a lower-case ISO 639-1 code as stored in `mentions.lang`, or "und".
    pub lang: Option<String>,
    /// One mention (its rows for each brand it matched).
    pub id: Option<i64>,
    /// Keyset paging: only rows after this one (Unix seconds, mention id, brand id) in the newest-first order,
    /// i.e. the page after the one that ended there. Never OFFSET: the next page costs what the first one does.
    pub before: Option<(i64, i64, i64)>,
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
    /// The model that labelled it (`labels.json` version), `uncovered:<lang>` when no model covers its language,
    /// `imported` for a label that came with `hearsay import`; none while it waits for classification.
    pub model_version: Option<String>,
    /// `spam` or `irrelevant` when a person marked this match in the console: left out of every count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<String>,
    /// The brand's row id: with the time and the mention id, this row's place in the newest-first order
    /// ([`MentionFilter::before`]).
    #[serde(skip)]
    pub brand_id: i64,
    /// The shop or branch a Business Profile review is about (`[[sources]] locations`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Writes each item as one line of JSON (the JSON-lines output of `mentions`, `sources parse`, `backtest`, the
/// console's export).
pub fn write_json_lines<T: serde::Serialize>(
    out: &mut impl std::io::Write,
    items: impl IntoIterator<Item = T>,
) -> std::io::Result<()> {
    for item in items {
        serde_json::to_writer(&mut *out, &item)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// RFC 4180 CSV with a fixed header; the column set is a stable interface (`hearsay export`, the console's export).
pub const CSV_HEADER: &str =
    "id,created_at,brand,platform,sentiment,overridden,author,title,text,url,kind,external_id,rating,lang,terms";

/// `rows` as CSV under [`CSV_HEADER`]. `spreadsheet_safe`: a cell a spreadsheet would read as a formula (starting
/// with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, so a mention's text cannot run in the
/// brand manager's spreadsheet (OWASP's CSV injection advice); the console's downloads use it, `hearsay export`
/// keeps the text as stored, for scripts.
pub fn write_csv(out: &mut impl std::io::Write, rows: &[MentionRow], spreadsheet_safe: bool) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for r in rows {
        let fields = [
            r.id.to_string(),
            crate::mention::rfc3339::format(&r.created_at),
            r.brand.clone(),
            r.platform.clone(),
            r.sentiment.map(|l| l.as_str().to_string()).unwrap_or_default(),
            r.overridden.to_string(),
            r.author.clone().unwrap_or_default(),
            r.title.clone().unwrap_or_default(),
            r.text.clone(),
            r.url.clone().unwrap_or_default(),
            r.kind.clone(),
            r.external_id.clone(),
            r.rating.map(|x| x.to_string()).unwrap_or_default(),
            r.lang.clone().unwrap_or_default(),
            r.terms.join("|"),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f, spreadsheet_safe)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

fn csv_field(s: &str, spreadsheet_safe: bool) -> String {
    let s = if spreadsheet_safe && s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.into_owned()
    }
}

/// What a person says about a (mention, brand) match that should not count for the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Spam,
    /// Matched the query but is not about the brand (another "Acme").
    Irrelevant,
}

impl Mark {
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Spam => "spam",
            Mark::Irrelevant => "irrelevant",
        }
    }
}

impl std::str::FromStr for Mark {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "spam" => Ok(Mark::Spam),
            "irrelevant" => Ok(Mark::Irrelevant),
            other => Err(format!("unknown mark {other:?}; expected spam or irrelevant")),
        }
    }
}

/// One language of `hearsay stats --by lang`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LangStatsRow {
    /// As stored in `mentions.lang`: ISO 639-1, "und" (too short to tell), `None` (stored untagged before
    /// languages were recorded).
    pub lang: Option<String>,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
    /// Waiting for a model (queued, or the model failed on them).
    pub unclassified: i64,
    /// In a language no shipped model covers: kept without a label (`uncovered:<lang>`), not waiting.
    pub uncovered: i64,
}

/// One place of `hearsay stats --by location`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocationStatsRow {
    /// As configured for the location (`NewMention::location`).
    pub location: String,
    pub negative: i64,
    pub neutral: i64,
    pub positive: i64,
    /// Without a sentiment label (waiting for a model, or in a language none covers).
    pub unclassified: i64,
    /// The average star rating of its reviews that have one.
    pub rating: Option<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Wordless reviews take their label from their stars; anything with words, or without stars, is the model's.
    #[test]
    fn a_review_without_words_is_labelled_by_its_stars() {
        let review = |rating: Option<u8>, title: Option<&str>, text: &str| {
            let m = crate::mention::NewMention {
                platform: "google_business".into(),
                external_id: "r".into(),
                url: None,
                author: None,
                title: title.map(str::to_string),
                text: text.to_string(),
                created_at: chrono::Utc::now(),
                kind: crate::mention::MentionKind::Review,
                lang: None,
                rating,
                metrics: Default::default(),
                parent_id: None,
                location: None,
            };
            GivenSentiment::from_stars(&m).map(|g| (g.label, g.scores, g.model_version))
        };
        let given = |l| Some((l, None, STARS_LABEL_VERSION.to_string()));
        let table = [
            (Some(1), None, "", given(Label::Negative)),
            (Some(2), None, " \n", given(Label::Negative)),
            (Some(3), None, "", given(Label::Neutral)),
            (Some(4), Some(" "), "", given(Label::Positive)),
            (Some(5), None, "", given(Label::Positive)),
            (Some(0), None, "", None),
            (Some(6), None, "", None),
            (None, None, "", None),
            (Some(1), None, "Lovely staff", None),
            (Some(5), Some("Never again"), "", None),
        ];
        for (rating, title, text, want) in table {
            assert_eq!(review(rating, title, text), want, "{rating:?} {title:?} {text:?}");
        }
    }

    #[test]
    fn csv_quotes_only_when_needed_and_defuses_formulas_when_asked() {
        assert_eq!(csv_field("plain", false), "plain");
        assert_eq!(csv_field("a,b", false), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\"\n", false), "\"say \"\"hi\"\"\n\"");
        assert_eq!(csv_field("=HYPERLINK(\"http://x\")", false), "\"=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv_field("=1+1", true), "'=1+1");
        assert_eq!(csv_field("@SUM(A1)", true), "'@SUM(A1)");
        assert_eq!(csv_field("-2+3,x", true), "\"'-2+3,x\"");
        assert_eq!(csv_field("plain = fine", true), "plain = fine");
    }

    #[test]
    fn searches_become_fts5_queries_with_the_precedence_parsed() {
        for (search, fts) in [
            ("refund", r#""refund""#),
            ("refund*", r#""refund"*"#),
            ("no refund", r#"("no" AND "refund")"#),
            (r#""no refund" OR chargeback"#, r#"("no refund" OR "chargeback")"#),
            ("“no refund”", r#""no refund""#),
            ("a OR b c", r#"("a" OR ("b" AND "c"))"#),
            ("a b NOT c", r#"("a" AND ("b" NOT "c"))"#),
            ("a AND NOT b NOT c", r#"("a" NOT ("b" OR "c"))"#),
            ("(a OR b) NOT c", r#"(("a" OR "b") NOT "c")"#),
            ("re-launch e:mail ^x", r#"("re-launch" AND "e:mail" AND "^x")"#),
            ("or and not near", r#"("or" AND "and" AND "not" AND "near")"#),
        ] {
            assert_eq!(fts_query(search).as_deref(), Ok(fts), "{search}");
        }
    }

    #[test]
    fn searches_that_do_not_parse_name_the_column() {
        for (search, column, message) in [
            ("", 1, "empty search"),
            ("   ", 1, "empty search"),
            ("\"unbalanced", 1, "unterminated quote"),
            ("refund \"no", 8, "unterminated quote"),
            ("refund \"  \"", 8, "empty phrase"),
            ("refund OR", 8, "OR needs something after it"),
            ("refund AND", 8, "AND needs something after it"),
            ("refund NOT", 8, "NOT needs something to exclude after it"),
            ("a OR OR b", 3, "OR needs something after it"),
            ("OR a", 1, "OR needs something before it"),
            ("NOT refund", 1, "NOT needs something before it to exclude from, e.g. `refund NOT acme`"),
            ("(refund OR charged", 1, "unbalanced parenthesis"),
            ("refund)", 7, "unbalanced parenthesis"),
            ("a ()", 3, "empty parentheses"),
            ("re*und", 1, "`re*und`: prefix search `*` goes at the end of a word"),
            ("a *acme", 3, "`*acme`: prefix search `*` goes at the end of a word"),
            ("a \"no ref*\"", 3, "`no ref*`: prefix search `*` works on words, not in phrases"),
            ("a *", 3, "`*` has no letters or digits to search for"),
            ("a -- b", 3, "`--` has no letters or digits to search for"),
            ("a NEAR/3 b", 3, "NEAR/ is for brand queries; a search has AND, OR and NOT"),
        ] {
            let want = QueryError { column, message: message.into() };
            assert_eq!(fts_query(search), Err(want), "{search:?}");
        }
        assert_eq!(fts_query("\"unbalanced").unwrap_err().to_string(), "unterminated quote at column 1");
        let too_deep = format!("日本 {}x{}", "(".repeat(MAX_SEARCH_DEPTH + 1), ")".repeat(MAX_SEARCH_DEPTH + 1));
        let want = QueryError {
            column: 4 + MAX_SEARCH_DEPTH,
            message: format!("parentheses nested more than {MAX_SEARCH_DEPTH} deep"),
        };
        assert_eq!(fts_query(&too_deep), Err(want));
    }

    /// The deepest search accepted, with every operator at every level, is one that FTS5's parser takes, and a long
    /// chain of NOTs too.
    #[tokio::test]
    async fn the_most_nested_search_accepted_runs() {
        let store = Store::open(std::path::Path::new(":memory:"), super::super::Access::ReadWrite).await.unwrap();
        let mut deep = "acme".to_string();
        for _ in 0..MAX_SEARCH_DEPTH {
            deep = format!("x OR y z NOT ({deep})");
        }
        let nots = format!("acme{}", " NOT x".repeat(1000));
        for search in [deep, nots] {
            let f = MentionFilter { search: Some(search.clone()), ..MentionFilter::default() };
            assert!(store.mentions(&f).await.is_ok(), "{search}: {:?}", fts_query(&search));
        }
    }
}
