//! The brand query language: `Query::parse`, then matching the parsed query and the exclusion lists against text.
//!
//! Input: `query\ntitle\ntext` (lossy UTF-8). The query is parsed; when it parses it is matched against the title
//! and text, and the same lines are compiled as a brand's exclusion phrase, author, domain and language.
#![no_main]

use hearsay::query::{BrandMatcher, Candidate, MatchText, Query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let mut lines = input.splitn(3, '\n');
    let query = lines.next().unwrap_or_default();
    let title = lines.next().unwrap_or_default();
    let text = lines.next().unwrap_or_default();
    let Ok(q) = Query::parse(query) else { return };
    let _ = q.search_terms();
    let match_text = MatchText::new(Some(title), text);
    let _ = q.matches(&match_text);
    // The title line as each of a brand's other settings in turn: an exclusion phrase, author, domain, language.
    let other = [title.to_string()];
    let none: [String; 0] = [];
    for slot in 0..4 {
        let pick = |i: usize| if i == slot { &other[..] } else { &none[..] };
        let Ok(m) = BrandMatcher::new("brand", query, pick(0), pick(1), pick(2), pick(3)) else { continue };
        let cand = Candidate { text: &match_text, author: Some(title), url: Some(text), lang: Some(title) };
        let _ = m.matches(&cand);
        let _ = m.excluded(&cand);
    }
});
