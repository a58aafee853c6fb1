//! Each history command on a seeded database, through the real binary.

use predicates::prelude::*;

use super::{hearsay, record, seeded_db, write_file};

#[test]
fn mentions_filters_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let out =
        hearsay().arg("--db").arg(&db).args(["mentions", "--brand", "Acme", "--format", "jsonl"]).output().unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 6);
    let times: Vec<&str> = rows.iter().map(|r| r["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["mentions", "--brand", "Acme", "--sentiment", "negative", "--since", "24h", "--format", "csv"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "id,created_at,brand,platform,sentiment,overridden,author,title,text,url,kind,external_id,rating,lang,terms\n",
        ))
        .stdout(predicate::function(|s: &str| s.lines().count() == 3)); // header + r1 + h1

    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["mentions", "--search", "refund", "--platform", "mastodon"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Waiting three weeks"))
        .stdout(predicate::str::contains("still no refund").not());

    let json = hearsay().arg("--db").arg(&db).args(["mentions", "--format", "json", "--limit", "2"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);

    hearsay()
        .arg("--db")
        .arg(&db)
        .env("COLUMNS", "80")
        .args(["mentions"])
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| s.lines().all(|l| l.chars().count() <= 80)));
}

/// A `--search` that does not parse is a usage error naming the column, reported before the database is opened;
/// one that parses still searches.
#[test]
fn a_search_that_does_not_parse_is_a_usage_error_with_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    for (search, says) in [
        ("\"unbalanced", "unterminated quote at column 1"),
        ("refund OR", "OR needs something after it at column 8"),
        ("NOT refund", "NOT needs something before it"),
        ("(refund OR charged", "unbalanced parenthesis at column 1"),
        ("re*und", "at column 1"),
    ] {
        hearsay()
            .arg("--db")
            .arg(&db)
            .args(["mentions", "--search", search])
            .assert()
            .code(2)
            .stdout(predicate::str::is_empty())
            .stderr(predicate::str::contains("--search"))
            .stderr(predicate::str::contains(says));
    }
    hearsay()
        .arg("--db")
        .arg(dir.path().join("absent.db"))
        .args(["export", "--search", "refund \"no"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unterminated quote at column 8"));

    let found = |search: &str| {
        let out = hearsay().arg("--db").arg(&db).args(["mentions", "--format", "jsonl", "--search", search]).output();
        let out = out.unwrap();
        assert!(out.status.success(), "{search}: {}", String::from_utf8_lossy(&out.stderr));
        let mut ids: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["external_id"].as_str().unwrap().into())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(found("refund"), ["m1", "r1"]);
    assert_eq!(found("\"no refund\" OR parcel"), ["r1", "r3"]);
    assert_eq!(found("(refund OR parcel) NOT billing"), ["m1", "r3"]);
    assert_eq!(found("acme AND refund NOT (billing OR twice)"), ["m1"]);
    assert_eq!(found("relea*"), ["h2"]);
}

#[test]
fn relabel_wins_in_queries_stats_and_export_training() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let out = hearsay()
        .arg("--db")
        .arg(&db)
        .args(["mentions", "--search", "\"released version\"", "--format", "jsonl"])
        .output()
        .unwrap();
    let row: serde_json::Value = serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(row["sentiment"], "neutral");
    let id = row["id"].as_i64().unwrap().to_string();

    hearsay().arg("--db").arg(&db).args(["relabel", &id, "negative"]).assert().success();
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["mentions", "--sentiment", "negative", "--brand", "Acme"])
        .assert()
        .success()
        .stdout(predicate::str::contains("negative*"));
    let stats = hearsay()
        .arg("--db")
        .arg(&db)
        .args(["stats", "--brand", "Acme", "--since", "7d", "--format", "json"])
        .output()
        .unwrap();
    let buckets: Vec<serde_json::Value> = serde_json::from_slice(&stats.stdout).unwrap();
    let neg: i64 = buckets.iter().map(|b| b["negative"].as_i64().unwrap()).sum();
    assert_eq!(neg, 4, "3 model negatives + 1 override");
    hearsay()
        .arg("--db")
        .arg(&db)
        .arg("export-training")
        .assert()
        .success()
        .stdout(predicate::eq("label\ttext\nnegative\tAcme released version 2.0 today\n"));
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["relabel", "99999", "positive"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no mention with id 99999"));
}

#[test]
fn stats_table_has_sparkline_and_share() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["stats", "--by", "day", "--since", "7d"])
        .assert()
        .success()
        .stdout(predicate::str::contains("neg%"))
        .stdout(predicate::str::contains("total"))
        .stdout(predicate::str::is_match("negative  [ ▁▂▃▄▅▆▇█]+").unwrap());
}

#[test]
fn export_writes_csv_and_jsonl_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let out = dir.path().join("out.jsonl");
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["export", "--format", "jsonl", "--brand", "Globex", "-o"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 2);
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["export", "--format", "csv"])
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| s.lines().count() == 9));
}

#[test]
fn import_dedups_rejects_bad_lines_with_line_numbers_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let good = record("reddit", "1", "Acme", "negative", "2026-11-20T10:00:00Z", "acme is down");
    let mut lines = vec![
        good.clone(),
        "{not json".to_string(),
        record("reddit", "2", "Acme", "furious", "2026-11-20T10:00:00Z", "acme"),
        r#"{"platform":"reddit","external_id":"3","brand":"Acme","created_at":"yesterday","kind":"post","text":"x"}"#.into(),
        r#"{"platform":"reddit","external_id":"4","created_at":"2026-11-20T10:00:00Z","kind":"post","text":"no brand"}"#.into(),
        record("hackernews", "5", "Acme", "positive", "2026-11-20T11:00:00Z", "acme rocks"),
        good,
    ];
    lines.push(String::new());
    let file = write_file(dir.path(), "in.jsonl", &lines);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"{\"platform\":\"reddit\",\"text\":\"\xff\xfe\"}\n");
    std::fs::write(&file, bytes).unwrap();

    let import = || hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert();
    import()
        .code(65)
        .stdout(predicate::str::contains("2 inserted, 1 duplicate, 5 rejected"))
        .stderr(predicate::str::contains(":2: rejected: invalid JSON"))
        .stderr(predicate::str::contains(":3: rejected: \"sentiment\" \"furious\""))
        .stderr(predicate::str::contains(":4: rejected:").and(predicate::str::contains("RFC 3339")))
        .stderr(predicate::str::contains(":5: rejected: no \"brand\" given"))
        .stderr(predicate::str::contains(":9: rejected: invalid UTF-8"));

    // Importing again stores nothing new.
    import().code(65).stdout(predicate::str::contains("0 inserted, 3 duplicate"));
    // From stdin.
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["import", "-"])
        .write_stdin(record("lemmy", "9", "Acme", "neutral", "2026-11-21T00:00:00Z", "acme on lemmy") + "\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("1 inserted, 0 duplicate, 0 rejected"));
}

/// An imported review with a rating and no words takes its label from its stars, as a polled one does; a record's
/// own label wins, and a review with words is the model's (import classifies what it stores).
#[tokio::test]
async fn import_labels_a_rating_without_words_by_its_stars() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let review = |id: &str, rating: u8, text: &str, sentiment: Option<&str>| {
        let mut r = serde_json::json!({"platform": "google_business", "external_id": id, "brand": "Acme",
            "created_at": "2026-11-20T10:00:00Z", "kind": "review", "text": text, "rating": rating});
        if let Some(s) = sentiment {
            r["sentiment"] = s.into();
        }
        r.to_string()
    };
    let lines = [
        review("one", 1, "", None),
        review("four", 4, " ", None),
        review("given", 1, "", Some("neutral")),
        review("worded", 1, "the staff were lovely", None),
    ];
    let file = write_file(dir.path(), "in.jsonl", &lines);
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT m.external_id, s.label, s.model_version FROM mentions m LEFT JOIN sentiment s ON s.mention_id = m.id
         ORDER BY m.external_id",
    )
    .fetch_all(&super::sqlite(&db).await)
    .await
    .unwrap();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        rows[..3],
        [
            ("four".into(), some("positive"), some("stars")),
            ("given".into(), some("neutral"), some("imported")),
            ("one".into(), some("negative"), some("stars")),
        ]
    );
    assert!(rows[3].2.as_deref().is_some_and(|v| v.starts_with("hearsay-sentiment")), "the model's: {:?}", rows[3]);
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    hearsay().args(["mentions"]).env("HEARSAY_CONFIG", dir.path().join("none.toml")).assert().code(2);
    hearsay()
        .arg("--db")
        .arg(dir.path().join("missing.db"))
        .arg("mentions")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
    hearsay().args(["mentions", "--since", "last tuesday", "--db", "x.db"]).assert().code(2);
    hearsay().args(["poll"]).arg("--config").arg(dir.path().join("none.toml")).assert().code(2);
    hearsay()
        .args(["import", "/nonexistent/file.jsonl", "--db"])
        .arg(dir.path().join("h.db"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot open"));
}

#[test]
fn help_and_completions_work_for_every_command() {
    for cmd in [
        "run",
        "poll",
        "mentions",
        "relabel",
        "stats",
        "export",
        "import",
        "check-config",
        "classify",
        "reclassify",
        "export-training",
        "sources",
        "backtest",
        "demo",
        "completions",
    ] {
        hearsay().args([cmd, "--help"]).assert().success().stdout(predicate::str::contains("Usage"));
    }
    hearsay().args(["completions", "bash"]).assert().success().stdout(predicate::str::contains("hearsay"));
}

#[test]
fn sources_parse_prints_records_and_rejects_foreign_payloads_with_65() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hackernews/stories.json");
    let out = hearsay().args(["sources", "parse", "--platform", "hackernews", fixture]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<hearsay::mention::NewMention> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!records.is_empty());
    assert!(records.iter().all(|r| r.platform == "hackernews" && !r.external_id.is_empty()));
    hearsay()
        .args(["sources", "parse", "--platform", "reddit", "-"])
        .write_stdin("<html><body>502 Bad Gateway</body></html>")
        .assert()
        .code(65)
        .stderr(predicate::str::contains("reddit payload not understood"));
    hearsay().args(["sources", "parse", "--platform", "myspace", fixture]).assert().code(2);
}

#[test]
fn backtest_explain_writes_each_selected_evaluation_and_needs_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // Two days of one neutral mention every 15 minutes on two brands.
    let mut lines = Vec::new();
    for m in (0..2 * 24 * 60).step_by(15) {
        let t = chrono::DateTime::parse_from_rfc3339("2026-01-05T00:00:00Z").unwrap() + chrono::Duration::minutes(m);
        for brand in ["Acme", "Other"] {
            lines.push(format!(
                r#"{{"brand":"{brand}","platform":"reddit","created_at":"{}","sentiment":"neutral"}}"#,
                t.to_rfc3339()
            ));
        }
    }
    let input = write_file(dir.path(), "h.jsonl", &lines);
    let explain = dir.path().join("explain.jsonl");
    let run = |extra: &[&str]| {
        hearsay()
            .arg("backtest")
            .arg("--input")
            .arg(&input)
            .args(extra)
            .env("HEARSAY_CONFIG", dir.path().join("none.toml"))
            .assert()
    };
    run(&[
        "--explain",
        explain.to_str().unwrap(),
        "--explain-brand",
        "Acme",
        "--explain-from",
        "2026-01-06T12:00:00Z",
        "--explain-until",
        "2026-01-06T13:00:00Z",
    ])
    .success()
    .stdout("");
    let rows: Vec<serde_json::Value> =
        std::fs::read_to_string(&explain).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 13, "12:00 to 13:00 every five minutes");
    for r in &rows {
        assert_eq!(r["brand"], "Acme");
        assert_eq!(r["negative_spike"], "none");
        assert_eq!(r["scales"].as_array().unwrap().len(), 3);
        assert_eq!(r["scales"][1]["observed"], 0);
        assert_eq!(r["scales"][1]["checks"]["min_count"], false);
    }
    run(&["--explain-from", "2026-01-06T12:00:00Z"]).code(2).stderr(predicate::str::contains("--explain <FILE>"));
    run(&["--explain", dir.path().join("no/such/dir/x").to_str().unwrap()])
        .code(2)
        .stderr(predicate::str::contains("cannot create"));
}
