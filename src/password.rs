//! Passwords of the console's accounts: argon2id hashes as PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$…`).
//!
//! Parameters are argon2's defaults, OWASP's minimum for argon2id (19 MiB, 2 passes, 1 lane): about 20 ms a hash
//! on a server core, cheap for a login and expensive for a guesser. They are written into every hash, so
//! [`verify`] reads them from the stored string and stronger parameters later still verify old hashes.
//!
//! Architecture Invariant: pure apart from the salt's randomness (the OS generator): no IO, no storage, no logs;
//! a password is never part of an error or a `Debug` output.

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

/// Shorter passwords are refused: length is what makes a password hard to guess, and argon2 only slows guessing.
pub const MIN_LEN: usize = 12;

/// Why a password is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password is too short: {len} characters; use at least {MIN_LEN} (a few words make a good one)")]
    TooShort { len: usize },
    #[error("the password is longer than {MAX_LEN} bytes; use a shorter one")]
    TooLong,
}

/// Longer passwords are refused so that hashing one costs a bounded time (argon2 hashes the whole input first).
pub const MAX_LEN: usize = 1024;

/// Checks a new password against the policy: at least [`MIN_LEN`] characters (not bytes), at most [`MAX_LEN`]
/// bytes.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordError::TooShort { len });
    }
    if password.len() > MAX_LEN {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// The PHC string of `password` with a fresh random salt. Does not apply the policy ([`check`] does).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        // Only a failing OS random generator or an output buffer argon2 sized itself can fail here.
        .expect("argon2id hashing with default parameters and an OS salt")
        .to_string()
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    // The parameters, salt and variant come from `phc`, not from `Argon2::default()`.
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_is_argon2id_with_the_default_parameters_and_verifies_only_its_password() {
        let h = hash("correct horse battery staple");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapler", &h));
        assert!(!verify("", &h));
    }

    #[test]
    fn each_hash_has_its_own_salt() {
        assert_ne!(hash("the same password"), hash("the same password"));
    }

    #[test]
    fn a_malformed_hash_matches_nothing() {
        for phc in ["", "plain text", "$argon2id$v=19$m=19456,t=2,p=1$", "$2b$12$abcdefghijklmnopqrstuv"] {
            assert!(!verify("anything at all", phc), "{phc:?}");
        }
    }

    #[test]
    fn the_policy_counts_characters() {
        assert_eq!(check("short"), Err(PasswordError::TooShort { len: 5 }));
        assert_eq!(check("elevenchars"), Err(PasswordError::TooShort { len: 11 }));
        assert_eq!(check("twelve chars"), Ok(()));
        // Twelve characters of two bytes each: long enough.
        assert_eq!(check("éééééééééééé"), Ok(()));
        assert_eq!(check("ééééééééééé"), Err(PasswordError::TooShort { len: 11 }));
        assert_eq!(check(&"x".repeat(MAX_LEN + 1)), Err(PasswordError::TooLong));
        assert!(PasswordError::TooShort { len: 5 }.to_string().contains("at least 12"));
    }
}
