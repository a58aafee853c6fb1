//! YouTube Data API v3: `search.list` (videos), `commentThreads.list` (top-level comments and the
//! replies included with them), `comments.list` and `videos.list`.
//!
//! Comment text is `textOriginal` when the API gives it (plain text), else `textDisplay` (HTML).
//! Search results that are channels or playlists are not mentions and are ignored.
//! API errors (`{"error": {...}}`) are a [`ParseError`] carrying the API's message.

use serde_json::Value;

use super::requests::{enc, or_query, since_rfc3339, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{
    at, copy_metrics, mention, parse_json, str_at, string_at, time_at, ParseContext, ParseError, ParsedPage, Platform,
};
use crate::config::sources::YouTubeSettings;
use crate::mention::{MentionKind, NewMention};
use crate::text::{html_to_text, plain_text};

const P: Platform = Platform::YouTube;

/// Parses a list response. `next_page` is `nextPageToken`.
pub fn parse(text: &str, _ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let Some(Value::Array(items)) = at(&root, &["items"]) else {
        let reason = match str_at(&root, &["error", "message"]) {
            Some(msg) => format!("error response: {msg}"),
            None if root.get("kind").is_some() => return Ok(ParsedPage::default()),
            None => "not a Data API list response: no items array".to_string(),
        };
        return Err(ParseError::new(P, reason));
    };
    let mut page = ParsedPage::default();
    for item in items {
        let kind = str_at(item, &["kind"]).unwrap_or_default();
        let top = at(item, &["snippet", "topLevelComment"]);
        if kind == "youtube#commentThread" || top.is_some() {
            let video = str_at(item, &["snippet", "videoId"]);
            push(&mut page, top.and_then(|c| comment(c, video, None)));
            let top_id = top.and_then(|c| string_at(c, &["id"]));
            if let Some(Value::Array(replies)) = at(item, &["replies", "comments"]) {
                for reply in replies {
                    push(&mut page, comment(reply, video, top_id.as_deref()));
                }
            }
        } else if kind == "youtube#comment" {
            push(&mut page, comment(item, None, None));
        } else if kind == "youtube#video" {
            push(&mut page, video(item, str_at(item, &["id"])));
        } else {
            match at(item, &["id", "kind"]).and_then(Value::as_str) {
                Some("youtube#video") | None => push(&mut page, video(item, str_at(item, &["id", "videoId"]))),
                Some(_) => {}
            }
        }
    }
    page.next_page = string_at(&root, &["nextPageToken"]);
    Ok(page)
}

fn push(page: &mut ParsedPage, m: Option<NewMention>) {
    match m {
        Some(m) => page.mentions.push(m),
        None => page.skipped += 1,
    }
}

fn video(item: &Value, id: Option<&str>) -> Option<NewMention> {
    let id = id?;
    let s = item.get("snippet")?;
    let created_at = time_at(s, &["publishedAt"])?;
    let mut m = mention(P, id.to_string(), created_at, MentionKind::Post);
    m.url = Some(format!("https://www.youtube.com/watch?v={id}"));
    m.author = string_at(s, &["channelTitle"]);
    m.title = str_at(s, &["title"]).map(plain_text);
    m.text = str_at(s, &["description"]).map(plain_text).unwrap_or_default();
    m.lang = string_at(s, &["defaultLanguage"]).or_else(|| string_at(s, &["defaultAudioLanguage"]));
    if let Some(stats) = item.get("statistics") {
        copy_metrics(&mut m.metrics, stats, &["viewCount", "likeCount", "commentCount"]);
    }
    Some(m)
}

/// One comment; `video` comes from the thread when the comment's own snippet lacks it, `parent`
/// is the top-level comment for replies.
fn comment(c: &Value, video: Option<&str>, parent: Option<&str>) -> Option<NewMention> {
    let id = str_at(c, &["id"])?;
    let s = c.get("snippet")?;
    let created_at = time_at(s, &["publishedAt"])?;
    let mut m = mention(P, id.to_string(), created_at, MentionKind::Comment);
    let video = str_at(s, &["videoId"]).or(video);
    if let Some(v) = video {
        m.url = Some(format!("https://www.youtube.com/watch?v={v}&lc={id}"));
    }
    m.author = string_at(s, &["authorDisplayName"]);
    m.text = match str_at(s, &["textOriginal"]) {
        Some(t) => plain_text(t),
        None => str_at(s, &["textDisplay"]).map(html_to_text).unwrap_or_default(),
    };
    m.parent_id = string_at(s, &["parentId"]).or(parent.map(str::to_string)).or(video.map(str::to_string));
    copy_metrics(&mut m.metrics, s, &["likeCount"]);
    Some(m)
}

/// What to ask YouTube for one brand: one video search for the whole query (it has OR) published since the
/// cursor, and the comment threads of each watched video. The API key travels in the query string, added by the
/// poller, which also spends the source's daily quota per request.
pub(super) fn plan(s: &YouTubeSettings, terms: &[String], since: Option<i64>) -> RequestPlan {
    let base = trim_base(&s.base_url);
    let after = since_rfc3339("publishedAfter", since);
    let search =
        format!("{base}/search?part=snippet&type=video&order=date&maxResults=50&q={}{after}", enc(&or_query(terms)));
    let mut feeds = vec![Feed::new("search".into(), search, Paging::Token("pageToken"))];
    for v in &s.watch_videos {
        let url = format!(
            "{base}/commentThreads?part=snippet&videoId={}&order=time&maxResults=100&textFormat=plainText",
            enc(v)
        );
        // Comments under a watched video (the brand's own, or one about it) are about the brand without naming
        // it; exclusions still apply.
        feeds.push(Feed { owned: true, ..Feed::new(format!("video:{v}"), url, Paging::Token("pageToken")) });
    }
    RequestPlan { feeds, auth: Auth::None }
}
