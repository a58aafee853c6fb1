//! Who is asking: sign-in, sessions, CSRF tokens, roles and `trusted_proxy`.
//!
//! - **Sign-in** (`POST /login`): the name and password are checked against the argon2id hash in `users`
//!   (on a blocking thread: a check costs tens of milliseconds by design). An unknown name costs the same check
//!   against a throwaway hash, so timing does not tell which names exist. The login form carries a random value
//!   that must equal a cookie set with the form (a double-submit token), so another site cannot sign a browser
//!   in to an account of its choosing.
//! - **Rate limits**: [`ACCOUNT_FAILURES`] failed attempts per account and [`ADDRESS_FAILURES`] per client address
//!   within [`FAILURE_WINDOW`] lock further attempts (429) until the window has passed; a success clears the
//!   account's count. Every attempt, refused or not, is in the audit log.
//! - **Sessions**: a 256-bit random token in the `hearsay_session` cookie (`HttpOnly`, `SameSite=Strict`,
//!   `Path=/`, `Secure` when `public_url` is https); the store keeps only its SHA-256, with the session's CSRF
//!   token, its creation (absolute expiry, `session_max`) and last use (idle expiry, `session_idle`).
//! - **CSRF**: every state-changing request is a POST whose form carries the session's token
//!   ([`Signed::csrf_refusal`]);
//!   `SameSite=Strict` already keeps the cookie off cross-site requests, the token is the second lock.
//! - **Roles**: [`Signed`] is any account; [`Editor`] refuses viewers with 403.
//! - **Trusted proxy**: from an address in `trusted_proxy`, the `user_header` names the account (which must exist);
//!   from any other address that header is ignored.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Form, FromRequestParts, Query, State as AxState};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use maud::html;
use rand::TryRngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{error_page, html_response, internal, page, see_other, State};
use crate::daemon::http::ClientAddr;
use crate::store::{Actor, AuditAction, NewSession, Role, SessionUser};

/// Failed sign-ins per account within [`FAILURE_WINDOW`] before its sign-in is locked for the rest of it.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failed sign-ins per client address within [`FAILURE_WINDOW`] (several people behind one address, typos).
pub const ADDRESS_FAILURES: u32 = 20;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries the limiter keeps at most; past that, expired ones are dropped (and, in a flood of new names, the
/// whole table: a lock then lifts early rather than memory growing without bound).
const LIMITER_ENTRIES: usize = 10_000;

const SESSION_COOKIE: &str = "hearsay_session";
const LOGIN_COOKIE: &str = "hearsay_login";

/// A signed-in person: an account with a session, or one named by a trusted proxy.
#[derive(Clone)]
pub struct Signed {
    pub name: String,
    pub role: Role,
    /// What this person's forms must carry back.
    pub csrf: String,
    /// The session's key in the store; `None` for a trusted proxy's user (no session, nothing to sign out of).
    token_hash: Option<String>,
    /// The client's address, for the audit log.
    pub address: String,
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

impl Signed {
    pub fn has_session(&self) -> bool {
        self.token_hash.is_some()
    }

    /// Who the audit log names for this person's changes.
    pub fn actor(&self) -> Actor {
        Actor { name: self.name.clone(), origin: self.address.clone() }
    }

    /// A POST's CSRF token against this person's: `None` when it matches, else the 403 to answer with.
    pub fn csrf_refusal(&self, token: &str) -> Option<Response> {
        if !token.is_empty() && same(token.as_bytes(), self.csrf.as_bytes()) {
            None
        } else {
            Some(error_page(
                StatusCode::FORBIDDEN,
                Some(self),
                "This form has expired or did not come from this console; reload the page and try again.",
            ))
        }
    }

    pub fn is_editor(&self) -> bool {
        self.role == Role::Editor
    }
}

/// An account that may change things; a viewer gets 403.
pub struct Editor(pub Signed);

impl FromRequestParts<State> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let (trusted, address) = client(state, parts.extensions.get::<ClientAddr>(), &parts.headers);
        if trusted {
            if let Some(header) = &state.http.user_header {
                if let Some(name) = parts.headers.get(header.as_str()).and_then(|v| v.to_str().ok()) {
                    let name = name.trim();
                    return match state.store.user_hash(name).await {
                        Ok(Some((role, _))) => Ok(Signed {
                            name: name.to_string(),
                            role,
                            csrf: hex(&Sha256::new().chain_update(state.proxy_secret).chain_update(name).finalize()),
                            token_hash: None,
                            address,
                        }),
                        Ok(None) => Err(error_page(
                            StatusCode::FORBIDDEN,
                            None,
                            &format!(
                                "The proxy signed in {name:?}, but hearsay has no such account (hearsay users add)."
                            ),
                        )),
                        Err(e) => Err(internal(e, None)),
                    };
                }
            }
        }
        if let Some(token) = cookie(&parts.headers, SESSION_COOKIE) {
            let token_hash = hex(&Sha256::digest(token.as_bytes()));
            let now = crate::store::now_ts();
            let idle = now - state.http.session_idle.as_secs() as i64;
            let max = now - state.http.session_max.as_secs() as i64;
            match state.store.session(&token_hash, idle, max).await {
                Ok(Some(SessionUser { name, role, csrf })) => {
                    return Ok(Signed { name, role, csrf, token_hash: Some(token_hash), address })
                }
                Ok(None) => {}
                Err(e) => return Err(internal(e, None)),
            }
        }
        if parts.method == Method::GET || parts.method == Method::HEAD {
            let here = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Err(see_other(&format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(here.as_bytes()).collect::<String>()
            )))
        } else {
            Err(error_page(StatusCode::FORBIDDEN, None, "Sign in first."))
        }
    }
}

impl FromRequestParts<State> for Editor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Self::Rejection> {
        let who = Signed::from_request_parts(parts, state).await?;
        if who.is_editor() {
            Ok(Editor(who))
        } else {
            Err(error_page(
                StatusCode::FORBIDDEN,
                Some(&who),
                "Your account may read but not change anything (role viewer).",
            ))
        }
    }
}

/// Whether the peer is a trusted proxy, and the client's address: the peer's, or, from a trusted proxy, the last
/// address it added to `X-Forwarded-For`.
fn client(state: &State, peer: Option<&ClientAddr>, headers: &HeaderMap) -> (bool, String) {
    let peer = peer.map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| state.http.trusted_proxy.contains(&ip));
    (trusted, client_address(peer, trusted, headers))
}

fn client_address(peer: Option<IpAddr>, trusted: bool, headers: &HeaderMap) -> String {
    if trusted {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(a) = forwarded {
            return a.to_string();
        }
    }
    peer.map_or_else(|| "unknown".into(), |ip| ip.to_string())
}

/// Failed sign-ins per key (`account:<name>`, `address:<ip>`) in the current window.
#[derive(Default)]
pub struct LoginLimiter {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    /// How long `key` is still locked, if it has `limit` failures in its window.
    fn locked(&self, key: &str, limit: u32, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().expect("limiter lock");
        let (n, since) = map.get(key)?;
        let left = FAILURE_WINDOW.checked_sub(now.duration_since(*since)).filter(|l| !l.is_zero())?;
        (*n >= limit).then_some(left)
    }

    fn failed(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() >= LIMITER_ENTRIES {
            map.retain(|_, (_, since)| now.duration_since(*since) < FAILURE_WINDOW);
            if map.len() >= LIMITER_ENTRIES {
                map.clear();
            }
        }
        let e = map.entry(key.to_string()).or_insert((0, now));
        if now.duration_since(e.1) >= FAILURE_WINDOW {
            *e = (0, now);
        }
        e.0 += 1;
    }

    fn clear(&self, key: &str) {
        self.failures.lock().expect("limiter lock").remove(key);
    }
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /login`: the form, and the cookie its hidden value must match.
pub async fn login_page(AxState(state): AxState<State>, Query(q): Query<NextQuery>) -> Response {
    login_form(&state, StatusCode::OK, q.next.as_deref(), None)
}

fn login_form(state: &State, status: StatusCode, next: Option<&str>, message: Option<&str>) -> Response {
    let pre = hex(&random_bytes());
    let body = html! {
        @if let Some(m) = message { p.error { (m) } }
        form.login method="post" action="/login" {
            input type="hidden" name="pre" value=(pre);
            input type="hidden" name="next" value=(safe_next(next));
            label { "Account" input name="name" autocomplete="username" required autofocus; }
            label { "Password" input name="password" type="password" autocomplete="current-password" required; }
            button type="submit" { "Sign in" }
        }
        p.muted { "Accounts are made on the server: " code { "hearsay users add NAME --role viewer|editor" } "." }
    };
    let mut r = html_response(status, page("Sign in", None, body));
    let cookie = format!("{LOGIN_COOKIE}={pre}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600{}", secure(state));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    pre: String,
    next: Option<String>,
}

/// `POST /login`.
pub async fn login(
    AxState(state): AxState<State>,
    peer: Option<axum::Extension<ClientAddr>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let (_, address) = client(&state, peer.as_ref().map(|p| &p.0), &headers);
    let next = f.next.as_deref();
    match cookie(&headers, LOGIN_COOKIE) {
        Some(c) if !f.pre.is_empty() && same(c.as_bytes(), f.pre.as_bytes()) => {}
        _ => return login_form(&state, StatusCode::FORBIDDEN, next, Some("The sign-in form expired; try again.")),
    }
    // What the audit log records of a refused attempt is the name typed: bounded, and without control
    // characters that `hearsay audit` would write to a terminal.
    let name: String = f.name.trim().chars().filter(|c| !c.is_control()).take(128).collect();
    let account_key = format!("account:{}", name.to_lowercase());
    let address_key = format!("address:{address}");
    let now = Instant::now();
    let refused = |reason: &'static str| {
        let store = state.store.clone();
        let by = Actor { name: name.clone(), origin: address.clone() };
        async move {
            let detail = serde_json::json!({ "reason": reason });
            if let Err(e) = store.record_audit(&by, AuditAction::LoginFailed, &by.name, &detail).await {
                tracing::error!(error = %e, "console: could not record a refused sign-in");
            }
        }
    };
    let locked = state
        .limiter
        .locked(&account_key, ACCOUNT_FAILURES, now)
        .or_else(|| state.limiter.locked(&address_key, ADDRESS_FAILURES, now));
    if let Some(left) = locked {
        refused("rate limited").await;
        let minutes = left.as_secs().div_ceil(60);
        return login_form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            Some(&format!("Too many failed sign-ins; try again in {minutes} minute(s).")),
        );
    }
    let stored = match state.store.user_hash(&name).await {
        Ok(s) => s,
        Err(e) => return internal(e, None),
    };
    let password = f.password;
    let phc = stored.as_ref().map(|(_, h)| h.clone());
    let ok = tokio::task::spawn_blocking(move || {
        let too_long = password.len() > crate::password::MAX_LEN;
        match phc {
            Some(phc) if !too_long => crate::password::verify(&password, &phc),
            // Unknown account: the same work, so the answer's timing does not tell.
            _ => {
                let _ = crate::password::verify(&password, dummy_hash());
                false
            }
        }
    })
    .await
    .unwrap_or(false);
    let Some((_role, _)) = stored.filter(|_| ok) else {
        state.limiter.failed(&account_key, now);
        state.limiter.failed(&address_key, now);
        refused("wrong name or password").await;
        return login_form(&state, StatusCode::UNAUTHORIZED, next, Some("Wrong account name or password."));
    };
    state.limiter.clear(&account_key);
    let token = hex(&random_bytes());
    let token_hash = hex(&Sha256::digest(token.as_bytes()));
    let csrf = hex(&random_bytes());
    let by = Actor { name: name.clone(), origin: address.clone() };
    let session = NewSession { token_hash: &token_hash, csrf: &csrf, address: &address };
    match state.store.open_session(&name, &session, &by).await {
        Ok(true) => {}
        Ok(false) => {
            return login_form(&state, StatusCode::UNAUTHORIZED, next, Some("Wrong account name or password."))
        }
        Err(e) => return internal(e, None),
    }
    let t = crate::store::now_ts();
    let idle = t - state.http.session_idle.as_secs() as i64;
    let max = t - state.http.session_max.as_secs() as i64;
    if let Err(e) = state.store.sweep_sessions(idle, max).await {
        tracing::warn!(error = %e, "console: could not delete expired sessions");
    }
    let mut r = see_other(&safe_next(next));
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        state.http.session_max.as_secs(),
        secure(&state)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(SET_COOKIE, v);
    }
    r.headers_mut().append(SET_COOKIE, HeaderValue::from_static("hearsay_login=; Path=/login; Max-Age=0"));
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(AxState(state): AxState<State>, who: Signed, Form(f): Form<CsrfForm>) -> Response {
    if let Some(r) = who.csrf_refusal(&f.csrf) {
        return r;
    }
    if let Some(h) = &who.token_hash {
        if let Err(e) = state.store.close_session(h, &who.actor()).await {
            return internal(e, Some(&who));
        }
    }
    let mut r = see_other("/login");
    r.headers_mut()
        .append(SET_COOKIE, HeaderValue::from_static("hearsay_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    r
}

/// Where to go after signing in: a path of this console, never another site (`//evil`, `/\evil`, `https:`).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.contains(['\r', '\n']) => {
            n.to_string()
        }
        _ => "/overview".into(),
    }
}

fn secure(state: &State) -> &'static str {
    if state.http.secure_cookies() {
        "; Secure"
    } else {
        ""
    }
}

/// The value of cookie `name`, from any `Cookie` header.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Equality in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut b).expect("the operating system's random generator");
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hash of a random password, made once: what an unknown account's sign-in is checked against.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| crate::password::hash(&hex(&random_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_console_are_followed_after_sign_in() {
        for (next, to) in [
            (Some("/mentions?brand=Acme"), "/mentions?brand=Acme"),
            (Some("//evil.example/"), "/overview"),
            (Some("/\\evil.example"), "/overview"),
            (Some("https://evil.example/"), "/overview"),
            (Some("/x\r\nSet-Cookie: a=b"), "/overview"),
            (None, "/overview"),
        ] {
            assert_eq!(safe_next(next), to, "{next:?}");
        }
    }

    #[test]
    fn the_limiter_locks_at_the_limit_and_lifts_after_the_window() {
        let l = LoginLimiter::default();
        let t0 = Instant::now();
        for _ in 0..ACCOUNT_FAILURES - 1 {
            l.failed("account:ana", t0);
        }
        assert_eq!(l.locked("account:ana", ACCOUNT_FAILURES, t0), None);
        l.failed("account:ana", t0);
        assert_eq!(
            l.locked("account:ana", ACCOUNT_FAILURES, t0 + Duration::from_secs(60)),
            Some(FAILURE_WINDOW - Duration::from_secs(60))
        );
        assert_eq!(l.locked("account:ana", ACCOUNT_FAILURES, t0 + FAILURE_WINDOW), None);
        l.clear("account:ana");
        assert_eq!(l.locked("account:ana", ACCOUNT_FAILURES, t0), None);
    }

    #[test]
    fn cookies_are_found_among_others_and_compared_whole() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; hearsay_session=abc"));
        h.append(COOKIE, HeaderValue::from_static("hearsay_login=xyz"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "hearsay"), None);
        assert!(same(b"abc", b"abc") && !same(b"abc", b"abd") && !same(b"abc", b"ab"));
    }
}
