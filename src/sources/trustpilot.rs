//! Trustpilot business-unit review pages (`https://www.trustpilot.com/review/{domain}`).
//!
//! Trustpilot has no free API, so the public page is read. In order of preference:
//! 1. the Next.js state in `<script id="__NEXT_DATA__" type="application/json">`,
//!    `props.pageProps.reviews[]` (`id`, `title`, `text`, `rating`, `language`,
//!    `dates.publishedDate`, `consumer.displayName`, `likes`);
//! 2. schema.org JSON-LD (`<script type="application/ld+json">`): objects with `@type: Review`;
//! 3. `<article>` review cards with a `<time datetime>` and a `/reviews/{id}` link.
//!
//! A JSON body is read as the official API's `{"reviews": [...]}` (`stars`, `createdAt`). Whatever
//! the route, the `external_id` is Trustpilot's review id, so switching routes does not duplicate.

use scraper::{ElementRef, Html, Selector};
use serde_json::Value;

use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, i64_at, mention, non_empty, parse_json, rating_at, str_at, string_at, time_at, ParseContext, ParseError,
    ParsedPage, Platform,
};
use crate::config::sources::TrustpilotSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{collapse_whitespace, plain_text};

const P: Platform = Platform::Trustpilot;

/// JSON-LD documents are small; bounding the walk keeps a hostile one from costing much.
const MAX_LD_NODES: usize = 100_000;

pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        let root = parse_json(P, trimmed)?;
        return match at(&root, &["reviews"]) {
            Some(Value::Array(reviews)) => Ok(from_review_json(reviews)),
            _ => Err(ParseError::new(P, "JSON without a reviews array")),
        };
    }
    super::check_html_depth(P, text)?;
    let doc = Html::parse_document(text);
    if let Some(next) = select_first(&doc, r#"script#__NEXT_DATA__"#) {
        let json = next.text().collect::<String>();
        if let Ok(root) = serde_json::from_str::<Value>(&json) {
            if let Some(Value::Array(reviews)) = at(&root, &["props", "pageProps", "reviews"]) {
                let mut page = from_review_json(reviews);
                let pagination = at(&root, &["props", "pageProps", "filters", "pagination"]);
                if let Some(p) = pagination {
                    if let (Some(cur), Some(total)) = (i64_at(p, &["currentPage"]), i64_at(p, &["totalPages"])) {
                        if cur < total {
                            page.next_page = Some((cur + 1).to_string());
                        }
                    }
                }
                return Ok(page);
            }
        }
    }
    if let Some(page) = from_json_ld(&doc) {
        return Ok(page);
    }
    if let Some(page) = from_articles(&doc) {
        return Ok(page);
    }
    Err(ParseError::new(
        P,
        "no reviews found: no __NEXT_DATA__ reviews, no JSON-LD Review objects, no review <article>s",
    ))
}

fn select_first<'a>(doc: &'a Html, css: &str) -> Option<ElementRef<'a>> {
    let sel = Selector::parse(css).ok()?;
    doc.select(&sel).next()
}

fn from_review_json(reviews: &[Value]) -> ParsedPage {
    let mut page = ParsedPage::default();
    for r in reviews {
        match review(r) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page
}

fn review(r: &Value) -> Option<NewMention> {
    let id = string_at(r, &["id"])?;
    let created_at = time_at(r, &["dates", "publishedDate"])
        .or_else(|| time_at(r, &["createdAt"]))
        .or_else(|| time_at(r, &["dates", "experiencedDate"]))?;
    let mut m = mention(P, id.clone(), created_at, MentionKind::Review);
    m.url = Some(format!("https://www.trustpilot.com/reviews/{id}"));
    m.author = string_at(r, &["consumer", "displayName"]);
    m.title = str_at(r, &["title"]).map(plain_text).and_then(non_empty);
    m.text = str_at(r, &["text"]).map(plain_text).unwrap_or_default();
    m.rating = rating_at(r, &["rating"]).or_else(|| rating_at(r, &["stars"]));
    m.lang = string_at(r, &["language"]);
    if let Some(likes) = i64_at(r, &["likes"]) {
        m.metrics.insert("likes".to_string(), likes);
    }
    Some(m)
}

/// Reviews from schema.org JSON-LD; `None` when the page has no Review objects at all.
fn from_json_ld(doc: &Html) -> Option<ParsedPage> {
    let sel = Selector::parse(r#"script[type="application/ld+json"]"#).ok()?;
    let mut page = ParsedPage::default();
    let mut found = false;
    for script in doc.select(&sel) {
        let Ok(root) = serde_json::from_str::<Value>(&script.text().collect::<String>()) else {
            continue;
        };
        // Iterative walk: Review objects sit under @graph, under a LocalBusiness's `review`, or alone.
        let mut stack = vec![&root];
        let mut visited = 0;
        while let Some(v) = stack.pop() {
            visited += 1;
            if visited > MAX_LD_NODES {
                break;
            }
            match v {
                Value::Array(a) => stack.extend(a.iter()),
                Value::Object(o) => {
                    if is_type(v, "Review") {
                        found = true;
                        match ld_review(v) {
                            Some(m) => page.mentions.push(m),
                            None => page.skipped += 1,
                        }
                    } else {
                        stack.extend(o.values());
                    }
                }
                _ => {}
            }
        }
    }
    found.then_some(page)
}

fn is_type(v: &Value, t: &str) -> bool {
    match v.get("@type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    }
}

fn ld_review(v: &Value) -> Option<NewMention> {
    // `@id` looks like `https://www.trustpilot.com/#/schema/Review/{domain}/{review id}`.
    let raw_id = str_at(v, &["@id"]).or_else(|| str_at(v, &["url"]))?;
    let id = raw_id.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(raw_id);
    let created_at = time_at(v, &["datePublished"])?;
    let mut m = mention(P, id.to_string(), created_at, MentionKind::Review);
    m.url = Some(format!("https://www.trustpilot.com/reviews/{id}"));
    m.author = match v.get("author") {
        Some(Value::Array(a)) => a.iter().find_map(|a| string_at(a, &["name"])),
        Some(a) => string_at(a, &["name"]),
        None => None,
    };
    m.title = str_at(v, &["headline"]).or_else(|| str_at(v, &["name"])).map(plain_text);
    m.text = str_at(v, &["reviewBody"]).map(plain_text).unwrap_or_default();
    m.rating = rating_at(v, &["reviewRating", "ratingValue"]);
    m.lang = string_at(v, &["inLanguage"]);
    Some(m)
}

/// Reviews from `<article>` cards; `None` when there are no articles with a review link.
fn from_articles(doc: &Html) -> Option<ParsedPage> {
    let article = Selector::parse("article").ok()?;
    let link = Selector::parse(r#"a[href*="/reviews/"]"#).ok()?;
    let time = Selector::parse("time[datetime]").ok()?;
    let text = Selector::parse(r#"[data-service-review-text-typography], p"#).ok()?;
    let title = Selector::parse(r#"[data-service-review-title-typography], h2"#).ok()?;
    let author = Selector::parse(r#"[data-consumer-name-typography]"#).ok()?;
    let rating = Selector::parse("[data-service-review-rating]").ok()?;
    let mut page = ParsedPage::default();
    let mut found = false;
    for a in doc.select(&article) {
        let Some(href) = a.select(&link).find_map(|l| l.value().attr("href")) else {
            continue;
        };
        found = true;
        let id = href.split(['?', '#']).next().unwrap_or(href).trim_end_matches('/').rsplit('/').next();
        let created = a.select(&time).find_map(|t| t.value().attr("datetime").and_then(super::parse_time));
        let (Some(id), Some(created_at)) = (id.filter(|i| !i.is_empty()), created) else {
            page.skipped += 1;
            continue;
        };
        let mut m = mention(P, id.to_string(), created_at, MentionKind::Review);
        m.url = Some(format!("https://www.trustpilot.com/reviews/{id}"));
        let txt = |el: ElementRef<'_>| collapse_whitespace(&el.text().collect::<Vec<_>>().join(" "));
        m.text = a.select(&text).next().map(txt).unwrap_or_default();
        m.title = a.select(&title).next().map(txt).and_then(non_empty);
        m.author = a.select(&author).next().map(txt).and_then(non_empty);
        m.rating = a
            .select(&rating)
            .next()
            .and_then(|r| r.value().attr("data-service-review-rating"))
            .and_then(|r| r.trim().parse::<u8>().ok())
            .filter(|r| (1..=5).contains(r));
        page.mentions.push(m);
    }
    found.then_some(page)
}

/// What to ask Trustpilot for one brand: each business unit's review page, newest first, pages numbered from 1.
/// The reviews are of the brand's own business, so they need not name it.
pub(super) fn plan(s: &TrustpilotSettings) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let feeds = s
        .business_units
        .iter()
        .map(|bu| {
            let url = format!("{base}/review/{}?sort=recency", enc(bu));
            Feed { owned: true, ..Feed::new(bu.clone(), url, Paging::Number { param: "page", first: 1 }) }
        })
        .collect();
    RequestPlan { feeds, auth: Auth::None }
}
