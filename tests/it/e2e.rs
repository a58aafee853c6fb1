//! The daemon binary end to end, as a real process: mock platforms (wiremock, the Algolia format) bring a burst
//! of complaints on top of four weeks of stored history, the shipped model classifies them, the detector fires
//! and the alert goes out through a real SMTP server (aiosmtpd, STARTTLS + AUTH). Then the hard part: SIGTERM
//! in the middle of a cycle and `kill -9` at random moments, after which nothing acknowledged is lost, the
//! database is intact and the alert is recorded and delivered once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use hearsay::store::{Access, Store};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::alerts::{burst, free_port, history, python_has_aiosmtpd, received, start_smtp};
use super::parse_eml;

/// The daemon, killed when the test ends early.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(cfg: &Path) -> Daemon {
    Daemon(
        Command::new(assert_cmd::cargo::cargo_bin("hearsay"))
            .args(["run", "--config"])
            .arg(cfg)
            .env("HEARSAY_TEST_SMTP_PASSWORD", "app-password")
            .env("RUST_LOG", "warn")
            .env_remove("NOTIFY_SOCKET")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn signal(d: &Daemon, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(d.0.id().to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig}");
}

fn wait_exit(d: &mut Daemon, limit: Duration) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(s) = d.0.try_wait().unwrap() {
            return s;
        }
        assert!(t0.elapsed() < limit, "daemon did not exit within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The Algolia payload of the burst: 40 complaints of the last hour (the history has only the chatter).
async fn platforms() -> MockServer {
    let server = MockServer::start().await;
    let now = Utc::now().timestamp();
    let hits: Vec<_> = burst()
        .into_iter()
        .map(|(id, _, text, ago)| {
            json!({"objectID": id, "created_at_i": now - ago, "title": text, "author": "someone",
                   "story_text": null, "_tags": ["story"], "points": 1})
        })
        .collect();
    Mock::given(path("/api/v1/search_by_date"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"hits": hits, "page": 0, "nbPages": 1, "hitsPerPage": 100}))
                // Slow enough that a signal can land while the poll is in flight.
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    server
}

fn config(dir: &Path, db: &Path, platforms: &str, smtp_port: u16, cert: &Path) -> PathBuf {
    let p = dir.join("hearsay.toml");
    std::fs::write(
        &p,
        format!(
            r#"[storage]
database = "{db}"
outbox_dir = "{dir}/outbox"

[polling]
interval = "1m"

[[brands]]
name = "Acme"
query = "acme"

[[sources]]
type = "hackernews"
name = "hn"
base_url = "{platforms}"

[alerts]
recipients = ["brand-team@example.com"]

[smtp]
host = "localhost"
port = {smtp_port}
username = "alerts@example.com"
password_env = "HEARSAY_TEST_SMTP_PASSWORD"
from = "hearsay <alerts@example.com>"
timeout = "10s"
ca_file = "{cert}"
"#,
            db = db.display(),
            dir = dir.display(),
            cert = cert.display(),
        ),
    )
    .unwrap();
    p
}

/// (mentions, burst mentions, firing events) as another process reading the file sees them, after checking the
/// file's integrity.
async fn census(db: &Path) -> (i64, i64, i64) {
    let s = Store::open(db, Access::Existing).await.unwrap();
    s.integrity_check().await.expect("PRAGMA integrity_check passes");
    let (all, burst, firing): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM mentions), (SELECT count(*) FROM mentions WHERE external_id LIKE 'c%'),
                (SELECT count(*) FROM alerts WHERE kind = 'negative_spike' AND event = 'firing')",
    )
    .fetch_one(&super::sqlite(s.path()).await)
    .await
    .unwrap();
    s.close().await;
    (all, burst, firing)
}

fn wait_for_email(out: &Path, limit: Duration) -> Vec<PathBuf> {
    let t0 = Instant::now();
    loop {
        let got = received(out);
        if !got.is_empty() || t0.elapsed() > limit {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_cycle_then_restart_delivers_the_alert_once_without_duplicates() {
    if !python_has_aiosmtpd() {
        eprintln!("skipping: python3 -m pip install aiosmtpd (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), false);
    let (before, _, _) = census(&db).await;
    let server = platforms().await;
    let smtp = start_smtp(dir.path(), free_port());
    let cfg = config(dir.path(), &db, &server.uri(), smtp.port, &smtp.cert);

    // SIGTERM while the first poll is in flight.
    let mut d = start(&cfg);
    let t0 = Instant::now();
    while server.received_requests().await.unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(60), "the daemon never polled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success(), "exit 0 on SIGTERM");

    // Restart: the cycle completes, the burst is classified, the spike fires, the email goes out.
    let mut d = start(&cfg);
    let got = wait_for_email(&smtp.out, Duration::from_secs(180));
    assert_eq!(got.len(), 1, "the alert email arrives");
    let m = parse_eml(&got[0]);
    assert!(m["subject"].as_str().unwrap().starts_with("[hearsay] Acme: negative mentions "), "{m}");
    tokio::time::sleep(Duration::from_secs(6)).await; // another tick
    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success());

    // A third run sees the same spike and the same stored burst: nothing new.
    let mut d = start(&cfg);
    tokio::time::sleep(Duration::from_secs(8)).await;
    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success());
    let (all, burst, firing) = census(&db).await;
    assert_eq!(burst, 40, "every mention of the burst, once");
    assert_eq!(all, before + 40, "no duplicates, nothing lost");
    assert_eq!(firing, 1, "one firing recorded");
    assert_eq!(received(&smtp.out).len(), 1, "one email delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_and_records_the_alert_once() {
    if !python_has_aiosmtpd() {
        eprintln!("skipping: python3 -m pip install aiosmtpd (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), false);
    let server = platforms().await;
    let smtp = start_smtp(dir.path(), free_port());
    let cfg = config(dir.path(), &db, &server.uri(), smtp.port, &smtp.cert);

    // Kill -9 at pseudo-random moments of start-up, polling, classification, detection and sending.
    let mut seed = 0x2545_f491_u64;
    let mut seen = census(&db).await.0;
    for round in 0..12 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(150 + (seed >> 33) % 6000);
        let mut d = start(&cfg);
        tokio::time::sleep(delay).await;
        // What another reader saw committed just before the kill must survive it.
        let acknowledged = census(&db).await.0;
        signal(&d, "KILL");
        wait_exit(&mut d, Duration::from_secs(10));
        let (all, _, firing) = census(&db).await;
        assert!(all >= acknowledged && all >= seen, "round {round}: {all} mentions after kill, {acknowledged} before");
        assert!(firing <= 1, "round {round}: the spike recorded {firing} times");
        eprintln!(
            "kill -9 after {delay:?}: {all} mentions, {firing} firing, {} email(s) delivered",
            received(&smtp.out).len()
        );
        seen = all;
    }

    // Left alone, it finishes the job exactly once.
    let mut d = start(&cfg);
    let got = wait_for_email(&smtp.out, Duration::from_secs(180));
    tokio::time::sleep(Duration::from_secs(6)).await;
    signal(&d, "TERM");
    assert!(wait_exit(&mut d, Duration::from_secs(30)).success());
    let (_, burst, firing) = census(&db).await;
    assert_eq!(burst, 40);
    assert_eq!(firing, 1, "the alert is recorded once across all the kills");
    assert!(!got.is_empty(), "the alert email arrives");
    let got = received(&smtp.out);
    let ids: std::collections::BTreeSet<String> =
        got.iter().map(|p| parse_eml(p)["message_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 1, "one alert email (by Message-ID): {ids:?}");
    // SMTP is at-least-once: a kill between the server's 250 and the outbox update re-sends the same message
    // (same Message-ID, so mail clients show it once). Anything more would be a bug.
    assert!(got.len() <= 2, "{} deliveries", got.len());
    eprintln!("alert delivered {} time(s) after 12 kills", got.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_import_keeps_every_committed_batch_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let n = 60_000;
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let text = format!("acme mention number {i}");
            super::record("reddit", &i.to_string(), "Acme", "neutral", "2026-11-20T10:00:00Z", &text)
        })
        .collect();
    let file = super::write_file(dir.path(), "m.jsonl", &lines);
    let db = dir.path().join("h.db");
    let count = |db: PathBuf| async move {
        let s = Store::open(&db, Access::Existing).await.unwrap();
        s.integrity_check().await.expect("PRAGMA integrity_check passes");
        let c: i64 = sqlx::query_scalar("SELECT count(*) FROM mentions")
            .fetch_one(&super::sqlite(s.path()).await)
            .await
            .unwrap();
        s.close().await;
        c
    };
    let mut seed = 0x9e37_79b9_u64;
    let mut last = 0;
    for round in 0..4 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut d = Daemon(
            Command::new(assert_cmd::cargo::cargo_bin("hearsay"))
                .arg("--db")
                .arg(&db)
                .args(["import", "--batch", "1000"])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        tokio::time::sleep(Duration::from_millis(300 + (seed >> 33) % 1500)).await;
        let acknowledged = if db.exists() { count(db.clone()).await } else { 0 };
        signal(&d, "KILL");
        wait_exit(&mut d, Duration::from_secs(10));
        let after = count(db.clone()).await;
        assert!(
            after >= acknowledged && after >= last,
            "round {round}: {after} after kill, {acknowledged} seen before"
        );
        eprintln!("import killed: {after} of {n} stored ({acknowledged} seen committed just before)");
        last = after;
    }
    super::hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    assert_eq!(count(db.clone()).await, n, "the re-run stores the rest, without duplicates");
}
