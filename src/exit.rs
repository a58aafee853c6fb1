//! How a command ends: [`Failure`] says why it failed and so which exit code the process gets
//! (0 ok, 1 runtime failure, 2 usage or config error, 65 bad input data).
//!
//! Its own small layer, below the command line and above what commands run (`daemon`, `demo`, `report`), so
//! that those can fail with the right exit code without depending on `cli`. [`open_store`] lives here for
//! the same reason: opening the database is where a bad path or a newer schema becomes a usage failure.
//!
//! Architecture Invariant: nothing here prints or parses arguments; `cli::main` turns a [`Failure`] into its
//! message and [`std::process::ExitCode`].

use std::path::Path;

use crate::store::{Access, Store, StoreError};

/// Why a command failed, and so which exit code it gets.
#[derive(Debug)]
pub enum Failure {
    /// Something went wrong while running (IO, database, network): exit 1.
    Runtime(anyhow::Error),
    /// The command line or the config is wrong: exit 2.
    Usage(String),
    /// The input data is bad: exit 65.
    Data(String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Runtime(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Data(_) => 65,
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Runtime(e.into())
    }
}

/// What a command returns.
pub type CmdResult = Result<(), Failure>;

/// Opens the database at `path`; a path that is not a hearsay database, or one with a newer schema, is a usage
/// failure (exit 2), anything else a runtime one.
pub async fn open_store(path: &Path, access: Access) -> Result<Store, Failure> {
    Store::open(path, access).await.map_err(|e| match e {
        StoreError::Invalid(m) => Failure::Usage(m),
        e @ StoreError::NewerSchema { .. } => Failure::Usage(e.to_string()),
        e => Failure::Runtime(e.into()),
    })
}
