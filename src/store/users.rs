//! The console's accounts (`users`) and the audit log (`audit`) of every change a person makes.
//!
//! This module stores password hashes; it never sees a password and does not hash or verify one
//! (`crate::password` does, and its callers hand the PHC string over). Listing accounts never returns a hash:
//! only [`Store::user_hash`] does, for signing in.
//!
//! Architecture Invariant: a change and its audit row are one transaction (`audit_in`), so a change that is
//! committed is always on record, and a change that failed never is.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{from_row, now_ts, Store, StoreError};

/// What an account may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page; changes nothing.
    Viewer,
    /// Also relabels mentions and silences alerts.
    Editor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
        }
    }

    fn parse(s: &str) -> Result<Role, StoreError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "editor" => Ok(Role::Editor),
            other => Err(StoreError::Invalid(format!("unknown role {other:?} in the users table"))),
        }
    }
}

/// An account as listed: never its password hash.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Who made a change and from where: the OS user and `cli` for the command line, an account and the client's
/// address for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub origin: String,
}

/// The changes the audit log records. Rows written by a newer hearsay may name others, so rows read back carry
/// the action as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    Relabel,
    Silence,
    Unsilence,
    UserAdd,
    UserPasswd,
    UserRemove,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Relabel => "relabel",
            AuditAction::Silence => "silence",
            AuditAction::Unsilence => "unsilence",
            AuditAction::UserAdd => "user_add",
            AuditAction::UserPasswd => "user_passwd",
            AuditAction::UserRemove => "user_remove",
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// JSON, as recorded (what the change set: a label, a silence's end, a role).
    pub detail: Option<String>,
    pub origin: String,
}

from_row!(AuditRow { id, at, actor, action, target, detail, origin });

/// Writes one audit row inside the caller's transaction.
pub(super) async fn audit_in(
    tx: &mut sqlx::SqliteConnection,
    by: &Actor,
    action: AuditAction,
    target: &str,
    detail: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit (at, actor, action, target, detail, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(now_ts())
        .bind(&by.name)
        .bind(action.as_str())
        .bind(target)
        .bind(detail.to_string())
        .bind(&by.origin)
        .execute(tx)
        .await?;
    Ok(())
}

impl Store {
    /// Creates an account. Returns false when the name is taken (whatever its case).
    pub async fn add_user(&self, name: &str, role: Role, password_hash: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let now = now_ts();
        let r = sqlx::query(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(&mut tx, by, AuditAction::UserAdd, name, &serde_json::json!({ "role": role.as_str() })).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces an account's password hash. Returns false when there is no such account.
    pub async fn set_password(&self, name: &str, password_hash: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE name = ?1")
            .bind(name)
            .bind(password_hash)
            .bind(now_ts())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(&mut tx, by, AuditAction::UserPasswd, name, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an account. Returns false when there is no such account. Its audit rows stay.
    pub async fn remove_user(&self, name: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("DELETE FROM users WHERE name = ?1").bind(name).execute(&mut *tx).await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(&mut tx, by, AuditAction::UserRemove, name, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every account, by name; without password hashes.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, name, role, created_at, updated_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(User {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: Role::parse(r.try_get("role")?)?,
                    created_at: r.try_get("created_at")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect()
    }

    /// An account's role and PHC password hash, for signing in; `None` when there is no such account.
    pub async fn user_hash(&self, name: &str) -> Result<Option<(Role, String)>, StoreError> {
        let row = sqlx::query("SELECT role, password_hash FROM users WHERE name = ?1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((Role::parse(r.try_get("role")?)?, r.try_get("password_hash")?))).transpose()
    }

    /// Records a change made elsewhere (one that has no store method writing its own audit row).
    pub async fn record_audit(
        &self,
        by: &Actor,
        action: AuditAction,
        target: &str,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        audit_in(&mut tx, by, action, target, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Audit rows at or after `since`, oldest first.
    pub async fn audit_since(&self, since: DateTime<Utc>) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM audit WHERE at >= ?1 ORDER BY at, id")
            .bind(since.timestamp())
            .fetch_all(&self.pool)
            .await?)
    }
}
