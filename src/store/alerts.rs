//! Alert state, the notification log and the email outbox.
//!
//! An alert event and its outbox row are written in one transaction ([`Store::record_alert`]); sending happens
//! afterwards and marks the row sent. `alerts.event_key` and `outbox.message_id` are unique, so recording the same
//! event twice (a crash and a re-run of the same evaluation) is a no-op. The outbox row of an alert's email names
//! the alert (`outbox.alert_id`): the console shows each alert with its email's delivery.

use chrono::{DateTime, Utc};
use serde::Serialize;

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

/// An alert's email as the outbox holds it: what was sent to whom, and how its delivery went. The outbox retries
/// a failed send with backoff until it goes through; there is no "given up" state.
#[derive(Debug, Clone, Serialize)]
pub struct AlertEmail {
    pub alert_id: i64,
    pub message_id: String,
    /// JSON array of addresses, as queued.
    pub recipients: String,
    pub subject: String,
    pub created_at: i64,
    /// Tries so far, the successful one included.
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub sent_at: Option<i64>,
    /// Why the latest try failed (cleared when one succeeds).
    pub last_error: Option<String>,
}

/// The outbox in two numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Emails delivered (SMTP or `.eml`), all time.
    pub sent: i64,
    /// Emails written but not delivered yet.
    pub backlog: i64,
}

/// How many alert events of one kind (`negative_spike`, `source_down`, …) and event (`firing`, `reminder`,
/// `resolved`) the log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertEventCount {
    pub kind: String,
    pub event: String,
    pub count: i64,
}

super::from_row!(OutboxRow { id, message_id, recipients, subject, message, attempts });
super::from_row!(AlertRow { id, brand, kind, event, fired_at, recorded_at, details });
super::from_row!(AlertEventCount { kind, event, count });
super::from_row!(AlertEmail {
    alert_id,
    message_id,
    recipients,
    subject,
    created_at,
    attempts,
    next_attempt_at,
    sent_at,
    last_error
});

/// An alert event to record, with the email to queue for it (if it notifies).
pub struct NewAlert<'a> {
    pub brand: &'a str,
    pub kind: &'a str,
    pub event: &'a str,
    pub fired_at: DateTime<Utc>,
    pub details: serde_json::Value,
    pub event_key: &'a str,
    pub email: Option<EmailFor<'a>>,
}

/// Writes an alert event's email given the event's row id (its links name the alert's page). [`Store::record_alert`]
/// calls it inside the transaction that inserts the row, and only when it does insert it: an event recorded before
/// gets no second email. An `Err` (an address that does not parse) rolls the whole transaction back.
pub type EmailFor<'a> = Box<dyn FnOnce(i64) -> Result<QueuedEmail, String> + Send + 'a>;

pub struct QueuedEmail {
    pub message_id: String,
    pub recipients: Vec<String>,
    pub subject: String,
    pub message: Vec<u8>,
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
        events: Vec<NewAlert<'_>>,
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
            if let Some(write) = e.email {
                let m = write(alert_id).map_err(StoreError::Invalid)?;
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

    /// A brand's alert events recorded in `[from, until)`, oldest first.
    pub async fn alerts_between(
        &self,
        brand: &str,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<AlertRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, brand, kind, event, fired_at, recorded_at, details FROM alerts
             WHERE brand = ?1 AND recorded_at >= ?2 AND recorded_at < ?3 ORDER BY recorded_at, id",
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

    /// Emails not yet sent (`alerts list`).
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetch_one(&self.pool).await?)
    }

    /// Emails sent and not yet sent, all time (`/metrics`). One pass over the covering index `outbox_pending`
    /// (`sent_at, next_attempt_at`); the table itself is not read.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let (sent, backlog): (i64, i64) = sqlx::query_as(
            "SELECT coalesce(sum(sent_at IS NOT NULL), 0), coalesce(sum(sent_at IS NULL), 0) FROM outbox",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OutboxCounts { sent, backlog })
    }

    /// How many alert events of each (kind, event) were ever recorded, by kind then event (`/metrics`). A scan
    /// of `alerts`, grouped in a temporary b-tree: one row per event, a few per incident, no index needed.
    pub async fn alert_event_counts(&self) -> Result<Vec<AlertEventCount>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, event, count(*) AS count FROM alerts GROUP BY kind, event ORDER BY kind, event",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// One alert event of the notification log.
    pub async fn alert(&self, id: i64) -> Result<Option<AlertRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, brand, kind, event, fired_at, recorded_at, details FROM alerts WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The events of one episode of an alert (its firing, reminders and resolution share the brand, the kind and
    /// the moment it fired), oldest first.
    pub async fn alert_episode(&self, brand: &str, kind: &str, fired_at: i64) -> Result<Vec<AlertRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, brand, kind, event, fired_at, recorded_at, details FROM alerts
             WHERE brand = ?1 AND kind = ?2 AND fired_at = ?3 ORDER BY recorded_at, id",
        )
        .bind(brand)
        .bind(kind)
        .bind(fired_at)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The emails queued for these alert events (at most one each), by alert. A scan of the outbox (`alert_id` has
    /// no index; the outbox grows by a few rows a day) that reads no message: `alert_id` comes before it in a row.
    pub async fn alert_emails(&self, alert_ids: &[i64]) -> Result<Vec<AlertEmail>, StoreError> {
        let ids = serde_json::to_string(alert_ids).unwrap_or_else(|_| "[]".into());
        Ok(sqlx::query_as(
            "SELECT alert_id, message_id, recipients, subject, created_at, attempts, next_attempt_at, sent_at,
                    last_error
             FROM outbox WHERE alert_id IN (SELECT value FROM json_each(?1)) ORDER BY alert_id, id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?)
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
}
