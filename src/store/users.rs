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

/// A session being opened: what the console generated for it.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// SHA-256 (hex) of the cookie's token; the token itself is never stored.
    pub token_hash: &'a str,
    pub csrf: &'a str,
    /// The client's address as the console sees it.
    pub address: &'a str,
}

/// The account behind a live session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub name: String,
    pub role: Role,
    /// The session's CSRF token: every state-changing form carries it back.
    pub csrf: String,
}

impl std::fmt::Debug for SessionUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionUser").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
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
    /// Signed in to the console (target: the account).
    Login,
    /// A refused sign-in: wrong password, unknown account, or too many attempts (target: the name tried).
    LoginFailed,
    Logout,
    /// A brand match marked spam or irrelevant (target: the mention id; detail: brand and mark).
    Mark,
    Unmark,
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
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::Mark => "mark",
            AuditAction::Unmark => "unmark",
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
        // A new password signs the account out everywhere.
        sqlx::query("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE name = ?1)")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        audit_in(&mut tx, by, AuditAction::UserPasswd, name, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an account (and, by the foreign key, its sessions). Returns false when there is no such account.
    /// Its audit rows stay.
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

    /// Opens a session for `name` (the SHA-256 of its cookie token, its CSRF token), recording the sign-in in
    /// the audit log in the same transaction. Returns false when the account does not exist (any more).
    pub async fn open_session(&self, name: &str, s: &NewSession<'_>, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let now = now_ts();
        let r = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at, address)
             SELECT ?1, id, ?2, ?3, ?3, ?4 FROM users WHERE name = ?5",
        )
        .bind(s.token_hash)
        .bind(s.csrf)
        .bind(now)
        .bind(s.address)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(&mut tx, by, AuditAction::Login, name, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The session whose token hashes to `token_hash`, if it is neither idle since `idle_before` nor created
    /// before `created_before`; marks it seen now (at most once a minute, to spare the writer).
    pub async fn session(
        &self,
        token_hash: &str,
        idle_before: i64,
        created_before: i64,
    ) -> Result<Option<SessionUser>, StoreError> {
        let row = sqlx::query(
            "SELECT u.name, u.role, s.csrf, s.seen_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ?1 AND s.seen_at >= ?2 AND s.created_at >= ?3",
        )
        .bind(token_hash)
        .bind(idle_before)
        .bind(created_before)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let now = now_ts();
        if now - r.try_get::<i64, _>("seen_at")? >= 60 {
            let mut tx = self.write_tx().await?;
            sqlx::query("UPDATE sessions SET seen_at = ?2 WHERE token_hash = ?1")
                .bind(token_hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(Some(SessionUser {
            name: r.try_get("name")?,
            role: Role::parse(r.try_get("role")?)?,
            csrf: r.try_get("csrf")?,
        }))
    }

    /// Ends a session (logout), recorded in the audit log. Returns false when there was none.
    pub async fn close_session(&self, token_hash: &str, by: &Actor) -> Result<bool, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1").bind(token_hash).execute(&mut *tx).await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        audit_in(&mut tx, by, AuditAction::Logout, &by.name, &serde_json::json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes the sessions that are idle since `idle_before` or were created before `created_before`; returns
    /// how many.
    pub async fn sweep_sessions(&self, idle_before: i64, created_before: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let r = sqlx::query("DELETE FROM sessions WHERE seen_at < ?1 OR created_at < ?2")
            .bind(idle_before)
            .bind(created_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    /// How many accounts exist: the console refuses to listen beyond localhost without one.
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&self.pool).await?)
    }

    /// Audit rows at or after `since`, oldest first.
    pub async fn audit_since(&self, since: DateTime<Utc>) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM audit WHERE at >= ?1 ORDER BY at, id")
            .bind(since.timestamp())
            .fetch_all(&self.pool)
            .await?)
    }
}
