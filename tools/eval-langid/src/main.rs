//! Language identification on short texts: the candidates hearsay chose between, and hearsay's own
//! `lang::detect` (src/lang.rs, compiled in here as it is), on the shared sentiment data sets.
//!
//! ```text
//! cargo run --release --manifest-path tools/eval-langid/Cargo.toml -- \
//!     [--data ../shared/data] [--per-group 1000] [--offset 0] [--only NAME] [--errors]
//! cargo build --release --manifest-path tools/eval-langid/Cargo.toml --features lingua-all   # lingua, 75 languages
//! ls -l tools/eval-langid/target/release/size-*   # binary size of each detector against size-base
//! ```
//!
//! `--only` keeps the candidates whose name contains NAME (`--only hearsay`); `--errors` prints every miss.
//! The tables are Markdown. Speed is measured on one thread after a warm-up, over all texts.
//!
//! Texts are read from `<data>/sentiment-multilingual/train.tsv` (lang, label, source, text),
//! `<data>/sentiment/val.tsv` (English tweets), `<data>/sentiment/reviews_train.tsv` (English reviews) and
//! `handwritten.tsv` beside this file (Japanese, and a few German, Spanish and French reviews, written for this
//! evaluation). Nothing is copied out of the data folder. The first `--per-group` rows of each (language, source)
//! are used (after the first `--offset`, for a second, unseen sample); the files are shuffled already.
//!
//! The issue's goal is the mean accuracy over languages on tweets (ar de en es fr hi it pt) and on reviews
//! (de en es fr ja zh); "und" counts as wrong here.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

// Not in a test build of this tool: src/lang.rs's own tests need the rest of hearsay and run there.
#[cfg(all(feature = "hearsay", not(test)))]
#[allow(dead_code)]
#[path = "../../../src/lang.rs"]
mod lang;

/// Stand-ins for hearsay's `mention::Platform` and `mention::NewMention`: what `lang::resolve` names and the
/// fields `lang::of_mention` reads.
#[cfg(all(feature = "hearsay", not(test)))]
#[allow(dead_code)]
mod mention {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Platform {
        Mastodon,
        Bluesky,
        Reddit,
    }

    impl std::str::FromStr for Platform {
        type Err = ();
        fn from_str(s: &str) -> Result<Self, ()> {
            match s {
                "mastodon" => Ok(Platform::Mastodon),
                "bluesky" => Ok(Platform::Bluesky),
                "reddit" => Ok(Platform::Reddit),
                _ => Err(()),
            }
        }
    }

    pub struct NewMention {
        pub platform: String,
        pub lang: Option<String>,
        pub title: Option<String>,
        pub text: String,
    }
}

/// The languages hearsay cares about (issue 22) plus a few that are cheap to add.
const WANTED: [&str; 18] =
    ["ar", "de", "en", "es", "fr", "hi", "id", "it", "ja", "ko", "ms", "nl", "pl", "pt", "ru", "sv", "tr", "zh"];

struct Sample {
    lang: String,
    /// "tweet" or "review" (the goal's two groups), "other" for neither.
    kind: &'static str,
    group: String,
    text: String,
}

type Detect = Box<dyn Fn(&str) -> Option<(String, f64)>>;

fn whatlang_code(l: whatlang::Lang) -> String {
    use whatlang::Lang::*;
    match l {
        Cmn => "zh".into(),
        Pes => "fa".into(),
        Nob => "nb".into(),
        other => {
            let c = other.code();
            // ISO 639-3 → 639-1 for the languages that matter here; others keep their 3 letters.
            let two = match c {
                "eng" => "en",
                "deu" => "de",
                "fra" => "fr",
                "spa" => "es",
                "ita" => "it",
                "por" => "pt",
                "nld" => "nl",
                "ara" => "ar",
                "hin" => "hi",
                "jpn" => "ja",
                "ind" => "id",
                "kor" => "ko",
                "rus" => "ru",
                "tur" => "tr",
                "pol" => "pl",
                "swe" => "sv",
                "urd" => "ur",
                "mar" => "mr",
                "nep" => "ne",
                "cat" => "ca",
                "ron" => "ro",
                "dan" => "da",
                "jav" => "jv",
                "tgl" => "tl",
                "lat" => "la",
                "epo" => "eo",
                "ukr" => "uk",
                _ => c,
            };
            two.into()
        }
    }
}

fn whatlang_from(code: &str) -> Option<whatlang::Lang> {
    use whatlang::Lang::*;
    Some(match code {
        "ar" => Ara,
        "de" => Deu,
        "en" => Eng,
        "es" => Spa,
        "fr" => Fra,
        "hi" => Hin,
        "id" => Ind,
        "it" => Ita,
        "ja" => Jpn,
        "ko" => Kor,
        "nl" => Nld,
        "pl" => Pol,
        "pt" => Por,
        "ru" => Rus,
        "sv" => Swe,
        "tr" => Tur,
        "zh" => Cmn,
        _ => return None,
    })
}

fn lingua_detector(all: bool, low: bool) -> lingua::LanguageDetector {
    use lingua::{IsoCode639_1, LanguageDetectorBuilder};
    use std::str::FromStr;
    let mut b = if all {
        LanguageDetectorBuilder::from_all_languages()
    } else {
        let codes: Vec<IsoCode639_1> = WANTED.iter().map(|c| IsoCode639_1::from_str(c).unwrap()).collect();
        LanguageDetectorBuilder::from_iso_codes_639_1(&codes)
    };
    b.with_preloaded_language_models();
    if low {
        b.with_low_accuracy_mode();
    }
    b.build()
}

fn lingua_candidate(all: bool, low: bool) -> Detect {
    let d = lingua_detector(all, low);
    Box::new(move |t| {
        let v = d.compute_language_confidence_values(t);
        let (l, c) = v.first()?;
        (*c > 0.0).then(|| (l.iso_code_639_1().to_string(), *c))
    })
}

fn candidates() -> Vec<(&'static str, Detect)> {
    let mut v: Vec<(&'static str, Detect)> = Vec::new();
    v.push(("whatlang (69 languages)", {
        let d = whatlang::Detector::new();
        Box::new(move |t| d.detect(t).map(|i| (whatlang_code(i.lang()), i.confidence())))
    }));
    v.push(("whatlang (17 wanted)", {
        let d = whatlang::Detector::with_allowlist(WANTED.iter().filter_map(|c| whatlang_from(c)).collect());
        Box::new(move |t| d.detect(t).map(|i| (whatlang_code(i.lang()), i.confidence())))
    }));
    v.push(("whichlang (16)", {
        Box::new(|t| {
            let c = whichlang::detect_language(t).three_letter_code();
            let two = match c {
                "cmn" => "zh".to_string(),
                other => whatlang_code(whatlang::Lang::from_code(other)?),
            };
            Some((two, 1.0))
        })
    }));
    v.push(("lingua low (18 wanted)", lingua_candidate(false, true)));
    v.push(("lingua high (18 wanted)", lingua_candidate(false, false)));
    if cfg!(feature = "lingua-all") {
        v.push(("lingua low (75)", lingua_candidate(true, true)));
        v.push(("lingua high (75)", lingua_candidate(true, false)));
    }
    #[cfg(all(feature = "hearsay", not(test)))]
    v.push((
        "hearsay lang::detect",
        Box::new(|t| {
            let (code, conf) = lang::detect(t);
            Some((code, f64::from(conf)))
        }),
    ));
    v
}

fn kind_of(source: &str) -> &'static str {
    match source {
        "xlm-t" | "astd" | "germeval2017-dev" | "semeval-val" => "tweet",
        s if s.starts_with("sophonplus") || s.ends_with("reviews") || s.starts_with("handwritten") => "review",
        _ => "other",
    }
}

fn load(data: &std::path::Path, offset: usize, per_group: usize) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut push = |lang: &str, source: &str, text: &str| {
        let group = format!("{lang} {source}");
        let n = counts.entry(group.clone()).or_default();
        *n += 1;
        // The hand-written texts are few: always all of them.
        if !source.starts_with("handwritten") && (*n <= offset || *n > offset + per_group) {
            return;
        }
        out.push(Sample { lang: lang.into(), kind: kind_of(source), group, text: text.into() });
    };
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    for line in read(data.join("sentiment-multilingual/train.tsv")).lines().skip(1) {
        let f: Vec<&str> = line.splitn(4, '\t').collect();
        if let [lang, _, source, text] = f[..] {
            push(lang, source, text);
        }
    }
    for line in read(data.join("sentiment/val.tsv")).lines().skip(1) {
        if let Some((_, text)) = line.split_once('\t') {
            push("en", "semeval-val", text);
        }
    }
    for line in read(data.join("sentiment/reviews_train.tsv")).lines().skip(1) {
        if let Some((_, text)) = line.split_once('\t') {
            push("en", "en-reviews", text);
        }
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("handwritten.tsv");
    for line in read(here).lines().skip(1) {
        let f: Vec<&str> = line.splitn(3, '\t').collect();
        if let [lang, kind, text] = f[..] {
            push(lang, &format!("handwritten-{kind}"), text);
        }
    }
    out
}

/// Letters in the text once URLs, @handles and hashtags are gone: what the length buckets count.
fn letters(t: &str) -> usize {
    t.split_whitespace()
        .filter(|w| !(w.starts_with('@') || w.starts_with('#') || w.starts_with("http") || w.starts_with("www.")))
        .flat_map(str::chars)
        .filter(|c| c.is_alphabetic())
        .count()
}

fn bucket(n: usize) -> &'static str {
    match n {
        0..=3 => "00-03",
        4..=5 => "04-05",
        6..=7 => "06-07",
        8..=9 => "08-09",
        10..=14 => "10-14",
        15..=19 => "15-19",
        20..=39 => "20-39",
        40..=79 => "40-79",
        _ => "80+",
    }
}

fn main() {
    let mut data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    let mut per_group = 1000usize;
    let mut offset = 0usize;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().expect("--data DIR").into(),
            "--per-group" => per_group = args.next().expect("--per-group N").parse().expect("a number"),
            "--only" => only = args.next(),
            "--offset" => offset = args.next().expect("--offset N").parse().expect("a number"),
            "--errors" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let show_errors = std::env::args().any(|a| a == "--errors");
    let samples = load(&data, offset, per_group);
    eprintln!("{} texts", samples.len());

    let groups: Vec<String> = {
        let mut g: Vec<String> = samples.iter().map(|s| s.group.clone()).collect();
        g.dedup();
        g.sort();
        g.dedup();
        g
    };
    type Row<'a> = (String, BTreeMap<String, f64>, f64, BTreeMap<(&'a str, &'a str), (usize, usize)>, f64);
    let mut table: Vec<Row> = Vec::new();
    for (name, det) in candidates() {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        // Warm up (lazy models, caches) before timing.
        for s in samples.iter().take(200) {
            let _ = det(&s.text);
        }
        let start = Instant::now();
        let got: Vec<Option<(String, f64)>> = samples.iter().map(|s| det(&s.text)).collect();
        let secs = start.elapsed().as_secs_f64();
        let mut per_group: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut by_len: BTreeMap<(&str, &str), (usize, usize)> = BTreeMap::new();
        for (s, g) in samples.iter().zip(&got) {
            let ok = g.as_ref().is_some_and(|(l, _)| *l == s.lang);
            let e = per_group.entry(s.group.clone()).or_default();
            e.0 += ok as usize;
            e.1 += 1;
            let b = by_len.entry((s.kind, bucket(letters(&s.text)))).or_default();
            b.0 += ok as usize;
            b.1 += 1;
            if show_errors && !ok {
                println!("{name}\t{}\t{:?}\t{}", s.group, g, s.text);
            }
        }
        // How well the confidence reads: accuracy of the answers (not "und") per confidence band, on the groups
        // whose labels are reliable (the Hindi tweets are half English, the Malay texts partly Indonesian).
        if name.starts_with("hearsay") {
            let bands = [0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01];
            println!("\n{name}: accuracy by confidence (\"und\", hi and ms left out)\n\n| confidence | n | accuracy |\n|---|---:|---:|");
            for w in bands.windows(2) {
                let (mut ok, mut n) = (0, 0);
                for (s, g) in samples.iter().zip(&got) {
                    if let Some((l, c)) = g {
                        if l != "und"
                            && *c >= w[0]
                            && *c < w[1]
                            && !s.group.starts_with("ms")
                            && !s.group.starts_with("hi")
                        {
                            n += 1;
                            ok += (*l == s.lang) as usize;
                        }
                    }
                }
                println!("| {:.1}–{:.1} | {n} | {:.3} |", w[0], w[1].min(1.0), ok as f64 / n.max(1) as f64);
            }
            println!();
        }
        let acc = per_group.into_iter().map(|(k, (ok, n))| (k, ok as f64 / n as f64)).collect();
        let tweets = samples.iter().filter(|s| s.kind == "tweet").count();
        let und = samples
            .iter()
            .zip(&got)
            .filter(|(s, g)| s.kind == "tweet" && g.as_ref().is_none_or(|(l, _)| l == "und"))
            .count();
        table.push((name.to_string(), acc, samples.len() as f64 / secs, by_len, und as f64 / tweets as f64));
    }

    println!("| group | n | {} |", table.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(" | "));
    println!("|---|---:|{}", "---:|".repeat(table.len()));
    for g in &groups {
        let n = samples.iter().filter(|s| &s.group == g).count();
        let cells: Vec<String> = table.iter().map(|t| format!("{:.3}", t.1[g])).collect();
        println!("| {g} | {n} | {} |", cells.join(" | "));
    }
    // The goal's means: per language, the mean over that language's groups of the kind.
    let goal = |kind: &str, langs: &[&str], acc: &BTreeMap<String, f64>| -> f64 {
        let per_lang: Vec<f64> = langs
            .iter()
            .filter_map(|l| {
                let v: Vec<f64> = groups
                    .iter()
                    .filter(|g| g.split(' ').next() == Some(l) && kind_of(g.split(' ').nth(1).unwrap()) == kind)
                    .map(|g| acc[g])
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect();
        per_lang.iter().sum::<f64>() / per_lang.len() as f64
    };
    const TWEETS: [&str; 8] = ["ar", "de", "en", "es", "fr", "hi", "it", "pt"];
    const REVIEWS: [&str; 6] = ["de", "en", "es", "fr", "ja", "zh"];
    for (label, f) in [
        (
            "**mean, tweets (ar de en es fr hi it pt)**",
            &(|a: &BTreeMap<String, f64>| goal("tweet", &TWEETS, a)) as &dyn Fn(&_) -> f64,
        ),
        ("**mean, reviews (de en es fr ja zh)**", &|a| goal("review", &REVIEWS, a)),
        ("**mean, tweets without hi**", &|a| goal("tweet", &["ar", "de", "en", "es", "fr", "it", "pt"], a)),
    ] {
        let cells: Vec<String> = table.iter().map(|t| format!("**{:.3}**", f(&t.1))).collect();
        println!("| {label} | | {} |", cells.join(" | "));
    }
    let cells: Vec<String> = table.iter().map(|t| format!("{:.3}", t.4)).collect();
    println!("| share of tweets \"und\" | | {} |", cells.join(" | "));
    let cells: Vec<String> = table.iter().map(|t| format!("{:.0}", t.2)).collect();
    println!("| texts/s (one thread) | | {} |", cells.join(" | "));

    println!("\nAccuracy by letters in the text (URLs, @handles, hashtags left out):\n");
    println!("| kind | letters | {} |", table.iter().map(|t| t.0.as_str()).collect::<Vec<_>>().join(" | "));
    println!("|---|---|{}", "---:|".repeat(table.len()));
    let keys: Vec<(&str, &str)> = table.first().map(|t| t.3.keys().copied().collect()).unwrap_or_default();
    for k in keys {
        let n = table[0].3[&k].1;
        let cells: Vec<String> = table.iter().map(|t| format!("{:.3}", t.3[&k].0 as f64 / t.3[&k].1 as f64)).collect();
        println!("| {} | {} (n={n}) | {} |", k.0, k.1, cells.join(" | "));
    }
    if let Ok(s) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = s.lines().find(|l| l.starts_with("VmHWM")) {
            eprintln!("peak RSS of this run (all candidates loaded): {}", l.trim_start_matches("VmHWM:").trim());
        }
    }
}
