//! OAuth2 access tokens, written once for every platform that needs one.
//!
//! Two grants: the **service-account JWT bearer grant** (RFC 7523; Google Play Developer API): an RS256-signed
//! assertion of the service account's email, the scope and the token endpoint, posted as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`; and the **refresh-token grant**
//! (RFC 6749 §6; Google Business Profile): `grant_type=refresh_token` with the OAuth client's id and secret.
//! Both answer `{"access_token", "expires_in", "token_type"}`, or an error `{"error", "error_description"}`
//! ([`refusal`]): a refused credential (`invalid_grant`: a revoked refresh token, a deleted key) is the
//! operator's to fix, and [`super::advice`] says how for each platform (which scope, which permission).
//!
//! What this module is not: it does no IO and keeps no tokens. The poller posts the form
//! (`Poller::oauth_token`), caches each source's token until a minute before it expires, and drops it when a
//! request comes back 401, so that the next request gets a fresh one (`sources::poll`). Secrets stay
//! [`Secret`]s; the signing key is read from the key's PEM for each assertion (once an hour) and not kept.

use std::time::Duration;

use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::{json, Value};

use crate::config::sources::ServiceAccountKey;
use crate::config::PlatformSettings;
use crate::secret::Secret;

/// Google's token endpoint, the default `token_uri` of the Google sources.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The Play Developer API's scope (`reviews.list` among the rest).
pub const ANDROIDPUBLISHER_SCOPE: &str = "https://www.googleapis.com/auth/androidpublisher";

/// The Business Profile APIs' scope; a refresh token carries the scopes it was granted with.
pub const BUSINESS_MANAGE_SCOPE: &str = "https://www.googleapis.com/auth/business.manage";

/// How long an assertion claims to be valid: Google accepts at most an hour.
const ASSERTION_LIFETIME_SECS: i64 = 3600;

/// A token endpoint that leaves out `expires_in` is taken to give an hour, Google's lifetime.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// How a source gets its access tokens.
#[derive(Debug, Clone)]
pub enum Grant {
    /// A service account's key signs an assertion for `scope`.
    ServiceAccount { key: ServiceAccountKey, scope: &'static str, token_uri: String },
    /// An OAuth client trades a user's refresh token for access tokens.
    RefreshToken { client_id: Secret, client_secret: Secret, refresh_token: Secret, token_uri: String },
}

impl Grant {
    /// The grant of a source whose platform uses OAuth2, its secrets read (`None` for the other platforms).
    /// Errors name the config key and never a secret's value.
    pub fn of(settings: &PlatformSettings) -> Result<Option<Grant>, String> {
        let need = |keys: &crate::config::sources::SecretKeys, key: &str| -> Result<Secret, String> {
            keys.resolve(key)?.ok_or_else(|| format!("{key}: required: give `{key}`, `{key}_file` or `{key}_env`"))
        };
        Ok(Some(match settings {
            PlatformSettings::GooglePlay(s) => Grant::ServiceAccount {
                key: ServiceAccountKey::from_json(need(&s.service_account_key, "service_account_key")?.expose())
                    .map_err(|e| format!("service_account_key: {e}"))?,
                scope: ANDROIDPUBLISHER_SCOPE,
                token_uri: s.token_uri.clone(),
            },
            PlatformSettings::GoogleBusiness(s) => Grant::RefreshToken {
                client_id: need(&s.client_id, "client_id")?,
                client_secret: need(&s.client_secret, "client_secret")?,
                refresh_token: need(&s.refresh_token, "refresh_token")?,
                token_uri: s.token_uri.clone(),
            },
            _ => return Ok(None),
        }))
    }

    /// Where the grant is posted.
    pub fn token_uri(&self) -> &str {
        match self {
            Grant::ServiceAccount { token_uri, .. } | Grant::RefreshToken { token_uri, .. } => token_uri,
        }
    }

    /// The form to post to [`Grant::token_uri`] at `now` (Unix seconds): for a service account, a freshly signed
    /// assertion. The values are secrets: the form is sent and dropped, never logged.
    pub fn form(&self, now: i64) -> Result<Vec<(&'static str, String)>, String> {
        Ok(match self {
            Grant::ServiceAccount { key, scope, token_uri } => vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string()),
                ("assertion", jwt_assertion(key, scope, token_uri, now)?),
            ],
            Grant::RefreshToken { client_id, client_secret, refresh_token, .. } => vec![
                ("grant_type", "refresh_token".to_string()),
                ("client_id", client_id.expose().to_string()),
                ("client_secret", client_secret.expose().to_string()),
                ("refresh_token", refresh_token.expose().to_string()),
            ],
        })
    }
}

/// The access token and its lifetime from a token endpoint's success body.
pub fn access_token(body: &[u8]) -> Option<(Secret, Duration)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let token = v.get("access_token")?.as_str().filter(|t| !t.trim().is_empty())?;
    let ttl = match v.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64().map(Duration::from_secs),
        Some(Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
        _ => None,
    };
    Some((Secret::new(token), ttl.unwrap_or(DEFAULT_TOKEN_TTL)))
}

/// The endpoint's own words when it refuses the credential itself (RFC 6749 §5.2: a 400/401/403 with `error`,
/// e.g. `invalid_grant: Token has been expired or revoked.`): the operator's to fix, not a reason to retry.
/// `None` for anything else (429, 5xx, a body that is not an OAuth error), which the caller classifies by status.
pub fn refusal(status: u16, body: &[u8]) -> Option<String> {
    if !matches!(status, 400 | 401 | 403) {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = v.get("error")?.as_str()?;
    let said = match v.get("error_description").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => format!("{code}: {d}"),
        _ => code.to_string(),
    };
    let one_line: String = said.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(one_line.chars().take(200).collect())
}

/// A JWT for the JWT bearer grant, signed with the key's RSA private key (RS256): header `alg`, `typ` and the
/// key id (`kid`), claims `iss` (the service account's email), `scope`, `aud` (the token endpoint), `iat` and
/// `exp` an hour later.
pub fn jwt_assertion(key: &ServiceAccountKey, scope: &str, aud: &str, now: i64) -> Result<String, String> {
    let der = pem_der(key.private_key.expose())?;
    // Google writes PKCS#8 (`BEGIN PRIVATE KEY`); a bare PKCS#1 key (`BEGIN RSA PRIVATE KEY`) is accepted too.
    let pair = RsaKeyPair::from_pkcs8(&der)
        .or_else(|_| RsaKeyPair::from_der(&der))
        .map_err(|e| format!("private_key: not an RSA private key ({e})"))?;
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &key.private_key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": key.client_email,
        "scope": scope,
        "aud": aud,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECS,
    });
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
        .map_err(|_| "private_key: the key could not sign the assertion".to_string())?;
    Ok(format!("{signing_input}.{}", b64(&signature)))
}

/// base64url without padding, JWT's encoding.
fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER bytes of the first PEM block in `pem`.
fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    let mut lines = pem.lines().map(str::trim).skip_while(|l| !l.starts_with("-----BEGIN "));
    if lines.next().is_none() {
        return Err("private_key: no `-----BEGIN PRIVATE KEY-----` block".into());
    }
    let body: String = lines.take_while(|l| !l.starts_with("-----END ")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "private_key: the PEM block is not valid base64".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> ServiceAccountKey {
        ServiceAccountKey::from_json(include_str!("../../tests/support/test-service-account.json")).unwrap()
    }

    fn decode(part: &str) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_with_the_grant_claims_that_the_public_key_verifies() {
        let key = test_key();
        let jwt = jwt_assertion(&key, ANDROIDPUBLISHER_SCOPE, "https://oauth2.example/token", 1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "{jwt}");
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT", "kid": "hearsay-test-key-1"}));
        let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(
            claims,
            json!({"iss": "hearsay-test@hearsay-test.iam.gserviceaccount.com", "scope": ANDROIDPUBLISHER_SCOPE,
                   "aud": "https://oauth2.example/token", "iat": 1_700_000_000, "exp": 1_700_003_600})
        );
        let der = pem_der(key.private_key.expose()).unwrap();
        let public = RsaKeyPair::from_pkcs8(&der).unwrap().public().as_ref().to_vec();
        let verify = |input: &str, sig: &[u8]| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(input.as_bytes(), sig)
        };
        let input = format!("{}.{}", parts[0], parts[1]);
        assert!(verify(&input, &decode(parts[2])).is_ok(), "signature verifies");
        assert!(verify(&input.replace('e', "f"), &decode(parts[2])).is_err(), "and only for its own input");
    }

    #[test]
    fn a_bad_key_is_an_error_naming_the_key_not_its_value() {
        let mut key = test_key();
        key.private_key = Secret::new("-----BEGIN PRIVATE KEY-----\nnot base64 at all!\n-----END PRIVATE KEY-----");
        let e = jwt_assertion(&key, "s", "a", 0).unwrap_err();
        assert!(e.starts_with("private_key:") && !e.contains("at all"), "{e}");
        key.private_key = Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");
        assert!(jwt_assertion(&key, "s", "a", 0).unwrap_err().contains("not an RSA private key"));
        key.private_key = Secret::new("hunter2");
        let e = jwt_assertion(&key, "s", "a", 0).unwrap_err();
        assert!(e.contains("no `-----BEGIN") && !e.contains("hunter2"), "{e}");
    }

    #[test]
    fn token_bodies_and_refusals() {
        let (t, ttl) = access_token(br#"{"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"}"#).unwrap();
        assert_eq!((t.expose(), ttl), ("ya29.x", Duration::from_secs(3599)));
        assert_eq!(access_token(br#"{"access_token":"a"}"#).unwrap().1, DEFAULT_TOKEN_TTL);
        assert!(access_token(br#"{"access_token":""}"#).is_none());
        assert!(access_token(b"<html>").is_none());
        let revoked = br#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#;
        assert_eq!(refusal(400, revoked).as_deref(), Some("invalid_grant: Token has been expired or revoked."));
        assert_eq!(refusal(401, br#"{"error":"invalid_client"}"#).as_deref(), Some("invalid_client"));
        assert_eq!(refusal(429, revoked), None, "a spent budget is not a refusal");
        assert_eq!(refusal(503, revoked), None);
        assert_eq!(refusal(400, br#"{"error":{"code":400}}"#), None, "not an OAuth error body");
    }

    #[test]
    fn a_refresh_token_form_carries_the_client_and_the_token() {
        let g = Grant::RefreshToken {
            client_id: Secret::new("cid"),
            client_secret: Secret::new("cs"),
            refresh_token: Secret::new("rt"),
            token_uri: GOOGLE_TOKEN_URI.into(),
        };
        let form = g.form(0).unwrap();
        assert_eq!(form[0], ("grant_type", "refresh_token".to_string()));
        assert_eq!(form.len(), 4);
        assert!(!format!("{g:?}").contains("rt\""), "secrets never in Debug: {g:?}");
    }
}
