//! The web console: pages where brand managers read, triage and correct what hearsay heard (issue 24).
//!
//! [`router`] returns the console's routes; the daemon (`hearsay run`) and the demo (`hearsay demo --serve`) hand
//! them to `daemon::http::serve`, which adds `/metrics`, `/healthz` and its limits. The console is a layer beside
//! the command line: it calls the store, the report's renderer and the sources' status, and nothing below calls it.
//!
//! - `auth.rs`: sign-in (argon2id, rate-limited per account and per address), sessions (cookie token, only its
//!   SHA-256 stored; idle and absolute expiry), the CSRF token every POST carries, roles, `trusted_proxy`.
//! - `pages.rs`: the pages and the actions behind their forms.
//! - `alert_page.rs`: one alert event's page (`/alerts/{id}`), where its email and the digest link.
//!
//! Pages are HTML written with maud's `html!`: every value is escaped unless wrapped in `PreEscaped`, which only the
//! report's own escaped fragments and the style sheet are. Every link to a mention goes through
//! [`crate::link::safe_href`]. Responses carry a content security policy with no script source at all, so a text
//! that slipped through as markup could still run nothing. Every page works without JavaScript.
//!
//! Architecture Invariant: every change a person makes here (relabel, spam/irrelevant marks, silence, unsilence,
//! sign-in and out) goes through a store method that writes the change and its audit row in one transaction, with
//! the account's name and the client's address as the actor.

mod alert_page;
mod auth;
mod pages;

use std::sync::Arc;

use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::config::HttpConfig;
use crate::store::Store;

pub use auth::{LoginLimiter, Signed};

/// What every console route reaches (axum's `State`).
pub struct Console {
    store: Store,
    http: HttpConfig,
    limiter: LoginLimiter,
    /// Random per process: the CSRF token of people signed in by a trusted proxy (they have no session row) is
    /// derived from it and their name.
    proxy_secret: [u8; 32],
}

type State = Arc<Console>;

/// The console's own read connection and its page cache ([`Store::with_own_readers`]). One connection: its
/// pages read rollups and index ranges, which a 4 MiB cache and the OS file cache serve in milliseconds, and
/// SQLite's page caches did not keep to their size with two connections reading side by side (measured on
/// 10M mentions: 2 × 4 MiB held 85 MB after every brand's overview, 1 × 4 MiB stayed within 7). A page waits
/// for the one before it, which on the two cores the daemon is sized for costs nothing (the overview got faster:
/// its reads no longer compete with each other). Issue 24 asks the console to add less than 15 MB.
const READERS: u32 = 1;
const READER_CACHE_MIB: i64 = 4;

/// The console's routes, or why it must not start: a listen address beyond loopback with no way to sign in
/// (no account and no `trusted_proxy`) would show the whole history to anyone who can reach it.
pub async fn router(store: Store, http: HttpConfig) -> anyhow::Result<Router> {
    if !http.console {
        return Ok(Router::new());
    }
    if !http.is_loopback() && http.trusted_proxy.is_empty() && store.user_count().await? == 0 {
        anyhow::bail!(
            "[http] listen = {:?} is reachable beyond this machine, but no one can sign in to the console: add an \
             account (`hearsay users add NAME --role editor`), set trusted_proxy and user_header, or turn the \
             console off (console = false)",
            http.listen
        );
    }
    let store = store.with_own_readers(READERS, READER_CACHE_MIB).await?;
    let console =
        Arc::new(Console { store, http, limiter: LoginLimiter::default(), proxy_secret: auth::random_bytes() });
    Ok(Router::new()
        .route("/", get(|| async { see_other("/overview") }))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/overview", get(pages::overview))
        .route("/mentions", get(pages::mentions))
        .route("/mentions/export.csv", get(pages::export_csv))
        .route("/mentions/export.jsonl", get(pages::export_jsonl))
        .route("/mentions/{id}", get(pages::mention))
        .route("/mentions/{id}/label", post(pages::relabel))
        .route("/mentions/{id}/mark", post(pages::mark))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/{id}", get(alert_page::alert))
        .route("/alerts/silence", post(pages::silence))
        .route("/alerts/unsilence", post(pages::unsilence))
        .route("/sources", get(pages::sources))
        .with_state(console)
        .layer(axum::middleware::map_response(security_headers)))
}

/// [`router`] in the shape the daemon takes it.
pub fn pages() -> crate::daemon::http::Pages {
    Box::new(|store, http| Box::pin(router(store, http)))
}

/// No scripts, no frames, forms only to this origin, images only inline (the report's charts are inline SVG).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(HeaderName::from_static("content-security-policy"), HeaderValue::from_static(CSP));
    h.insert(HeaderName::from_static("x-content-type-options"), HeaderValue::from_static("nosniff"));
    h.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    h.insert(HeaderName::from_static("referrer-policy"), HeaderValue::from_static("same-origin"));
    r
}

/// A 303 to `to` (a path of this console).
fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// An HTML response.
fn html_response(status: StatusCode, page: Markup) -> Response {
    let mut r = (status, page.into_string()).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r
}

/// A page with the console's frame: navigation, the signed-in account and its sign-out button.
fn page(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · hearsay" }
                style { (PreEscaped(crate::report::STYLE)) (PreEscaped(CONSOLE_STYLE)) }
            }
            body {
                @if let Some(who) = who {
                    nav.top {
                        span.name { "hearsay" }
                        a href="/overview" { "Overview" }
                        a href="/mentions" { "Mentions" }
                        a href="/alerts" { "Alerts" }
                        a href="/sources" { "Sources" }
                        span.who {
                            (who.name) " (" (who.role.as_str()) ")"
                            @if who.has_session() {
                                form.inline method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(who.csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                div.page {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page that says what went wrong, with its status.
fn error_page(status: StatusCode, who: Option<&Signed>, message: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    html_response(status, page(title, who, html! { p.error { (message) } }))
}

/// A store failure: logged with its cause, shown without it.
fn internal(e: impl std::fmt::Display, who: Option<&Signed>) -> Response {
    tracing::error!(error = %e, "console: request failed");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, who, "The database did not answer; the error is in the log.")
}

/// Extra rules on top of the report's style sheet.
const CONSOLE_STYLE: &str = "\
nav.top{background:#263238;color:#eceff1;padding:8px 24px;display:flex;gap:18px;align-items:center;flex-wrap:wrap}\
nav.top a{color:#eceff1;text-decoration:none}nav.top a:hover{text-decoration:underline}\
nav.top .name{font-weight:600}nav.top .who{margin-left:auto;color:#b0bec5}\
form.inline{display:inline;margin-left:8px}form.filters{display:flex;flex-wrap:wrap;gap:8px;align-items:end;margin:8px 0 16px}\
form.filters button,form.filters select,form.filters input{box-sizing:border-box;height:28px}.nowrap{white-space:nowrap}\
.page{max-width:1100px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:#555}\
input,select,button{font:inherit;padding:3px 6px}\
.error{color:#b71c1c;font-weight:600}.ok{color:#2e7d32}\
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:12px;background:#eceff1}\
.badge.negative{background:#ffcdd2}.badge.positive{background:#c8e6c9}.badge.manual{background:#fff3e0}\
.mtext{white-space:pre-wrap;word-break:break-word;max-width:60em}\
.login{max-width:22em}.login label{display:block;margin:8px 0}.login input{width:100%}";
