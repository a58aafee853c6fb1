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
