//! `hearsay demo` end to end, in its short mode: the real binary, its in-process mock platforms, the shipped model,
//! the alert email parsed the way a mail client reads it, and the database queried through the CLI afterwards.

use std::path::{Path, PathBuf};

use predicates::prelude::*;

use super::hearsay;

fn model_present() -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment/model.safetensors").is_file()
}

fn emails(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("outbox"))
        .map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "eml")).collect())
        .unwrap_or_default();
    v.sort();
    v
}

use super::parse_eml;

/// Every leaf part's content type, depth first.
fn leaf_types(node: &serde_json::Value, out: &mut Vec<String>) {
    match node["parts"].as_array() {
        Some(parts) => parts.iter().for_each(|p| leaf_types(p, out)),
        None => out.push(node["type"].as_str().unwrap_or_default().to_string()),
    }
}

#[test]
fn the_demo_polls_five_platforms_classifies_detects_and_writes_one_alert_email_and_a_report() {
    if !model_present() {
        eprintln!("skipping: models/sentiment is not trained yet (the demo classifies with the shipped model)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = hearsay().args(["demo", "--quick", "--dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("SPIKE DETECTED"), "{stdout}");
    assert!(stdout.contains("hearsay mentions --db"), "next commands: {stdout}");

    let got = emails(&dir);
    assert_eq!(got.len(), 1, "exactly one alert email: {got:?}\n{stdout}");
    let m = parse_eml(&got[0]);
    let subject = m["subject"].as_str().unwrap();
    assert!(subject.starts_with("[hearsay] Nimbus Bank: negative mentions"), "{subject}");
    let mut types = Vec::new();
    leaf_types(&m["tree"], &mut types);
    for t in ["text/plain", "text/html", "image/png"] {
        assert!(types.iter().any(|x| x == t), "{t} part in {types:?}");
    }

    let db = dir.join("hearsay.db");
    let out =
        hearsay().arg("--db").arg(&db).args(["mentions", "--format", "jsonl", "--limit", "100000"]).output().unwrap();
    assert!(out.status.success());
    let platforms: std::collections::BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["platform"].as_str().unwrap().to_string())
        .collect();
    assert!(platforms.len() >= 5, "{platforms:?}");
    let report = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(report.contains("<svg") && report.contains("Nimbus Bank"));

    // The folder is the demo's: a second run resets it instead of piling up emails.
    hearsay().args(["demo", "--quick", "--dir"]).arg(&dir).assert().success();
    assert_eq!(emails(&dir).len(), 1);
}

#[test]
fn the_demo_refuses_a_folder_it_did_not_make() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    hearsay()
        .args(["demo", "--dir"])
        .arg(tmp.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not made by `hearsay demo`"));
    assert!(tmp.path().join("notes.txt").exists());
}

/// The demo, killed when the test ends early.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn demo_serve_prints_the_console_and_its_account_and_serves_the_story_until_interrupted() {
    if !model_present() {
        eprintln!("skipping: models/sentiment is not trained yet (the demo classifies with the shipped model)");
        return;
    }
    use std::io::BufRead as _;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Child(
        std::process::Command::new(assert_cmd::cargo::cargo_bin("hearsay"))
            .args(["demo", "--quick", "--serve", "127.0.0.1:0", "--dir"])
            .arg(tmp.path().join("demo"))
            .env_remove("HEARSAY_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("Console: ") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(300)).expect("the demo prints the console's address");
    // "Console: http://127.0.0.1:PORT/  (account demo, password XXXX)"
    let url = line.split_whitespace().nth(1).unwrap().to_string();
    let password = line.trim_end_matches(')').rsplit(' ').next().unwrap().to_string();
    assert!(line.contains("account demo,") && password.len() >= 12, "{line}");

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = client.get(format!("{url}login")).send().await.unwrap();
    let pre_cookie = form.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let body = form.text().await.unwrap();
    let key = "name=\"pre\" value=\"";
    let pre = body[body.find(key).unwrap() + key.len()..].split('"').next().unwrap().to_string();
    let r = client
        .post(format!("{url}login"))
        .header("cookie", &pre_cookie)
        .form(&[("name", "demo"), ("password", password.as_str()), ("pre", pre.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("hearsay_session="))
        .unwrap();
    let page = client.get(format!("{url}overview")).header("cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Nimbus Bank: overview") && page.contains("negative_spike"), "{page}");
    // The alert's evidence in the email's words, and the mentions of its window one click away.
    let alerts = client.get(format!("{url}alerts")).header("cookie", &session).send().await.unwrap();
    let alerts = alerts.text().await.unwrap();
    assert!(alerts.contains("negative share") && alerts.contains("chance"), "{alerts}");
    let at = alerts.find("\">the mentions behind it").expect("a link to the alert's mentions");
    let href = alerts[alerts[..at].rfind("href=\"").unwrap() + 6..at].replace("&amp;", "&");
    let feed =
        client.get(format!("{}{href}", url.trim_end_matches('/'))).header("cookie", &session).send().await.unwrap();
    assert_eq!(feed.status(), 200);
    let feed = feed.text().await.unwrap();
    assert!(feed.matches("badge negative").count() >= 5, "the spike's negatives: {feed}");

    let ok = std::process::Command::new("kill").arg("-INT").arg(child.0.id().to_string()).status().unwrap();
    assert!(ok.success());
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
