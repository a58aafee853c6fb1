//! Instagram: the Instagram Graph API for a professional (business or creator) account the brand manages
//! (`graph.facebook.com/{version}/…`, the token of the Facebook page the account is linked to).
//!
//! Three responses, each `{"data": […], "paging": {"cursors": {"before", "after"}, "next"}}`:
//! - `/{ig-user-id}/media`: the account's own media (`id`, `timestamp`, `permalink`, `comments_count`) with their
//!   newest comments nested as a `comments` edge, each with its `replies` edge.
//! - `/{media-id}/comments`: the comments of one media object: `id`, `text`, `timestamp`, `username` (`from{id,
//!   username}` in newer versions), `like_count`, and a `replies` edge.
//! - `/{ig-user-id}/tags`: media in which others tagged the account: `id`, `caption`, `timestamp`, `permalink`,
//!   `username`, `media_type`, `like_count`, `comments_count`.
//!
//! Every comment and reply is a mention of kind `comment` (its `parent_id` the media or comment it answers, its link
//! the media's `permalink` when the payload has it: comments have none of their own). A media object is a mention
//! of kind `post` when it has a caption; one without only carries its comments, which is how the account's own media
//! come (the plan does not ask for their captions). Top-level items are comments when the request (the URL, else the
//! body's `paging.next`) is a `comments` or `replies` edge or when they have `text` (media have `caption`).
//!
//! The account's own replies are left out, the brand's own words not being what people say about it: those whose
//! `from.id` is the account that the request names (`ParseContext::base_url`, the node of a `media` or `tags`
//! request: the poller always gives it, `hearsay sources parse` takes `--base-url`). Instagram gives no language;
//! authors are usernames.

use super::graph::{self, Fields, Node};
use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{copy_metrics, id_at, mention, parse_json, str_at, ParseContext, ParseError, ParsedPage, Platform};
use crate::config::sources::InstagramSettings;
use crate::mention::{MentionKind, NewMention};

const P: Platform = Platform::Instagram;

/// Said with every configuration error of an `instagram` source (`sources::advice`).
pub(super) const ADVICE: &str = "instagram needs the access token of the Facebook page linked to the professional \
     account (or of a person who manages it), with the permissions instagram_basic, instagram_manage_comments, \
     pages_show_list and pages_read_engagement; user_id is the account's Instagram user id \
     (GET /{page-id}?fields=instagram_business_account)";

/// Parses a media list, a tags list or a comments list. `next_page` is the `after` cursor of the top-level list.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let items = graph::top_items(P, &root, "Instagram Graph API list")?;
    let request = graph::request_url(ctx.base_url.as_deref(), &root).and_then(graph::node_edge);
    let edge = request.as_ref().map(|(_, e)| e.as_str());
    let top_comments = matches!(edge, Some("comments" | "replies"));
    let media_id = request.as_ref().filter(|_| top_comments).map(|(n, _)| n.as_str());
    let account = ctx
        .base_url
        .as_deref()
        .and_then(graph::node_edge)
        .and_then(|(node, edge)| matches!(edge.as_str(), "media" | "tags").then_some(node));
    let mut page = ParsedPage::default();
    for n in graph::walk(items, &["comments", "replies"]) {
        if !n.v.is_object() {
            page.skipped += 1;
            continue;
        }
        let comment = n.depth > 0 || top_comments || n.v.get("text").is_some();
        let by_account = account.is_some() && id_at(n.v, &["from", "id"]) == account;
        if by_account || (!comment && str_at(n.v, &["caption"]).is_none()) {
            continue;
        }
        match item(&n, comment, media_id) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = graph::next_cursor(&root);
    Ok(page)
}

fn item(n: &Node<'_>, comment: bool, media_id: Option<&str>) -> Option<NewMention> {
    let f = Fields::of(n.v)?;
    let kind = if comment { MentionKind::Comment } else { MentionKind::Post };
    let mut m = mention(P, f.id.clone(), f.created_at, kind);
    m.text = f.text.unwrap_or_default();
    m.author = f.author.map(str::to_string);
    // Comments have no link of their own: the media they are under has it.
    m.url = f.permalink.or_else(|| str_at(n.root, &["permalink"])).map(str::to_string);
    if comment {
        m.parent_id = id_at(n.v, &["parent_id"])
            .or_else(|| n.parent.and_then(|p| id_at(p, &["id"])))
            .or_else(|| media_id.map(str::to_string));
    }
    copy_metrics(&mut m.metrics, n.v, &["like_count", "comments_count"]);
    Some(m)
}

/// Fields of a comment; replies have the same.
const COMMENT_FIELDS: &str = "id,text,timestamp,username,like_count";

/// Newest comments read with each media object of the account's list.
const COMMENTS_PER_MEDIA: u32 = 50;

/// What to ask Instagram for one brand: the account's newest media (`media` a page, paged by `after` back to the
/// cursor) each with its comments and their replies, the media others tagged it in (`tags`), and every comment of
/// each watched media object. All of it is about the brand by construction (`owned`): comments under its posts and
/// posts that tag it need not name it.
///
/// As for Facebook, the media list is not limited by `since` (a new comment on an older post would be lost); a
/// comment under media older than the newest `media` is not seen unless the media object is watched.
pub(super) fn plan(s: &InstagramSettings, since: Option<i64>) -> RequestPlan {
    let base = format!("{}/{}", trim_base(&s.base_url), s.graph_version.trim_matches('/'));
    let user = enc(&s.user_id);
    let media_fields = format!(
        "id,permalink,timestamp,comments_count,\
         comments.limit({COMMENTS_PER_MEDIA}){{{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}}}"
    );
    let media = format!("{base}/{user}/media?fields={}&limit={}", enc(&media_fields), s.media.clamp(1, 100));
    let mut feeds = vec![Feed { owned: true, ..Feed::new("media".into(), media, Paging::Token("after")) }];
    if s.tags {
        let fields = "id,caption,timestamp,permalink,username,media_type,like_count,comments_count";
        let url = format!("{base}/{user}/tags?fields={}&limit=50", enc(fields));
        feeds.push(Feed { owned: true, ..Feed::new("tags".into(), url, Paging::Token("after")) });
    }
    let since = since.map(|t| format!("&since={t}")).unwrap_or_default();
    for id in &s.watch_media {
        let fields = format!("{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}");
        let url = format!("{base}/{}/comments?fields={}&limit=50{since}", enc(id), enc(&fields));
        feeds.push(Feed { owned: true, ..Feed::new(format!("media:{id}"), url, Paging::Token("after")) });
    }
    RequestPlan { feeds, auth: Auth::Bearer }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_without_caption_carry_comments_and_tagged_media_are_posts() {
        // The account's media as the plan asks for them: no caption.
        let media = r#"{"data":[{"id":"m1","timestamp":"2026-11-02T10:00:00+0000",
            "permalink":"https://www.instagram.com/p/AAA/","comments":{"data":[
              {"id":"c1","text":"acme never ships","timestamp":"2026-11-02T11:00:00+0000","username":"ann",
               "replies":{"data":[{"id":"r1","text":"same here","timestamp":"2026-11-02T12:00:00+0000","username":"bo"},
                 {"id":"r2","text":"sorry!","timestamp":"2026-11-02T12:30:00+0000","from":{"id":"1784","username":"acme"}}]}}]}}],
            "paging":{"cursors":{"after":"QVE="},"next":"https://graph.facebook.com/v25.0/1784/media?after=QVE%3D"}}"#;
        let ctx = ParseContext {
            base_url: Some("https://graph.facebook.com/v25.0/1784/media?fields=x".into()),
            ..ParseContext::default()
        };
        let page = parse(media, &ctx).unwrap();
        let got: Vec<(&str, Option<&str>, Option<&str>)> =
            page.mentions.iter().map(|m| (m.external_id.as_str(), m.parent_id.as_deref(), m.url.as_deref())).collect();
        assert_eq!(
            got,
            [
                ("c1", Some("m1"), Some("https://www.instagram.com/p/AAA/")),
                ("r1", Some("c1"), Some("https://www.instagram.com/p/AAA/"))
            ],
            "the account's own reply is left out"
        );
        assert_eq!(page.next_page.as_deref(), Some("QVE="));
        assert_eq!(parse(media, &ParseContext::default()).unwrap().mentions.len(), 3, "unknown account: kept");
        let captioned = media.replace(r#""id":"m1","#, r#""id":"m1","caption":"Our spring drop","#);
        let page = parse(&captioned, &ctx).unwrap();
        assert_eq!((page.mentions[0].external_id.as_str(), page.mentions[0].kind), ("m1", MentionKind::Post));
        let tags = r#"{"data":[{"id":"t1","caption":"Thanks @acme","timestamp":"2026-11-02T10:00:00+0000","username":"cy",
            "permalink":"https://www.instagram.com/p/BBB/","media_type":"IMAGE","like_count":3}]}"#;
        let ctx = ParseContext {
            base_url: Some("https://graph.facebook.com/v25.0/1784/tags?fields=x".into()),
            ..ParseContext::default()
        };
        let page = parse(tags, &ctx).unwrap();
        assert_eq!(page.mentions.len(), 1);
        assert_eq!((page.mentions[0].kind, page.mentions[0].author.as_deref()), (MentionKind::Post, Some("cy")));
    }
}
