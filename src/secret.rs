//! Secrets (passwords, API keys, tokens) as they appear in the configuration.
//!
//! A secret may be written inline (`password = "…"`), read from a file (`password_file = "/run/credentials/…"`,
//! the way systemd's `LoadCredential=` hands them over) or from the environment (`password_env = "HEARSAY_SMTP_PASSWORD"`).
//! Config structs hold a [`SecretSpec`] built from those three keys by [`SecretSpec::from_parts`], and resolve it once
//! at load time into a [`Secret`].
//!
//! Invariant: neither type ever prints its value. `Debug` and `Display` show `[redacted]`, there is no
//! `Serialize`, and the only way to the value is [`Secret::expose`], which callers use at the point of use
//! (an `Authorization` header, an SMTP login) and nowhere else.

use std::fmt;
use std::path::PathBuf;

/// A resolved secret value. Cloning is cheap enough for the handful of secrets a config holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Call only where it is sent to its destination.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret comes from, as configured.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSpec {
    Inline(Secret),
    File(PathBuf),
    Env(String),
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSpec::Inline(_) => f.write_str("inline [redacted]"),
            SecretSpec::File(p) => write!(f, "file {}", p.display()),
            SecretSpec::Env(v) => write!(f, "env ${v}"),
        }
    }
}

impl fmt::Display for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl SecretSpec {
    /// Builds the spec from the three optional config keys `NAME`, `NAME_file`, `NAME_env`.
    /// `key` is the config key path used in error messages (e.g. `smtp.password`).
    /// Returns `Ok(None)` when none is set, and an error when more than one is.
    pub fn from_parts(
        key: &str,
        inline: Option<String>,
        file: Option<PathBuf>,
        env: Option<String>,
    ) -> Result<Option<SecretSpec>, String> {
        let given = inline.is_some() as u8 + file.is_some() as u8 + env.is_some() as u8;
        if given > 1 {
            return Err(format!("{key}: give only one of `{0}`, `{0}_file` or `{0}_env`", leaf(key)));
        }
        Ok(inline.map(|v| SecretSpec::Inline(Secret(v))).or(file.map(SecretSpec::File)).or(env.map(SecretSpec::Env)))
    }

    /// Reads the value. Errors name the key and the file or variable, never the value.
    pub fn resolve(&self, key: &str) -> Result<Secret, String> {
        match self {
            SecretSpec::Inline(s) => Ok(s.clone()),
            SecretSpec::File(path) => read_secret_file(path)
                .map(|v| Secret(v.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| format!("{key}_file: cannot read {}: {e}", path.display())),
            SecretSpec::Env(var) => std::env::var(var)
                .map(Secret)
                .map_err(|_| format!("{key}_env: environment variable {var} is not set (or not UTF-8)")),
        }
    }
}

/// The most a secret file may hold: a password, a token or a service-account key is a few KiB.
const MAX_SECRET_FILE: u64 = 64 * 1024;

/// Reads a secret file: a regular file (a FIFO would block the start, `/dev/zero` would never end) of at most
/// [`MAX_SECRET_FILE`] bytes, in UTF-8.
fn read_secret_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    if !std::fs::metadata(path)?.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_SECRET_FILE + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_SECRET_FILE {
        return Err(Error::new(ErrorKind::InvalidData, format!("longer than {MAX_SECRET_FILE} bytes")));
    }
    Ok(text)
}

fn leaf(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        let spec = SecretSpec::Inline(s);
        assert!(!format!("{spec:?} {spec}").contains("hunter2"));
    }

    #[test]
    fn more_than_one_source_is_an_error() {
        let err = SecretSpec::from_parts("smtp.password", Some("x".into()), None, Some("V".into())).unwrap_err();
        assert!(err.contains("smtp.password") && err.contains("password_file"), "{err}");
    }

    #[test]
    fn file_secret_is_trimmed_of_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        let s = SecretSpec::File(p).resolve("smtp.password").unwrap();
        assert_eq!(s.expose(), "s3cret");
    }

    #[test]
    fn file_secrets_are_small_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 64 * 1024 + 1]).unwrap();
        for (path, why) in [(big.as_path(), "longer than"), (std::path::Path::new("/dev/zero"), "not a regular file")] {
            let err = SecretSpec::File(path.to_path_buf()).resolve("smtp.password").unwrap_err();
            assert!(err.starts_with("smtp.password_file: cannot read") && err.contains(why), "{err}");
        }
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = SecretSpec::Env("HEARSAY_TEST_UNSET_VAR".into()).resolve("reddit.client_secret").unwrap_err();
        assert!(err.contains("HEARSAY_TEST_UNSET_VAR"), "{err}");
    }
}
