//! Throughput benchmark for the sentiment backends (native; candle and rust-bert when built with their features),
//! driven by `bench.py` in this directory.
//!
//! Reads texts (one per line) from `--texts`, loads the model, classifies everything `--repeat` times
//! with `Classifier::classify_batch` (length-sorted batches of `--batch-size`), and prints one JSON
//! line with the load time and the best and median sentences per second. `--out FILE` writes the
//! predicted labels so that `bench.py` can check that Rust and Python agree.
//!
//! With `--multilingual DIR` it runs what the daemon runs on a mixed stream instead: every text's language
//! identified (`hearsay::lang::detect`, inside the timed loop) and each text labelled by the model its
//! language routes to (`sentiment::Models`: `--model` for English and undetermined texts, DIR for the others).
//!
//! Not a test and not part of the daemon: it exists so that performance claims can be re-measured.

use std::path::PathBuf;
use std::time::Instant;

use hearsay::sentiment::{Backend, LoadOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut model = PathBuf::from("models/sentiment");
    let mut texts_path = None;
    let mut out = None;
    let mut opts = LoadOptions::default();
    let mut repeat = 3usize;
    let mut backend = Backend::Native;
    let mut multilingual: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--model" => model = value()?.into(),
            "--texts" => texts_path = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--batch-size" => opts.batch_size = value()?.parse()?,
            "--max-length" => opts.max_length = Some(value()?.parse()?),
            "--repeat" => repeat = value()?.parse()?,
            "--precision" => opts.precision = value()?.parse()?,
            "--backend" => backend = value()?.parse()?,
            "--multilingual" => multilingual = Some(value()?.into()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let texts_path = texts_path.ok_or("--texts FILE is required")?;
    let data = std::fs::read(&texts_path)?;
    let data = String::from_utf8_lossy(&data);
    let texts: Vec<&str> = data.lines().collect();

    let started = Instant::now();
    let mut models = match &multilingual {
        Some(dir) => hearsay::sentiment::load_models(&model, Some(dir), backend, &opts)?,
        None => hearsay::sentiment::Models::new(
            (hearsay::sentiment::load(&model, backend, &opts)?, vec!["en".into()]),
            Vec::new(),
        ),
    };
    let load_s = started.elapsed().as_secs_f64();

    let mut times = Vec::with_capacity(repeat);
    let mut labels: Vec<String> = Vec::new();
    for _ in 0..repeat.max(1) {
        let started = Instant::now();
        let routed = if multilingual.is_some() {
            let langs: Vec<String> = texts.iter().map(|t| hearsay::lang::detect(t).0).collect();
            let items: Vec<(&str, Option<&str>)> =
                texts.iter().zip(&langs).map(|(t, l)| (*t, Some(l.as_str()))).collect();
            models.classify(&items)?
        } else {
            let items: Vec<(&str, Option<&str>)> = texts.iter().map(|t| (*t, None)).collect();
            models.classify(&items)?
        };
        times.push(started.elapsed().as_secs_f64());
        labels = routed
            .iter()
            .map(|r| match r {
                hearsay::sentiment::Routed::Labelled { prediction, .. } => prediction.label.as_str().to_owned(),
                hearsay::sentiment::Routed::Uncovered { lang } => format!("uncovered:{lang}"),
            })
            .collect();
    }
    times.sort_by(f64::total_cmp);
    if let Some(out) = out {
        std::fs::write(out, labels.join("\n") + "\n")?;
    }
    let n = texts.len() as f64;
    let report = serde_json::json!({
        "backend": backend.as_str(),
        "precision": format!("{:?}", opts.precision).to_lowercase(),
        "threads": std::env::var("HEARSAY_INFERENCE_THREADS").unwrap_or_else(|_| "default".into()),
        "rss_mb": rss_mb(),
        "batch_size": opts.batch_size,
        "n": texts.len(),
        "load_s": load_s,
        "best_per_s": n / times[0],
        "median_per_s": n / times[times.len() / 2],
        "model_version": models.version(),
    });
    println!("{report}");
    Ok(())
}

/// Resident set size of this process (model loaded, after the runs), from /proc.
fn rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
