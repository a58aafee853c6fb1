//! `hearsay report` on a seeded database: a well-formed, self-contained, escaped HTML page, and (where Chromium is
//! installed) one that a browser actually paints.

use std::path::Path;
use std::process::Command;

use predicates::prelude::*;

use super::{hearsay, record, seeded_db, write_file};

fn report(db: &Path, out: &Path, extra: &[&str]) {
    hearsay().arg("--db").arg(db).arg("report").args(extra).arg("--output").arg(out).assert().success();
}

#[test]
fn the_report_is_self_contained_and_escapes_mention_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let hostile = record(
        "reddit",
        "x1",
        "Acme",
        "negative",
        &(chrono::Utc::now() - chrono::Duration::hours(4)).to_rfc3339(),
        "Acme is awful <script>alert('pwned')</script> <img src=\"https://evil.example/p.png\">",
    );
    let file = write_file(dir.path(), "hostile.jsonl", &[hostile]);
    hearsay().arg("--db").arg(&db).arg("import").arg(&file).assert().success();

    let out = dir.path().join("acme.html");
    report(&db, &out, &["--brand", "Acme", "--since", "30d"]);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert!(html.contains("<svg"), "inline charts");
    assert!(html.contains("&lt;script&gt;"), "mention text is escaped");
    assert!(!html.contains("<script"), "no script at all");
    let lower = html.to_lowercase();
    for asset in ["src=\"http", "src='http", "<link", "@import", "url(http", "url('http", "url(\"http"] {
        assert!(!lower.contains(asset), "external asset ({asset}) in the report");
    }
    assert!(html.contains("reddit") && html.contains("hackernews"), "platform split");
    assert!(!html.contains("Globex"), "only the brand asked for");

    // Every brand when none is named; standard output with `-`.
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["report", "--output", "-"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Acme").and(predicate::str::contains("Globex")));
    hearsay().arg("--db").arg(&db).args(["report", "--brand", "Initech", "-o"]).arg(&out).assert().code(2);
}

#[test]
fn a_browser_paints_the_report() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| Path::new(p).exists());
    let Some(chromium) = chromium else {
        eprintln!("skipping: no /usr/bin/chromium (CI installs Debian's `chromium`)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let html = dir.path().join("report.html");
    report(&db, &html, &["--since", "7d"]);
    let png = dir.path().join("shot.png");
    let profile = dir.path().join("profile");
    let status = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
        ])
        .args(["--disable-sync", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1600")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("run chromium");
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&status.stderr));
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().expect("a screenshot fits in memory")];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples() * if info.bit_depth == png::BitDepth::Sixteen { 2 } else { 1 };
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let distinct: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    assert!(distinct.len() > 10, "the screenshot is blank ({} distinct colours)", distinct.len());
}
