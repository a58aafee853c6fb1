//! Any web page, read with CSS selectors from the source's configuration ([`HtmlSelectors`](crate::config::HtmlSelectors)).
//!
//! `item` selects one element per mention; the other selectors are matched inside it (the special
//! selector `:scope` means the item element itself). Values:
//! - `text`: the text of every match, joined; `title`, `author`: the first match's text;
//! - `date`: the first match's `datetime`, `title` or `content` attribute, else its text, read by
//!   [`super::parse_time`]; an item whose date is configured but unreadable is skipped. Without a
//!   `date` selector every item gets [`ParseContext::fetched_at`] (default: now).
//! - `link`: the first match's `href` (or `src`), resolved against [`ParseContext::base_url`];
//! - `id`: the first match's `id` or `data-id` attribute, else its resolved `href`, else its text.
//!   Without an `id` selector: the item's own `id` attribute, else the link, else a hash of the text.

use chrono::Utc;
use scraper::{ElementRef, Html};

use super::requests::{Auth, Feed, Paging, RequestPlan};
use super::{mention, non_empty, parse_time, resolve_link, ParseContext, ParseError, ParsedPage, Platform};
use crate::config::sources::HtmlSettings;
use crate::config::sources::{CompiledSelectors, Sel};
use crate::mention::{MentionKind, NewMention};
use crate::text::{collapse_whitespace, text_hash};

const P: Platform = Platform::Html;

/// At most this many items are read from one page. A real listing has dozens; the cap bounds the
/// work a hostile page can cause when `item` matches nested elements (each item's text is its
/// whole subtree).
pub const MAX_ITEMS: usize = 2_000;

pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let selectors =
        ctx.html.as_ref().ok_or_else(|| ParseError::new(P, "no html selectors configured for this source"))?;
    let sel = selectors.compile().map_err(|e| ParseError::new(P, e))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Err(ParseError::new(P, "got JSON, expected an HTML page"));
    }
    super::check_html_depth(P, text)?;
    let doc = Html::parse_document(text);
    let fetched_at = ctx.fetched_at.unwrap_or_else(Utc::now);
    let mut page = ParsedPage::default();
    for el in doc.select(&sel.item).take(MAX_ITEMS) {
        match item(el, &sel, ctx, fetched_at) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    Ok(page)
}

fn item(
    el: ElementRef<'_>,
    sel: &CompiledSelectors,
    ctx: &ParseContext,
    fetched_at: chrono::DateTime<Utc>,
) -> Option<NewMention> {
    let base = ctx.base_url.as_deref();
    let created_at = match &sel.date {
        None => fetched_at,
        Some(s) => {
            let d = first(el, s)?;
            ["datetime", "title", "content"]
                .iter()
                .find_map(|a| d.value().attr(a).and_then(parse_time))
                .or_else(|| parse_time(&text_of(d)))?
        }
    };
    let text = match &sel.text {
        Sel::Scope => text_of(el),
        Sel::Css(s) => collapse_whitespace(&el.select(s).map(text_of).collect::<Vec<_>>().join(" ")),
    };
    let link_el = match &sel.link {
        Some(s) => first(el, s),
        None => Some(el),
    };
    let link =
        link_el.and_then(|l| l.value().attr("href").or_else(|| l.value().attr("src"))).map(|h| resolve_link(base, h));
    let title = sel.title.as_ref().and_then(|s| first(el, s)).map(text_of).and_then(non_empty);
    let id = match &sel.id {
        Some(s) => {
            let i = first(el, s)?;
            let v = i.value();
            v.attr("id")
                .or_else(|| v.attr("data-id"))
                .map(str::to_string)
                .or_else(|| v.attr("href").map(|h| resolve_link(base, h)))
                .or_else(|| non_empty(text_of(i)))?
        }
        None => match el.value().attr("id").filter(|i| !i.trim().is_empty()) {
            Some(i) => i.to_string(),
            None => link.clone().or_else(|| (!text.is_empty()).then(|| text_hash(title.as_deref(), &text)))?,
        },
    };
    let mut m = mention(P, id.trim().to_string(), created_at, MentionKind::Post);
    m.url = link;
    m.title = title;
    m.author = sel.author.as_ref().and_then(|s| first(el, s)).map(text_of).and_then(non_empty);
    m.text = text;
    Some(m)
}

fn first<'a>(el: ElementRef<'a>, s: &Sel) -> Option<ElementRef<'a>> {
    match s {
        Sel::Scope => Some(el),
        Sel::Css(s) => el.select(s).next(),
    }
}

/// An element's text with whitespace collapsed; `<br>` and block boundaries are spaces because
/// text nodes are joined with one.
fn text_of(el: ElementRef<'_>) -> String {
    collapse_whitespace(&el.text().collect::<Vec<_>>().join(" "))
}

/// What to ask for one brand: the configured page as it is (no search, no further pages).
pub(super) fn plan(s: &HtmlSettings) -> RequestPlan {
    RequestPlan { feeds: vec![Feed::new(s.url.clone(), s.url.clone(), Paging::None)], auth: Auth::None }
}
