//! Mutation tests of every parser that reads outside data: the platform parsers behind `hearsay sources parse`
//! (`sources::parse_payload`), the brand query language (`query::Query::parse` and matching), the config loader
//! (`config::Config::parse`) and `hearsay import`'s line parser (`cli::import::parse_line`).
//!
//! The stable, always-run half of issue 23's fuzzing (the other half is the cargo-fuzz crate in `fuzz/`, which
//! explores further but needs nightly and minutes). Each base input (every hand-written fixture under
//! `tests/fixtures`, `config/hearsay.toml`, and the small seeds below) is mutated by a seeded PRNG written here:
//! bit flips, byte inserts and deletes, truncation, chunk duplication (deep nesting), splices of two bases, JSON
//! and TOML values swapped for other types, huge numbers, invalid UTF-8 and very long strings. For every case:
//!
//! * no panic (each parse runs under `catch_unwind`; a failure names the seed, the mutations and a hex prefix of
//!   the input, and writes the whole input under `CARGO_TARGET_TMPDIR/fuzz-failures/` to reproduce it);
//! * the parse finishes within [`budget`], a time proportional to the input's size, so nothing is quadratic;
//! * separately, 100,000-deep JSON, XML, HTML, TOML and query nesting does not overflow a 2 MiB thread stack
//!   (the size of tokio's worker threads), and a sample of garbage bodies through the real binary, under an
//!   address-space limit (`prlimit --as`), exits 65 with one line on stderr.
//!
//! Everything is deterministic: `HEARSAY_FUZZ_SEED` changes the seed (default 23) and `HEARSAY_FUZZ_SCALE`
//! multiplies the number of cases (default 1: about 30,000 cases, 20 s of the dev profile on two cores).
//! Third-party payloads (`../shared`) are never used here: only hearsay's own hand-written inputs.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hearsay::cli::import::parse_line;
use hearsay::config::Config;
use hearsay::query::{BrandMatcher, Candidate, MatchText, Query};
use hearsay::sources::{parse_payload, HtmlSelectors, ParseContext, Platform};
use serde_json::Value;

// ---- the PRNG and the mutations ---------------------------------------------------------------------------

/// SplitMix64: tiny, fast, and good enough to pick mutations; the same seed gives the same cases everywhere.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// The seed of case `case` of base `base` of `target`: stable however many cases other bases run.
fn case_seed(root: u64, target: &str, base: usize, case: usize) -> u64 {
    let mut h = root ^ 0xCBF2_9CE4_8422_2325;
    for b in target.bytes().chain(base.to_le_bytes()).chain(case.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    h
}

/// Mutated inputs are cut here: bigger ones only make the run slower, not the search better.
const MAX_INPUT: usize = 1 << 20;

/// Bytes that mean something to one of the formats.
const INTERESTING: &[u8] = b"\0\xff\"'{}[]<>&;:,\\/\n\r\t =#*()-.0123456789eE+";

/// Sequences that are not UTF-8: stray continuation, overlong, surrogate, truncated 4-byte, out of range, BOMs.
const INVALID_UTF8: &[&[u8]] = &[
    b"\x80",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98",
    b"\xf4\x90\x80\x80",
    b"\xff\xfe",
    b"\xfe\xff\x00<",
    b"\xef\xbb\xbf",
    b"\xc3",
];

/// Numbers no parser should trust: past every integer type, past f64, negative zero, tiny, NaN spelt out.
const HUGE_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775807",
    "340282366920938463463374607431768211456",
    "1.7976931348623157e308",
    "-0",
    "1e-400",
    "0.000000000000000000000000000001",
    "99999999999999999999999999999999999999999999999999",
    "-1",
    "0",
];

/// A very long run of one of these is inserted by [`Mutation::LongString`].
const LONG_RUNS: &[(&str, usize)] = &[
    ("a", 100_000),
    ("é", 50_000),
    ("\u{200B}", 30_000),
    (" ", 100_000),
    ("\\u0000", 10_000),
    ("&amp;", 20_000),
    ("<", 50_000),
    ("😀", 25_000),
    ("a b ", 25_000),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    BitFlip,
    InsertByte,
    DeleteBytes,
    Truncate,
    DuplicateChunk,
    Splice,
    InvalidUtf8,
    LongString,
    HugeNumber,
    /// A JSON value replaced by another type, a huge number, a long string or deep nesting (JSON bases only).
    JsonType,
    /// The same for TOML values (config bases only).
    TomlType,
}

impl Mutation {
    const ALL: [Mutation; 11] = [
        Mutation::BitFlip,
        Mutation::InsertByte,
        Mutation::DeleteBytes,
        Mutation::Truncate,
        Mutation::DuplicateChunk,
        Mutation::Splice,
        Mutation::InvalidUtf8,
        Mutation::LongString,
        Mutation::HugeNumber,
        Mutation::JsonType,
        Mutation::TomlType,
    ];
}

/// What a base input is, for the mutations that understand structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Json,
    Toml,
    Other,
}

fn shape_of(input: &[u8]) -> Shape {
    match input.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') if serde_json::from_slice::<Value>(input).is_ok() => Shape::Json,
        _ => Shape::Other,
    }
}

/// Applies one mutation chosen by `rng`; `other` is a second base for splicing. Returns what it did.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], shape: Shape, takes_bytes: bool) -> Mutation {
    let structured = match shape {
        Shape::Json => Some(Mutation::JsonType),
        Shape::Toml => Some(Mutation::TomlType),
        Shape::Other => None,
    };
    loop {
        // Half the mutations of a JSON or TOML base swap a value: the input stays well-formed and reaches the code
        // behind the syntax (type tolerance, validation), which byte-level mutations rarely get past.
        let m = match structured {
            Some(m) if rng.one_in(2) => m,
            _ => *rng.pick(&Mutation::ALL),
        };
        let applies = match m {
            Mutation::JsonType => shape == Shape::Json,
            Mutation::TomlType => shape == Shape::Toml,
            // APIs that take `&str` only ever see UTF-8; the lossy conversion would make this a plain insert.
            Mutation::InvalidUtf8 => takes_bytes,
            _ => true,
        };
        if applies && apply(rng, m, input, other) {
            input.truncate(MAX_INPUT);
            return m;
        }
    }
}

/// Applies `m`; false when it cannot apply to this input (then another is drawn).
fn apply(rng: &mut Rng, m: Mutation, input: &mut Vec<u8>, other: &[u8]) -> bool {
    let len = input.len();
    match m {
        Mutation::BitFlip => {
            if len == 0 {
                return false;
            }
            for _ in 0..=rng.below(8) {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
        }
        Mutation::InsertByte => {
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len() + 1);
                let b = if rng.one_in(2) { *rng.pick(INTERESTING) } else { rng.next() as u8 };
                input.insert(at, b);
            }
        }
        Mutation::DeleteBytes => {
            if len == 0 {
                return false;
            }
            let at = rng.below(len);
            let n = (1 + rng.below(16)).min(len - at);
            input.drain(at..at + n);
        }
        Mutation::Truncate => {
            if len == 0 {
                return false;
            }
            input.truncate(rng.below(len));
        }
        Mutation::DuplicateChunk => {
            if len == 0 {
                return false;
            }
            // Starting at an opening bracket or tag makes the copies nest; anywhere else they repeat.
            let openers: Vec<usize> = (0..len).filter(|&i| matches!(input[i], b'{' | b'[' | b'<' | b'(')).collect();
            let at = if !openers.is_empty() && rng.one_in(2) { *rng.pick(&openers) } else { rng.below(len) };
            let n = (1 + rng.below(64)).min(len - at);
            let times = *rng.pick(&[2, 10, 100, 1_000, 5_000, 20_000]);
            let chunk = input[at..at + n].to_vec();
            let copies = chunk.repeat(times.min(MAX_INPUT / n));
            input.splice(at..at, copies);
        }
        Mutation::Splice => {
            let a = rng.below(len + 1);
            let b = rng.below(other.len() + 1);
            input.truncate(a);
            input.extend_from_slice(&other[b..]);
        }
        Mutation::InvalidUtf8 => {
            let at = rng.below(len + 1);
            let bad = *rng.pick(INVALID_UTF8);
            if rng.one_in(2) && at + bad.len() <= len {
                input[at..at + bad.len()].copy_from_slice(bad);
            } else {
                input.splice(at..at, bad.iter().copied());
            }
        }
        Mutation::LongString => {
            // After a quote or a `>` the run lands inside a string or an element's text, where lengths matter.
            let spots: Vec<usize> =
                (0..len).filter(|&i| matches!(input[i], b'"' | b'>' | b'=')).map(|i| i + 1).collect();
            let at = if !spots.is_empty() && !rng.one_in(4) { *rng.pick(&spots) } else { rng.below(len + 1) };
            let (run, times) = *rng.pick(LONG_RUNS);
            input.splice(at..at, run.repeat(times).into_bytes());
        }
        Mutation::HugeNumber => {
            let digits: Vec<usize> =
                (0..len).filter(|&i| input[i].is_ascii_digit() && (i == 0 || !input[i - 1].is_ascii_digit())).collect();
            if digits.is_empty() {
                return false;
            }
            let start = *rng.pick(&digits);
            let end = (start..len).find(|&i| !matches!(input[i], b'0'..=b'9' | b'.' | b'e' | b'E')).unwrap_or(len);
            input.splice(start..end, rng.pick(HUGE_NUMBERS).bytes());
        }
        Mutation::JsonType => return swap_json_value(rng, input),
        Mutation::TomlType => return swap_toml_value(rng, input),
    }
    true
}

/// Stands for raw text that a `Value` cannot hold (`1e400`); swapped in after serialising.
const RAW: &str = "@@hearsay-fuzz-raw@@";

fn swap_json_value(rng: &mut Rng, input: &mut Vec<u8>) -> bool {
    let Ok(mut root) = serde_json::from_slice::<Value>(input) else { return false };
    let count = node_count(&root);
    let Some(node) = nth_node(&mut root, rng.below(count)) else { return false };
    let mut raw = None;
    *node = match rng.below(12) {
        0 => Value::Null,
        1 => match node {
            Value::String(s) => s.trim().parse::<i64>().map_or(Value::from(42), Value::from),
            Value::Number(n) => Value::String(n.to_string()),
            _ => Value::String("x".into()),
        },
        2 => match node.take() {
            Value::Object(o) => Value::Array(o.into_iter().map(|(_, v)| v).collect()),
            Value::Array(a) => Value::Object(a.into_iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect()),
            other => Value::Array(vec![other]),
        },
        3 => Value::Bool(rng.one_in(2)),
        4 => Value::Object(serde_json::Map::new()),
        5 => Value::Array(Vec::new()),
        6 => Value::String(String::new()),
        7 => {
            raw = Some(rng.pick(HUGE_NUMBERS).to_string());
            Value::String(RAW.into())
        }
        8 => Value::String(rng.pick(HUGE_NUMBERS).to_string()),
        9 => {
            let (run, times) = *rng.pick(LONG_RUNS);
            Value::String(run.repeat(times))
        }
        10 => {
            // Under serde_json's limit of 128 (the document still parses), or over it (the whole document fails).
            let depth = *rng.pick(&[100, 126, 200]);
            raw = Some(format!("{}1{}", "[".repeat(depth), "]".repeat(depth)));
            Value::String(RAW.into())
        }
        _ => Value::String("\u{0}\u{FFFD}\u{202E}<script>&amp;".into()),
    };
    let Ok(text) = serde_json::to_string(&root) else { return false };
    let text = match raw {
        Some(raw) => text.replacen(&format!("\"{RAW}\""), &raw, 1),
        None => text,
    };
    *input = text.into_bytes();
    true
}

fn node_count(root: &Value) -> usize {
    let (mut stack, mut n) = (vec![root], 0);
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Array(a) => stack.extend(a),
            Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    n
}

/// The `k`th node of a depth-first walk (no recursion: a mutated document may be deep).
fn nth_node(root: &mut Value, k: usize) -> Option<&mut Value> {
    let (mut stack, mut i) = (vec![root], 0);
    while let Some(v) = stack.pop() {
        if i == k {
            return Some(v);
        }
        i += 1;
        match v {
            Value::Array(a) => stack.extend(a.iter_mut()),
            Value::Object(o) => stack.extend(o.values_mut()),
            _ => {}
        }
    }
    None
}

fn swap_toml_value(rng: &mut Rng, input: &mut Vec<u8>) -> bool {
    use toml::Value as T;
    let Ok(text) = std::str::from_utf8(input) else { return false };
    let Ok(mut root) = text.parse::<toml::Table>() else { return false };
    // Leaves and containers under the root table, collected as paths so that one can be replaced.
    let mut paths: Vec<Vec<String>> = Vec::new();
    let mut stack: Vec<(Vec<String>, &T)> = root.iter().map(|(k, v)| (vec![k.clone()], v)).collect();
    while let Some((path, v)) = stack.pop() {
        match v {
            T::Table(t) => stack.extend(t.iter().map(|(k, v)| ([path.clone(), vec![k.clone()]].concat(), v))),
            T::Array(a) => {
                stack.extend(a.iter().enumerate().map(|(i, v)| ([path.clone(), vec![i.to_string()]].concat(), v)))
            }
            _ => {}
        }
        paths.push(path);
    }
    if paths.is_empty() {
        return false;
    }
    let path = rng.pick(&paths).clone();
    let mut slot: Option<&mut T> = None;
    for (depth, key) in path.iter().enumerate() {
        slot = match (depth, slot) {
            (0, _) => root.get_mut(key),
            (_, Some(T::Table(t))) => t.get_mut(key),
            (_, Some(T::Array(a))) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        };
    }
    let Some(node) = slot else { return false };
    let mut raw = None;
    *node = match rng.below(10) {
        0 => T::Integer(i64::MAX),
        1 => T::Integer(-1),
        2 => T::Float(f64::NAN),
        3 => T::Float(f64::INFINITY),
        4 => T::Boolean(true),
        5 => T::Array(vec![T::String("x".into()), T::Integer(0)]),
        6 => T::Table(toml::Table::new()),
        7 => match node {
            T::String(s) => T::Integer(s.len() as i64),
            T::Integer(i) => T::String(i.to_string()),
            _ => T::String(String::new()),
        },
        8 => {
            let (run, times) = *rng.pick(LONG_RUNS);
            T::String(run.repeat(times))
        }
        _ => {
            raw = Some(rng.pick(&[
                "99999999999999999999",
                "1979-05-27T07:32:00Z",
                "07:32:00",
                "1e400",
                "0x7fffffffffffffff",
            ]));
            T::String(RAW.into())
        }
    };
    let Ok(text) = toml::to_string(&root) else { return false };
    let text = match raw {
        Some(raw) => text.replacen(&format!("\"{RAW}\""), raw, 1),
        None => text,
    };
    *input = text.into_bytes();
    true
}

// ---- running cases ----------------------------------------------------------------------------------------

/// How long one parse may take: 50 ms plus 20 µs a byte. Generous for the dev profile on a loaded machine (a
/// slow run is also tried again before it fails), yet a parser that is quadratic on a large mutation is caught.
/// Measured on 2 busy cores: most cases use under 20% of it; the slowest, 20–40%, are 1 MiB bodies of repeated
/// chunks through html5ever (`<pubDate>…</pub<title>` × 17,000 nests that deep, see fuzz/README.md).
fn budget(len: usize) -> Duration {
    Duration::from_millis(50) + Duration::from_micros(20) * u32::try_from(len).unwrap_or(u32::MAX)
}

fn root_seed() -> u64 {
    std::env::var("HEARSAY_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(23)
}

fn scale(cases: usize) -> usize {
    let factor: f64 = std::env::var("HEARSAY_FUZZ_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1.0);
    ((cases as f64 * factor).round() as usize).max(1)
}

/// One base input of a target.
struct Base {
    name: String,
    bytes: Vec<u8>,
    shape: Shape,
}

/// A target's running tally: cases run, the slowest against its budget, and the failures.
struct Run {
    target: &'static str,
    cases: usize,
    errors: usize,
    worst: (f64, String),
    failures: Vec<String>,
    started: Instant,
}

impl Run {
    fn new(target: &'static str) -> Self {
        Run { target, cases: 0, errors: 0, worst: (0.0, String::new()), failures: Vec::new(), started: Instant::now() }
    }

    /// Runs `parse` on `input` (it returns whether the input was refused): records a panic or an overrun.
    fn case(&mut self, what: &str, input: &[u8], parse: &dyn Fn(&[u8]) -> bool) {
        self.cases += 1;
        let limit = budget(input.len());
        let mut times = Vec::new();
        // A case over its budget runs again before it fails: on a loaded machine one slow run proves little, while
        // a parser that is really quadratic is slow every time.
        for _ in 0..2 {
            let start = Instant::now();
            match catch_unwind(AssertUnwindSafe(|| parse(input))) {
                Ok(refused) => self.errors += usize::from(refused && times.is_empty()),
                Err(payload) => {
                    let msg = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    self.fail(what, input, &format!("panicked: {msg}"));
                    return;
                }
            }
            let took = start.elapsed();
            let ratio = took.as_secs_f64() / limit.as_secs_f64();
            if ratio > self.worst.0 {
                self.worst = (ratio, format!("{what}, {} bytes, {took:?}", input.len()));
            }
            times.push(took);
            if took <= limit {
                return;
            }
        }
        self.fail(what, input, &format!("took {times:?} for {} bytes, over the budget of {limit:?}", input.len()));
    }

    fn fail(&mut self, what: &str, input: &[u8], why: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        let file = dir.join(format!("{}-{}.bin", self.target, self.failures.len()));
        let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, input));
        let saved = match saved {
            Ok(()) => format!("input saved to {}", file.display()),
            Err(e) => format!("input not saved: {e}"),
        };
        self.failures.push(format!("{}: {what}: {why}\n  input starts {}\n  {saved}", self.target, hex_prefix(input)));
    }

    fn finish(self) {
        eprintln!(
            "{}: {} cases in {:.1?} ({} refused as bad input), slowest {:.1}% of its budget ({})",
            self.target,
            self.cases,
            self.started.elapsed(),
            self.errors,
            self.worst.0 * 100.0,
            self.worst.1
        );
        assert!(self.failures.is_empty(), "{} failing case(s):\n{}", self.failures.len(), self.failures.join("\n"));
    }
}

/// The first 48 bytes in hex, then the same as escaped text, for the failure message.
fn hex_prefix(input: &[u8]) -> String {
    let head = &input[..input.len().min(48)];
    let mut hex = String::new();
    for b in head {
        let _ = write!(hex, "{b:02x}");
    }
    format!("{hex} ({:?}…)", String::from_utf8_lossy(head))
}

/// Runs every base through `cases` random mutation cases (1–3 mutations each) and a truncation sweep (about 64
/// cuts, evenly spaced), calling `parse(base index, rng, input)`.
fn mutate_all(
    run: &mut Run,
    bases: &[Base],
    cases: usize,
    takes_bytes: bool,
    parse: &dyn Fn(usize, &mut Rng, &[u8]) -> bool,
) {
    let root = root_seed();
    for (bi, base) in bases.iter().enumerate() {
        let step = (base.bytes.len() / 64).max(1);
        for cut in (0..base.bytes.len()).step_by(step) {
            let input = &base.bytes[..cut];
            let pick = case_seed(root, run.target, bi, usize::MAX - cut);
            let what = format!("{} truncated at byte {cut}", base.name);
            run.case(&what, input, &|b: &[u8]| parse(bi, &mut Rng::new(pick), b));
        }
        for c in 0..cases {
            let seed = case_seed(root, run.target, bi, c);
            let mut rng = Rng::new(seed);
            let mut input = base.bytes.clone();
            let other = &bases[rng.below(bases.len())].bytes;
            let mut done = Vec::new();
            for _ in 0..1 + usize::from(rng.one_in(3)) + usize::from(rng.one_in(6)) {
                done.push(mutate(&mut rng, &mut input, other, base.shape, takes_bytes));
            }
            let what = format!("{} case {c} (HEARSAY_FUZZ_SEED={root}, case seed {seed:#x}, {done:?})", base.name);
            let pick = rng.next();
            run.case(&what, &input, &|b: &[u8]| parse(bi, &mut Rng::new(pick), b));
        }
    }
}

fn fixtures() -> Vec<(PathBuf, Option<Platform>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).expect("tests/fixtures").map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs {
        // Directories are named after their platform; `hostile` holds bodies meant for any of them.
        let platform = dir.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<Platform>().ok());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        out.extend(files.into_iter().map(|f| (f, platform)));
    }
    out
}

/// The selectors of `tests/fixtures/html/forum.html`, so that the `html` base yields items.
fn forum_selectors() -> HtmlSelectors {
    HtmlSelectors {
        item: "div.post".into(),
        text: ".body".into(),
        title: Some("h3.t".into()),
        author: Some(".who".into()),
        date: Some("time".into()),
        link: Some("a.perma".into()),
        id: None,
    }
}

const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("text/html; charset=windows-1252"),
    Some("application/json; charset=utf-16le"),
    Some("text/xml; charset=shift_jis"),
];

// ---- the four targets -------------------------------------------------------------------------------------

#[test]
fn platform_parsers_survive_mutated_fixtures() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 20, "tests/fixtures has {} files", fixtures.len());
    let bases: Vec<Base> = fixtures
        .iter()
        .map(|(path, _)| {
            let bytes = std::fs::read(path).unwrap();
            let name = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display().to_string();
            Base { name, shape: shape_of(&bytes), bytes }
        })
        .collect();
    let ctx = ParseContext {
        base_url: Some("https://forum.example/latest/".into()),
        country: Some("gb".into()),
        html: Some(forum_selectors()),
        fetched_at: None,
    };
    let mut run = Run::new("parse_payload");
    mutate_all(&mut run, &bases, scale(500), true, &|bi, rng, body| {
        // Mostly the fixture's own platform; one case in eight goes to another (formats overlap), and one in
        // eight declares a charset, so decoding runs on mutated bytes too.
        let platform = match fixtures[bi].1 {
            Some(p) if !rng.one_in(8) => p,
            _ => *rng.pick(&Platform::ALL),
        };
        let content_type = if rng.one_in(8) { *rng.pick(&CONTENT_TYPES) } else { None };
        parse_payload(platform, body, content_type, &ctx).is_err()
    });
    run.finish();
}

/// Query seeds: `query\ntitle\ntext`, as the cargo-fuzz target reads them.
const QUERY_SEEDS: &[&str] = &[
    "acme\nAcme's new rocket\nis slow, #acme @acme ACME!",
    "(\"acme corp\" OR acme OR \"acme cloud\") NOT (\"acme anvil\" OR wile)\nacme cloud down\nagain, says acme support",
    "(acme OR acmecorp) NEAR/3 (outage OR down)\nstatus\nthe acmecorp api had an outage today",
    "colo*r AND \"crème brulee\"\nmenu\ncolour of the crème brûlée",
    "nestle OR أرامكو OR 手机 OR Straße OR \"ＡＣＭＥ rockets\"\nوأرامكو\n我的新手机 STRASSE Nestlé",
    "\"AND\" OR near NEAR/0 and\nx\nand near AND",
    "a AND NOT b NOT c OR (d NEAR/1000 \"e f*\")\nd e\nfg h d",
];

/// Parses a query seed's first line; when it parses, matches it against the other two and compiles the title
/// line as each of a brand's other settings in turn. True when the query was refused.
fn query_case(input: &[u8]) -> bool {
    let input = String::from_utf8_lossy(input);
    let mut lines = input.splitn(3, '\n');
    let (query, title, text) =
        (lines.next().unwrap_or_default(), lines.next().unwrap_or_default(), lines.next().unwrap_or_default());
    let Ok(q) = Query::parse(query) else { return true };
    let _ = q.search_terms();
    let match_text = MatchText::new(Some(title), text);
    let _ = q.matches(&match_text);
    let other = [title.to_string()];
    let none: [String; 0] = [];
    for slot in 0..4 {
        let pick = |i: usize| if i == slot { &other[..] } else { &none[..] };
        let Ok(m) = BrandMatcher::new("brand", query, pick(0), pick(1), pick(2), pick(3)) else { continue };
        let cand = Candidate { text: &match_text, author: Some(title), url: Some(text), lang: Some(title) };
        let _ = m.matches(&cand);
        let _ = m.excluded(&cand);
    }
    false
}

#[test]
fn query_parser_survives_mutated_queries() {
    let bases: Vec<Base> = QUERY_SEEDS
        .iter()
        .enumerate()
        .map(|(i, s)| Base { name: format!("query seed {i}"), bytes: s.as_bytes().to_vec(), shape: Shape::Other })
        .collect();
    let mut run = Run::new("query");
    mutate_all(&mut run, &bases, scale(800), false, &|_, _, input| query_case(input));
    run.finish();
}

/// Small configs written for this test; `config/hearsay.toml` (every key) is the big base.
const CONFIG_SEEDS: &[&str] = &[
    "[[brands]]\nname = \"Acme\"\nquery = \"acme\"\n\n[[sources]]\ntype = \"hackernews\"\n",
    r#"[storage]
database = "h.db"
[polling]
interval = "15m"
max_pages = 3
[[brands]]
name = "Acme"
query = '"acme rockets" OR acme* NOT wile'
exclude_domains = ["acme.example"]
languages = ["en", "pt-BR"]
[[sources]]
type = "html"
name = "forum"
url = "https://forum.example/latest"
html = { item = "div.post", text = ".body", date = "time" }
[[sources]]
type = "feed"
urls = ["https://news.example/rss"]
[alerts]
window = "1h"
min_ratio = 2.5
quiet_hours = "22:00-07:00"
recipients = ["pr@example.com"]
[smtp]
host = "smtp.example.com"
from = "hearsay <hearsay@example.com>"
username = "u"
password = "p"
"#,
];

fn config_path() -> &'static Path {
    // A directory that does not exist: relative `*_file` secrets resolve to nothing, and nothing is written.
    Path::new("/nonexistent/hearsay-fuzz/hearsay.toml")
}

#[test]
fn config_loader_survives_mutated_configs() {
    let full = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hearsay.toml")).unwrap();
    let mut bases = vec![Base { name: "config/hearsay.toml".into(), bytes: full, shape: Shape::Toml }];
    bases.extend(CONFIG_SEEDS.iter().enumerate().map(|(i, s)| Base {
        name: format!("config seed {i}"),
        bytes: s.as_bytes().to_vec(),
        shape: Shape::Toml,
    }));
    for b in &bases {
        let text = std::str::from_utf8(&b.bytes).unwrap();
        assert!(text.parse::<toml::Table>().is_ok(), "{} is not TOML", b.name);
    }
    let mut run = Run::new("config");
    mutate_all(&mut run, &bases, scale(1500), false, &|_, _, input| {
        Config::parse(&String::from_utf8_lossy(input), config_path()).is_err()
    });
    run.finish();
}

/// Import lines written for this test: the record format's every field, its least, and another language.
const IMPORT_SEEDS: &[&str] = &[
    r#"{"platform":"hackernews","external_id":"1","created_at":"2024-05-01T10:00:00Z","text":"acme is slow","brand":"acme"}"#,
    r#"{"platform":"reddit","external_id":"t3_x","created_at":"2024-05-01T10:00:00Z","title":"Acme rockets","text":"the widgets are broken and slow","author":"bob","url":"https://reddit.com/r/x","kind":"comment","lang":"en","rating":3,"metrics":{"score":5,"replies":-2},"parent_id":"t3_y","sentiment":"negative"}"#,
    r#"{"platform":"appstore","external_id":"gb:1","created_at":"2024-05-01T10:00:00Z","text":"Das Widget ist kaputt und langsam, wirklich","kind":"review","rating":1}"#,
];

fn brand_matchers() -> Vec<BrandMatcher> {
    let langs = ["en".to_string(), "de".to_string()];
    vec![
        BrandMatcher::new("acme", "acme OR \"acme rockets\" NOT recall*", &[], &[], &[], &[]).unwrap(),
        BrandMatcher::new("widget", "widget* NEAR/3 (slow OR broken OR kaputt)", &[], &[], &[], &langs).unwrap(),
    ]
}

#[test]
fn import_line_parser_survives_mutated_lines() {
    let bases: Vec<Base> = IMPORT_SEEDS
        .iter()
        .enumerate()
        .map(|(i, s)| Base { name: format!("import seed {i}"), bytes: s.as_bytes().to_vec(), shape: Shape::Json })
        .collect();
    for b in &bases {
        assert!(parse_line(std::str::from_utf8(&b.bytes).unwrap(), &brand_matchers()).is_ok(), "{}", b.name);
    }
    let matchers = brand_matchers();
    let mut run = Run::new("import");
    mutate_all(&mut run, &bases, scale(3000), false, &|_, rng, input| {
        let line = String::from_utf8_lossy(input);
        let brands: &[BrandMatcher] = if rng.one_in(4) { &[] } else { &matchers };
        parse_line(&line, brands).is_err()
    });
    run.finish();
}

// ---- deep nesting -----------------------------------------------------------------------------------------

/// Runs `f` on a thread with a 2 MiB stack, the size of tokio's workers (the poller parses on those): a stack
/// overflow aborts the test binary, naming the thread.
fn on_small_stack(name: &str, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("{name} panicked"));
}

const DEEP: usize = 100_000;

#[test]
fn nesting_100k_deep_overflows_no_stack() {
    on_small_stack("deep payloads", || {
        let bodies = [
            ("json arrays", format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP))),
            ("json objects", format!("{}1{}", "{\"a\":".repeat(DEEP), "}".repeat(DEEP))),
            ("json unclosed", format!("{{\"data\":{}", "[{\"a\":".repeat(DEEP))),
            ("xml", format!("<rss><channel>{}{}</channel></rss>", "<a>".repeat(DEEP), "</a>".repeat(DEEP))),
            ("xml unclosed", format!("<feed>{}", "<entry><b>".repeat(DEEP))),
            ("html", format!("<html><body>{}x{}</body></html>", "<div>".repeat(DEEP), "</div>".repeat(DEEP))),
            ("html unclosed", format!("<html><body>{}", "<article><span>".repeat(DEEP))),
            (
                "next_data",
                format!(
                    "<script id=\"__NEXT_DATA__\" type=\"application/json\">{}{}</script>",
                    "[".repeat(DEEP),
                    "]".repeat(DEEP)
                ),
            ),
            ("json-ld", format!("<script type=\"application/ld+json\">{}</script>", "{\"@graph\":[".repeat(DEEP))),
        ];
        let ctx = ParseContext { html: Some(forum_selectors()), ..ParseContext::default() };
        for (what, body) in &bodies {
            for p in Platform::ALL {
                let start = Instant::now();
                let _ = parse_payload(p, body.as_bytes(), None, &ctx);
                assert!(start.elapsed() < budget(body.len()), "{p} on {what}: {:?}", start.elapsed());
            }
        }
    });
    on_small_stack("deep queries", || {
        let queries = [
            format!("{}acme{}", "(".repeat(DEEP), ")".repeat(DEEP)),
            "a NOT ".repeat(DEEP) + "b",
            "a OR ".repeat(DEEP) + "b",
            "a AND ".repeat(DEEP) + "b",
            "a ".repeat(DEEP) + "b",
            "a NEAR/1 ".repeat(DEEP) + "b",
            "\"a ".repeat(DEEP),
        ];
        let text = MatchText::new(Some("a b"), &"a b ".repeat(1000));
        for q in &queries {
            let start = Instant::now();
            if let Ok(parsed) = Query::parse(q) {
                let _ = parsed.matches(&text);
                let _ = parsed.search_terms();
            }
            assert!(start.elapsed() < budget(q.len()), "{}…: {:?}", &q[..20], start.elapsed());
        }
    });
    on_small_stack("deep configs", || {
        let configs = [
            format!("a = {}1{}", "[".repeat(DEEP), "]".repeat(DEEP)),
            format!("a = {}1{}", "{b = ".repeat(DEEP), "}".repeat(DEEP)),
            format!("{} = 1", vec!["a"; DEEP].join(".")),
            format!("[{}]", vec!["a"; DEEP].join(".")),
            format!("[[brands]]\nname = \"x\"\nquery = \"{}x{}\"", "(".repeat(DEEP), ")".repeat(DEEP)),
            format!("[storage]\ndatabase = {}", "[".repeat(DEEP)),
        ];
        for c in &configs {
            let start = Instant::now();
            let _ = Config::parse(c, config_path());
            assert!(start.elapsed() < budget(c.len()), "{}…: {:?}", &c[..20], start.elapsed());
        }
    });
    on_small_stack("deep import lines", || {
        let matchers = brand_matchers();
        let lines = [
            format!("{}{}", "[".repeat(DEEP), "]".repeat(DEEP)),
            format!(
                "{{\"platform\":\"x\",\"external_id\":\"1\",\"created_at\":\"2024-05-01T10:00:00Z\",\"metrics\":{}}}",
                "{\"a\":".repeat(DEEP)
            ),
        ];
        for l in &lines {
            assert!(parse_line(l, &matchers).is_err());
        }
    });
}

// ---- the real binary --------------------------------------------------------------------------------------

/// The address space `hearsay sources parse` gets: it needs about 10 MB for a fixture, so a parser that
/// allocates without bound on a small garbage body hits this and the process aborts.
const AS_LIMIT: u64 = 512 << 20;

fn prlimit_available() -> bool {
    std::process::Command::new("prlimit").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn garbage_through_the_binary_exits_65_with_one_line_under_a_memory_limit() {
    let bin = env!("CARGO_BIN_EXE_hearsay");
    let limited = prlimit_available();
    if !limited {
        eprintln!("prlimit (util-linux) not found: running without an address-space limit");
    }
    // What `hearsay sources parse` passes without --base-url, --country, --item and --text.
    let cli_ctx = ParseContext {
        html: Some(HtmlSelectors { item: "article".into(), text: "p".into(), ..HtmlSelectors::default() }),
        ..ParseContext::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixtures();
    let mut rng = Rng::new(case_seed(root_seed(), "cli", 0, 0));
    let mut ran = 0;
    for (i, p) in Platform::ALL.into_iter().enumerate() {
        // Per platform: random bytes, a mutated fixture, and a mutated JSON body (refused by the HTML parsers).
        let random: Vec<u8> = (0..1 + rng.below(4096)).map(|_| rng.next() as u8).collect();
        let mut mutated = std::fs::read(&rng.pick(&fixtures).0).unwrap();
        let other = std::fs::read(&rng.pick(&fixtures).0).unwrap();
        for _ in 0..3 {
            let shape = shape_of(&mutated);
            mutate(&mut rng, &mut mutated, &other, shape, true);
        }
        let mut json = br#"{"data":{"children":[{"kind":"t3","data":{"name":"t3_x"}}]}}"#.to_vec();
        json.truncate(1 + rng.below(json.len() - 1));
        let bad = *rng.pick(INVALID_UTF8);
        json.extend_from_slice(bad);
        for (j, body) in [random, mutated, json].into_iter().enumerate() {
            if parse_payload(p, &body, None, &cli_ctx).is_ok() {
                continue; // Not garbage to this parser (an empty page, say): exit 0 is right.
            }
            let file = dir.path().join(format!("{i}-{j}.bin"));
            std::fs::write(&file, &body).unwrap();
            let mut cmd = if limited {
                let mut c = std::process::Command::new("prlimit");
                c.arg(format!("--as={AS_LIMIT}")).arg(bin);
                c
            } else {
                std::process::Command::new(bin)
            };
            cmd.args(["sources", "parse", "--platform", p.as_str()]).arg(&file);
            let out = assert_cmd::Command::from_std(cmd).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let context = format!("{p} on {} ({} bytes, starts {})", file.display(), body.len(), hex_prefix(&body));
            assert_eq!(out.status.code(), Some(65), "{context}: {out:?}");
            assert!(out.stdout.is_empty(), "{context}: printed {:?}", String::from_utf8_lossy(&out.stdout));
            assert!(
                stderr.starts_with("hearsay: ") && stderr.ends_with('\n') && stderr.lines().count() == 1,
                "{context}: stderr is not one line: {stderr:?}"
            );
            ran += 1;
        }
    }
    eprintln!(
        "sources parse: {ran} garbage bodies exited 65 with one line{}",
        if limited { " under prlimit --as" } else { "" }
    );
    assert!(ran >= 20, "only {ran} garbage bodies were refused in-process");
}
