//! The store through the library: migrations, dedup, syndication, labels and overrides.

use chrono::{TimeZone, Utc};
use hearsay::mention::{MentionKind, NewMention};
use hearsay::sentiment::Label;
use hearsay::store::{Access, BrandMatch, GivenSentiment, IngestItem, MentionFilter, Store};

fn mention(platform: &str, id: &str, text: &str, url: &str) -> NewMention {
    NewMention {
        platform: platform.into(),
        external_id: id.into(),
        url: Some(url.into()),
        author: Some("someone".into()),
        title: None,
        text: text.into(),
        created_at: Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap(),
        kind: MentionKind::Post,
        lang: Some("en".into()),
        rating: None,
        metrics: Default::default(),
        parent_id: None,
        location: None,
    }
}

fn item(m: NewMention, label: Option<Label>) -> IngestItem {
    IngestItem {
        mention: m,
        source: Some("test".into()),
        brands: vec![BrandMatch { brand: "Acme".into(), terms: vec!["acme".into()] }],
        sentiment: label.map(|label| GivenSentiment { label, scores: None, model_version: "test".into() }),
        lang: None,
        derived: None,
    }
}

#[tokio::test]
async fn migrations_apply_to_a_new_file_and_again_to_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/h.db");
    let s = Store::open(&path, Access::ReadWrite).await.unwrap();
    assert_eq!(s.schema_version().await.unwrap(), 12);
    s.ingest(&[item(mention("reddit", "1", "acme is great", "https://x.test/1"), Some(Label::Positive))])
        .await
        .unwrap();
    s.close().await;
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "database must be private");

    let s = Store::open(&path, Access::Existing).await.unwrap();
    assert_eq!(s.mentions(&MentionFilter::default()).await.unwrap().len(), 1, "existing data survives reopening");
    s.integrity_check().await.unwrap();
}

#[tokio::test]
async fn a_database_from_a_newer_hearsay_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let s = Store::open(&path, Access::ReadWrite).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99, 'future', 1, x'00', 0)")
        .execute(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    s.close().await;
    let err = Store::open(&path, Access::Existing).await.unwrap_err().to_string();
    assert!(err.contains("schema version 99") && err.contains("upgrade hearsay"), "{err}");
}

#[tokio::test]
async fn the_same_mention_is_stored_once_and_syndicated_copies_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let long = "Acme's outage took down our whole checkout flow for three hours this morning, unacceptable.";
    let batch = vec![
        item(mention("reddit", "1", long, "https://a.test/1"), Some(Label::Negative)),
        item(mention("reddit", "1", long, "https://a.test/1"), Some(Label::Negative)),
        item(mention("feed", "x", long, "https://b.test/syndicated"), Some(Label::Negative)),
        item(mention("feed", "y", "acme bad", "https://c.test/1"), Some(Label::Negative)),
        item(mention("feed", "z", "acme bad", "https://c.test/2"), Some(Label::Negative)),
    ];
    let r = s.ingest(&batch).await.unwrap();
    assert_eq!((r.inserted, r.duplicate), (4, 1));
    let r = s.ingest(&batch[..1]).await.unwrap();
    assert_eq!((r.inserted, r.duplicate), (0, 1));

    let first_copies: i64 = sqlx::query_scalar("SELECT sum(first_copy) FROM mention_brands")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    // The long text appears twice (one counts); the two short "acme bad" texts are separate complaints.
    assert_eq!(first_copies, 3);
    let stats = s.stats(&MentionFilter::default(), 86_400).await.unwrap();
    assert_eq!(stats.iter().map(|r| r.negative).sum::<i64>(), 3);
}

#[tokio::test]
async fn a_manual_override_wins_over_the_model_and_survives_relabelling() {
    let s = Store::open(std::path::Path::new(":memory:"), Access::ReadWrite).await.unwrap();
    s.ingest(&[item(mention("reddit", "1", "acme shipped it", "https://a.test/1"), None)]).await.unwrap();
    let pending = s.unclassified(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let id = pending[0].0;
    s.store_labels(&[(id, Label::Positive, [0.1, 0.2, 0.7])], "m1").await.unwrap();
    assert_eq!(s.unclassified_count().await.unwrap(), 0);

    assert!(s.relabel(id, Label::Negative, &crate::tester()).await.unwrap());
    let neg = MentionFilter { sentiment: Some(Label::Negative), ..Default::default() };
    assert_eq!(s.mentions(&neg).await.unwrap().len(), 1);

    // A model upgrade re-labels, but the override still decides.
    s.queue_reclassify(None).await.unwrap();
    s.store_labels(&[(id, Label::Positive, [0.0, 0.0, 1.0])], "m2").await.unwrap();
    let rows = s.mentions(&MentionFilter::default()).await.unwrap();
    assert_eq!(rows[0].sentiment, Some(Label::Negative));
    assert!(rows[0].overridden);
    assert_eq!(s.overrides().await.unwrap(), vec![(Label::Negative, "acme shipped it".to_string())]);
    assert!(!s.relabel(9999, Label::Neutral, &crate::tester()).await.unwrap(), "unknown id is reported, not created");
}

#[tokio::test]
async fn full_text_search_takes_user_syntax_safely() {
    let s = Store::open(std::path::Path::new(":memory:"), Access::ReadWrite).await.unwrap();
    s.ingest(&[
        item(mention("reddit", "1", "Still no refund from Acme", "https://a.test/1"), Some(Label::Negative)),
        item(mention("reddit", "2", "Acme refunded me quickly", "https://a.test/2"), Some(Label::Positive)),
        item(mention("reddit", "3", "Acme: re-launch day!", "https://a.test/3"), Some(Label::Neutral)),
    ])
    .await
    .unwrap();
    for (q, want) in [
        ("refund", 1),
        ("refund*", 2),
        ("\"no refund\"", 1),
        ("re-launch", 1),
        ("refund OR launch", 2),
        ("NOT", 0),
        ("\"", 0),
    ] {
        let f = MentionFilter { search: Some(q.into()), ..Default::default() };
        assert_eq!(s.mentions(&f).await.unwrap().len(), want, "search {q:?}");
    }
}

/// `mention_brands.label` (the copy that stats and the detector read) equals `sentiment.effective`, and the
/// `brand_hours` rollup equals a recount, after every kind of write: model labels, manual override,
/// reclassification, a second brand matching a classified mention.
#[tokio::test]
async fn the_label_copy_on_brand_matches_follows_every_sentiment_change() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let drift = || async {
        // Label copies that differ from the sentiment, plus hourly rollup cells that differ from a recount.
        sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT count(*) FROM mention_brands mb LEFT JOIN sentiment s ON s.mention_id = mb.mention_id
                     WHERE mb.label IS NOT s.effective)
                  + (SELECT count(*) FROM (
                       SELECT brand_id, hour, label, n FROM brand_hours WHERE n != 0
                       EXCEPT
                       SELECT brand_id, created_at / 3600, coalesce(label, ''), count(*) FROM mention_brands
                       WHERE first_copy = 1 GROUP BY 1, 2, 3))
                  + (SELECT count(*) FROM (
                       SELECT brand_id, created_at / 3600, coalesce(label, ''), count(*) FROM mention_brands
                       WHERE first_copy = 1 GROUP BY 1, 2, 3
                       EXCEPT
                       SELECT brand_id, hour, label, n FROM brand_hours))",
        )
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap()
    };
    s.ingest(&[
        item(mention("reddit", "1", "acme shipped it", "https://a.test/1"), None),
        item(mention("reddit", "2", "acme broke it", "https://a.test/2"), Some(Label::Negative)),
    ])
    .await
    .unwrap();
    assert_eq!(drift().await, 0, "given label and unclassified");
    let id = s.unclassified(10).await.unwrap()[0].0;
    s.store_labels(&[(id, Label::Positive, [0.1, 0.2, 0.7])], "m1").await.unwrap();
    assert_eq!(drift().await, 0, "model label");
    s.relabel(id, Label::Negative, &crate::tester()).await.unwrap();
    assert_eq!(drift().await, 0, "override");
    let neg = |b: &str| MentionFilter { brand: Some(b.into()), ..Default::default() };
    assert_eq!(s.stats(&neg("Acme"), 86_400).await.unwrap().iter().map(|r| r.negative).sum::<i64>(), 2);
    // Another brand's query matches the already-classified mention.
    let mut again = item(mention("reddit", "1", "acme shipped it", "https://a.test/1"), None);
    again.brands[0].brand = "Globex".into();
    s.ingest(&[again]).await.unwrap();
    assert_eq!(drift().await, 0, "new brand match of a classified mention");
    assert_eq!(s.stats(&neg("Globex"), 86_400).await.unwrap().iter().map(|r| r.negative).sum::<i64>(), 1);
    // A re-import that disagrees with the stored label adds its brand match under the stored label.
    let mut disagree = item(mention("reddit", "2", "acme broke it", "https://a.test/2"), Some(Label::Positive));
    disagree.brands[0].brand = "Initech".into();
    s.ingest(&[disagree]).await.unwrap();
    assert_eq!(drift().await, 0, "re-import with another label");
    assert_eq!(s.stats(&neg("Initech"), 86_400).await.unwrap().iter().map(|r| r.negative).sum::<i64>(), 1);
    // Inside one batch the first copy's label wins, for every brand match the copies bring.
    let first = item(mention("reddit", "3", "acme again", "https://a.test/3"), Some(Label::Negative));
    let mut second = item(mention("reddit", "3", "acme again", "https://a.test/3"), Some(Label::Positive));
    second.brands[0].brand = "Umbrella".into();
    assert_eq!(s.ingest(&[first, second]).await.unwrap().duplicate, 1);
    assert_eq!(drift().await, 0, "duplicate inside a batch");
    assert_eq!(s.stats(&neg("Umbrella"), 86_400).await.unwrap().iter().map(|r| r.negative).sum::<i64>(), 1);
    sqlx::query("DELETE FROM sentiment WHERE mention_id = ?")
        .bind(id)
        .execute(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(drift().await, 0, "label removed");
}

/// A database written by the first schema gets the label copy and the hourly rollup filled in by the migrations.
#[tokio::test]
async fn upgrading_a_first_schema_database_fills_in_the_label_copy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let s = Store::open(&path, Access::ReadWrite).await.unwrap();
    s.ingest(&[item(mention("reddit", "1", "acme broke it", "https://a.test/1"), Some(Label::Negative))])
        .await
        .unwrap();
    // Roll the file back to schema 1 as an old hearsay left it.
    sqlx::raw_sql(
        "DROP TRIGGER brand_days_ai; DROP TRIGGER brand_days_ad; DROP TRIGGER brand_days_au;
         DROP TRIGGER brand_days_lang; DROP TRIGGER brand_days_bd; DROP TABLE brand_days;
         DROP TRIGGER brand_hours_ai; DROP TRIGGER brand_hours_ad; DROP TRIGGER brand_hours_au; DROP TABLE brand_hours;
         DROP TRIGGER sentiment_label_ai; DROP TRIGGER sentiment_label_au; DROP TRIGGER sentiment_label_ad;
         DROP TRIGGER mention_brands_label_ai; DROP INDEX mention_brands_brand_time;
         ALTER TABLE mention_brands DROP COLUMN label;
         CREATE INDEX mention_brands_brand_time ON mention_brands (brand_id, created_at, mention_id);
         DROP TABLE quota_usage;
         DROP INDEX mentions_text_hash16; DROP TRIGGER mentions_fts_ai;
         CREATE INDEX sentiment_effective ON sentiment (effective);
         CREATE INDEX mentions_text_hash ON mentions (text_hash);
         CREATE INDEX mentions_canonical_url ON mentions (canonical_url);
         CREATE TRIGGER mentions_fts_ai AFTER INSERT ON mentions BEGIN
             INSERT INTO mentions_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
         END;
         ALTER TABLE mentions DROP COLUMN lang_source; ALTER TABLE mentions DROP COLUMN lang_confidence;
         DROP TABLE brand_marks; DROP TABLE sessions; DROP TABLE users; DROP TABLE audit;
         ALTER TABLE mentions DROP COLUMN location;
         DELETE FROM _sqlx_migrations WHERE version > 1;",
    )
    .execute(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    s.close().await;
    let s = Store::open(&path, Access::Existing).await.unwrap();
    let label: Option<String> =
        sqlx::query_scalar("SELECT label FROM mention_brands").fetch_one(&super::sqlite(s.path()).await).await.unwrap();
    assert_eq!(label.as_deref(), Some("negative"));
    let rollup: (i64, String, i64) = sqlx::query_as("SELECT brand_id, label, n FROM brand_hours")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!((rollup.1.as_str(), rollup.2), ("negative", 1), "the hourly rollup is filled in too");
    let daily: (String, String, i64) = sqlx::query_as("SELECT platform, label, n FROM brand_days")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(daily, ("reddit".into(), "negative".into(), 1), "and the daily platform/language rollup");
    s.integrity_check().await.unwrap();
}

/// `stats` by hour or day reads whole hours from the `brand_hours` rollup and the partial hours at the ends of
/// the range from the brand matches: it must give exactly what a scan gives (half-hour buckets, summed).
#[tokio::test]
async fn stats_from_the_hourly_rollup_equal_a_scan() {
    let s = Store::open(std::path::Path::new(":memory:"), Access::ReadWrite).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let labels = [Some(Label::Negative), Some(Label::Neutral), Some(Label::Positive), None];
    let items: Vec<IngestItem> = (0..600)
        .map(|i| {
            let mut m = mention("reddit", &i.to_string(), &format!("acme note {i}"), &format!("https://a.test/{i}"));
            m.created_at = t0 + chrono::Duration::minutes(i * 7);
            let mut it = item(m, labels[(i % 4) as usize]);
            if i % 3 == 0 {
                it.brands[0].brand = "Globex".into();
            }
            it
        })
        .collect();
    s.ingest(&items).await.unwrap();
    let at = |min: i64| Some(t0 + chrono::Duration::minutes(min));
    for (since, until) in [(None, None), (at(17), at(3000)), (at(60), at(1200)), (at(5), at(50)), (at(61), None)] {
        for brand in [None, Some("Acme".to_string())] {
            for sentiment in [None, Some(Label::Negative)] {
                let f = MentionFilter { brand: brand.clone(), sentiment, since, until, ..Default::default() };
                let hourly = s.stats(&f, 3600).await.unwrap();
                let mut from_scan = std::collections::BTreeMap::<i64, [i64; 4]>::new();
                for r in s.stats(&f, 1800).await.unwrap() {
                    let e = from_scan.entry(r.bucket_start.timestamp() / 3600 * 3600).or_default();
                    for (k, v) in [r.negative, r.neutral, r.positive, r.unclassified].into_iter().enumerate() {
                        e[k] += v;
                    }
                }
                let got: std::collections::BTreeMap<i64, [i64; 4]> = hourly
                    .iter()
                    .map(|r| (r.bucket_start.timestamp(), [r.negative, r.neutral, r.positive, r.unclassified]))
                    .collect();
                assert_eq!(got, from_scan, "{f:?}");
                assert!(!got.is_empty() || since == at(5), "{f:?}");
            }
        }
    }
}

/// Cells of the daily platform/language rollup that differ from a recount of the brand matches, both ways.
async fn brand_days_drift(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar(
        "WITH recount AS (
             SELECT mb.brand_id, mb.created_at / 86400 AS day, m.platform, coalesce(m.lang, '') AS lang,
                    coalesce(mb.label, '') AS label, count(*) AS n
             FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id WHERE mb.first_copy = 1
             GROUP BY 1, 2, 3, 4, 5),
         rollup AS (SELECT brand_id, day, platform, lang, label, n FROM brand_days WHERE n != 0)
         SELECT (SELECT count(*) FROM (SELECT * FROM rollup EXCEPT SELECT * FROM recount))
              + (SELECT count(*) FROM (SELECT * FROM recount EXCEPT SELECT * FROM rollup))
              + (SELECT count(*) FROM brand_days WHERE n < 0)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The `brand_days` rollup (the console's platform and language split) equals a recount after every kind of
/// write: bulk ingest with given and detected languages, model labels, overrides, syndicated copies, spam
/// marks and unmarks, a language detected again, and matches and mentions deleted by hand.
#[tokio::test]
async fn the_daily_split_rollup_follows_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let pool = super::sqlite(s.path()).await;
    let mut items = Vec::new();
    for (i, (platform, lang, text)) in [
        ("reddit", Some("en"), "acme refund never came"),
        ("mastodon", Some("de"), "acme Kundenservice ist eine Katastrophe"),
        ("hackernews", None, "acme le service client est vraiment nul depuis trois semaines"),
        ("bluesky", None, "acme ok"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = mention(platform, &i.to_string(), text, &format!("https://a.test/{i}"));
        m.lang = lang.map(str::to_string);
        m.created_at = Utc.with_ymd_and_hms(2026, 11, 20 + i as u32 % 2, 23, 30, 0).unwrap();
        let mut it = item(m, [Some(Label::Negative), None][i % 2]);
        if i == 3 {
            it.brands.push(BrandMatch { brand: "Globex".into(), terms: vec!["acme".into()] });
        }
        items.push(it);
    }
    s.ingest(&items).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "bulk ingest");
    let langs: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT lang FROM brand_days ORDER BY 1").fetch_all(&pool).await.unwrap();
    assert!(langs.contains(&"de".to_string()) && langs.contains(&"fr".to_string()), "{langs:?}");

    let queued = s.unclassified(10).await.unwrap();
    s.store_labels(&[(queued[0].0, Label::Positive, [0.1, 0.2, 0.7])], "m1").await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "model label");
    s.relabel(queued[0].0, Label::Negative, &crate::tester()).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "override");
    // The same text again on another platform: a syndicated copy, counted once.
    let copy = item(mention("lemmy", "9", "acme refund never came", "https://b.test/9"), None);
    s.ingest(&[copy]).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "syndicated copy");
    s.mark(1, "Acme", hearsay::store::Mark::Spam, &crate::tester()).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "spam mark");
    s.unmark(1, "Acme", &crate::tester()).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "unmark");
    sqlx::query("UPDATE mentions SET lang = 'nl' WHERE id = 4").execute(&pool).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "language changed, two brand matches");
    sqlx::query(
        "DELETE FROM mention_brands WHERE mention_id = 4 AND brand_id = (SELECT id FROM brands WHERE name = 'Globex')",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "a brand match deleted by hand");
    sqlx::query("DELETE FROM mentions WHERE id IN (1, 2)").execute(&pool).await.unwrap();
    assert_eq!(brand_days_drift(&pool).await, 0, "mentions deleted by hand, matches and labels cascading");
    let left: i64 = sqlx::query_scalar("SELECT sum(n) FROM brand_days").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 3, "mentions 3 and 4 and the copy, which is now the first");
}

/// `brand_split` reads whole days from the rollup and the partial days at either end of the period from the
/// brand matches: it must give exactly what a recount over the same period gives, for aligned and unaligned
/// periods, periods inside one day, and a period with nothing in it.
#[tokio::test]
async fn the_platform_and_language_split_equals_a_recount() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let pool = super::sqlite(s.path()).await;
    let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let platforms = ["reddit", "mastodon", "bluesky"];
    let langs = [Some("en"), Some("de"), None, Some("ja")];
    let labels = [Some(Label::Negative), Some(Label::Neutral), Some(Label::Positive), None];
    let items: Vec<IngestItem> = (0..900)
        .map(|i| {
            let mut m = mention(platforms[i % 3], &i.to_string(), &format!("acme note {i}"), "https://a.test/");
            m.created_at = t0 + chrono::Duration::minutes(i as i64 * 11);
            m.lang = langs[i % 4].map(str::to_string);
            item(m, labels[i % 5 % 4])
        })
        .collect();
    s.ingest(&items).await.unwrap();
    let at = |min: i64| t0 + chrono::Duration::minutes(min);
    for (from, until) in
        [(at(0), at(11 * 900)), (at(17), at(5000)), (at(1440), at(4320)), (at(5), at(50)), (at(-3000), at(-10))]
    {
        let split = s.brand_split("Acme", from, until).await.unwrap();
        for (key, groups) in [("m.platform", &split.platforms), ("coalesce(m.lang, '?')", &split.languages)] {
            let want: Vec<(String, i64, i64, i64)> = sqlx::query_as(&format!(
                "SELECT {key}, count(*), sum(mb.label IS 'negative'), sum(mb.label IS 'positive')
                 FROM mention_brands mb JOIN mentions m ON m.id = mb.mention_id
                 WHERE mb.first_copy = 1 AND mb.created_at >= ?1 AND mb.created_at < ?2 GROUP BY 1 ORDER BY 1"
            ))
            .bind(from.timestamp())
            .bind(until.timestamp())
            .fetch_all(&pool)
            .await
            .unwrap();
            let mut got: Vec<(String, i64, i64, i64)> =
                groups.iter().map(|g| (g.key.clone(), g.mentions, g.negative, g.positive)).collect();
            got.sort();
            assert_eq!(got, want, "{key} over {from} – {until}");
        }
    }
    let month = s.brand_split("Acme", at(0), at(11 * 900)).await.unwrap();
    assert_eq!(month.platforms.iter().map(|g| g.mentions).sum::<i64>(), 900);
    assert!(month.languages.iter().any(|g| g.key == "ja"), "{:?}", month.languages);
}

/// `ingest` does the full-text index and the hourly rollup itself, with triggers and checks off on its
/// connection; they are back on when it returns, so every other writer (here sqlite3-style SQL by hand, and
/// the store's own writes on the same connection) still goes through the triggers.
#[tokio::test]
async fn bulk_ingest_and_writers_by_hand_keep_the_index_and_rollup_equal() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let items: Vec<IngestItem> = (0..300)
        .map(|i| {
            let label = [Some(Label::Negative), None, Some(Label::Positive)][i % 3];
            let mut it =
                item(mention("reddit", &i.to_string(), &format!("acme refund number{i}"), "https://a.test/"), label);
            if i % 2 == 0 {
                it = it.derive();
            }
            it
        })
        .collect();
    s.ingest(&items).await.unwrap();
    let pool = super::sqlite(s.path()).await;
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'refund'").await, 300);
    assert_eq!(count("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'number299'").await, 1);
    assert_eq!(count("SELECT sum(n) FROM brand_hours").await, 300);
    assert_eq!(count("SELECT sum(n) FROM brand_hours WHERE label = 'negative'").await, 100);
    assert_eq!(count("SELECT sum(n) FROM brand_hours WHERE label = ''").await, 100, "unclassified cells");

    // By hand, as with sqlite3: a mention, its brand match and a label.
    sqlx::raw_sql(
        "INSERT INTO mentions (id, platform, external_id, text, text_hash, created_at, fetched_at, kind)
         VALUES (9999, 'manual', '1', 'acme handwritten', 'id:manual:1', 7200, 7200, 'post');
         INSERT INTO mention_brands (mention_id, brand_id, created_at) VALUES (9999, 1, 7200);
         INSERT INTO sentiment (mention_id, label) VALUES (9999, 'negative');",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(count("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'handwritten'").await, 1);
    assert_eq!(count("SELECT label = 'negative' FROM mention_brands WHERE mention_id = 9999").await, 1);
    assert_eq!(count("SELECT n FROM brand_hours WHERE hour = 2 AND label = 'negative'").await, 1);
    assert_eq!(count("SELECT count(*) FROM brand_hours WHERE n < 0").await, 0);

    // On the writer's own connection, after the ingest: a model label for a queued mention moves its
    // rollup cell (trigger), and the schema's checks hold again.
    let (queued,): (i64,) =
        sqlx::query_as("SELECT min(mention_id) FROM classify_queue").fetch_one(&pool).await.unwrap();
    let hour: i64 = sqlx::query_scalar("SELECT created_at / 3600 FROM mentions WHERE id = ?1")
        .bind(queued)
        .fetch_one(&pool)
        .await
        .unwrap();
    let cell = |label: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT coalesce(sum(n), 0) FROM brand_hours WHERE hour = ?1 AND label = ?2")
                .bind(hour)
                .bind(label)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (unclassified, positive) = (cell("").await, cell("positive").await);
    s.store_labels(&[(queued, Label::Positive, [0.1, 0.1, 0.8])], "m1").await.unwrap();
    assert_eq!((cell("").await, cell("positive").await), (unclassified - 1, positive + 1));
    let mut tx = s.write_tx().await.unwrap();
    let bad = sqlx::query(
        "INSERT INTO mentions (platform, external_id, text, text_hash, created_at, fetched_at, kind)
         VALUES ('manual', '2', 'x', 'id:manual:2', 0, 0, 'bogus')",
    )
    .execute(&mut *tx)
    .await;
    assert!(bad.is_err(), "CHECK (kind IN …) holds on the writer again: {bad:?}");
}

/// A batch that fails half-way is rolled back whole, and leaves the writer connection with its triggers,
/// checks and foreign keys on (the next batch is indexed as usual).
#[tokio::test]
async fn a_failed_ingest_stores_nothing_and_leaves_the_connection_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("f.db"), Access::ReadWrite).await.unwrap();
    // A TEMP trigger still runs while the schema's triggers are off: it makes one mention fail.
    let mut tx = s.write_tx().await.unwrap();
    sqlx::query(
        "CREATE TEMP TRIGGER boom BEFORE INSERT ON main.mentions WHEN NEW.external_id = 'boom'
         BEGIN SELECT RAISE(ABORT, 'refused by test'); END",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let batch = vec![
        item(mention("reddit", "a", "acme first", "https://a.test/a"), Some(Label::Negative)),
        item(mention("reddit", "boom", "acme second", "https://a.test/b"), None),
    ];
    let err = s.ingest(&batch).await.unwrap_err().to_string();
    assert!(err.contains("refused by test"), "{err}");
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mentions").fetch_one(&super::sqlite(s.path()).await).await.unwrap();
    assert_eq!(n, 0, "the whole batch rolled back");

    let mut tx = s.write_tx().await.unwrap();
    sqlx::query("DROP TRIGGER temp.boom").execute(&mut *tx).await.unwrap();
    // Triggers on again for this connection: a mention written by hand gets its full-text entry.
    sqlx::query(
        "INSERT INTO mentions (platform, external_id, text, text_hash, created_at, fetched_at, kind)
         VALUES ('manual', '1', 'acme handwritten', 'id:manual:1', 0, 0, 'post')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let fk =
        sqlx::query("INSERT INTO sentiment (mention_id, label) VALUES (424242, 'negative')").execute(&mut *tx).await;
    assert!(fk.is_err(), "foreign keys hold again: {fk:?}");
    tx.commit().await.unwrap();
    let fts: i64 = sqlx::query_scalar("SELECT count(*) FROM mentions_fts WHERE mentions_fts MATCH 'handwritten'")
        .fetch_one(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(fts, 1);
    assert_eq!(s.ingest(&batch).await.unwrap().inserted, 2);
}

/// A search with a start time bounds the full-text scan by the lowest mention id in range; ids out of time
/// order (history imported after newer mentions) must still be found, per brand and across brands.
#[tokio::test]
async fn search_since_finds_mentions_whose_ids_are_out_of_time_order() {
    let s = Store::open(std::path::Path::new(":memory:"), Access::ReadWrite).await.unwrap();
    let day = |d: i64| Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap() - chrono::Duration::days(d);
    let at = |id: &str, days_ago: i64, brand: &str| {
        let mut m = mention("reddit", id, &format!("{brand} refund please {id}"), "https://a.test/");
        m.created_at = day(days_ago);
        let mut it = item(m, Some(Label::Negative));
        it.brands[0].brand = brand.into();
        it
    };
    // Stored in this order, so ids 1..=5: recent, old, recent, recent other brand, old.
    for it in [at("a", 1, "Acme"), at("b", 30, "Acme"), at("c", 2, "Acme"), at("d", 1, "Globex"), at("e", 40, "Acme")] {
        s.ingest(&[it]).await.unwrap();
    }
    let found = |brand: Option<&str>| {
        let f = MentionFilter {
            brand: brand.map(Into::into),
            since: Some(day(7)),
            search: Some("refund".into()),
            ..Default::default()
        };
        let s = s.clone();
        async move {
            let mut ids: Vec<String> = s.mentions(&f).await.unwrap().into_iter().map(|r| r.external_id).collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(found(Some("Acme")).await, ["a", "c"]);
    assert_eq!(found(None).await, ["a", "c", "d"]);
    assert_eq!(found(Some("Initech")).await, Vec::<String>::new(), "unknown brand");
}
