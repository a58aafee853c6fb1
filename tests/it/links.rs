//! Links a polled payload chose (`src/link.rs`): an RSS and an Atom feed whose items link to `javascript:`,
//! `data:` and `vbscript:` URLs go through `hearsay poll --once`. The mentions are stored, with the link as the
//! feed gave it; the alert email, the daily digest and `hearsay report` that show those mentions write an `href`
//! only for the web links among them, and the emails' text parts show no other link.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use hearsay::sentiment::Label;
use hearsay::store::{Access, Store};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::alerts::history;
use super::{hearsay, parse_eml};

/// An item: (id, link as the feed writes it, XML-escaped; when; title).
type Item = (&'static str, &'static str, DateTime<Utc>, &'static str);

fn rss(items: &[Item]) -> String {
    let items: String = items
        .iter()
        .map(|(id, link, at, title)| {
            format!(
                "<item><title>{title}</title><link>{link}</link><guid>{id}</guid><pubDate>{}</pubDate>\
                 <description>{title}</description></item>",
                at.to_rfc2822()
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://news.example/</link>\
         {items}</channel></rss>"
    )
}

fn atom(items: &[Item]) -> String {
    let entries: String = items
        .iter()
        .map(|(id, link, at, title)| {
            format!(
                "<entry><id>{id}</id><title>{title}</title><link rel=\"alternate\" href=\"{link}\"/>\
                 <updated>{}</updated><summary>{title}</summary></entry>",
                at.to_rfc3339()
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t</title>{entries}</feed>")
}

/// A config polling both feeds for Acme; `alerts` is the `[alerts]` table's body (empty: no alerts).
fn config(dir: &Path, server: &str, alerts: &str) -> std::path::PathBuf {
    let p = dir.join("hearsay.toml");
    std::fs::write(
        &p,
        format!(
            "[storage]\ndatabase = \"{d}/h.db\"\noutbox_dir = \"{d}/outbox\"\n\n[model]\ndir = \"{d}/no-model\"\n\n\
             [alerts]\n{alerts}\n\n[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
             [[sources]]\ntype = \"feed\"\nname = \"news\"\nurls = [\"{server}/rss.xml\", \"{server}/atom.xml\"]\n",
            d = dir.display()
        ),
    )
    .unwrap();
    p
}

/// `hearsay poll --once`, off the async test's threads.
async fn poll_once(cfg: &Path) {
    let cfg = cfg.to_path_buf();
    let out = tokio::task::spawn_blocking(move || hearsay().args(["poll", "--once", "--config"]).arg(&cfg).output())
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success(), "poll --once: {}", String::from_utf8_lossy(&out.stderr));
}

/// The decoded `text/html` and `text/plain` parts of a parsed message, concatenated per type.
fn parts(tree: &serde_json::Value, html: &mut String, text: &mut String) {
    match tree["type"].as_str() {
        Some("text/html") => *html += tree["content"].as_str().unwrap_or_default(),
        Some("text/plain") => *text += tree["content"].as_str().unwrap_or_default(),
        _ => {}
    }
    for p in tree["parts"].as_array().into_iter().flatten() {
        parts(p, html, text);
    }
}

/// Every `href` value in `html`, as written.
fn hrefs(html: &str) -> Vec<&str> {
    html.split("href=\"").skip(1).map(|rest| rest.split('"').next().unwrap_or_default()).collect()
}

/// The schemes of the feeds' hostile links, as a text part would show them once tabs and newlines are gone.
const HOSTILE_SCHEMES: [&str; 3] = ["javascript:", "data:text", "vbscript:"];

/// The HTML writes hrefs only to web links, at least one of them ours; the text part shows no other link.
fn assert_only_web_links(what: &str, html: &str, text: &str) {
    let links = hrefs(html);
    assert!(links.iter().any(|h| h.starts_with("https://news.example/")), "{what}: the web link is a link: {html}");
    for h in &links {
        assert!(h.starts_with("https://") || h.starts_with("http://"), "{what}: href={h:?} in {html}");
    }
    let text = text.to_lowercase().replace(['\t', '\n', '\r'], "");
    for bad in HOSTILE_SCHEMES {
        assert!(!text.contains(bad), "{what}: {bad} in the text part: {text}");
    }
}

#[tokio::test]
async fn hostile_feed_links_are_stored_but_never_links_in_the_alert_email_digest_or_report() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let yesterday_noon = now.date_naive().and_hms_opt(12, 0, 0).unwrap().and_utc() - Duration::days(1);
    let ago = |m: i64| now - Duration::minutes(m);
    // Recent items show in the alert email (its examples are the window's most negative mentions), yesterday's in
    // the digest (the three most negative of the day); each set has one web link to show that links still work.
    let rss_items: [Item; 6] = [
        ("rss-ok-now", "https://news.example/acme-refunds", ago(5), "Acme refund promises are worthless"),
        ("rss-js-now", "javascript:alert(1)", ago(10), "Acme stole my money, support laughs"),
        (
            "rss-data-now",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            ago(12),
            "Acme double charged my card again",
        ),
        ("rss-js-day", " JaVaScRiPt:alert(2)", yesterday_noon, "Acme outage ruined our launch"),
        (
            "rss-data-day",
            "data:text/html,&lt;script&gt;alert(3)&lt;/script&gt;",
            yesterday_noon - Duration::hours(1),
            "Acme cancelled my order without a word",
        ),
        ("rss-ok-day", "https://news.example/acme-outage", yesterday_noon - Duration::hours(2), "Acme outage day two"),
    ];
    let atom_items: [Item; 2] = [
        ("atom-js-now", "java&#9;script:alert(4)", ago(15), "Acme billing is a scam"),
        ("atom-vb-now", "vbscript:msgbox(5)", ago(20), "Acme lost my parcel twice"),
    ];
    let server = MockServer::start().await;
    for (p, body, ctype) in
        [("/rss.xml", rss(&rss_items), "application/rss+xml"), ("/atom.xml", atom(&atom_items), "application/atom+xml")]
    {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body, ctype))
            .mount(&server)
            .await;
    }

    // First cycle, on an empty database: the feeds' mentions are stored, links and all.
    let cfg = config(dir.path(), &server.uri(), "");
    poll_once(&cfg).await;
    let db = dir.path().join("h.db");
    let s = Store::open(&db, Access::Existing).await.unwrap();
    let stored: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, external_id, url FROM mentions ORDER BY external_id")
            .fetch_all(&super::sqlite(s.path()).await)
            .await
            .unwrap();
    let url_of = |id: &str| stored.iter().find(|r| r.1 == id).and_then(|r| r.2.clone());
    assert_eq!(stored.len(), 8, "every item is stored: {stored:?}");
    assert_eq!(url_of("rss-js-now").as_deref(), Some("javascript:alert(1)"));
    assert_eq!(url_of("rss-js-day").as_deref(), Some("JaVaScRiPt:alert(2)"), "kept as given, trimmed");
    assert_eq!(url_of("rss-data-day").as_deref(), Some("data:text/html,<script>alert(3)</script>"));
    assert_eq!(url_of("atom-js-now").as_deref(), Some("java\tscript:alert(4)"));
    assert_eq!(url_of("atom-vb-now").as_deref(), Some("vbscript:msgbox(5)"));
    assert_eq!(url_of("rss-ok-now").as_deref(), Some("https://news.example/acme-refunds"));
    // A brand manager marks them negative, which puts them first among the examples of the emails.
    for (id, _, _) in &stored {
        assert!(s.relabel(*id, Label::Negative, &crate::tester()).await.unwrap());
    }
    s.close().await;

    // Four weeks of history with a burst of complaints in the last hour, then the cycle that alerts and digests.
    let d = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || history(&d, true)).await.unwrap();
    let cfg = config(
        dir.path(),
        &server.uri(),
        "recipients = [\"team@example.com\"]\ngroup_wait = \"0s\"\ndaily_digest = true\ndigest_at = \"00:00\"",
    );
    poll_once(&cfg).await;
    let mut emls: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    emls.sort();
    let mails: Vec<serde_json::Value> = emls.iter().map(|p| parse_eml(p)).collect();
    let subjects: Vec<&str> = mails.iter().map(|m| m["subject"].as_str().unwrap_or_default()).collect();
    let find = |prefix: &str| {
        mails
            .iter()
            .find(|m| m["subject"].as_str().unwrap_or_default().starts_with(prefix))
            .unwrap_or_else(|| panic!("no email starting {prefix:?} among {subjects:?}"))
    };
    for (what, mail) in
        [("alert email", find("[hearsay] Acme: negative mentions")), ("digest", find("[hearsay] Daily digest"))]
    {
        let (mut html, mut text) = (String::new(), String::new());
        parts(&mail["tree"], &mut html, &mut text);
        assert!(html.contains("Acme stole my money") || html.contains("Acme outage ruined"), "{what}: {html}");
        assert_only_web_links(what, &html, &text);
    }

    let report = dir.path().join("report.html");
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["report", "--brand", "Acme", "--since", "3d", "-o"])
        .arg(&report)
        .assert()
        .success();
    let html = std::fs::read_to_string(&report).unwrap();
    for h in hrefs(&html) {
        assert!(h.starts_with("https://") || h.starts_with("http://"), "report: href={h:?}");
    }
}
