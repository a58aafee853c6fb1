//! The console's accounts (`hearsay users …`) and the audit log (`hearsay audit`), through the real binary and a
//! real database file.

use std::path::Path;

use predicates::prelude::*;

use super::{hearsay, seeded_db, sqlite};

const GOOD: &str = "correct horse battery staple";

fn users(db: &Path, args: &[&str], stdin: &str) -> assert_cmd::assert::Assert {
    hearsay().arg("--db").arg(db).arg("users").args(args).env("USER", "ana").write_stdin(stdin).assert()
}

async fn stored_hash(db: &Path, name: &str) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE name = ?1")
        .bind(name)
        .fetch_one(&sqlite(db).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn users_add_list_passwd_remove() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    users(&db, &["add", "maria", "--role", "editor", "--password-stdin"], &format!("{GOOD}\n"))
        .success()
        .stdout(predicate::str::contains("account maria added (editor)"));
    users(&db, &["add", "li", "--password-stdin"], "another long passphrase\n").success();

    let hash = stored_hash(&db, "maria").await;
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(hearsay::password::verify(GOOD, &hash));
    assert!(!hash.contains(GOOD));

    users(&db, &["list"], "")
        .success()
        .stdout(predicate::str::is_match(r"(?m)^li\s+viewer\s").unwrap())
        .stdout(predicate::str::is_match(r"(?m)^maria\s+editor\s").unwrap())
        .stdout(predicate::str::contains("$argon2").not());

    users(&db, &["passwd", "maria", "--password-stdin"], "a different passphrase\n").success();
    let changed = stored_hash(&db, "maria").await;
    assert_ne!(changed, hash);
    assert!(hearsay::password::verify("a different passphrase", &changed));
    assert!(!hearsay::password::verify(GOOD, &changed));

    users(&db, &["remove", "maria"], "").success();
    users(&db, &["list"], "").success().stdout(predicate::str::contains("maria").not());

    let audit = hearsay().arg("--db").arg(&db).args(["audit", "--format", "jsonl"]).output().unwrap();
    assert!(audit.status.success());
    let rows: Vec<serde_json::Value> =
        String::from_utf8(audit.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let seen: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap(),
                r["origin"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ana", "cli", "user_add", "maria"),
            ("ana", "cli", "user_add", "li"),
            ("ana", "cli", "user_passwd", "maria"),
            ("ana", "cli", "user_remove", "maria"),
        ]
    );
    assert!(rows.iter().all(|r| !r.to_string().contains("argon2")), "no hash in the audit log");
}

#[test]
fn refusals_are_usage_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    users(&db, &["add", "maria", "--password-stdin"], &format!("{GOOD}\n")).success();

    // The same name in another case is the same account.
    users(&db, &["add", "Maria", "--role", "editor", "--password-stdin"], &format!("{GOOD}\n"))
        .code(2)
        .stderr(predicate::str::contains("exists already"));
    users(&db, &["add", "bob", "--password-stdin"], "short pass\n")
        .code(2)
        .stderr(predicate::str::contains("too short: 10 characters; use at least 12"));
    users(&db, &["passwd", "maria", "--password-stdin"], "tiny\n")
        .code(2)
        .stderr(predicate::str::contains("at least 12"));
    users(&db, &["passwd", "nobody", "--password-stdin"], &format!("{GOOD}\n"))
        .code(2)
        .stderr(predicate::str::contains("no account named \"nobody\""));
    users(&db, &["remove", "nobody"], "").code(2);
    // No password from a pipe unless asked for, and never as an argument.
    users(&db, &["add", "carol"], &format!("{GOOD}\n")).code(2).stderr(predicate::str::contains("--password-stdin"));
    users(&db, &["add", "dave", "--password", GOOD], "").code(2);

    users(&db, &["list"], "")
        .success()
        .stdout(predicate::str::contains("maria"))
        .stdout(predicate::str::contains("bob").not())
        .stdout(predicate::str::contains("carol").not());
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["audit", "--since", "1h"])
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| s.lines().count() == 2)); // header + maria's user_add
}

#[test]
fn relabel_and_silences_are_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path());
    let run = |args: &[&str]| hearsay().arg("--db").arg(&db).args(args).env("USER", "ana").assert().success();
    run(&["relabel", "1", "positive"]);
    run(&["alerts", "silence", "--brand", "Acme", "--for", "2h", "--comment", "release day"]);
    run(&["alerts", "unsilence", "1"]);
    // A refused change leaves no row.
    hearsay().arg("--db").arg(&db).args(["relabel", "9999", "negative"]).assert().code(2);

    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["audit", "--since", "7d"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^\S+ \S+\s+ana\s+cli\s+relabel\s+1\s+\{.label.:.positive.\}$").unwrap())
        .stdout(predicate::str::is_match(r"(?m)ana\s+cli\s+silence\s+Acme\s+.*release day").unwrap())
        .stdout(predicate::str::is_match(r#"(?m)ana\s+cli\s+unsilence\s+Acme\s+\{"silence":1\}"#).unwrap())
        .stdout(predicate::function(|s: &str| s.lines().count() == 4));

    // Rows older than --since are left out.
    hearsay()
        .arg("--db")
        .arg(&db)
        .args(["audit", "--since", "2099-01-01"])
        .assert()
        .success()
        .stdout(predicate::function(|s: &str| s.lines().count() == 1));
}
