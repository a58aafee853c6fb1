//! `hearsay users …` (the web console's accounts) and `hearsay audit` (who changed what, when, from where).
//!
//! A password never comes from the command line, where `ps` and the shell history would show it: it is typed at
//! the terminal with echo off, or read as one line from stdin with `--password-stdin` (for scripts and secret
//! managers). Echo is switched off by running `stty -echo` on the terminal rather than by a crate: `stty` is on
//! every system hearsay runs on, and it keeps termios calls (and their `unsafe`) out of hearsay.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command as Process, Stdio};

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use super::{write_json_lines, CmdResult, Failure, Globals};
use crate::store::{Access, Actor, Role};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account for the web console (asks for its password)
    Add {
        name: String,
        /// viewer reads; editor also relabels mentions and silences alerts
        #[arg(long, value_enum, default_value_t = RoleArg::Viewer)]
        role: RoleArg,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set an account's password (asks for the new one)
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Delete an account (its audit rows stay)
    Remove { name: String },
    /// List accounts and their roles
    List,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password as one line from stdin instead of asking at the terminal
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Viewer,
    Editor,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Editor => Role::Editor,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Since: a duration back from now (24h, 7d) or a time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_parser = super::parse_when, default_value = "7d")]
    pub since: DateTime<Utc>,
    /// table fits a terminal; jsonl is one JSON object per row, for scripts
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Jsonl,
}

/// Who runs this command, for the audit log: the OS user (`$USER`), else `cli`.
pub fn actor() -> Actor {
    let name = std::env::var("USER").ok().filter(|u| !u.trim().is_empty()).unwrap_or_else(|| "cli".into());
    Actor { name, origin: "cli".into() }
}

pub async fn users(globals: &Globals, c: UsersCommand) -> CmdResult {
    match c {
        UsersCommand::Add { name, role, password } => {
            let name = check_name(&name)?;
            let store = globals.store(Access::ReadWrite).await?;
            // Checked before asking for a password, so a taken name does not cost the typing.
            if store.user_hash(&name).await?.is_some() {
                return Err(taken(&name));
            }
            let hash = new_password_hash(&password)?;
            if !store.add_user(&name, role.into(), &hash, &actor()).await? {
                return Err(taken(&name));
            }
            println!("account {name} added ({})", Role::from(role).as_str());
            Ok(())
        }
        UsersCommand::Passwd { name, password } => {
            let store = globals.store(Access::Existing).await?;
            if store.user_hash(&name).await?.is_none() {
                return Err(unknown(&name));
            }
            let hash = new_password_hash(&password)?;
            if !store.set_password(&name, &hash, &actor()).await? {
                return Err(unknown(&name));
            }
            println!("password of {name} changed");
            Ok(())
        }
        UsersCommand::Remove { name } => {
            let store = globals.store(Access::Existing).await?;
            if !store.remove_user(&name, &actor()).await? {
                return Err(unknown(&name));
            }
            println!("account {name} removed");
            Ok(())
        }
        UsersCommand::List => {
            let store = globals.store(Access::Existing).await?;
            let rows = store.users().await?;
            if rows.is_empty() {
                println!("no accounts; add one with `hearsay users add NAME --role viewer|editor`");
                return Ok(());
            }
            println!("{:<24} {:<7} {:<16} {:<16}", "name", "role", "created (UTC)", "changed (UTC)");
            for u in rows {
                println!("{:<24} {:<7} {:<16} {:<16}", u.name, u.role.as_str(), time(u.created_at), time(u.updated_at));
            }
            Ok(())
        }
    }
}

pub async fn audit(globals: &Globals, a: AuditArgs) -> CmdResult {
    let store = globals.store(Access::Existing).await?;
    let rows = store.audit_since(a.since).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        AuditFormat::Jsonl => write_json_lines(&mut out, &rows)?,
        AuditFormat::Table => {
            writeln!(
                out,
                "{:<16} {:<16} {:<12} {:<12} {:<20} detail",
                "at (UTC)", "actor", "origin", "action", "target"
            )?;
            for r in &rows {
                writeln!(
                    out,
                    "{:<16} {:<16} {:<12} {:<12} {:<20} {}",
                    time(r.at),
                    r.actor,
                    r.origin,
                    r.action,
                    r.target.as_deref().unwrap_or(""),
                    r.detail.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    Ok(())
}

fn time(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

fn taken(name: &str) -> Failure {
    Failure::Usage(format!("an account named {name:?} exists already (names ignore case); see `hearsay users list`"))
}

fn unknown(name: &str) -> Failure {
    Failure::Usage(format!("no account named {name:?}; see `hearsay users list`"))
}

/// An account name: what a person types at the login form, so printable, without surrounding spaces, at most 64
/// characters.
fn check_name(name: &str) -> Result<String, Failure> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 64 || trimmed.chars().any(char::is_control) {
        return Err(Failure::Usage(format!(
            "account name {name:?}: use 1 to 64 printable characters (e.g. an email address or a first name)"
        )));
    }
    Ok(trimmed.to_string())
}

/// Reads a new password (stdin line or the terminal, typed twice), applies the policy, and hashes it.
fn new_password_hash(a: &PasswordArgs) -> Result<String, Failure> {
    let password = if a.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if std::io::stdin().is_terminal() {
        let first = ask_hidden("new password: ")?;
        crate::password::check(&first).map_err(|e| Failure::Usage(e.to_string()))?;
        if ask_hidden("again: ")? != first {
            return Err(Failure::Usage("the two passwords differ; nothing changed".into()));
        }
        first
    } else {
        return Err(Failure::Usage(
            "stdin is not a terminal: pass --password-stdin to read the password from it (never as an argument)".into(),
        ));
    };
    crate::password::check(&password).map_err(|e| Failure::Usage(e.to_string()))?;
    Ok(crate::password::hash(&password))
}

/// Asks at the terminal with echo off (`stty -echo`), turning echo back on afterwards, also on an error.
fn ask_hidden(prompt: &str) -> Result<String, Failure> {
    struct Echo;
    impl Drop for Echo {
        fn drop(&mut self) {
            stty("echo");
        }
    }
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    if !stty("-echo") {
        return Err(Failure::Usage("cannot turn off echo on this terminal; pass --password-stdin instead".into()));
    }
    let _echo = Echo;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    eprintln!();
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs `stty ARG` on the terminal that is stdin; whether it succeeded (false also when there is no `stty`).
fn stty(arg: &str) -> bool {
    Process::new("stty").arg(arg).stdin(Stdio::inherit()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}
