//! The mention history and all daemon state, in one SQLite file (sqlx).
//!
//! Opening a store creates the file (mode 0600) and its directory, switches on WAL and foreign keys, and applies
//! the embedded migrations from `migrations/`. A database written by a newer hearsay is refused, not modified.
//!
//! Architecture invariants:
//! - every write that belongs together is one transaction (a batch of mentions with their brand matches and
//!   labels; an alert with its outbox row), so a crash leaves either all or nothing;
//! - `(platform, external_id)` is unique: storing a mention twice is a no-op that still adds new brand matches;
//! - this module knows SQL and nothing of HTTP, models or email, and no other module knows SQL: callers get
//!   typed rows, never a connection (`tests/layers.rs` checks).

mod alerts;
mod mentions;
mod raw;
mod state;
mod summaries;
mod users;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

pub use alerts::*;
pub use mentions::*;
pub use state::*;
pub use summaries::*;
pub use users::*;

/// `migrations/`, embedded in the binary. Listed by hand instead of `sqlx::migrate!`, whose proc-macro makes
/// cargo build sqlx and the whole SQLite library a second time for the build host; the version, description and
/// checksum (SHA-384 of the file) are what the macro gives, so databases migrated by earlier builds match
/// (`embedded_migrations_keep_their_checksums` pins them).
const MIGRATIONS: [(i64, &str, &str); 12] = [
    (1, "initial", include_str!("../../migrations/0001_initial.sql")),
    (2, "quota usage", include_str!("../../migrations/0002_quota_usage.sql")),
    (3, "mention brands label", include_str!("../../migrations/0003_mention_brands_label.sql")),
    (4, "brand hours", include_str!("../../migrations/0004_brand_hours.sql")),
    (5, "bulk ingest", include_str!("../../migrations/0005_bulk_ingest.sql")),
    (6, "ingest without triggers", include_str!("../../migrations/0006_ingest_without_triggers.sql")),
    (7, "mention language", include_str!("../../migrations/0007_mention_language.sql")),
    (8, "users audit", include_str!("../../migrations/0008_users_audit.sql")),
    (9, "sessions", include_str!("../../migrations/0009_sessions.sql")),
    (10, "brand marks", include_str!("../../migrations/0010_brand_marks.sql")),
    (11, "mention location", include_str!("../../migrations/0011_mention_location.sql")),
    (12, "brand days", include_str!("../../migrations/0012_brand_days.sql")),
];

#[derive(Debug)]
struct Embedded;

impl<'s> sqlx::migrate::MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> futures::future::BoxFuture<'s, Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    sqlx::migrate::Migration::new(
                        version,
                        description.into(),
                        sqlx::migrate::MigrationType::Simple,
                        sql.into(),
                        sql.starts_with("-- no-transaction"),
                    )
                })
                .collect())
        })
    }
}

/// Implements `sqlx::FromRow` for a struct whose fields are named like the query's columns (what
/// `#[derive(FromRow)]` does, without the proc-macro crate and its second build of sqlx).
macro_rules! from_row {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> for $ty {
            fn from_row(row: &'r sqlx::sqlite::SqliteRow) -> Result<Self, sqlx::Error> {
                use sqlx::Row;
                Ok($ty { $($field: row.try_get(stringify!($field))?),* })
            }
        }
    };
}
pub(crate) use from_row;

/// What can go wrong at the storage boundary, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create database directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("database {path} has schema version {found}, newer than this hearsay knows ({known}); upgrade hearsay, or restore a backup made for this version")]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    #[error("cannot migrate database {path}: {source}")]
    Migrate { path: PathBuf, source: sqlx::migrate::MigrateError },
    #[error("database {path} is locked by another process (is `hearsay run` writing to it?); retry, or query a copy")]
    Locked { path: PathBuf },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database error: {message} (SQLite code {code}, in `{statement} …`)")]
    Sqlite { code: i32, message: String, statement: String },
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    fn classify(path: &Path, e: sqlx::Error) -> StoreError {
        let msg = e.to_string();
        if msg.contains("database is locked") || msg.contains("database is busy") {
            StoreError::Locked { path: path.to_path_buf() }
        } else {
            StoreError::Open { path: path.to_path_buf(), source: e }
        }
    }
}

/// A handle on the database. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Connections for reads. Never handed out: every query is a method here, so the rest of the crate sees
    /// typed rows and SQL stays in this module (`tests/layers.rs` checks).
    pool: SqlitePool,
    /// One connection for every write transaction (`write_tx`): SQLite lets one writer in at a time anyway,
    /// and a connection keeps its page cache only while no other connection writes, so one writer keeps the
    /// index pages that every batch touches warm (and can be given a bigger cache, `prepare_bulk_import`).
    writer: SqlitePool,
    path: PathBuf,
}

/// Page cache of the writer connection unless a command asks for more (`hearsay import` does).
const WRITE_CACHE_MIB: i64 = 64;

/// How a command means to use the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Create when missing and migrate (the daemon, import, relabel).
    ReadWrite,
    /// Must exist; migrations are still applied when older (a query on an old copy works).
    Existing,
}

impl Store {
    pub async fn open(path: &Path, access: Access) -> Result<Store, StoreError> {
        raw::configure_library();
        let memory = path.as_os_str() == ":memory:";
        if !memory {
            if access == Access::Existing && !path.exists() {
                return Err(StoreError::Invalid(format!(
                    "database {} does not exist; check --db or [storage] database",
                    path.display()
                )));
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| StoreError::CreateDir { path: dir.to_path_buf(), source })?;
            }
            create_private(path)
                .map_err(|e| StoreError::Invalid(format!("cannot create database {}: {e}", path.display())))?;
        }
        let url = if memory { "sqlite::memory:".to_string() } else { format!("sqlite://{}", path.display()) };
        let opts = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Open { path: path.to_path_buf(), source: e })?
            .create_if_missing(true)
            .journal_mode(if memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            .pragma("temp_store", "memory")
            // 8 MiB per read connection (the writer has its own, WRITE_CACHE_MIB): the daemon's cycle reads rollups
            // and index ranges, and at 10M mentions every `mentions`/`stats` query of tools/bench-store took the
            // same time as with 32 MiB, while the daemon's RSS after five minutes fell from 398 to 301 MB.
            .pragma("cache_size", "-8192")
            // Rows come back from the SQLite worker thread in chunks of this many, not 50 (the default),
            // so a long read (an export, a big `mentions` listing) does not cost a thread hand-over every 50 rows.
            .row_buffer_size(1024);
        let writer_opts = opts.clone().pragma("cache_size", format!("-{}", WRITE_CACHE_MIB * 1024));
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 4 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(if memory { None } else { Some(Duration::from_secs(600)) })
            .max_lifetime(if memory { None } else { Some(Duration::from_secs(3600)) })
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::classify(path, e))?;
        let writer = if memory {
            pool.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(writer_opts)
                .await
                .map_err(|e| StoreError::classify(path, e))?
        };
        let store = Store { pool, writer, path: path.to_path_buf() };
        store.migrate().await?;
        Ok(store)
    }

    /// The same database with reads on a pool of their own: at most `connections`, each with a page cache of
    /// `cache_mib` MiB, closed after a minute idle. The web console reads through one, so that browsing neither
    /// waits behind the daemon's own reads nor grows the daemon by the default pool's caches (4 × 8 MiB): what
    /// does not fit is read again from the operating system's file cache. Writes still go through the one
    /// writer. An in-memory database (tests) has one connection, which is shared as it is.
    pub async fn with_own_readers(&self, connections: u32, cache_mib: i64) -> Result<Store, StoreError> {
        if self.path.as_os_str() == ":memory:" {
            return Ok(self.clone());
        }
        let opts = (*self.pool.connect_options()).clone().pragma("cache_size", format!("-{}", cache_mib.max(1) * 1024));
        let pool = SqlitePoolOptions::new()
            .max_connections(connections.max(1))
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .max_lifetime(Some(Duration::from_secs(3600)))
            .connect_with(opts)
            .await
            .map_err(|e| StoreError::classify(&self.path, e))?;
        Ok(Store { pool, writer: self.writer.clone(), path: self.path.clone() })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let known = MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0);
        let has_table: Option<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.pool)
                .await
                .map_err(|e| StoreError::classify(&self.path, e))?;
        if has_table.is_some() {
            let (found,): (Option<i64>,) =
                sqlx::query_as("SELECT max(version) FROM _sqlx_migrations").fetch_one(&self.pool).await?;
            if let Some(found) = found.filter(|f| *f > known) {
                return Err(StoreError::NewerSchema { path: self.path.clone(), found, known });
            }
        }
        let migrator = sqlx::migrate::Migrator::new(Embedded)
            .await
            .map_err(|source| StoreError::Migrate { path: self.path.clone(), source })?;
        migrator.run(&self.pool).await.map_err(|source| match source {
            sqlx::migrate::MigrateError::Execute(e) => StoreError::classify(&self.path, e),
            source => StoreError::Migrate { path: self.path.clone(), source },
        })
    }

    /// A write transaction that takes SQLite's write lock at `BEGIN` (IMMEDIATE). A deferred transaction that
    /// reads first and writes later fails at once with "database is locked" when another writer got in between;
    /// an immediate one waits (busy_timeout) for its turn instead.
    pub async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Readies the writer connection for a bulk import: a page cache of `cache_mib` MiB (from the default
    /// 64; a bulk import dirties index pages all over the file, and every page the cache cannot hold is
    /// written to the WAL again by the next batch that touches it), and no checkpoints of its own after its
    /// commits: the importer calls `checkpoint` on another connection instead, which copies the last batch
    /// into the database file while the writer works on the next one. Per connection, so nothing outlives
    /// the process.
    pub async fn prepare_bulk_import(&self, cache_mib: i64) -> Result<(), StoreError> {
        sqlx::query(&format!("PRAGMA cache_size = -{}", cache_mib.max(1) * 1024)).execute(&self.writer).await?;
        sqlx::query("PRAGMA wal_autocheckpoint = 0").execute(&self.writer).await?;
        Ok(())
    }

    /// Copies what the WAL holds into the database file, as far as readers allow, without waiting for them or
    /// for the writer (`PRAGMA wal_checkpoint(PASSIVE)`), on a reader connection. Returns the WAL's length in
    /// pages: it starts over (from its beginning) only at a write transaction that finds it all copied.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        let (_busy, wal_pages, _copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.pool).await?;
        Ok(wal_pages)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version applied (highest migration).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let (v,): (Option<i64>,) =
            sqlx::query_as("SELECT max(version) FROM _sqlx_migrations").fetch_one(&self.pool).await?;
        Ok(v.unwrap_or(0))
    }

    /// A cheap round trip: used by the watchdog and `/healthz`, which only report healthy while this answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// `PRAGMA integrity_check`; `Ok(())` when the file is sound.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        let (r,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&self.pool).await?;
        if r == "ok" {
            Ok(())
        } else {
            Err(StoreError::Invalid(format!("integrity check failed: {r}")))
        }
    }

    /// Checkpoints the WAL and closes every connection (clean shutdown).
    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// Creates the file with mode 0600 when missing, so mentions and credentials-adjacent state are not world-readable.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Seconds since the epoch, the time format of every column.
pub fn now_ts() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console's readers are a pool of their own with their own (small) page cache; the writer is shared.
    #[tokio::test]
    async fn own_readers_have_their_own_cache() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("h.db"), Access::ReadWrite).await.unwrap();
        let readers = store.with_own_readers(2, 3).await.unwrap();
        let cache = |s: &Store| {
            let pool = s.pool.clone();
            async move { sqlx::query_scalar::<_, i64>("PRAGMA cache_size").fetch_one(&pool).await.unwrap() }
        };
        assert_eq!(cache(&store).await, -8192);
        assert_eq!(cache(&readers).await, -3072);
        assert_eq!(readers.pool.options().get_max_connections(), 2);
    }

    /// Databases migrated by earlier builds (which used `sqlx::migrate!`) hold these checksums in
    /// `_sqlx_migrations`; sqlx refuses to start on a mismatch, so a shipped migration must never change.
    #[tokio::test]
    async fn embedded_migrations_keep_their_checksums() {
        let pinned = [
            (
                1,
                "initial",
                "3cb077eae9d5954f494c2f2d2c68a7dd69c2fe3b1c239a4e8522c86f65864eb36796da14dbb93908aacc271f19bd8be5",
            ),
            (
                2,
                "quota usage",
                "8afc79389e471b487c768969f41ae12e957ebbc184e40433cd893e0ede03124c7c4ec7b9e8e189885d6e2ec9ae32b082",
            ),
            (
                3,
                "mention brands label",
                "6250c470025b38439b2e5086f2bbf6f4973b718a63ed09d041f7c14b8b809c8677af5123a1015fa0ae58348996c33b84",
            ),
            (
                4,
                "brand hours",
                "c4907ee4e7c3840755dad062fa646fa4812615c2a78828461421387172261ae6db11b8d246ae6e5f26ee95708c8706c6",
            ),
            (
                5,
                "bulk ingest",
                "e2350405893695ec866c91b8c61e0c0afc2df139588dbd2e31440e13c5a2e5b89b8a9fda0c7185da235135cd7c51dfa9",
            ),
            (
                6,
                "ingest without triggers",
                "96d120795ca63290d2d9e8f1c5cdc97de6714791862b1c2f9b034a8463b615f06d6c690cf21ba04d3ae1206af20d5e98",
            ),
            (
                7,
                "mention language",
                "07119456f61186d4e1b2276c8969b5e159264a4c775d4e716573748aeed02f3a0ea177b6cfcdbdf85df4192e3606ec27",
            ),
            (
                8,
                "users audit",
                "d08987c82d0076b79ec06ee93dbcc0e1a8118eeb2bfe227ce8c46b798dbca7962dd16cea828ccf0ec5d5447a4e9c6b49",
            ),
            (
                9,
                "sessions",
                "a8436f54a3d25f5a268e0d0bd593644c4f56b4b17007adc7f454ddede9d8e29d2f9394f33bbf66b85240366156d887ce",
            ),
            (
                10,
                "brand marks",
                "8976b15fe9698391bbd931211fc741f4619e3fb6e68cf20b35881138dfdcde812b36ad824e61053ec1344221257f388f",
            ),
            (
                11,
                "mention location",
                "d57185ae8c7284a6d5308769e9d88bedfeb676042caf36e9675c03c061670a2b77d56d9d683e4070b086286030b78bb0",
            ),
            (
                12,
                "brand days",
                "2444dd1e50bba95d4aec588538f2faf81217e527f45b78d37c6d1ecd2e31e07b9b3dfe01284761ba76da077838aff274",
            ),
        ];
        let resolved = sqlx::migrate::MigrationSource::resolve(Embedded).await.unwrap();
        assert_eq!(resolved.len(), MIGRATIONS.len());
        assert_eq!(pinned.len(), MIGRATIONS.len(), "a new migration's checksum is pinned here too");
        for (m, (version, description, checksum)) in resolved.iter().zip(pinned) {
            let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!((m.version, m.description.as_ref(), hex.as_str()), (version, description, checksum));
        }
        // Every file in migrations/ is embedded, under the version and description its name gives.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> =
            MIGRATIONS.iter().map(|(v, d, _)| format!("{v:04}_{}.sql", d.replace(' ', "_"))).collect();
        assert_eq!(files, listed, "migrations/ and MIGRATIONS in src/store/mod.rs must list the same files");
    }
}
