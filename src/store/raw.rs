//! A small safe layer over SQLite's C API for the one hot write path, `Store::ingest`.
//!
//! sqlx copies every bound text twice (into its own argument buffer, then SQLite copies it again as
//! `SQLITE_TRANSIENT`), clears every binding after each step and runs each statement on its worker thread:
//! for a 50,000-mention import batch that bookkeeping (mostly malloc/free) was as much work as SQLite's own.
//! Here a batch's statements are prepared once on the writer's connection, inside the sqlx transaction
//! (`SqliteConnection::lock_handle`), texts are bound in place (`SQLITE_STATIC`, borrowed for the
//! statement's lifetime, so the borrow checker keeps them alive), and new ids come from
//! `sqlite3_last_insert_rowid`.
//!
//! Invariants: a [`Stmt`] never outlives the locked handle it was prepared on (lifetime `'a`), is reset
//! after every use (no statement stays open across another's step), and is finalized on drop; nothing here
//! begins, commits or rolls back — the surrounding sqlx transaction does, so an error anywhere rolls the
//! whole batch back.

use libsqlite3_sys as ffi;
use std::ffi::{c_int, CStr, CString};
use std::marker::PhantomData;
use std::ptr::{self, NonNull};

use super::StoreError;

/// The connection of a locked sqlx handle, for the duration of the lock.
pub(crate) struct Db<'a> {
    raw: NonNull<ffi::sqlite3>,
    _lock: PhantomData<&'a mut ()>,
}

impl<'a> Db<'a> {
    pub(crate) fn new(handle: &'a mut sqlx::sqlite::LockedSqliteHandle<'_>) -> Db<'a> {
        Db { raw: handle.as_raw_handle(), _lock: PhantomData }
    }

    /// Prepares `sql` (one statement). Texts bound to it must live as long as the connection borrow.
    pub(crate) fn prepare(&self, sql: &str) -> Result<Stmt<'a>, StoreError> {
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Invalid("SQL statement too long".into()))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `raw` is a live connection (the sqlx lock is held for 'a); SQLite reads `len` bytes of `sql`.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.raw.as_ptr(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            if !stmt.is_null() {
                // SAFETY: a statement handed back on error is still ours to finalize.
                unsafe { ffi::sqlite3_finalize(stmt) };
            }
            return Err(error_of(self.raw, rc, sql));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| StoreError::Invalid(format!("empty SQL statement: {sql}")))?;
        Ok(Stmt { db: self.raw, stmt, sql: sql.to_owned(), _data: PhantomData })
    }

    /// Bulk mode on this connection until the guard is dropped (even on an error or a panic), for the
    /// statements prepared meanwhile: the schema's triggers are off (the caller does their work itself),
    /// and neither CHECK constraints nor foreign keys are evaluated (the caller writes only values it has
    /// checked and ids it has just read: each `x IN (…)` check builds a temporary b-tree every time a
    /// statement runs, and a foreign key a statement journal, i.e. per row for single-row statements).
    /// SQLite expires the connection's prepared statements whenever these settings change, so sqlx's cached
    /// statements are prepared again, with triggers, checks and foreign keys, when next used.
    pub(crate) fn bulk_mode(&self) -> Result<BulkMode<'_>, StoreError> {
        let guard = BulkMode { db: self.raw, _db: PhantomData };
        set_bulk(self.raw, true)?;
        Ok(guard)
    }

    /// Rowid of the last successful INSERT on this connection.
    pub(crate) fn last_insert_rowid(&self) -> i64 {
        // SAFETY: live connection.
        unsafe { ffi::sqlite3_last_insert_rowid(self.raw.as_ptr()) }
    }
}

fn error_of(db: NonNull<ffi::sqlite3>, rc: c_int, sql: &str) -> StoreError {
    // SAFETY: live connection; the message is copied before any other call on it.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }.to_string_lossy().into_owned();
    let head = sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
    StoreError::Sqlite { code: rc, message: msg, statement: head }
}

fn set_flag(db: NonNull<ffi::sqlite3>, op: c_int, what: &str, on: bool) -> Result<(), StoreError> {
    let mut now: c_int = -1;
    // SAFETY: live connection; these options take an int and an int* (out: the new setting).
    let rc = unsafe { ffi::sqlite3_db_config(db.as_ptr(), op, c_int::from(on), &mut now as *mut c_int) };
    if rc != ffi::SQLITE_OK || now != c_int::from(on) {
        return Err(StoreError::Invalid(format!("SQLite refused to turn {what} {}", if on { "on" } else { "off" })));
    }
    Ok(())
}

fn set_bulk(db: NonNull<ffi::sqlite3>, on: bool) -> Result<(), StoreError> {
    set_flag(db, ffi::SQLITE_DBCONFIG_ENABLE_TRIGGER, "triggers", !on)?;
    set_flag(db, ffi::SQLITE_DBCONFIG_ENABLE_FKEY, "foreign keys", !on)?;
    exec(db, if on { "PRAGMA ignore_check_constraints = ON" } else { "PRAGMA ignore_check_constraints = OFF" })
}

fn exec(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<(), StoreError> {
    let c = CString::new(sql).map_err(|_| StoreError::Invalid("SQL contains a NUL byte".into()))?;
    // SAFETY: live connection, NUL-terminated SQL, no callback.
    let rc = unsafe { ffi::sqlite3_exec(db.as_ptr(), c.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
    if rc != ffi::SQLITE_OK {
        return Err(error_of(db, rc, sql));
    }
    Ok(())
}

/// Triggers, CHECK constraints and foreign keys off on the connection while this lives (`Db::bulk_mode`).
pub(crate) struct BulkMode<'d> {
    db: NonNull<ffi::sqlite3>,
    _db: PhantomData<&'d ()>,
}

impl Drop for BulkMode<'_> {
    fn drop(&mut self) {
        if let Err(e) = set_bulk(self.db, false) {
            // A connection left in bulk mode would write mentions that the full-text index and the rollups
            // never see, unchecked; there is no way to go on safely.
            panic!("{e}");
        }
    }
}

/// A prepared statement; values bound to it borrow for `'a`.
pub(crate) struct Stmt<'a> {
    db: NonNull<ffi::sqlite3>,
    stmt: NonNull<ffi::sqlite3_stmt>,
    sql: String,
    _data: PhantomData<&'a str>,
}

/// A value to bind.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Val<'a> {
    Null,
    Int(i64),
    Real(f64),
    /// Bound in place: SQLite reads it while stepping, never after the statement is dropped.
    Text(&'a str),
}

impl<'a> From<i64> for Val<'a> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(v)
    }
}
impl<'a, T: Into<Val<'a>>> From<Option<T>> for Val<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}
impl<'a> From<f32> for Val<'a> {
    fn from(v: f32) -> Self {
        Val::Real(f64::from(v))
    }
}

impl<'a> Stmt<'a> {
    /// Binds `vals` to parameters 1..=n (every parameter, every time: nothing is cleared between uses).
    fn bind(&mut self, vals: &[Val<'a>]) -> Result<(), StoreError> {
        for (i, v) in vals.iter().enumerate() {
            let idx = i as c_int + 1;
            let s = self.stmt.as_ptr();
            // SAFETY: `s` is a live statement; a text stays borrowed for 'a, which outlives the statement
            // (SQLITE_STATIC: SQLite reads it during `step` only, and the statement is finalized within 'a).
            let rc = unsafe {
                match *v {
                    Val::Null => ffi::sqlite3_bind_null(s, idx),
                    Val::Int(x) => ffi::sqlite3_bind_int64(s, idx, x),
                    Val::Real(x) => ffi::sqlite3_bind_double(s, idx, x),
                    Val::Text(t) => ffi::sqlite3_bind_text64(
                        s,
                        idx,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error_of(self.db, rc, &self.sql));
            }
        }
        Ok(())
    }

    /// Runs the statement with `vals`; returns the number of rows it changed.
    pub(crate) fn execute(&mut self, vals: &[Val<'a>]) -> Result<i64, StoreError> {
        self.bind(vals)?;
        self.step_reset(|_| ())?;
        // SAFETY: live connection.
        Ok(unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) })
    }

    /// Runs a query with `vals` and reads the first row's first `N` integer columns, if there is a row.
    pub(crate) fn query_ints<const N: usize>(&mut self, vals: &[Val<'a>]) -> Result<Option<[i64; N]>, StoreError> {
        self.bind(vals)?;
        let s = self.stmt.as_ptr();
        // SAFETY: live statement.
        let columns = unsafe { ffi::sqlite3_column_count(s) };
        assert!(N <= columns as usize, "reading {N} columns of a statement that has {columns}: {}", self.sql);
        self.step_reset(|row| {
            row.then(|| {
                let mut out = [0i64; N];
                for (i, o) in out.iter_mut().enumerate() {
                    // SAFETY: a live statement on a row (`row`, from the step just made), and a column index
                    // `i < N` ≤ its column count (asserted above), SQLite's two conditions for a defined result.
                    *o = unsafe { ffi::sqlite3_column_int64(s, i as c_int) };
                }
                out
            })
        })
    }

    /// Steps once, lets `read` look at the row (`true`) or the end (`false`), then resets.
    fn step_reset<T>(&mut self, read: impl FnOnce(bool) -> T) -> Result<T, StoreError> {
        let s = self.stmt.as_ptr();
        // SAFETY: live statement with all parameters bound.
        let rc = unsafe { ffi::sqlite3_step(s) };
        let out = match rc {
            ffi::SQLITE_ROW => Ok(read(true)),
            ffi::SQLITE_DONE => Ok(read(false)),
            _ => Err(error_of(self.db, rc, &self.sql)),
        };
        // SAFETY: live statement; resetting releases its cursor and locks (its error code repeats the step's).
        unsafe { ffi::sqlite3_reset(s) };
        out
    }
}

impl Drop for Stmt<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement is live and dropped once.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// Turns off SQLite's global memory statistics (a mutex and a size lookup on every malloc and free, about
/// 5 % of a bulk import), once, before the library is first used in this process. A no-op after that.
pub(crate) fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before any connection is opened by this process (Store::open calls it first);
        // after initialisation SQLite refuses it with SQLITE_MISUSE, which is harmless.
        unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
    });
}
