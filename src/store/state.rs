//! Daemon state that must survive restarts: per-(source, brand) polling state and health, silences.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::users::audit_in;
use super::{now_ts, Actor, AuditAction, Store, StoreError};

/// Polling state of one (source, brand) pair.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceState {
    pub source: String,
    pub brand: String,
    pub platform: String,
    pub cursor: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub next_poll_at: i64,
    pub consecutive_failures: i64,
    pub last_error: Option<String>,
    pub last_error_class: Option<String>,
    pub last_error_at: Option<i64>,
    pub last_success_at: Option<i64>,
    pub items_last_poll: Option<i64>,
    pub new_last_poll: Option<i64>,
    pub degraded_since: Option<i64>,
}

/// The outcome of one poll, as recorded for health.
#[derive(Debug, Clone)]
pub struct PollRecord {
    pub source: String,
    pub brand: String,
    pub started_at: DateTime<Utc>,
    pub latency_ms: i64,
    pub status: PollStatus,
    pub http_status: Option<u16>,
    pub items_seen: i64,
    pub items_new: i64,
    pub error_class: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollStatus {
    Ok,
    NotModified,
    Error,
}

impl PollStatus {
    fn as_str(self) -> &'static str {
        match self {
            PollStatus::Ok => "ok",
            PollStatus::NotModified => "not_modified",
            PollStatus::Error => "error",
        }
    }
}

/// A silence: no notifications for the brand until `until`.
#[derive(Debug, Clone, Serialize)]
pub struct Silence {
    pub id: i64,
    pub brand: String,
    pub until: i64,
    pub comment: Option<String>,
    pub created_at: i64,
}

super::from_row!(SourceState {
    source,
    brand,
    platform,
    cursor,
    etag,
    last_modified,
    next_poll_at,
    consecutive_failures,
    last_error,
    last_error_class,
    last_error_at,
    last_success_at,
    items_last_poll,
    new_last_poll,
    degraded_since,
});
super::from_row!(Silence { id, brand, until, comment, created_at });

impl Store {
    pub async fn source_state(&self, source: &str, brand: &str) -> Result<Option<SourceState>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM source_state WHERE source = ?1 AND brand = ?2")
            .bind(source)
            .bind(brand)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn source_states(&self) -> Result<Vec<SourceState>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM source_state ORDER BY source, brand").fetch_all(&self.pool).await?)
    }

    /// Writes the whole state row (the poller owns its fields) and the poll log entry, in one transaction.
    pub async fn save_poll(&self, st: &SourceState, rec: &PollRecord) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO source_state (source, brand, platform, cursor, etag, last_modified, next_poll_at,
                 consecutive_failures, last_error, last_error_class, last_error_at, last_success_at,
                 items_last_poll, new_last_poll, degraded_since)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (source, brand) DO UPDATE SET platform = excluded.platform, cursor = excluded.cursor,
                 etag = excluded.etag, last_modified = excluded.last_modified, next_poll_at = excluded.next_poll_at,
                 consecutive_failures = excluded.consecutive_failures, last_error = excluded.last_error,
                 last_error_class = excluded.last_error_class, last_error_at = excluded.last_error_at,
                 last_success_at = excluded.last_success_at, items_last_poll = excluded.items_last_poll,
                 new_last_poll = excluded.new_last_poll, degraded_since = excluded.degraded_since",
        )
        .bind(&st.source)
        .bind(&st.brand)
        .bind(&st.platform)
        .bind(&st.cursor)
        .bind(&st.etag)
        .bind(&st.last_modified)
        .bind(st.next_poll_at)
        .bind(st.consecutive_failures)
        .bind(&st.last_error)
        .bind(&st.last_error_class)
        .bind(st.last_error_at)
        .bind(st.last_success_at)
        .bind(st.items_last_poll)
        .bind(st.new_last_poll)
        .bind(st.degraded_since)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO poll_log (source, brand, started_at, latency_ms, status, http_status, items_seen, items_new,
                 error_class, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .bind(&rec.source)
        .bind(&rec.brand)
        .bind(rec.started_at.timestamp())
        .bind(rec.latency_ms)
        .bind(rec.status.as_str())
        .bind(rec.http_status.map(i64::from))
        .bind(rec.items_seen)
        .bind(rec.items_new)
        .bind(&rec.error_class)
        .bind(&rec.error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reserves `units` of a source's daily quota atomically; false (and nothing spent) when that would take
    /// the day's total above `limit`. Days older than a week are forgotten.
    pub async fn reserve_quota(&self, source: &str, day: &str, units: i64, limit: i64) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let row: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO quota_usage (source, day, units) SELECT ?1, ?2, ?3 WHERE ?3 <= ?4
             ON CONFLICT (source, day) DO UPDATE SET units = units + excluded.units
                 WHERE units + excluded.units <= ?4
             RETURNING units",
        )
        .bind(source)
        .bind(day)
        .bind(units)
        .bind(limit)
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM quota_usage WHERE source = ?1 AND day < date(?2, '-7 days')")
            .bind(source)
            .bind(day)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(row.is_some())
    }

    /// Gives back `units` of a reservation that was not used (never below zero).
    pub async fn refund_quota(&self, source: &str, day: &str, units: i64) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE quota_usage SET units = max(0, units - ?3) WHERE source = ?1 AND day = ?2")
            .bind(source)
            .bind(day)
            .bind(units)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Units of `source`'s quota spent on `day`.
    pub async fn quota_used(&self, source: &str, day: &str) -> Result<i64, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT units FROM quota_usage WHERE source = ?1 AND day = ?2")
            .bind(source)
            .bind(day)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.0).unwrap_or(0))
    }

    /// New mentions per day for each (source, brand) over the last `days` days.
    pub async fn items_per_day(&self, days: i64) -> Result<Vec<(String, String, f64)>, StoreError> {
        let since = now_ts() - days * 86_400;
        let rows = sqlx::query(
            "SELECT source, brand, CAST(sum(items_new) AS REAL) / ?2 FROM poll_log WHERE started_at >= ?1 GROUP BY source, brand",
        )
        .bind(since)
        .bind(days as f64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }

    pub async fn add_silence(
        &self,
        brand: &str,
        until: DateTime<Utc>,
        comment: Option<&str>,
        by: &Actor,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("INSERT INTO silences (brand, until, comment, created_at) VALUES (?1, ?2, ?3, ?4)")
            .bind(brand)
            .bind(until.timestamp())
            .bind(comment)
            .bind(now_ts())
            .execute(&mut *tx)
            .await?;
        let id = r.last_insert_rowid();
        let detail = serde_json::json!({ "silence": id, "until": until.timestamp(), "comment": comment });
        audit_in(&mut tx, by, AuditAction::Silence, brand, &detail).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Ends a silence now. Returns false when there is no such silence.
    pub async fn remove_silence(&self, id: i64, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let brand: Option<String> = sqlx::query_scalar("DELETE FROM silences WHERE id = ?1 RETURNING brand")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(brand) = brand else { return Ok(false) };
        audit_in(&mut tx, by, AuditAction::Unsilence, &brand, &serde_json::json!({ "silence": id })).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Silences still in force at `at`.
    pub async fn active_silences(&self, at: DateTime<Utc>) -> Result<Vec<Silence>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM silences WHERE until > ?1 ORDER BY until")
            .bind(at.timestamp())
            .fetch_all(&self.pool)
            .await?)
    }
}
