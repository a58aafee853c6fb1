//! The config loader: `hearsay::config::Config::parse` on arbitrary TOML (lossy UTF-8, as `Config::load` refuses
//! anything else before parsing).
//!
//! The file is said to live in a directory that does not exist, so relative `*_file` secrets resolve to nothing.
//! An absolute `*_file` the fuzzer spells out is read, as `hearsay check-config` would read it.
#![no_main]

use std::path::Path;

use hearsay::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = Config::parse(&text, Path::new("/nonexistent/hearsay-fuzz/hearsay.toml"));
});
