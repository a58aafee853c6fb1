//! Alerts end to end: a history with a real spike, the daemon's cycle (`poll --once`), a real SMTP server
//! (Python aiosmtpd, STARTTLS + AUTH), the received message parsed the way a mail client reads it; and an email
//! that could not be sent being delivered exactly once after a restart.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{Duration, Utc};
use predicates::prelude::*;

use super::{hearsay, parse_eml, record, write_file};

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub out: PathBuf,
    pub cert: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn python_has_aiosmtpd() -> bool {
    Command::new("python3").args(["-c", "import aiosmtpd"]).status().map(|s| s.success()).unwrap_or(false)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A test CA and a `localhost` server certificate signed by it (rustls refuses a CA certificate as the server's).
/// Returns (server cert, server key); the CA is `dir/ca.pem`.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ext = dir.join("leaf.ext");
    std::fs::write(&ext, "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(Stdio::null())
            .status()
            .expect("openssl")
            .success();
        assert!(ok, "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hearsay test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "leaf.csr"]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "cert.pem",
        "-extfile",
        "leaf.ext",
    ]);
    (cert, key)
}

pub fn start_smtp(dir: &Path, port: u16) -> SmtpServer {
    let (cert, key) =
        if dir.join("cert.pem").exists() { (dir.join("cert.pem"), dir.join("key.pem")) } else { make_cert(dir) };
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args([cert.as_os_str(), key.as_os_str(), out.as_os_str()])
        .args(["alerts@example.com", "app-password", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("READY"), "smtp server: {line:?}");
    SmtpServer { child, port, out, cert: dir.join("ca.pem") }
}

/// Four weeks of ordinary chatter about Acme (about 2 negatives an hour among 10 mentions), then a burst of
/// 40 complaints in the last hour.
fn spiky_history(dir: &Path) -> PathBuf {
    history(dir, true)
}

/// The complaints of the burst: (id, platform, text, seconds before now).
pub fn burst() -> Vec<(String, &'static str, String, i64)> {
    let complaints = [
        "Acme charged me twice and support does not answer",
        "still no refund from acme after the double charge",
        "acme billing is broken, double charged again",
        "acme outage, cannot log in, no refund for downtime",
    ];
    (0..40)
        .map(|i| {
            let platform = ["reddit", "hackernews", "mastodon"][i as usize % 3];
            (format!("c{i}"), platform, format!("{} #{i}", complaints[i as usize % 4]), 55 * 60 - i * 80)
        })
        .collect()
}

/// Four weeks of Acme chatter in a database at `dir/h.db`, with the last hour's burst when `with_burst`.
pub fn history(dir: &Path, with_burst: bool) -> PathBuf {
    history_of_days(dir, 28, with_burst)
}

/// `days` of Acme chatter in a database at `dir/h.db`, with the last hour's burst when `with_burst`.
fn history_of_days(dir: &Path, days: i64, with_burst: bool) -> PathBuf {
    let now = Utc::now();
    let mut lines = Vec::new();
    let mut n = 0u64;
    for h in 1..(days * 24) {
        for k in 0..10 {
            n += 1;
            let t = now - Duration::hours(h) + Duration::minutes(k * 6);
            let sentiment = if (n * 7919).is_multiple_of(5) {
                "negative"
            } else if k % 2 == 0 {
                "neutral"
            } else {
                "positive"
            };
            lines.push(record(
                "reddit",
                &format!("b{n}"),
                "Acme",
                sentiment,
                &t.to_rfc3339(),
                &format!("acme routine mention {n}"),
            ));
        }
    }
    if with_burst {
        for (id, platform, text, ago) in burst() {
            let t = now - Duration::seconds(ago);
            lines.push(record(platform, &id, "Acme", "negative", &t.to_rfc3339(), &text));
        }
    }
    let file = write_file(dir, "history.jsonl", &lines);
    let db = dir.join("h.db");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    db
}

fn config(dir: &Path, db: &Path, smtp_port: u16, cert: &Path) -> PathBuf {
    let p = dir.join("hearsay.toml");
    std::fs::write(
        &p,
        format!(
            r#"[storage]
database = "{db}"
outbox_dir = "{dir}/outbox"

[[brands]]
name = "Acme"
query = "acme"

[model]
dir = "{dir}/no-model"

[alerts]
recipients = ["brand-team@example.com"]
group_wait = "0s"

[smtp]
host = "localhost"
port = {smtp_port}
tls = "starttls"
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

/// One daemon cycle (`hearsay poll --once`) with the test SMTP password in the environment.
fn poll_once(cfg: &Path) {
    hearsay()
        .args(["poll", "--once", "-c"])
        .arg(cfg)
        .env("HEARSAY_TEST_SMTP_PASSWORD", "app-password")
        .assert()
        .success();
}

pub fn received(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    v.sort();
    v
}

#[test]
fn a_spike_is_emailed_once_over_starttls_with_text_html_and_chart() {
    if !python_has_aiosmtpd() {
        eprintln!("skipping: python3 -m pip install aiosmtpd (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = spiky_history(dir.path());
    let smtp = start_smtp(dir.path(), free_port());
    let cfg = config(dir.path(), &db, smtp.port, &smtp.cert);
    let poll = || poll_once(&cfg);
    poll();
    let got = received(&smtp.out);
    assert_eq!(got.len(), 1, "one alert email");
    let m = parse_eml(&got[0]);
    let subject = m["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[hearsay] Acme: negative mentions ")
            && subject.contains("× normal (")
            && subject.ends_with(" in 1h)"),
        "{subject}"
    );
    assert!(m["message_id"].as_str().unwrap().starts_with("<hearsay.Acme-"), "{m}");
    assert_eq!(m["to"], "brand-team@example.com");
    let tree = &m["tree"];
    assert_eq!(tree["type"], "multipart/alternative");
    assert_eq!(tree["parts"][0]["type"], "text/plain");
    let text = tree["parts"][0]["content"].as_str().unwrap();
    assert!(text.contains("negative mentions of Acme in the last 1h; usually"), "{text}");
    assert!(text.contains("hearsay alerts silence --brand Acme"), "{text}");
    assert!(text.contains("double charged") || text.contains("refund"), "top terms or examples: {text}");
    let related = &tree["parts"][1];
    assert_eq!(related["type"], "multipart/related");
    assert_eq!(related["parts"][0]["type"], "text/html");
    assert!(related["parts"][0]["content"].as_str().unwrap().contains("cid:chart"));
    assert_eq!(related["parts"][1]["type"], "image/png");
    assert_eq!(related["parts"][1]["png_magic"], true);
    assert_eq!(related["parts"][1]["cid"], "<chart>");

    // The next cycle sees the same spike: no second email (a reminder comes after repeat_interval).
    poll();
    assert_eq!(received(&smtp.out).len(), 1);
    hearsay()
        .args(["alerts", "list", "-c"])
        .arg(&cfg)
        .env("HEARSAY_TEST_SMTP_PASSWORD", "x")
        .assert()
        .success()
        .stdout(predicates::str::contains("negative_spike").and(predicates::str::contains("firing")));
}

/// A brand monitored for three days has three days of history, not eight weeks whose first seven are quiet:
/// the alert says its "usual" is a rough estimate, and the tests asked for stronger evidence.
#[test]
fn a_new_brands_alert_says_its_history_is_short() {
    let dir = tempfile::tempdir().unwrap();
    let db = history_of_days(dir.path(), 3, true);
    let cfg = dir.path().join("hearsay.toml");
    let text = format!(
        "[storage]\ndatabase = \"{db}\"\noutbox_dir = \"{d}/outbox\"\n\n[model]\ndir = \"{d}/no-model\"\n\n\
         [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n[alerts]\nrecipients = [\"brand-team@example.com\"]\n\
         group_wait = \"0s\"\n\n[http]\nlisten = \"127.0.0.1:0\"\npublic_url = \"https://hearsay.example/\"\n",
        db = db.display(),
        d = dir.path().display()
    );
    std::fs::write(&cfg, text).unwrap();
    hearsay().args(["poll", "--once", "-c"]).arg(&cfg).assert().success();
    let written = received(&dir.path().join("outbox"));
    assert_eq!(written.len(), 1, "the burst of 40 complaints fires even on cold-start evidence");
    let eml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(eml.contains("less than a week of history for this brand"), "{eml}");
    // With [http] public_url the email links to the console: the feed of the alert's window, the alert's page.
    let m = parse_eml(&written[0]);
    let text = m["tree"]["parts"][0]["content"].as_str().unwrap();
    assert!(
        text.contains(
            "the mentions behind this alert https://hearsay.example/mentions?brand=Acme&sentiment=negative&since="
        ),
        "{text}"
    );
    let page = text.split("https://hearsay.example/alerts/").nth(1).expect("the alert's page").split('\n').next();
    let id: i64 = page.unwrap().parse().unwrap();
    let html = m["tree"]["parts"][1]["parts"][0]["content"].as_str().unwrap();
    assert!(html.contains("href=\"https://hearsay.example/mentions/"), "each example's page: {html}");
    assert!(html.contains(&format!("href=\"https://hearsay.example/alerts/{id}\"")), "{html}");

    // That page, in the console over the same database, is this alert's: its evidence and its email, sent.
    let subject = m["subject"].as_str().unwrap().to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let c = super::console::start_on(&db, |_| {}).await;
        let maria = c.login("maria", super::console::EDITOR_PW).await;
        let (s, page, _) = c.get(&format!("/alerts/{id}"), Some(&maria)).await;
        assert_eq!(s, reqwest::StatusCode::OK, "{page}");
        assert!(page.contains("<h1>Acme: negative spike, firing</h1>"), "{page}");
        assert!(page.contains("short history") && page.contains(">sent</span>"), "{page}");
        let subject = subject.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(page.contains(&subject), "{subject}: {page}");
        assert!(page.contains("href=\"/mentions?brand=Acme&amp;sentiment=negative&amp;since="), "{page}");
    });
}

#[test]
fn an_email_that_could_not_be_sent_is_delivered_once_after_a_restart() {
    if !python_has_aiosmtpd() {
        eprintln!("skipping: python3 -m pip install aiosmtpd (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = spiky_history(dir.path());
    let port = free_port();
    make_cert(dir.path());
    let cfg = config(dir.path(), &db, port, &dir.path().join("ca.pem"));
    let poll = || poll_once(&cfg);
    // No server yet: the alert is recorded and its email waits in the outbox.
    poll();
    let waiting: i64 = {
        let out =
            hearsay().args(["alerts", "list", "-c"]).arg(&cfg).env("HEARSAY_TEST_SMTP_PASSWORD", "x").output().unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        s.lines().find_map(|l| l.strip_prefix("emails waiting in the outbox: ")).unwrap().parse().unwrap()
    };
    assert_eq!(waiting, 1);
    // The "restarted" daemon delivers it, once.
    let smtp = start_smtp(dir.path(), port);
    poll();
    poll();
    assert_eq!(received(&smtp.out).len(), 1);
    let _ = std::io::stdout().flush();
}

/// `daily_digest`: one email per distinct recipient list covering the day before `digest_at`, with each brand's
/// counts against its usual share, written once however many cycles run.
#[test]
fn daily_digest_goes_out_once_per_recipient_list() {
    let dir = tempfile::tempdir().unwrap();
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
    let mut lines = Vec::new();
    // The 28 days before: 10 Acme mentions a day, 1 negative (usual share 10 %).
    for d in 2..30 {
        for k in 0..10 {
            let t = midnight - Duration::days(d) + Duration::hours(k);
            let s = if k == 0 { "negative" } else { "neutral" };
            lines.push(record("reddit", &format!("u{d}-{k}"), "Acme", s, &t.to_rfc3339(), "acme routine"));
        }
    }
    // Yesterday: 20 Acme mentions, 8 negative; 3 Globex mentions.
    for k in 0..20 {
        let t = midnight - Duration::hours(20) + Duration::minutes(k * 30);
        let (s, text) = if k < 8 { ("negative", "acme double charged me, no refund") } else { ("positive", "acme ok") };
        lines.push(record(["reddit", "mastodon"][k as usize % 2], &format!("y{k}"), "Acme", s, &t.to_rfc3339(), text));
    }
    for k in 0..3 {
        let t = midnight - Duration::hours(5) + Duration::minutes(k);
        lines.push(record("feed", &format!("g{k}"), "Globex", "neutral", &t.to_rfc3339(), "globex news"));
    }
    let file = write_file(dir.path(), "h.jsonl", &lines);
    let db = dir.path().join("h.db");
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();
    let cfg = dir.path().join("hearsay.toml");
    std::fs::write(
        &cfg,
        format!(
            "[storage]\ndatabase = \"{db}\"\noutbox_dir = \"{d}/outbox\"\n\n[model]\ndir = \"{d}/no-model\"\n\n\
             [alerts]\nrecipients = [\"team@example.com\"]\ndaily_digest = true\ndigest_at = \"00:00\"\n\n\
             [[brands]]\nname = \"Acme\"\nquery = \"acme\"\nrecipients = [\"acme-pr@example.com\"]\n\n\
             [[brands]]\nname = \"Globex\"\nquery = \"globex\"\n",
            db = db.display(),
            d = dir.path().display()
        ),
    )
    .unwrap();
    for _ in 0..2 {
        hearsay().args(["poll", "--once", "-c"]).arg(&cfg).assert().success();
    }
    let mut emls: Vec<PathBuf> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    assert_eq!(emls.len(), 2, "one digest per recipient list, once: {emls:?}");
    let mails: Vec<serde_json::Value> = emls.iter().map(|p| parse_eml(p)).collect();
    let day = (midnight - Duration::days(1)).format("%Y-%m-%d").to_string();
    let acme = mails.iter().find(|m| m["to"].as_str().unwrap_or("").contains("acme-pr")).expect("Acme digest");
    let subject = acme["subject"].as_str().unwrap();
    assert_eq!(subject, format!("[hearsay] Daily digest {day}: Acme 40% negative"), "{acme}");
    let text = acme.to_string();
    assert!(text.contains("20 mentions (usually 10 a day), 8 negative = 40% (usually 10%)"), "{text}");
    assert!(text.contains("double charged me"), "the most negative mentions are quoted");
    let team = mails.iter().find(|m| m != &acme).unwrap();
    assert_eq!(team["subject"].as_str().unwrap(), format!("[hearsay] Daily digest {day}: Globex 0% negative"));
}
