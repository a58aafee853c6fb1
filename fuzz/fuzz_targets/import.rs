//! `hearsay import`'s line parser, `hearsay::cli::import::parse_line`, with and without brands to match.
//!
//! Input: one JSON line (lossy UTF-8, as the importer reads lines as text). It is parsed once against no brands
//! (a line must name its own) and once against two compiled brand queries (language detection and matching run).
#![no_main]

use std::sync::OnceLock;

use hearsay::cli::import::parse_line;
use hearsay::query::BrandMatcher;
use libfuzzer_sys::fuzz_target;

fn matchers() -> &'static [BrandMatcher] {
    static MATCHERS: OnceLock<Vec<BrandMatcher>> = OnceLock::new();
    MATCHERS.get_or_init(|| {
        let langs = ["en".to_string(), "de".to_string()];
        vec![
            BrandMatcher::new("acme", "acme OR \"acme rockets\" NOT recall*", &[], &[], &[], &[]).expect("acme"),
            BrandMatcher::new("widget", "widget* NEAR/3 (slow OR broken)", &[], &[], &[], &langs).expect("widget"),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let _ = parse_line(&line, &[]);
    let _ = parse_line(&line, matchers());
});
