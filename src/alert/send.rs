//! Draining the outbox: SMTP (STARTTLS, implicit TLS or plain to a local relay, with AUTH and timeouts) or, with no
//! `[smtp]`, `.eml` files in `storage.outbox_dir`. A failed send stays in the outbox and is retried with backoff.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{Config, SmtpConfig, SmtpTls};
use crate::store::{OutboxRow, Store};

/// The sender: `[smtp] from`, or a local-only address when emails go to files.
pub fn from_address(config: &Config) -> String {
    config.smtp.as_ref().map(|s| s.from.clone()).unwrap_or_else(|| "hearsay <hearsay@localhost>".into())
}

/// Longest wait between retries of one email.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// Sends every email due by `due_by` (the daemon passes now; at start-up it passes a far future, since a
/// restart is the natural moment to retry everything left over).
pub async fn flush_outbox(config: &Config, store: &Store, due_by: DateTime<Utc>) -> anyhow::Result<()> {
    let due = store.due_emails(due_by).await?;
    if due.is_empty() {
        return Ok(());
    }
    let transport = match &config.smtp {
        Some(s) => Some(smtp_transport(s)?),
        None => None,
    };
    for row in due {
        let result = match (&transport, &config.smtp) {
            (Some(t), Some(s)) => send_smtp(t, s, &row).await,
            _ => write_eml(&config.storage.outbox_dir, &row),
        };
        match result {
            Ok(()) => {
                store.mark_sent(row.id).await?;
                tracing::info!(subject = %row.subject, "alert email sent");
            }
            Err(e) => {
                let wait =
                    Duration::from_secs(30).saturating_mul(1u32 << row.attempts.clamp(0, 10) as u32).min(MAX_RETRY);
                let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                tracing::error!(subject = %row.subject, error = format!("{e:#}"), retry_in_s = wait.as_secs(), "cannot send alert email; kept in the outbox");
                store.mark_failed(row.id, &format!("{e:#}"), retry_at).await?;
            }
        }
    }
    Ok(())
}

fn smtp_transport(s: &SmtpConfig) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut b =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host).port(s.port).timeout(Some(s.timeout.0));
    let mut tls = TlsParameters::builder(s.host.clone());
    if let Some(ca) = &s.ca_file {
        let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("smtp.ca_file {}: {e}", ca.display()))?;
        tls = tls.add_root_certificate(lettre::transport::smtp::client::Certificate::from_pem(&pem)?);
    }
    let tls = tls.build()?;
    b = match s.tls {
        SmtpTls::Starttls => b.tls(Tls::Required(tls)),
        SmtpTls::Tls => b.tls(Tls::Wrapper(tls)),
        SmtpTls::None => b.tls(Tls::None),
    };
    if let (Some(user), Some(pass)) = (&s.username, &s.password) {
        b = b.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    Ok(b.build())
}

async fn send_smtp(t: &AsyncSmtpTransport<Tokio1Executor>, s: &SmtpConfig, row: &OutboxRow) -> anyhow::Result<()> {
    let from: Address = s
        .from
        .rsplit_once('<')
        .map(|(_, a)| a.trim_end_matches('>').trim())
        .unwrap_or(s.from.trim())
        .parse()
        .map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?;
    let to: Vec<String> = serde_json::from_str(&row.recipients)?;
    let to: Vec<Address> = to
        .iter()
        .map(|r| r.rsplit_once('<').map(|(_, a)| a.trim_end_matches('>').trim()).unwrap_or(r.trim()).parse())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("recipient: {e}"))?;
    let envelope = Envelope::new(Some(from), to)?;
    t.send_raw(&envelope, &row.message).await.map_err(|e| anyhow::anyhow!("SMTP {}:{}: {e}", s.host, s.port))?;
    Ok(())
}

/// Writes the message as `<message-id>.eml`, atomically (temp file + rename), so a retry overwrites rather than
/// duplicates.
fn write_eml(dir: &Path, row: &OutboxRow) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("outbox directory {}: {e}", dir.display()))?;
    let name: String = row
        .message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.@".contains(c) { c } else { '_' })
        .collect();
    let path = dir.join(format!("{name}.eml"));
    let tmp = dir.join(format!(".{name}.eml.tmp"));
    std::fs::write(&tmp, &row.message).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(())
}
