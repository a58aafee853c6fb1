//! The `hearsay` binary: parse arguments, set up logging, hand over to [`hearsay::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = hearsay::cli::Cli::parse();
    hearsay::logging::init();
    hearsay::cli::main(cli)
}
