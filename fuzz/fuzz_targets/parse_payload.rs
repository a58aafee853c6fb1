//! Every platform parser behind `hearsay sources parse`, through `hearsay::sources::parse_payload`.
//!
//! The first byte chooses the platform (`byte % 13`, in `Platform::ALL` order) and the Content-Type the body is
//! decoded with (`byte / 13 % 4`), so one target covers every parser and the charset decoding in front of them;
//! the rest is the body. `seed-corpus.sh` writes each fixture with its platform's byte in front.
#![no_main]

use hearsay::sources::{parse_payload, HtmlSelectors, ParseContext, Platform};
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("text/html; charset=windows-1252"),
    Some("application/json; charset=utf-16le"),
    Some("text/xml; charset=shift_jis"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let platforms = Platform::ALL.len();
    let platform = Platform::ALL[usize::from(pick) % platforms];
    let content_type = CONTENT_TYPES[usize::from(pick) / platforms % CONTENT_TYPES.len()];
    // The selectors of tests/fixtures/html/forum.html, so the `html` seed finds items to read.
    let ctx = ParseContext {
        base_url: Some("https://forum.example/latest/".into()),
        country: Some("gb".into()),
        html: Some(HtmlSelectors {
            item: "div.post".into(),
            text: ".body".into(),
            title: Some("h3.t".into()),
            author: Some(".who".into()),
            date: Some("time".into()),
            link: Some("a.perma".into()),
            id: None,
        }),
        fetched_at: None,
    };
    let _ = parse_payload(platform, body, content_type, &ctx);
});
