//! Every mention's language: detected where the platform tags none (poll and import alike), stored with where
//! it came from, filtered on by `languages = [...]`, and shown by `mentions --lang`, `stats --by lang` and
//! `classify`.

use std::path::Path;

use chrono::Utc;
use hearsay::config::Config;
use hearsay::sources::poll::Poller;
use hearsay::store::{Access, Store};
use predicates::prelude::*;
use serde_json::json;
use tokio::sync::watch;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{hearsay, write_file};

const GERMAN: &str = "Der Kundenservice von Acme ist eine Katastrophe, seit drei Wochen keine Erstattung";
const ENGLISH: &str = "Acme support fixed my billing issue in minutes, what a great team";

/// Two brands on the same query: one only in English, one in every language.
const BRANDS: &str = "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\nlanguages = [\"en\"]\n\n\
                      [[brands]]\nname = \"AcmeWorld\"\nquery = \"acme\"\n";

/// (external_id, lang, lang_source, lang_confidence is set, brands it matched).
type StoredRow = (String, Option<String>, Option<String>, bool, String);

/// Every stored mention's [`StoredRow`].
async fn stored(db: &Path) -> Vec<StoredRow> {
    let s = Store::open(db, Access::Existing).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT m.external_id, m.lang, m.lang_source, m.lang_confidence IS NOT NULL,
                (SELECT group_concat(name, ',') FROM (SELECT b.name FROM mention_brands mb
                 JOIN brands b ON b.id = mb.brand_id WHERE mb.mention_id = m.id ORDER BY b.name))
         FROM mentions m ORDER BY m.external_id",
    )
    .fetch_all(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    s.close().await;
    rows
}

fn row(id: &str, lang: &str, source: &str, confident: bool, brands: &str) -> StoredRow {
    (id.into(), Some(lang.into()), Some(source.into()), confident, brands.into())
}

#[tokio::test]
async fn an_untagged_german_post_is_stored_as_detected_german_and_an_english_only_brand_skips_it() {
    let server = MockServer::start().await;
    let t = Utc::now().timestamp();
    let hit = |id: &str, ago: i64, title: &str| {
        json!({
            "objectID": id, "created_at_i": t - ago,
            "created_at": chrono::DateTime::from_timestamp(t - ago, 0).unwrap().to_rfc3339(),
            "title": title, "url": null, "author": "pg", "points": 3, "story_text": null, "comment_text": null,
            "num_comments": 0, "_tags": ["story"]
        })
    };
    let body = json!({
        "hits": [hit("2", 100, GERMAN), hit("1", 200, ENGLISH)], "page": 0, "nbPages": 1, "hitsPerPage": 100,
        "nbHits": 2
    });
    Mock::given(method("GET"))
        .and(path("/api/v1/search_by_date"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n{BRANDS}\n\
         [[sources]]\ntype = \"hackernews\"\nname = \"hn\"\nbase_url = \"{1}\"\n",
        dir.path().display(),
        server.uri()
    );
    let config = Config::parse(&text, &dir.path().join("hearsay.toml")).unwrap();
    let s = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let (_tx, rx) = watch::channel(false);
    for o in Poller::new(&config).unwrap().poll_due(&s, &rx, None, true).await {
        assert!(o.error.is_none(), "{o:?}");
    }
    s.close().await;
    // Hacker News tags no language: both were detected; the German story is not Acme's (English only).
    assert_eq!(
        stored(&dir.path().join("h.db")).await,
        [row("1", "en", "detected", true, "Acme,AcmeWorld"), row("2", "de", "detected", true, "AcmeWorld")]
    );
}

#[tokio::test]
async fn import_detects_untagged_languages_keeps_platform_tags_and_checks_mastodon_tags() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hearsay.toml");
    std::fs::write(&config, format!("[storage]\ndatabase = \"{}/h.db\"\n\n{BRANDS}", dir.path().display())).unwrap();
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rec = |platform: &str, id: &str, lang: Option<&str>, text: &str| {
        let mut r = json!({"platform": platform, "external_id": id, "created_at": now, "kind": "post", "text": text});
        if let Some(l) = lang {
            r["lang"] = l.into();
        }
        r.to_string()
    };
    let lines = vec![
        rec("reddit", "de-untagged", None, GERMAN),
        rec("reddit", "en-untagged", None, ENGLISH),
        // A platform's tag is taken as given (primary subtag), even where the text disagrees.
        rec("trustpilot", "tagged", Some("en-GB"), "Acme hat mein Paket verloren und niemand antwortet seit Tagen"),
        // Mastodon's tag is the author's choice: a confident detection that disagrees wins.
        rec(
            "mastodon",
            "mastodon-wrong",
            Some("en"),
            "Die neue Acme App stürzt ständig ab, ich bin wirklich enttäuscht",
        ),
        rec("mastodon", "mastodon-right", Some("de"), "Acme hat mir nach drei Wochen endlich das Geld zurückerstattet"),
        // Too short to tell: "und", which every language filter lets through.
        rec("reddit", "short", None, "acme 👍👍"),
    ];
    let file = write_file(dir.path(), "in.jsonl", &lines);
    hearsay().arg("--config").arg(&config).arg("import").arg(&file).assert().success();
    assert_eq!(
        stored(&dir.path().join("h.db")).await,
        [
            row("de-untagged", "de", "detected", true, "AcmeWorld"),
            row("en-untagged", "en", "detected", true, "Acme,AcmeWorld"),
            row("mastodon-right", "de", "platform", true, "AcmeWorld"),
            row("mastodon-wrong", "de", "detected", true, "AcmeWorld"),
            row("short", "und", "detected", false, "Acme,AcmeWorld"),
            row("tagged", "en", "platform", false, "Acme,AcmeWorld"),
        ]
    );

    // `mentions --lang` and `stats --by lang`.
    let db = dir.path().join("h.db");
    let out = hearsay().arg("--db").arg(&db).args(["mentions", "--lang", "de", "--format", "jsonl"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .inspect(|r| assert_eq!(r["lang"], "de"))
        .map(|r| r["external_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["de-untagged", "mastodon-right", "mastodon-wrong"]);
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["mentions", "--lang", "pt-BR"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Acme").not());
    hearsay().arg("--db").arg(&db).args(["mentions", "--lang", "not a language"]).assert().code(2);

    let out = hearsay()
        .arg("--db")
        .arg(&db)
        .args(["stats", "--by", "lang", "--brand", "AcmeWorld", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let counts: Vec<(String, i64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n: i64 =
                ["negative", "neutral", "positive", "unclassified"].iter().map(|k| r[k].as_i64().unwrap()).sum();
            (r["lang"].as_str().unwrap().to_string(), n)
        })
        .collect();
    assert_eq!(counts, [("de".to_string(), 3), ("en".to_string(), 2), ("und".to_string(), 1)]);
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["stats", "--by", "lang"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^lang +negative +neutral +positive +pending +no model +neg%$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^de( +\d+){5} +(-|\d+\.\d)$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^total ").unwrap());
}

#[test]
fn classify_prints_the_language_beside_label_and_scores() {
    let out = hearsay()
        .arg("classify")
        .write_stdin(format!("{GERMAN}\nカスタマーサポートが最悪、3週間返金なし\n👍\n"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let langs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v.get("label").is_some() && v.get("scores").is_some(), "{l}");
            v["lang"].clone()
        })
        .collect();
    assert_eq!(langs, ["de", "ja", "und"]);
}

#[tokio::test]
async fn reclassify_gives_mentions_stored_before_languages_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        super::record("reddit", "old-de", "Acme", "negative", "2026-11-20T12:00:00Z", GERMAN),
        super::record("youtube", "old-tagged", "Acme", "positive", "2026-11-20T13:00:00Z", ENGLISH),
    ];
    let file = write_file(dir.path(), "in.jsonl", &lines);
    let db = dir.path().join("h.db");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    // As a database from before migration 7 has them: the platform's tag as given, or nothing.
    let s = Store::open(&db, Access::ReadWrite).await.unwrap();
    sqlx::query("UPDATE mentions SET lang = NULL, lang_source = NULL, lang_confidence = NULL")
        .execute(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    sqlx::query("UPDATE mentions SET lang = 'en-US' WHERE external_id = 'old-tagged'")
        .execute(&super::sqlite(s.path()).await)
        .await
        .unwrap();
    assert_eq!(s.backfill_languages(None).await.unwrap(), 2);
    assert_eq!(s.backfill_languages(None).await.unwrap(), 0, "done once");
    s.close().await;
    assert_eq!(
        stored(&db).await,
        [row("old-de", "de", "detected", true, "Acme"), row("old-tagged", "en", "platform", false, "Acme")]
    );
}

/// Through the real models: German goes to the multilingual model, English to the English one, and Korean, which
/// no shipped model covers, is stored without a label (`uncovered:ko`), shown as such, and left out of the totals
/// the detector compares negatives with.
#[tokio::test]
async fn each_language_is_labelled_by_its_model_and_an_uncovered_one_gets_no_label() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("models/sentiment-multilingual/model.safetensors").exists() {
        eprintln!("skipped: no multilingual model in models/");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let at = (now - chrono::Duration::minutes(10)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let rec = |id: &str, text: &str| {
        json!({"platform": "reddit", "external_id": id, "brand": "Acme", "created_at": at, "kind": "post",
               "text": text})
        .to_string()
    };
    let lines = vec![
        rec("de", GERMAN),
        rec("en", "Acme support ignored me for three weeks and still no refund, awful"),
        rec("ko", "Acme 고객 서비스가 정말 최악이에요, 환불을 3주째 기다리고 있어요"),
    ];
    let file = write_file(dir.path(), "in.jsonl", &lines);
    let db = dir.path().join("h.db");
    hearsay().current_dir(root).arg("--db").arg(&db).arg("import").arg(&file).assert().success();

    let out = hearsay().arg("--db").arg(&db).args(["mentions", "--format", "jsonl"]).output().unwrap();
    assert!(out.status.success());
    let mut rows: Vec<(String, String, serde_json::Value, serde_json::Value)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["external_id"].as_str().unwrap().to_owned(),
                v["lang"].as_str().unwrap().to_owned(),
                v["sentiment"].clone(),
                v["model_version"].clone(),
            )
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        rows,
        [
            ("de".into(), "de".into(), json!("negative"), json!("hearsay-sentiment-multilingual-1")),
            ("en".into(), "en".into(), json!("negative"), json!("hearsay-sentiment-4")),
            ("ko".into(), "ko".into(), json!(null), json!("uncovered:ko")),
        ]
    );
    hearsay()
        .arg("--db")
        .arg(&db)
        .arg("mentions")
        .assert()
        .success()
        .stdout(predicate::str::contains("none:ko").and(predicate::str::contains("(none:xx = no sentiment model")));
    // `stats --by lang` counts it as having no model, not as waiting for one.
    let out = hearsay().arg("--db").arg(&db).args(["stats", "--by", "lang", "--format", "json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ko = rows.as_array().unwrap().iter().find(|r| r["lang"] == "ko").expect("a Korean row");
    assert_eq!((&ko["uncovered"], &ko["unclassified"]), (&json!(1), &json!(0)), "{ko}");
    let table = hearsay().arg("--db").arg(&db).args(["stats", "--by", "lang"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.lines().next().unwrap().contains("no model"), "{table}");

    // The detector's series: three mentions, two of them labelled (both negative); the Korean one is not in the
    // total the negative share is taken of.
    let s = Store::open(&db, Access::Existing).await.unwrap();
    let buckets = s.brand_buckets("Acme", now - chrono::Duration::hours(1), now, 300).await.unwrap();
    assert_eq!(buckets.iter().map(|b| (b.1, b.2)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)), (2, 2));
}

/// A failed classification round hands the models back: the daemon keeps classifying once the cause is gone,
/// instead of waiting for SIGHUP with every new mention queued.
#[tokio::test]
async fn a_failed_classification_round_keeps_the_models() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let line = serde_json::json!({
        "platform": "reddit", "external_id": "q1", "brand": "Acme",
        "created_at": "2026-11-20T12:00:00Z", "text": "acme lost my parcel again, third time this month"
    });
    let file = write_file(dir.path(), "in.jsonl", &[line.to_string()]);
    let db = dir.path().join("h.db");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    let store = Store::open(&db, Access::ReadWrite).await.unwrap();
    let raw = super::sqlite(&db).await;
    // Queued again, as a mention stored while the model was missing is.
    sqlx::query("DELETE FROM sentiment").execute(&raw).await.unwrap();
    sqlx::query("INSERT INTO classify_queue (mention_id) SELECT id FROM mentions").execute(&raw).await.unwrap();
    sqlx::query("CREATE TRIGGER no_labels BEFORE INSERT ON sentiment BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
        .execute(&raw)
        .await
        .unwrap();
    let model = hearsay::config::ModelConfig { dir: Some(root.join("models/sentiment")), ..Default::default() };
    let models = hearsay::daemon::load_classifier(&model).await.unwrap();

    let (models, round) = hearsay::daemon::classify_some(&store, models, 10).await;
    let err = format!("{:#}", round.unwrap_err());
    assert!(err.contains("disk on fire"), "{err}");
    let models = models.expect("the models come back from a failed round");

    sqlx::query("DROP TRIGGER no_labels").execute(&raw).await.unwrap();
    let (models, round) = hearsay::daemon::classify_some(&store, models, 10).await;
    assert_eq!(round.unwrap(), 1, "the queued mention is labelled on the next round");
    assert!(models.is_some());
}
