//! Alert state, the notification log and the email outbox.
//!
//! An alert event and its outbox row are written in one transaction ([`Store::record_alert`]); sending happens
//! afterwards and marks the row sent. `alerts.event_key` and `outbox.message_id` are unique, so recording the same
//! event twice (a crash and a re-run of the same evaluation) is a no-op.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{now_ts, Store, StoreError};

/// An email waiting in (or sent from) the outbox.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub message_id: String,
    pub recipients: String,
    pub subject: String,
    pub message: Vec<u8>,
    pub attempts: i64,
}

/// One row of the notification log.
#[derive(Debug, Clone, Serialize)]
pub struct AlertRow {
    pub id: i64,
    pub brand: String,
    pub kind: String,
    pub event: String,
    pub fired_at: i64,
    pub recorded_at: i64,
    pub details: String,
}

super::from_row!(OutboxRow { id, message_id, recipients, subject, message, attempts });
super::from_row!(AlertRow { id, brand, kind, event, fired_at, recorded_at, details });

/// An alert event to record, with the email to queue for it (if it notifies).
pub struct NewAlert<'a> {
    pub brand: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
    pub fired_at: DateTime<Utc>,
    pub details: serde_json::Value,
    pub event_key: &'a str,
    pub email: Option<QueuedEmail>,
}

pub struct QueuedEmail {
    pub message_id: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message: Vec<u8>,
}

/// A negative mention shown in an alert email.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub id: i64,
    pub platform: String,
    pub author: Option<String>,
    pub text: String,
    pub url: Option<String>,
    pub created_at: i64,
    pub score: f64,
    pub terms: Option<String>,
    /// `mentions.lang`: ISO 639-1, "und", or `None` for a mention stored untagged before languages were kept.
    pub lang: Option<String>,
}

impl Store {
    pub async fn alert_state(&self, brand: &str, kind: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT state FROM alert_state WHERE brand = ?1 AND kind = ?2")
            .bind(brand)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Saves the lifecycle state and records its events (with their emails) in one transaction.
    pub async fn record_alert(
        &self,
        brand: &str,
        kind: &str,
        state_json: &str,
        events: &[NewAlert<'_>],
    ) -> Result<(), StoreError> {
        let now = now_ts();
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO alert_state (brand, kind, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (brand, kind) DO UPDATE SET state = excluded.state",
        )
        .bind(brand)
        .bind(kind)
        .bind(state_json)
        .execute(&mut *tx)
        .await?;
        for e in events {
            let r = sqlx::query(
                "INSERT OR IGNORE INTO alerts (brand, kind, event, fired_at, recorded_at, details, event_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .bind(e.brand)
            .bind(e.kind)
            .bind(e.event)
            .bind(e.fired_at.timestamp())
            .bind(now)
            .bind(e.details.to_string())
            .bind(e.event_key)
            .execute(&mut *tx)
            .await?;
            if r.rows_affected() == 0 {
                continue; // already recorded: never queue its email twice
            }
            let alert_id = r.last_insert_rowid();
            if let Some(m) = &e.email {
                sqlx::query(
                    "INSERT OR IGNORE INTO outbox (message_id, alert_id, recipients, subject, message, created_at, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                )
                .bind(&m.message_id)
                .bind(alert_id)
                .bind(serde_json::to_string(&m.recipients).unwrap_or_default())
                .bind(&m.subject)
                .bind(&m.message)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queues an email not tied to an alert (test emails, digests).
    pub async fn queue_email(&self, m: &QueuedEmail) -> Result<(), StoreError> {
        let now = now_ts();
        sqlx::query(
            "INSERT OR IGNORE INTO outbox (message_id, recipients, subject, message, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        )
        .bind(&m.message_id)
        .bind(serde_json::to_string(&m.recipients).unwrap_or_default())
        .bind(&m.subject)
        .bind(&m.message)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether an email with this Message-ID was ever queued (sent or not).
    pub async fn outbox_has(&self, message_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM outbox WHERE message_id = ?1")
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// `(kind, event, fired_at)` of a brand's alert events recorded in `[from, until)`, oldest first.
    pub async fn alerts_between(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, event, fired_at FROM alerts WHERE brand = ?1 AND recorded_at >= ?2 AND recorded_at < ?3
             ORDER BY recorded_at, id",
        )
        .bind(brand)
        .bind(from.timestamp())
        .bind(until.timestamp())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Emails due for a (re)try.
    pub async fn due_emails(&self, now: DateTime<Utc>) -> Result<Vec<OutboxRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, message_id, recipients, subject, message, attempts FROM outbox
             WHERE sent_at IS NULL AND next_attempt_at <= ?1 ORDER BY id",
        )
        .bind(now.timestamp())
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn mark_sent(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1")
            .bind(id)
            .bind(now_ts())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mark_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1")
            .bind(id)
            .bind(error)
            .bind(retry_at.timestamp())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Emails not yet sent (for `/metrics` and `alerts list`).
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetch_one(&self.pool).await?)
    }

    /// The notification log, newest first.
    pub async fn alerts(&self, limit: i64) -> Result<Vec<AlertRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, brand, kind, event, fired_at, recorded_at, details FROM alerts ORDER BY recorded_at DESC, id DESC LIMIT ?1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Per-platform (total, negative) counts of a brand in `[from, until)`, syndicated copies once.
    pub async fn platform_counts(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.platform, count(*), coalesce(sum(mb.label = 'negative'), 0)
             FROM mention_brands mb JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.created_at >= ?2 AND mb.created_at < ?3
             GROUP BY m.platform ORDER BY 3 DESC, 2 DESC",
        )
        .bind(brand)
        .bind(from.timestamp())
        .bind(until.timestamp())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    /// The brand's negative mentions in `[from, until)`, most confidently negative first.
    pub async fn negative_examples(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Example>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.platform, m.author, trim(coalesce(m.title || ' — ', '') || m.text), m.url, m.created_at,
                    CASE WHEN s.override_label = 'negative' THEN 1.0 ELSE coalesce(s.score_negative, 0.5) END, mb.terms,
                    m.lang
             FROM mention_brands mb JOIN brands b ON b.id = mb.brand_id
             JOIN mentions m ON m.id = mb.mention_id
             JOIN sentiment s ON s.mention_id = mb.mention_id
             WHERE b.name = ?1 AND mb.first_copy = 1 AND mb.label = 'negative'
               AND mb.created_at >= ?2 AND mb.created_at < ?3
             ORDER BY 7 DESC, m.created_at DESC LIMIT ?4",
        )
        .bind(brand)
        .bind(from.timestamp())
        .bind(until.timestamp())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Example {
                id: r.get(0),
                platform: r.get(1),
                author: r.get(2),
                text: r.get(3),
                url: r.get(4),
                created_at: r.get(5),
                score: r.get(6),
                terms: r.get(7),
                lang: r.get(8),
            })
            .collect())
    }
}
