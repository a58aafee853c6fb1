//! The example config and `check-config`.

use predicates::prelude::*;

use super::hearsay;

/// config/hearsay.toml with its credential paths pointed at files made in `dir`.
fn example_config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/hearsay.toml")).unwrap();
    std::fs::write(dir.join("smtp-password"), "s3cret-password\n").unwrap();
    let text = text
        .replace("/run/credentials/hearsay.service/", &format!("{}/", dir.display()))
        .replace("/var/lib/hearsay/", &format!("{}/state/", dir.display()))
        .replace(
            "dir = \"/usr/share/hearsay/models/sentiment\"",
            &format!("dir = \"{}/models/sentiment\"", env!("CARGO_MANIFEST_DIR")),
        );
    let p = dir.join("hearsay.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_example_config_is_complete_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let p = example_config(dir.path());
    let c = hearsay::config::Config::load(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.brands.len(), 1);
    assert_eq!(c.sources.len(), hearsay::mention::Platform::ALL.len(), "one example per platform");
    let platforms: std::collections::BTreeSet<_> = c.sources.iter().map(|s| s.platform().as_str()).collect();
    assert_eq!(platforms.len(), hearsay::mention::Platform::ALL.len());
    assert!(c.smtp.as_ref().unwrap().password.is_some());
    assert!(!format!("{c:?}").contains("s3cret-password"), "secrets never in Debug");
}

#[test]
fn check_config_prints_a_redacted_summary() {
    let dir = tempfile::tempdir().unwrap();
    let p = example_config(dir.path());
    let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/sentiment/model.safetensors");
    if !model.exists() {
        eprintln!("skipping: models/sentiment is not trained yet");
        return;
    }
    hearsay()
        .arg("check-config")
        .arg("-c")
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"))
        .stdout(predicate::str::contains("source      hn (hackernews) every 10m"))
        .stdout(predicate::str::contains("s3cret").not());
}

#[test]
fn check_config_reports_every_problem_with_its_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        r#"
[storage]
database = "h.db"

[[brands]]
name = "Acme"
query = "acme"

[[brands]]
name = "Beta"
query = "(beta OR gamma"

[[sources]]
type = "reddit"
client_id = "abc"
client_secret_file = "/nonexistent/secret"

[[sources]]
type = "hackernews"
interval = "10 minutes"

[[sources]]
type = "myspace"

[alerts]
sensitivity = "paranoid"

[smtp]
host = "mail.example.com"
from = "not an address"
"#,
    )
    .unwrap();
    hearsay()
        .arg("check-config")
        .arg("-c")
        .arg(&p)
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("brands[1].query: unbalanced parenthesis")
                .or(predicate::str::contains("brands[1].query:")),
        )
        .stderr(predicate::str::contains("sources[0].client_secret_file: cannot read /nonexistent/secret"))
        .stderr(predicate::str::contains("sources[1]: interval:"))
        .stderr(predicate::str::contains("sources[2]:").and(predicate::str::contains("myspace")))
        .stderr(predicate::str::contains("alerts:").and(predicate::str::contains("paranoid")))
        .stderr(predicate::str::contains("smtp.from:"));
}

/// A `[[sources]]` entry that does not parse keeps the entries after it from moving up: the third one's problems
/// are still `sources[2]`'s.
#[test]
fn check_config_numbers_the_sources_after_a_broken_one_by_their_place_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        r#"
[storage]
database = "h.db"

[[brands]]
name = "Acme"
query = "acme"

[[sources]]
type = "hackernews"
name = "hn"

[[sources]]
type = "hackernews"
name = "broken"
interval = 600

[[sources]]
type = "hackernews"
name = "hn"
brands = ["Nope"]
"#,
    )
    .unwrap();
    hearsay()
        .arg("check-config")
        .arg("-c")
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sources[1]: interval: expected a string, found integer"))
        .stderr(predicate::str::contains("sources[2].name: duplicate source name \"hn\""))
        .stderr(predicate::str::contains("sources[2].brands: unknown brand \"Nope\""))
        .stderr(predicate::str::contains("sources[1].name").not())
        .stderr(predicate::str::contains("sources[1].brands").not())
        .stderr(predicate::str::contains("3 problem(s)"));
}

#[test]
fn a_missing_config_file_is_a_usage_error() {
    hearsay()
        .args(["check-config", "-c", "/nonexistent/hearsay.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read config file"));
}

/// The Google sources' settings are checked at load: the service account's key is read and must be one, package
/// names and ids must look like theirs; a Play source polled less than daily is loaded with a warning.
#[test]
fn google_sources_are_checked_at_load_and_a_slow_play_source_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_key = dir.path().join("user-key.json");
    std::fs::write(&not_a_key, r#"{"type": "authorized_user", "client_id": "x", "refresh_token": "SECRET-RT"}"#)
        .unwrap();
    let p = dir.path().join("bad.toml");
    let text = format!(
        "[storage]\ndatabase = \"h.db\"\n\n[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
         [[sources]]\ntype = \"googleplay\"\npackage_names = [\"Acme App\"]\nservice_account_key_file = \"{}\"\n\n\
         [[sources]]\ntype = \"google_business\"\naccount_id = \"accounts/1\"\nclient_id = \"c\"\nclient_secret = \"s\"\n",
        not_a_key.display()
    );
    std::fs::write(&p, text).unwrap();
    hearsay()
        .arg("check-config")
        .arg("-c")
        .arg(&p)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sources[0].package_names: package names look like \"com.acme.app\""))
        .stderr(predicate::str::contains(
            "sources[0].service_account_key: a \"authorized_user\" key, not a service account's",
        ))
        .stderr(predicate::str::contains("sources[1].account_id: required: the number in `accounts/{number}`"))
        .stderr(predicate::str::contains("sources[1].locations: list the locations by id and name"))
        .stderr(predicate::str::contains("sources[1].refresh_token: required"))
        .stderr(predicate::str::contains("SECRET-RT").not());

    let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/test-service-account.json");
    let text = format!(
        "[storage]\ndatabase = \"h.db\"\n\n[polling]\ninterval = \"2d\"\n\n[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
         [[sources]]\ntype = \"googleplay\"\npackage_names = [\"com.acme.app\"]\nservice_account_key_file = \"{key}\"\n\n\
         [[sources]]\ntype = \"googleplay\"\nname = \"daily\"\ninterval = \"1d\"\npackage_names = [\"com.acme.app\"]\n\
         service_account_key_file = \"{key}\"\n"
    );
    let c = hearsay::config::Config::parse(&text, &dir.path().join("ok.toml")).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<Vec<String>> = c.sources.iter().map(|s| s.warnings(c.polling.interval)).collect();
    assert_eq!(warnings[0].len(), 1, "{warnings:?}");
    assert!(warnings[0][0].starts_with("interval: 2d is longer than a day;") && warnings[0][0].contains("last week's"));
    assert!(warnings[1].is_empty(), "daily is enough: {warnings:?}");
}
