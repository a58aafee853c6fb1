//! Facebook: the Graph API for a page the brand manages (`graph.facebook.com/{version}/…`, a Page access token).
//!
//! Two responses, both `{"data": […], "paging": {"cursors": {"before", "after"}, "next"}}`:
//! - `/{page-id}/feed`: posts on the page (the page's own, its visitors', public posts that tag it) with `id`,
//!   `message`, `created_time`, `permalink_url`, `from{id,name}`, and their newest comments nested as a
//!   `comments` edge (`{data, paging}`).
//! - `/{post-id}/comments`: the comments of one post, `id`, `message`, `created_time`, `from{id,name}`,
//!   `permalink_url`, `like_count`, `comment_count`, and `parent{id}` on replies (`filter=stream` lists replies
//!   beside the comments).
//!
//! Every comment and reply (a comment's own `comments` edge, or an item with `parent`) is a mention of kind
//! `comment`, its `parent_id` the post or comment it answers. A post is a mention of kind `post` when it has text;
//! one without (a photo) only carries its comments. The top-level items are comments when the request (the URL,
//! else the body's own `paging.next`) is a `comments` edge, or when they have a comment's own fields (`parent`,
//! `comment_count`, `can_remove`).
//!
//! What the page itself wrote (its posts, its replies to customers) is left out: the page's own words are not what
//! people say about it. The page is the one the request names (`ParseContext::base_url`, which the poller always
//! gives and `hearsay sources parse` takes as `--base-url`): the node of `…/{page-id}/feed`, or the first part of the
//! post id in `…/{page-id}_{n}/comments`. Without it, everything with text is kept.
//!
//! Versions differ little: v2.x payloads carry the same names (`created_time` as `2014-10-02T03:17:28+0000`); `from`
//! is missing where the token may not see the author, and the author is then unknown. A `{"error": …}` body is a
//! [`ParseError`] carrying Graph's type, code and message.

use super::graph::{self, Fields, Node};
use super::requests::{enc, trim_base, Auth, Feed, Paging, RequestPlan};
use super::{copy_metrics, id_at, mention, parse_json, str_at, ParseContext, ParseError, ParsedPage, Platform};
use crate::config::sources::FacebookPageSettings;
use crate::mention::{MentionKind, NewMention};

const P: Platform = Platform::FacebookPage;

/// Said with every configuration error of a `facebook_page` source (`sources::advice`).
pub(super) const ADVICE: &str = "facebook_page needs a Page access token of a person who can moderate the page \
     (a long-lived one does not expire), with the permissions pages_show_list, pages_read_engagement and \
     pages_read_user_content; page_id is the page's numeric id";

/// Parses a page feed or a list of comments. `next_page` is the `after` cursor of the top-level list.
pub fn parse(text: &str, ctx: &ParseContext) -> Result<ParsedPage, ParseError> {
    let root = parse_json(P, text)?;
    let items = graph::top_items(P, &root, "Graph API feed or comments list")?;
    let request = graph::request_url(ctx.base_url.as_deref(), &root).and_then(graph::node_edge);
    let top_comments = request.as_ref().is_some_and(|(_, edge)| edge == "comments");
    // A comments request's node is the post they answer.
    let post_id = request.as_ref().filter(|_| top_comments).map(|(node, _)| node.as_str());
    let page_id = ctx.base_url.as_deref().and_then(graph::node_edge).map(|(node, edge)| match edge.as_str() {
        // A page post's id is `{page-id}_{n}`.
        "comments" => node.split_once('_').map_or(node.clone(), |(page, _)| page.to_string()),
        _ => node,
    });
    let mut page = ParsedPage::default();
    for n in graph::walk(items, &["comments"]) {
        if !n.v.is_object() {
            page.skipped += 1;
            continue;
        }
        let comment = n.depth > 0
            || top_comments
            || ["parent", "comment_count", "can_remove"].iter().any(|k| n.v.get(k).is_some());
        let by_page = page_id.is_some() && id_at(n.v, &["from", "id"]) == page_id;
        if by_page || (!comment && str_at(n.v, &["message"]).is_none()) {
            continue;
        }
        match item(&n, comment, post_id) {
            Some(m) => page.mentions.push(m),
            None => page.skipped += 1,
        }
    }
    page.next_page = graph::next_cursor(&root);
    Ok(page)
}

fn item(n: &Node<'_>, comment: bool, post_id: Option<&str>) -> Option<NewMention> {
    let f = Fields::of(n.v)?;
    let kind = if comment { MentionKind::Comment } else { MentionKind::Post };
    let mut m = mention(P, f.id.clone(), f.created_at, kind);
    m.text = f.text.unwrap_or_default();
    m.author = f.author.map(str::to_string);
    // A comment without its own link is found under the post's.
    m.url = f
        .permalink
        .or_else(|| str_at(n.root, &["permalink_url"]))
        .map(str::to_string)
        .or_else(|| (!comment).then(|| format!("https://www.facebook.com/{}", f.id)));
    if comment {
        m.parent_id = id_at(n.v, &["parent", "id"])
            .or_else(|| n.parent.and_then(|p| id_at(p, &["id"])))
            .or_else(|| post_id.map(str::to_string));
    }
    copy_metrics(&mut m.metrics, n.v, &["like_count", "comment_count"]);
    if let Some(shares) = n.v.get("shares") {
        copy_metrics(&mut m.metrics, shares, &["count"]);
        if let Some(c) = m.metrics.remove("count") {
            m.metrics.insert("share_count".into(), c);
        }
    }
    Some(m)
}

/// Comments asked for on every comment, nested or listed.
const COMMENT_FIELDS: &str = "id,message,created_time,from{id,name},permalink_url,like_count,comment_count,parent{id}";

/// Newest comments (and replies) read with each post of the feed.
const COMMENTS_PER_POST: u32 = 50;

/// What to ask Facebook for one brand: the page's newest posts (`posts` a page, paged by `after` back to the
/// cursor) each with its newest comments and replies, and every comment of each watched post, newest first, since
/// the cursor. The posts' comments are about the brand by construction (`owned`): they need not name it.
///
/// The feed is not limited by `since`: that would filter posts by when they were posted, and a new comment on an
/// older post would be lost. A comment on a post older than the newest `posts` is not seen unless the post is
/// watched.
pub(super) fn plan(s: &FacebookPageSettings, since: Option<i64>) -> RequestPlan {
    let base = format!("{}/{}", trim_base(&s.base_url), s.graph_version.trim_matches('/'));
    let post_fields = format!(
        "id,message,created_time,permalink_url,from{{id,name}},\
         comments.filter(stream).order(reverse_chronological).limit({COMMENTS_PER_POST}){{{COMMENT_FIELDS}}}"
    );
    let feed = format!("{base}/{}/feed?fields={}&limit={}", enc(&s.page_id), enc(&post_fields), s.posts.clamp(1, 100));
    let mut feeds = vec![Feed { owned: true, ..Feed::new("feed".into(), feed, Paging::Token("after")) }];
    let since = since.map(|t| format!("&since={t}")).unwrap_or_default();
    for post in &s.watch_posts {
        let url = format!(
            "{base}/{}/comments?filter=stream&order=reverse_chronological&fields={}&limit=100{since}",
            enc(post),
            enc(COMMENT_FIELDS)
        );
        feeds.push(Feed { owned: true, ..Feed::new(format!("post:{post}"), url, Paging::Token("after")) });
    }
    RequestPlan { feeds, auth: Auth::Bearer }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_at(body: &str, url: Option<&str>) -> ParsedPage {
        let ctx = ParseContext { base_url: url.map(str::to_string), ..ParseContext::default() };
        parse(body, &ctx).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_pages_own_posts_only_carry_comments() {
        let body = r#"{"data":[
            {"id":"9_1","message":"Our new menu is here","created_time":"2026-11-02T10:00:00+0000","from":{"id":"9","name":"Acme"},
             "comments":{"data":[{"id":"1_11","message":"Love it","created_time":"2026-11-02T11:00:00+0000","from":{"id":"5","name":"Ann"}}]}},
            {"id":"9_2","message":"Acme lost my order","created_time":"2026-11-02T09:00:00+0000","from":{"id":"6","name":"Bo"}}
        ]}"#;
        let page = parse_at(body, Some("https://graph.facebook.com/v25.0/9/feed?fields=x"));
        let got: Vec<(&str, MentionKind, Option<&str>)> =
            page.mentions.iter().map(|m| (m.external_id.as_str(), m.kind, m.parent_id.as_deref())).collect();
        assert_eq!(got, [("1_11", MentionKind::Comment, Some("9_1")), ("9_2", MentionKind::Post, None)]);
        assert_eq!(page.skipped, 0, "the page's own post is a container, not a skipped item");
        // Without the request URL the page is unknown, and its post is kept as any other.
        assert_eq!(parse_at(body, None).mentions.len(), 3);
    }

    #[test]
    fn the_plan_reads_the_feed_and_each_watched_post() {
        let s: FacebookPageSettings = toml::from_str(
            "page_id = '9'\nwatch_posts = ['9_1']\nposts = 10\ngraph_version = 'v24.0'\nbase_url = 'http://fb.test/'",
        )
        .unwrap();
        let plan = plan(&s, Some(1_700_000_000));
        assert_eq!(plan.auth, Auth::Bearer);
        let feed = &plan.feeds[0];
        assert!(feed.owned && feed.paging == Paging::Token("after"));
        assert!(feed.url.starts_with("http://fb.test/v24.0/9/feed?fields=id%2Cmessage%2Ccreated_time"), "{}", feed.url);
        assert!(feed.url.ends_with("&limit=10") && !feed.url.contains("since="), "{}", feed.url);
        let post = &plan.feeds[1];
        assert_eq!(post.key, "post:9_1");
        assert!(post.url.starts_with("http://fb.test/v24.0/9_1/comments?filter=stream&order=reverse_chronological"));
        assert!(post.url.ends_with("&limit=100&since=1700000000"), "{}", post.url);
    }
}
