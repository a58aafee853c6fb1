//! `hearsay check-config`: validate everything a run would need and say what would run.

use super::{CmdResult, Failure, Globals};
use crate::config::Config;

pub async fn check_config(globals: &Globals) -> CmdResult {
    let path = Config::locate(globals.config.as_deref());
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            for p in &e.problems {
                eprintln!("{}: {p}", path.display());
            }
            return Err(Failure::Usage(format!(
                "{}: {} problem(s); nothing was started",
                path.display(),
                e.problems.len()
            )));
        }
    };
    let mut problems = Vec::new();
    let model_dir = config.model.resolve_dir();
    let model = match crate::daemon::load_classifier(&config.model).await {
        Ok(c) => format!(
            "{} ({}, {:?}; languages {})",
            model_dir.display(),
            c.version(),
            config.model.backend,
            c.languages().join(" ")
        ),
        Err(e) => {
            problems.push(format!("model: {e:#}"));
            String::new()
        }
    };
    for (what, dir) in [
        ("storage.database", config.storage.database.parent()),
        ("storage.outbox_dir", Some(config.storage.outbox_dir.as_path())),
    ] {
        if let Some(dir) = dir {
            if let Some(existing) = dir.ancestors().find(|a| a.exists()) {
                if std::fs::metadata(existing).map(|m| m.permissions().readonly()).unwrap_or(true) {
                    problems.push(format!("{what}: {} is not writable", existing.display()));
                }
            }
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{}: {p}", path.display());
        }
        return Err(Failure::Usage(format!("{}: {} problem(s)", path.display(), problems.len())));
    }

    println!("{}: valid", path.display());
    println!("database    {}", config.storage.database.display());
    println!("model       {model}");
    for b in &config.brands {
        println!("brand       {}: {}", b.name, b.query);
    }
    for s in &config.sources {
        let interval = s.interval.unwrap_or(config.polling.interval);
        let brands = if s.brands.is_empty() { "all brands".to_string() } else { s.brands.join(", ") };
        println!(
            "source      {} ({}) every {interval} for {brands}{}",
            s.name,
            s.platform().as_str(),
            if s.enabled { "" } else { " [disabled]" }
        );
        for w in s.warnings(config.polling.interval) {
            println!("warning     {}: {w}", s.name);
        }
    }
    if config.sources.is_empty() {
        println!("source      none configured: `hearsay run` would only classify and alert on imported mentions");
    }
    println!(
        "alerts      window {}, sensitivity {:?}, at least {} negatives, ×{} normal; recipients: {}",
        config.alerts.window,
        config.alerts.sensitivity,
        config.alerts.min_count,
        config.alerts.min_ratio,
        if config.alerts.recipients.is_empty() { "none".to_string() } else { config.alerts.recipients.join(", ") }
    );
    match &config.smtp {
        Some(s) => println!(
            "email       smtp {}:{} ({:?}) as {}{}",
            s.host,
            s.port,
            s.tls,
            s.from,
            s.password_source.as_ref().map(|p| format!(", password from {p}")).unwrap_or_default()
        ),
        None => println!("email       no [smtp]: alert emails are written to {}", config.storage.outbox_dir.display()),
    }
    Ok(())
}
