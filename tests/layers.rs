//! The shape of the code, checked: `src/` modules form layers that point one way, and SQL lives in `src/store/`.
//!
//! Reads every `crate::…` path in `src/` (imports and inline paths alike) and every string literal that starts
//! like SQL. ARCHITECTURE.md draws the same layers; a change that needs an upward arrow moves code instead.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, top layer first. A module may use only the modules after it.
const LAYERS: &[&str] = &[
    "cli",       // the command line: parses arguments, prints, maps failures to exit codes
    "demo",      // `hearsay demo`: the pipeline on a built-in scenario
    "console",   // the web console: pages over the store, served by the daemon's [http] (handed to it from above)
    "daemon",    // the long-running service: schedules polls, classification, alerts, the HTTP server
    "exit",      // failures and exit codes, opening the store for a command
    "report",    // the static HTML report
    "backtest",  // replays a history through the detector and the alert lifecycle
    "alert",     // alert lifecycle, emails, digests, outbox
    "sources",   // polling platforms and parsing their payloads
    "config",    // the configuration file
    "store",     // SQLite: every query
    "sentiment", // the classifiers and the language router
    "detect",    // spike statistics
    "text",      // text cleaning (HTML, entities, whitespace)
    "query",     // the brand query language and matching
    "lang",      // language identification
    "mention",   // the mention record and its platform
    "link",      // which URLs may become links
    "duration",  // human durations
    "password",  // argon2id hashing and checking of the console's passwords
    "secret",    // secrets from files and the environment
    "logging",   // where log lines go (journald or stderr): set up once by `main`, uses nothing of the crate
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`src/alert/email.rs` → `alert`), or `None` for the crate
/// roots, which may use anything.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.trim_end_matches(".rs").to_string();
    (first != "lib" && first != "main").then_some(first)
}

/// The file without comments (`//` to the end of the line), so that doc links and prose do not count as uses;
/// lines keep their numbers.
fn code(text: &str) -> String {
    text.lines().map(|line| line.find("//").map_or(line, |at| &line[..at])).collect::<Vec<_>>().join("\n")
}

/// The top-level modules a `crate::` path at `at` names, with the line it is on: one for `crate::store::Store`,
/// each group member's for `crate::{store::Store, text}`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let ident =
        |s: &str| -> String { s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with('$') {
            continue; // `$crate::` in a macro
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.push((line, ident(&group[start..i])));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push((line, ident(&group[start..i])));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((line, ident(rest)));
        }
    }
    out.retain(|(_, m)| !m.is_empty());
    out
}

fn sources() -> (PathBuf, Vec<PathBuf>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    (src, files)
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let (src, files) = sources();
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else { continue };
        seen.insert(from.clone());
        let Some(from_rank) = rank(&from) else {
            wrong.insert(format!("{}: module `{from}` has no place in LAYERS", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line_no, to) in crate_paths(&code(&text)) {
            if to == from {
                continue;
            }
            match rank(&to) {
                Some(r) if r > from_rank => {}
                Some(_) => {
                    wrong.insert(format!("{}:{line_no}: `{from}` uses `{to}`, a layer above it", file.display()));
                }
                None => {
                    wrong.insert(format!("{}:{line_no}: `{to}` has no place in LAYERS", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.into_iter().collect::<Vec<_>>().join("\n"));
    // Every layer named exists, so the table cannot silently go stale.
    let missing: Vec<_> = LAYERS.iter().filter(|l| !seen.contains(**l)).collect();
    assert!(missing.is_empty(), "LAYERS names modules that src/ does not have: {missing:?}");
}

#[test]
fn sql_lives_in_the_store() {
    let (src, files) = sources();
    const SQL_STARTS: &[&str] = &["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "CREATE ", "PRAGMA ", "WITH ", "BEGIN"];
    let mut wrong = Vec::new();
    for file in &files {
        if module_of(&src, file).as_deref() == Some("store") {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (line_no, line) in code(&text).lines().enumerate().map(|(i, l)| (i + 1, l)) {
            // Outside string literals: a log target named "sqlx::query" is not a query.
            let outside: String = line.split('"').step_by(2).collect();
            let sqlx = ["sqlx::query", "sqlx::Row", ".pool()", "SqlitePool", "sqlx::Sqlite"]
                .iter()
                .find(|p| outside.contains(**p));
            let literal = line.split('"').skip(1).step_by(2).find(|lit| {
                let lit = lit.trim_start();
                SQL_STARTS.iter().any(|s| lit.starts_with(s))
            });
            if let Some(what) = sqlx.map(|s| s.to_string()).or(literal.map(|l| format!("\"{l}\""))) {
                wrong.push(format!("{}:{line_no}: {what}", file.display()));
            }
        }
    }
    assert!(wrong.is_empty(), "SQL outside src/store/:\n{}", wrong.join("\n"));
}

#[test]
fn crate_paths_are_read_in_every_form() {
    let code = "use crate::store::Store;\nlet x = crate::text::clean(y);\nuse crate::{cli::Failure, query::{Query, Term},\n  lang};\nmacro_rules! m { () => { $crate::mention::X } }";
    let got: Vec<(usize, String)> = crate_paths(code);
    let want: Vec<(usize, String)> =
        [(1, "store"), (2, "text"), (3, "cli"), (3, "query"), (3, "lang")].map(|(l, m)| (l, m.to_string())).to_vec();
    assert_eq!(got, want);
}
