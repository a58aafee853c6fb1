//! The `hearsay` binary: parse arguments, set up logging, hand over to [`hearsay::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hearsay::cli::Cli::parse();
    init_logging();
    hearsay::cli::main(cli)
}

/// Human-readable logs on a terminal; under systemd (journald on stderr) no timestamps, since the journal adds
/// its own. `RUST_LOG` filters as usual (default: info for hearsay, warn for the rest, errors only for sqlx, whose slow-statement warnings are noise during imports).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,hearsay=info,sqlx=error"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    if hearsay::daemon::systemd::logging_to_journal() {
        builder.without_time().with_ansi(false).init();
    } else {
        builder.init();
    }
}
