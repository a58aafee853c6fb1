//! Syndication feeds: RSS 0.9x/2.0, RSS 1.0 (RDF), Atom 1.0 and JSON Feed 1.x, including Google
//! Alerts (Atom whose links are `google.com/url?…&url=REAL` redirects and whose titles carry `<b>`)
//! and Google News RSS (whose items name their publisher in `<source>`).
//!
//! XML is read with `quick-xml` as a flat stream of events, keeping only a stack of open element
//! names: no tree is built, nothing recurses, and nesting deeper than [`MAX_DEPTH`] is refused.
//! We read the handful of fields a mention needs rather than model every feed extension.
//!
//! Titles and bodies are treated as HTML (feeds routinely put markup or entities in both) and turned
//! into plain text. Character references are read as HTML reads them, in the XML too (`&#150;` is the en dash
//! a feed means, not the C1 control XML would make of it; RSS 0.91's DTD declares the HTML names).
//!
//! Items without a date (RSS 0.91 has none, 0.92 and hand-written feeds often leave it out) are kept, as feed
//! readers keep them: they get the time they were fetched ([`ParseContext::fetched_at`]), which the store keeps
//! as their first-seen time because later polls find the same id (the guid, else the link, else a hash of title
//! and text). An item whose date is there but does not parse is skipped and counted, like one with nothing to
//! identify it: better missing than filed at the wrong time.

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde_json::Value;

use super::requests::{Auth, Feed, Paging, RequestPlan};
use super::{
    at, mention, non_empty, parse_json, parse_time, resolve_link, str_at, string_at, ParseContext, ParseError,
    ParsedPage, Platform,
};
use crate::config::sources::FeedSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{decode_entities, html_to_text, text_hash, unwrap_google_redirect_str};

const P: Platform = Platform::Feed;

/// Feeds are shallow; anything deeper than this is not a feed worth reading.
pub const MAX_DEPTH: usize = 256;

/// Parses an XML or JSON feed. `next_page` is an Atom `rel="next"` link or JSON Feed `next_url`.
///
/// Items without a date get `ctx.fetched_at` (default: now), one time for the whole page.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let trimmed = text.trim_start_matches('\u{FEFF}').trim_start();
    let fetched_at = ctx.fetched_at.unwrap_or_else(Utc::now);
    if trimmed.starts_with('{') {
        return parse_json_feed(trimmed, ctx, fetched_at);
    }
    parse_xml(trimmed, ctx, fetched_at)
}

/// One item as read from the XML, before validation.
#[derive(Default)]
struct RawItem {
    id: Option<String>,
    about: Option<String>,
    link: Option<String>,
    title: String,
    author: String,
    /// RSS `<author>`: an e-mail address, maybe with the name in parentheses.
    rss_author: String,
    source: String,
    published: String,
    updated: String,
    /// Body candidates by preference: `content:encoded` / Atom `content`, then `description` /
    /// `summary`.
    content: String,
    summary: String,
    lang: Option<String>,
}

/// Which field the text being read belongs to.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    None,
    Id,
    Link,
    Title,
    Author,
    RssAuthor,
    Source,
    Published,
    Updated,
    Content,
    Summary,
}

fn parse_xml(text: &str, ctx: &ParseContext, fetched_at: DateTime<Utc>) -> Result<ParsedPage, ParseError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.expand_empty_elements = true;

    let mut page = ParsedPage::default();
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut root_closed = false;
    let mut channel_lang: Option<String> = None;
    let mut reading_channel_lang = false;
    // The item being read, the stack depth of its element, and which field text goes to.
    let mut item: Option<(RawItem, usize)> = None;
    let mut field = Field::None;
    let mut field_depth = 0;

    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                return Err(ParseError::new(P, format!("malformed XML at byte {}: {e}", reader.error_position())))
            }
        };
        match event {
            Event::Start(e) => {
                let name = qname(&e);
                let local = local(&name).to_string();
                if root.is_none() {
                    if !matches!(local.as_str(), "rss" | "RDF" | "feed" | "channel") {
                        return Err(ParseError::new(P, format!("not RSS, RDF or Atom: the root element is <{name}>")));
                    }
                    root = Some(name.clone());
                    channel_lang = attr(&e, b"xml:lang");
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::new(P, format!("elements nested deeper than {MAX_DEPTH}")));
                }
                stack.push(name.clone());
                let depth = stack.len();
                match &mut item {
                    None if local == "item" || local == "entry" => {
                        let mut raw = RawItem { about: attr(&e, b"rdf:about"), ..RawItem::default() };
                        raw.lang = attr(&e, b"xml:lang");
                        item = Some((raw, depth));
                        field = Field::None;
                    }
                    None => {
                        reading_channel_lang = local == "language" && channel_lang.is_none();
                        if local == "link" && attr(&e, b"rel").as_deref() == Some("next") {
                            page.next_page = attr(&e, b"href").map(|h| resolve_link(ctx.base_url.as_deref(), &h));
                        }
                    }
                    Some((raw, item_depth)) if depth == *item_depth + 1 => {
                        field = child_field(&name, &local);
                        field_depth = depth;
                        if local == "link" {
                            let rel = attr(&e, b"rel");
                            if let Some(href) = attr(&e, b"href") {
                                if raw.link.is_none() && matches!(rel.as_deref(), None | Some("alternate")) {
                                    raw.link = Some(href);
                                }
                                field = Field::None;
                            }
                        }
                        if local == "guid" && attr(&e, b"isPermaLink").as_deref() == Some("true") {
                            // A permalink guid doubles as the link when there is no <link>.
                            field = Field::Id;
                        }
                    }
                    Some(_) => {
                        // Inside a field: Atom <author><name>, XHTML content (block elements separate words).
                        if matches!(field, Field::Author | Field::RssAuthor) {
                            field = if local == "name" { Field::Author } else { Field::None };
                        } else if matches!(field, Field::Content | Field::Summary) {
                            push_text(&mut item, field, " ");
                        }
                    }
                }
            }
            Event::End(_) => {
                let depth = stack.len();
                match item.as_ref().map(|(_, d)| *d) {
                    Some(item_depth) if depth == item_depth => {
                        if let Some((raw, _)) = item.take() {
                            match finish(raw, channel_lang.as_deref(), ctx, fetched_at) {
                                Some(m) => page.mentions.push(m),
                                None => page.skipped += 1,
                            }
                        }
                        field = Field::None;
                    }
                    Some(_) if depth <= field_depth => field = Field::None,
                    Some(_) if field == Field::Author => field = Field::None,
                    _ => {}
                }
                reading_channel_lang = false;
                stack.pop();
                if stack.is_empty() && root.is_some() {
                    root_closed = true;
                    break;
                }
            }
            Event::Text(t) => {
                let s = t.decode().unwrap_or_default();
                on_text(&mut item, field, &s, reading_channel_lang, &mut channel_lang);
            }
            Event::CData(t) => {
                let s = t.decode().unwrap_or_default();
                on_text(&mut item, field, &s, reading_channel_lang, &mut channel_lang);
            }
            Event::GeneralRef(r) => {
                // Character references too, not quick-xml's XML reading of them: see the module docs.
                let name = r.decode().unwrap_or_default();
                let resolved = decode_entities(&format!("&{name};")).into_owned();
                on_text(&mut item, field, &resolved, reading_channel_lang, &mut channel_lang);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root {
        None => Err(ParseError::new(P, "not a feed: no XML elements found")),
        Some(r) if !root_closed => Err(ParseError::new(P, format!("truncated: the document ends inside <{r}>"))),
        Some(_) => Ok(page),
    }
}

fn on_text(
    item: &mut Option<(RawItem, usize)>,
    field: Field,
    s: &str,
    reading_channel_lang: bool,
    channel_lang: &mut Option<String>,
) {
    if item.is_none() && reading_channel_lang {
        let lang = channel_lang.get_or_insert_with(String::new);
        lang.push_str(s);
        return;
    }
    push_text(item, field, s);
}

fn push_text(item: &mut Option<(RawItem, usize)>, field: Field, s: &str) {
    let Some((raw, _)) = item else { return };
    let target = match field {
        Field::None => return,
        Field::Id => raw.id.get_or_insert_with(String::new),
        Field::Link => raw.link.get_or_insert_with(String::new),
        Field::Title => &mut raw.title,
        Field::Author => &mut raw.author,
        Field::RssAuthor => &mut raw.rss_author,
        Field::Source => &mut raw.source,
        Field::Published => &mut raw.published,
        Field::Updated => &mut raw.updated,
        Field::Content => &mut raw.content,
        Field::Summary => &mut raw.summary,
    };
    target.push_str(s);
}

fn child_field(name: &str, local: &str) -> Field {
    match (name, local) {
        ("content:encoded", _) => Field::Content,
        ("dc:creator", _) => Field::Author,
        ("dc:date", _) => Field::Published,
        (_, "guid" | "id") => Field::Id,
        (_, "link") => Field::Link,
        (_, "title") => Field::Title,
        (_, "author") if name.contains(':') => Field::Author,
        // RSS <author> is text; Atom <author> has a <name> child, which re-selects Field::Author.
        (_, "author") => Field::RssAuthor,
        (_, "creator") => Field::Author,
        (_, "source") => Field::Source,
        (_, "pubDate" | "published" | "issued" | "date") => Field::Published,
        (_, "updated" | "modified") => Field::Updated,
        (_, "content") => Field::Content,
        (_, "description" | "summary") => Field::Summary,
        _ => Field::None,
    }
}

fn finish(
    raw: RawItem,
    channel_lang: Option<&str>,
    ctx: &ParseContext,
    fetched_at: DateTime<Utc>,
) -> Option<NewMention> {
    let base = ctx.base_url.as_deref();
    let link = raw
        .link
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| unwrap_google_redirect_str(&resolve_link(base, l)));
    let title = non_empty(html_to_text(&raw.title));
    let body = if raw.content.trim().is_empty() { &raw.summary } else { &raw.content };
    let text = html_to_text(body);
    let id = raw
        .id
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or(raw.about)
        .or_else(|| link.clone())
        .or_else(|| content_id(title.as_deref(), &text))?;
    let created_at = item_time(&[&raw.published, &raw.updated], fetched_at)?;
    let mut m = mention(P, id, created_at, MentionKind::Article);
    m.url = link;
    m.title = title;
    let author = non_empty(html_to_text(&raw.author))
        .or_else(|| non_empty(html_to_text(&raw.rss_author)).map(|a| rss_author_name(&a)))
        .or_else(|| non_empty(html_to_text(&raw.source)));
    m.author = author;
    m.text = text;
    m.lang = raw.lang.or_else(|| channel_lang.map(str::to_string)).and_then(|l| non_empty(normalise_lang(&l)));
    Some(m)
}

/// An item's time: the first of its dates that parses; `fetched_at` when it has no date at all; `None` (skip it)
/// when it has one that does not parse.
fn item_time(dates: &[&str], fetched_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if dates.iter().all(|d| d.trim().is_empty()) {
        return Some(fetched_at);
    }
    dates.iter().find_map(|d| parse_time(d))
}

/// The id of an item with neither guid nor link: the syndication hash of its title and text, the same on every
/// poll as long as the item reads the same. `None` for an item with neither.
fn content_id(title: Option<&str>, text: &str) -> Option<String> {
    (title.is_some() || !text.is_empty()).then(|| text_hash(title, text))
}

/// RSS `<author>` is `email (Name)`; the name is what people recognise.
fn rss_author_name(a: &str) -> String {
    match (a.find('('), a.rfind(')')) {
        (Some(open), Some(close)) if open < close => a[open + 1..close].trim().to_string(),
        _ => a.to_string(),
    }
}

/// `en_US` → `en-US` (BCP 47 uses hyphens; RSS feeds often copy a POSIX locale).
fn normalise_lang(l: &str) -> String {
    l.trim().replace('_', "-")
}

fn qname(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.name().as_ref()).into_owned()
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

fn attr(e: &BytesStart<'_>, key: &[u8]) -> Option<String> {
    let a = e.attributes().flatten().find(|a| a.key.as_ref() == key)?;
    let v = a
        .unescape_value()
        .map(|v| v.into_owned())
        .unwrap_or_else(|_| decode_entities(&String::from_utf8_lossy(&a.value)).into_owned());
    non_empty(v.trim().to_string())
}

/// JSON Feed 1.0 / 1.1 (`https://jsonfeed.org/version/1.1`).
fn parse_json_feed(text: &str, ctx: &ParseContext, fetched_at: DateTime<Utc>) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let is_json_feed = str_at(&root, &["version"]).is_some_and(|v| v.contains("jsonfeed.org"));
    let Some(Value::Array(items)) = at(&root, &["items"]).filter(|_| is_json_feed) else {
        return Err(ParseError::new(P, "JSON but not a JSON Feed: no jsonfeed.org version and items array"));
    };
    let feed_lang = string_at(&root, &["language"]);
    let feed_author = json_feed_author(&root);
    let mut page = ParsedPage::default();
    for it in items {
        match json_feed_item(it, feed_lang.as_deref(), feed_author.as_deref(), ctx, fetched_at) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = string_at(&root, &["next_url"]);
    Ok(page)
}

fn json_feed_item(
    it: &Value,
    feed_lang: Option<&str>,
    feed_author: Option<&str>,
    ctx: &ParseContext,
    fetched_at: DateTime<Utc>,
) -> Option<NewMention> {
    let link = str_at(it, &["url"])
        .or_else(|| str_at(it, &["external_url"]))
        .map(|l| resolve_link(ctx.base_url.as_deref(), l));
    let title = str_at(it, &["title"]).map(html_to_text).and_then(non_empty);
    let text = match str_at(it, &["content_html"]) {
        Some(h) => html_to_text(h),
        None => str_at(it, &["content_text"])
            .or_else(|| str_at(it, &["summary"]))
            .map(crate::text::collapse_whitespace)
            .unwrap_or_default(),
    };
    let id = super::id_at(it, &["id"]).or_else(|| link.clone()).or_else(|| content_id(title.as_deref(), &text))?;
    // Absent or null is no date; a number is a date that does not parse.
    let date = |key| match at(it, &[key]) {
        None | Some(Value::Null) => "",
        Some(v) => v.as_str().unwrap_or("?"),
    };
    let created_at = item_time(&[date("date_published"), date("date_modified")], fetched_at)?;
    let mut m = mention(P, id, created_at, MentionKind::Article);
    m.url = link;
    m.title = title;
    m.author = json_feed_author(it).or_else(|| feed_author.map(str::to_string));
    m.text = text;
    m.lang = string_at(it, &["language"]).or_else(|| feed_lang.map(str::to_string));
    Some(m)
}

/// `authors[0].name` (1.1) or `author.name` (1.0).
fn json_feed_author(v: &Value) -> Option<String> {
    at(v, &["authors"])
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find_map(|a| string_at(a, &["name"])))
        .or_else(|| string_at(v, &["author", "name"]))
}

/// What to ask for one brand: each configured feed as it is (a feed has no search and no further pages).
pub(super) fn plan(s: &FeedSettings) -> RequestPlan {
    let feeds = s.urls.iter().map(|u| Feed::new(u.clone(), u.clone(), Paging::None)).collect();
    RequestPlan { feeds, auth: Auth::None }
}
