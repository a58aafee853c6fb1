//! End-to-end tests of the `hearsay` binary and library at their boundaries: a real SQLite file in a temp dir,
//! the real CLI (assert_cmd), real signals. One test binary, one module per area.

pub mod alerts;
mod browser;
mod cli;
mod config;
mod console;
mod daemon;
mod demo;
mod e2e;
mod http;
mod lang;
mod links;
mod logging;
mod poll;
mod report;
mod store;
mod users;

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A connection of its own to a store's database file, for what a test reads or writes by hand, as `sqlite3`
/// would: the store keeps its connections to itself (every query hearsay makes is a `Store` method).
pub async fn sqlite(db: &Path) -> sqlx::SqlitePool {
    let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(db).busy_timeout(std::time::Duration::from_secs(5));
    sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.unwrap()
}

/// Who the tests' own changes are recorded as in the audit log.
pub fn tester() -> hearsay::store::Actor {
    hearsay::store::Actor { name: "test".into(), origin: "test".into() }
}

/// The `hearsay` binary with a clean environment (no config found by accident).
pub fn hearsay() -> Command {
    let mut c = Command::cargo_bin("hearsay").expect("binary built");
    c.env_remove("HEARSAY_CONFIG").env("RUST_LOG", "warn");
    c
}

/// A JSON-lines record for `hearsay import`.
pub fn record(platform: &str, id: &str, brand: &str, sentiment: &str, created_at: &str, text: &str) -> String {
    serde_json::json!({
        "platform": platform, "external_id": id, "brand": brand, "sentiment": sentiment,
        "created_at": created_at, "kind": "post", "text": text, "author": format!("user{id}"),
        "url": format!("https://example.com/{platform}/{id}?utm_source=x"),
    })
    .to_string()
}

pub fn write_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut f = std::fs::File::create(&p).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    p
}

/// A database with a small, known history: 6 Acme mentions (3 negative) and 2 Globex ones, within the last days.
pub fn seeded_db(dir: &Path) -> PathBuf {
    let now = chrono::Utc::now();
    let t = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let lines = vec![
        record("reddit", "r1", "Acme", "negative", &t(1), "Acme billing charged me twice, still no refund"),
        record("reddit", "r2", "Acme", "positive", &t(2), "Acme support fixed my issue in minutes, great team"),
        record("hackernews", "h1", "Acme", "negative", &t(3), "The Acme API has been down for an hour"),
        record("hackernews", "h2", "Acme", "neutral", &t(30), "Acme released version 2.0 today"),
        record("mastodon", "m1", "Acme", "negative", &t(50), "Waiting three weeks for an Acme refund, nobody answers"),
        record("appstore", "a1", "Acme", "positive", &t(70), "Love the new Acme app design"),
        record("reddit", "r3", "Globex", "negative", &t(5), "Globex lost my parcel"),
        record("feed", "f1", "Globex", "neutral", &t(6), "Globex opens a new office in Lyon"),
    ];
    let file = write_file(dir, "seed.jsonl", &lines);
    let db = dir.join("seed.db");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    db
}

/// An email as Python's standard library reads it (structure, headers, decoded parts), as JSON.
pub fn parse_eml(p: &Path) -> serde_json::Value {
    let out = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/parse_eml.py"))
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
