//! Where hearsay's log lines go and which ones are kept.
//!
//! Three destinations, picked once at start-up by [`init`]:
//! - **journald**, when systemd connected stderr to the journal (`JOURNAL_STREAM` names stderr's device and
//!   inode, as `systemd.exec(5)` documents): each event is sent over journald's native protocol with its priority
//!   (`journalctl -p warning` works) and its fields (`journalctl F_SOURCE=reddit`; span fields too, so a poll's
//!   lines carry its source and brand). If the journal's socket cannot be reached, lines go to stderr as below,
//!   and the first of them says so.
//! - **a terminal**: the human format with timestamps and colours (none when `NO_COLOR` is set).
//! - **anything else** (a pipe, a file): the same format without colour codes.
//!
//! `RUST_LOG` adds to the defaults rather than replacing them ([`filter`]).
//!
//! This module only sets up the subscriber: what is logged, and at which level, is decided where it happens.

use std::ffi::OsStr;
use std::fs::Metadata;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::filter::{Directive, EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// What is logged without `RUST_LOG`: hearsay's own lines from info up, dependencies' warnings and errors
/// (and less from those in [`QUIET`]).
const DEFAULT_FILTER: &str = "warn,hearsay=info";

/// Dependencies kept quieter than the rest, and how quiet: sqlx's slow-statement warnings are noise during
/// imports. A bare level in `RUST_LOG` never makes them louder; naming them (`sqlx=warn`) does.
const QUIET: &[(&str, LevelFilter)] = &[("sqlx", LevelFilter::ERROR)];

/// Sets up the global subscriber (see the module documentation). Call once, before anything logs.
pub fn init() {
    let (filter, ignored) = filter(std::env::var("RUST_LOG").ok().as_deref());
    let journal_stream = stderr_is_journal();
    let mut journald_error = None;
    let journald = if journal_stream {
        match tracing_journald::layer() {
            Ok(layer) => Some(layer.with_priority_mappings(priorities())),
            Err(e) => {
                journald_error = Some(e);
                None
            }
        }
    } else {
        None
    };
    let stderr = journald.is_none().then(|| {
        let ansi = colours(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(ansi);
        // The journal stamps each line of the stream itself.
        if journal_stream {
            layer.without_time().boxed()
        } else {
            layer.boxed()
        }
    });
    tracing_subscriber::registry().with(filter).with(journald).with(stderr).init();
    if let Some(e) = journald_error {
        tracing::warn!(
            socket = "/run/systemd/journal/socket",
            error = %e,
            "journald's socket cannot be reached: logging to stderr instead, every line at the same priority"
        );
    }
    for d in ignored {
        tracing::warn!(directive = %d, "RUST_LOG: directive not understood; ignored");
    }
}

/// The filter for `RUST_LOG`'s value, and the directives of it that were not understood.
///
/// `RUST_LOG` adds to [`DEFAULT_FILTER`] instead of replacing it, so that a unit's `RUST_LOG=debug` does not
/// bring back the noise the defaults keep out:
/// - a bare level (`debug`, `warn`, `off`) is the level of hearsay and of every dependency without a default of
///   its own; the quiet ones (sqlx) stay as quiet as their default unless the level is quieter still;
/// - a directive with a target (`sqlx=warn`, `hearsay::sources=debug`, `reqwest=trace`) replaces that target's
///   default, whatever its place in the list.
fn filter(rust_log: Option<&str>) -> (EnvFilter, Vec<String>) {
    let mut filter = EnvFilter::new(DEFAULT_FILTER);
    for &(target, quiet) in QUIET {
        filter = filter.add_directive(target_level(target, quiet));
    }
    let mut ignored = Vec::new();
    let (bare, targeted): (Vec<&str>, Vec<&str>) = rust_log
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .partition(|d| d.parse::<LevelFilter>().is_ok());
    for level in bare.iter().filter_map(|d| d.parse::<LevelFilter>().ok()) {
        filter = filter.add_directive(level.into()).add_directive(target_level("hearsay", level));
        for &(target, quiet) in QUIET {
            filter = filter.add_directive(target_level(target, level.min(quiet)));
        }
    }
    for d in targeted {
        match d.parse::<Directive>() {
            Ok(directive) => filter = filter.add_directive(directive),
            Err(e) => ignored.push(format!("{d} ({e})")),
        }
    }
    (filter, ignored)
}

fn target_level(target: &str, level: LevelFilter) -> Directive {
    format!("{target}={level}").parse().expect("a target and a level make a directive")
}

/// Journald priorities by level, as syslog means them: info is "normal operation, no action needed" (6), debug
/// and trace are both debugging (7). `journalctl -p warning` shows warnings and errors.
fn priorities() -> PriorityMappings {
    PriorityMappings {
        error: Priority::Error,
        warn: Priority::Warning,
        info: Priority::Informational,
        debug: Priority::Debug,
        trace: Priority::Debug,
    }
}

/// Whether stderr is the stream systemd connected to the journal. `JOURNAL_STREAM` alone is not enough: a
/// process started from a service with its stderr redirected (`hearsay … 2>file` in an `ExecStartPre=` script, a
/// shell in a unit) inherits the variable, so stderr must still be the stream it names.
fn stderr_is_journal() -> bool {
    let Some(stream) = std::env::var_os("JOURNAL_STREAM") else { return false };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else { return false };
    std::fs::File::from(fd).metadata().is_ok_and(|m| names_stream(&stream, &m))
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, both decimal) names the file `meta` describes.
fn names_stream(journal_stream: &OsStr, meta: &Metadata) -> bool {
    let Some((dev, ino)) = journal_stream.to_str().and_then(|s| s.split_once(':')) else { return false };
    dev.parse::<u64>().is_ok_and(|d| d == meta.dev()) && ino.parse::<u64>().is_ok_and(|i| i == meta.ino())
}

/// Colours only for a person at a terminal, and not when they set `NO_COLOR` to anything (<https://no-color.org>).
fn colours(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_must_name_stderr_itself() {
        let file = tempfile::tempfile().unwrap();
        let meta = file.metadata().unwrap();
        let other = tempfile::tempfile().unwrap().metadata().unwrap();
        let (dev, ino) = (meta.dev(), meta.ino());
        assert!(names_stream(OsStr::new(&format!("{dev}:{ino}")), &meta));
        for wrong in [
            format!("{dev}:{}", other.ino()),
            format!("{}:{ino}", dev + 1),
            format!("{dev}"),
            format!("{dev}:{ino}:0"),
            format!("{dev}:{ino} "),
            format!("0x{dev:x}:{ino}"),
            String::new(),
            ":".into(),
        ] {
            assert!(!names_stream(OsStr::new(&wrong), &meta), "{wrong:?}");
        }
    }

    #[test]
    fn colours_only_on_a_terminal_without_no_color() {
        let table: &[(bool, Option<&str>, bool)] = &[
            (true, None, true),
            (true, Some(""), true),
            (true, Some("1"), false),
            (true, Some("0"), false),
            (false, None, false),
            (false, Some("1"), false),
        ];
        for &(terminal, no_color, want) in table {
            assert_eq!(colours(terminal, no_color.map(OsStr::new)), want, "{terminal} {no_color:?}");
        }
    }

    #[test]
    fn priorities_follow_syslog() {
        let p = priorities();
        let got = [p.error, p.warn, p.info, p.debug, p.trace].map(|p| p as u8 - b'0');
        assert_eq!(got, [3, 4, 6, 7, 7]);
    }

    /// Records the message of every event that reaches it.
    #[derive(Clone, Default)]
    struct Messages(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S: tracing::Subscriber> Layer<S> for Messages {
        fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                    if field.name() == "message" {
                        self.0 = format!("{value:?}");
                    }
                }
            }
            let mut m = Message(String::new());
            event.record(&mut m);
            self.0.lock().unwrap().push(m.0);
        }
    }

    /// Which of a fixed set of events (hearsay's, a dependency's, sqlx's, at several levels) pass the filter
    /// built from `rust_log`, and the directives it ignored.
    fn kept(rust_log: Option<&str>) -> (Vec<String>, Vec<String>) {
        let (filter, ignored) = filter(rust_log);
        let messages = Messages::default();
        let subscriber = tracing_subscriber::registry().with(filter).with(messages.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "hearsay::sources::poll", "hearsay::sources trace");
            tracing::debug!(target: "hearsay::sources::poll", "hearsay::sources debug");
            tracing::debug!(target: "hearsay::store", "hearsay debug");
            tracing::info!(target: "hearsay::store", "hearsay info");
            tracing::warn!(target: "hearsay::store", "hearsay warn");
            tracing::debug!(target: "reqwest::connect", "dep debug");
            tracing::info!(target: "reqwest::connect", "dep info");
            tracing::warn!(target: "reqwest::connect", "dep warn");
            tracing::warn!(target: "sqlx::query", "sqlx warn");
            tracing::error!(target: "sqlx::query", "sqlx error");
        });
        let kept = messages.0.lock().unwrap().clone();
        (kept, ignored)
    }

    #[test]
    fn rust_log_adds_to_the_defaults() {
        let table: &[(Option<&str>, &[&str])] = &[
            (None, &["hearsay info", "hearsay warn", "dep warn", "sqlx error"]),
            // The unit's old `RUST_LOG=info`: dependencies' info lines, but sqlx's warnings stay out.
            (Some("info"), &["hearsay info", "hearsay warn", "dep info", "dep warn", "sqlx error"]),
            (
                Some("debug"),
                &[
                    "hearsay::sources debug",
                    "hearsay debug",
                    "hearsay info",
                    "hearsay warn",
                    "dep debug",
                    "dep info",
                    "dep warn",
                    "sqlx error",
                ],
            ),
            (Some("warn"), &["hearsay warn", "dep warn", "sqlx error"]),
            (Some("off"), &[]),
            (Some("sqlx=warn"), &["hearsay info", "hearsay warn", "dep warn", "sqlx warn", "sqlx error"]),
            // A target's directive wins over a bare level, wherever it stands.
            (
                Some("hearsay=debug, info"),
                &[
                    "hearsay::sources debug",
                    "hearsay debug",
                    "hearsay info",
                    "hearsay warn",
                    "dep info",
                    "dep warn",
                    "sqlx error",
                ],
            ),
            (
                Some("hearsay::sources=trace"),
                &[
                    "hearsay::sources trace",
                    "hearsay::sources debug",
                    "hearsay info",
                    "hearsay warn",
                    "dep warn",
                    "sqlx error",
                ],
            ),
            (Some(""), &["hearsay info", "hearsay warn", "dep warn", "sqlx error"]),
        ];
        for (rust_log, want) in table {
            let (got, ignored) = kept(*rust_log);
            assert!(ignored.is_empty(), "{rust_log:?}: {ignored:?}");
            assert_eq!(got, *want, "RUST_LOG={rust_log:?}");
        }
    }

    #[test]
    fn directives_not_understood_are_reported_and_the_rest_kept() {
        let (got, ignored) = kept(Some("hearsay=loud,sqlx=warn"));
        assert_eq!(ignored.len(), 1, "{ignored:?}");
        assert!(ignored[0].starts_with("hearsay=loud"), "{ignored:?}");
        assert_eq!(got, ["hearsay info", "hearsay warn", "dep warn", "sqlx warn", "sqlx error"]);
    }
}
