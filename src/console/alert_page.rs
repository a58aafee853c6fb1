//! `GET /alerts/{id}`: one alert event, the page its email and the daily digest link to (`[http] public_url`).
//!
//! It shows what the email said (the same figures, through [`evidence`]), the feed of the mentions of the alert's
//! window, the other events of the same episode (its firing, reminders and resolution share the brand, the kind and
//! the moment it fired), the delivery of each event's email as the outbox records it (`outbox.alert_id` names the
//! event), and the brand's silences with the silence form for editors. It reads only: silencing goes through the
//! same `POST /alerts/silence` as the alerts page, which leads back here.

use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use maud::{html, Markup};

use super::auth::Signed;
use super::pages::{evidence, silenced, when};
use super::{error_page, html_response, internal, page, State};
use crate::alert::email::excerpt;
use crate::store::{AlertEmail, AlertRow};

/// `GET /alerts/{id}`.
pub async fn alert(AxState(state): AxState<State>, who: Signed, Path(id): Path<i64>) -> Response {
    let a = match state.store.alert(id).await {
        Ok(Some(a)) => a,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, Some(&who), &format!("No alert {id}.")),
        Err(e) => return internal(e, Some(&who)),
    };
    let now = Utc::now();
    let (episode, silences) = match tokio::try_join!(
        state.store.alert_episode(&a.brand, &a.kind, a.fired_at),
        state.store.active_silences(now),
    ) {
        Ok(x) => x,
        Err(e) => return internal(e, Some(&who)),
    };
    let ids: Vec<i64> = episode.iter().map(|e| e.id).collect();
    let emails = match state.store.alert_emails(&ids).await {
        Ok(x) => x,
        Err(e) => return internal(e, Some(&who)),
    };
    let email_of = |id: i64| emails.iter().find(|e| e.alert_id == id);
    let silences: Vec<_> = silences.into_iter().filter(|s| s.brand == a.brand).collect();
    let brand_alerts =
        format!("/alerts?brand={}", url::form_urlencoded::byte_serialize(a.brand.as_bytes()).collect::<String>());
    let body = html! {
        p.muted {
            "Fired " (when(a.fired_at)) " UTC · recorded " (when(a.recorded_at)) " UTC · "
            a href=(brand_alerts) { "all alerts of " (a.brand) }
        }
        @for s in &silences {
            (silenced(s))
        }
        h3 { "Evidence" }
        p { (evidence(&a)) }
        h3 { "Email" }
        @match email_of(a.id) {
            Some(e) => (email(e)),
            None => p.muted { "No email for this event: it was silenced, held back (quiet hours, or resolved emails \
                are off), or [alerts] has no recipients for " (a.brand) "." },
        }
        @if episode.len() > 1 {
            h3 { "This alert's events" }
            table.data {
                tr { th { "recorded (UTC)" } th { "event" } th { "email" } }
                @for e in &episode {
                    tr {
                        td.nowrap {
                            @if e.id == a.id { b { (when(e.recorded_at)) } }
                            @else { a href=(format!("/alerts/{}", e.id)) { (when(e.recorded_at)) } }
                        }
                        td { (e.event) }
                        td { @match email_of(e.id) { Some(m) => (delivery(m)), None => span.muted { "none" } } }
                    }
                }
            }
        }
        h3 { "Silence " (a.brand) }
        @if silences.is_empty() { p.muted { "No silence in force." } }
        @else if who.is_editor() {
            @for s in &silences {
                form.inline method="post" action="/alerts/unsilence" {
                    input type="hidden" name="csrf" value=(who.csrf);
                    input type="hidden" name="id" value=(s.id);
                    input type="hidden" name="alert" value=(a.id);
                    button type="submit" { "Unsilence (until " (when(s.until)) ")" }
                }
            }
        }
        @if who.is_editor() {
            form.filters method="post" action="/alerts/silence" {
                input type="hidden" name="csrf" value=(who.csrf);
                input type="hidden" name="alert" value=(a.id);
                label { "For" input name="duration" size="6" value="4h" required; }
                label { "Comment" input name="comment" size="40"; }
                button type="submit" { "Silence " (a.brand) }
            }
        }
    };
    html_response(StatusCode::OK, page(&title(&a), Some(&who), body))
}

/// "Acme: negative spike, firing".
fn title(a: &AlertRow) -> String {
    format!("{}: {}, {}", a.brand, a.kind.replace('_', " "), a.event)
}

/// An email of the outbox: what was sent to whom, and how its delivery went.
fn email(e: &AlertEmail) -> Markup {
    let to = serde_json::from_str::<Vec<String>>(&e.recipients).map(|r| r.join(", ")).unwrap_or(e.recipients.clone());
    html! {
        table.data {
            tr { th { "subject" } td { (e.subject) } }
            tr { th { "to" } td { (to) } }
            tr { th { "queued (UTC)" } td { (when(e.created_at)) } }
            tr { th { "delivery" } td { (delivery(e)) } }
            tr { th { "Message-ID" } td { code { (e.message_id) } } }
        }
    }
}

/// Sent, waiting for its first try, or retrying after failures (the outbox retries until it goes through).
fn delivery(e: &AlertEmail) -> Markup {
    let times = |n: i64| if n == 1 { "once".to_string() } else { format!("{n} times") };
    html! {
        @if let Some(at) = e.sent_at {
            span.badge.positive { "sent" } " " (when(at)) " UTC"
            @if e.attempts > 1 { span.muted { " (after failing " (times(e.attempts - 1)) ")" } }
        } @else if e.attempts == 0 {
            span.badge { "waiting" } " in the outbox, first try " (when(e.next_attempt_at)) " UTC"
        } @else {
            span.badge.negative { "retrying" } " failed " (times(e.attempts)) "; next try " (when(e.next_attempt_at)) " UTC"
            @if let Some(err) = &e.last_error { br; span.error { "Last error: " } (excerpt(err, 300)) }
        }
    }
}
