//! Where log lines go and what they carry: no colour codes into a pipe, journald's native protocol (priorities,
//! fields) under systemd with a clear fallback to stderr when its socket is missing, and each concurrent poll's
//! lines under its own source's span.
//!
//! The journald tests run `hearsay` in a user and mount namespace (`unshare -Urm`) whose `/run` is a directory
//! of the test's, so `/run/systemd/journal/socket` is a datagram socket the test reads; stderr is a file whose
//! device:inode is in `JOURNAL_STREAM`, as systemd does it. Where unprivileged namespaces are not allowed they say
//! so and pass (the detection itself is unit-tested in `src/logging.rs`).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearsay::config::Config;
use hearsay::sources::poll::Poller;
use hearsay::store::{Access, Store};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::hearsay;

/// A config whose one source points at a port nothing listens on (every poll fails at once with a warning)
/// and whose model directory does not exist (an error line at start-up).
fn failing_config(dir: &Path) -> PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = dir.join("hearsay.toml");
    std::fs::write(
        &p,
        format!(
            "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[model]\ndir = \"{0}/no-model\"\n\n\
             [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n\
             [[sources]]\ntype = \"hackernews\"\nname = \"down\"\nbase_url = \"http://127.0.0.1:{port}\"\n",
            dir.display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn logs_into_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = failing_config(dir.path());
    let out = hearsay().args(["poll", "--once", "-c"]).arg(&cfg).env_remove("NO_COLOR").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("poll failed") && err.contains("WARN"), "the warning is logged: {err}");
    assert!(err.contains("source=down"), "with the source it is about, under RUST_LOG=warn too: {err}");
    assert!(!err.contains('\x1b'), "no escape codes when stderr is a pipe: {err:?}");
}

/// `hearsay ARGS` as systemd would start it with `StandardError=journal`, `/run` being `run_dir`. Returns what
/// reached stderr, or None (after saying why) where this system allows no unprivileged namespaces.
fn under_systemd(dir: &Path, run_dir: &Path, args: &[&OsStr]) -> Option<String> {
    let probe = Command::new("unshare").args(["-Urm", "true"]).stderr(Stdio::null()).status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("skipped: `unshare -Urm` is not allowed here, so /run/systemd/journal cannot be replaced");
        return None;
    }
    let stderr_path = dir.join("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let status = Command::new("unshare")
        .args(["-Urm", "sh", "-c", "mount --bind \"$1\" /run && shift && exec \"$@\"", "sh"])
        .arg(run_dir)
        .arg(assert_cmd::cargo::cargo_bin("hearsay"))
        .args(args)
        .env_remove("HEARSAY_CONFIG")
        .env("RUST_LOG", "warn")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(stderr)
        .status()
        .unwrap();
    let err = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "{status:?}: {err}");
    Some(err)
}

/// The fields of one datagram of journald's native protocol: `NAME=value` lines, or `NAME`, a little-endian
/// 64-bit length and that many bytes.
fn journal_fields(mut d: &[u8]) -> BTreeMap<String, String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut fields = BTreeMap::new();
    while !d.is_empty() {
        let nl = d.iter().position(|&b| b == b'\n').expect("a field name ends with a newline");
        if let Some(eq) = d[..nl].iter().position(|&b| b == b'=') {
            fields.insert(text(&d[..eq]), text(&d[eq + 1..nl]));
            d = &d[nl + 1..];
        } else {
            let len = u64::from_le_bytes(d[nl + 1..nl + 9].try_into().unwrap()) as usize;
            fields.insert(text(&d[..nl]), text(&d[nl + 9..nl + 9 + len]));
            d = &d[nl + 9 + len + 1..];
        }
    }
    fields
}

#[test]
fn under_systemd_logs_go_to_journald_with_priorities_and_fields() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = failing_config(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("systemd/journal")).unwrap();
    let journal = UnixDatagram::bind(run.join("systemd/journal/socket")).unwrap();
    let Some(err) = under_systemd(dir.path(), &run, &["poll".as_ref(), "--once".as_ref(), "-c".as_ref(), cfg.as_ref()])
    else {
        return;
    };
    journal.set_nonblocking(true).unwrap();
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 256 * 1024];
    while let Ok(n) = journal.recv(&mut buf) {
        if n > 0 {
            entries.push(journal_fields(&buf[..n]));
        }
    }
    let find = |message: &str| {
        entries
            .iter()
            .find(|e| e.get("MESSAGE").is_some_and(|m| m.starts_with(message)))
            .unwrap_or_else(|| panic!("no entry {message:?} in {entries:#?}; stderr: {err}"))
    };
    let field = |e: &'_ BTreeMap<String, String>, name: &str| -> String {
        e.get(name).cloned().unwrap_or_else(|| panic!("no {name} in {e:#?}"))
    };
    let failed = find("poll failed");
    assert_eq!(field(failed, "PRIORITY"), "4", "a warning");
    assert_eq!(field(failed, "SYSLOG_IDENTIFIER"), "hearsay");
    assert_eq!(field(failed, "SPAN_NAME"), "poll");
    assert_eq!((field(failed, "F_SOURCE"), field(failed, "F_BRAND")), ("down".into(), "Acme".into()));
    assert!(field(failed, "F_ERROR").contains("connection failed"), "{failed:#?}");
    assert_eq!(field(failed, "F_CLASS"), "transient");
    let no_model = find("no sentiment model");
    assert_eq!(field(no_model, "PRIORITY"), "3", "an error");
    assert!(!err.contains("poll failed"), "lines go to the journal, not also to stderr: {err}");
}

#[test]
fn under_systemd_without_journald_logs_go_to_stderr_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = failing_config(dir.path());
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let Some(err) = under_systemd(dir.path(), &run, &["poll".as_ref(), "--once".as_ref(), "-c".as_ref(), cfg.as_ref()])
    else {
        return;
    };
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("journald") && first.contains("stderr"), "the first line says where logs go: {err}");
    assert!(err.contains("poll failed"), "{err}");
    assert!(!err.contains('\x1b'), "no escape codes: {err:?}");
    assert!(
        err.lines().all(|l| !l.starts_with(|c: char| c.is_ascii_digit())),
        "no timestamps of our own (the journal adds them): {err}"
    );
}

/// Records each of hearsay's events with its fields and the `source` of the span it was logged in.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Logged>>>);

#[derive(Debug)]
struct Logged {
    span_source: Option<String>,
    fields: BTreeMap<String, String>,
}

struct SpanSource(String);

#[derive(Default)]
struct Fields(BTreeMap<String, String>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut f = Fields::default();
        attrs.record(&mut f);
        if let Some(source) = f.0.remove("source") {
            ctx.span(id).expect("new span").extensions_mut().insert(SpanSource(source));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !event.metadata().target().starts_with("hearsay") {
            return;
        }
        let span_source = ctx
            .event_scope(event)
            .and_then(|scope| scope.from_root().find_map(|s| s.extensions().get::<SpanSource>().map(|x| x.0.clone())));
        let mut f = Fields::default();
        event.record(&mut f);
        self.0.lock().unwrap().push(Logged { span_source, fields: f.0 });
    }
}

#[tokio::test]
async fn concurrent_polls_log_under_their_own_source() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let dir = tempfile::tempdir().unwrap();
    // Fast, slow, fast: whichever order the polls start in, a fast one finishes while another is in flight.
    let mut servers = Vec::new();
    let mut sources = String::new();
    for (name, delay_ms) in [("fast", 50), ("slow", 600), ("quick", 150)] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(500).set_delay(Duration::from_millis(delay_ms)))
            .mount(&server)
            .await;
        sources +=
            &format!("[[sources]]\ntype = \"hackernews\"\nname = \"{name}\"\nbase_url = \"{}\"\n\n", server.uri());
        servers.push((name, server));
    }
    let text = format!(
        "[storage]\ndatabase = \"{0}/h.db\"\noutbox_dir = \"{0}/outbox\"\n\n[polling]\nper_host_concurrency = 8\n\n\
         [[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n{sources}",
        dir.path().display()
    );
    let cfg = Config::parse(&text, &dir.path().join("hearsay.toml")).unwrap_or_else(|e| panic!("test config: {e}"));
    let store = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let outcomes = Poller::new(&cfg).unwrap().poll_due(&store, &rx, None, true).await;
    assert_eq!(outcomes.iter().filter(|o| o.error.is_some()).count(), 3, "{outcomes:?}");

    let logged = capture.0.lock().unwrap();
    for (name, server) in &servers {
        let lines: Vec<&Logged> =
            logged.iter().filter(|l| l.fields.values().any(|v| v.contains(&server.uri()))).collect();
        assert!(!lines.is_empty(), "{name} logged nothing naming its server: {logged:#?}");
        for l in lines {
            assert_eq!(l.span_source.as_deref(), Some(*name), "a line of {name}'s poll under another span: {l:?}");
        }
    }
}
