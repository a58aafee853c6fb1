//! Every source parser run on payloads: real third-party samples from `../shared/fixtures` (skipped
//! when that directory is absent) and small hand-written ones in `tests/fixtures`, including hostile
//! bodies. Also the unit tests of `hearsay::text`.

use std::path::{Path, PathBuf};

use hearsay::mention::{rfc3339, MentionKind, NewMention};
use hearsay::sources::{parse_payload, HtmlSelectors, ParseContext, ParseError, ParsedPage, Platform};
use hearsay::text;

fn shared(rel: &str) -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures").join(rel);
    if !path.exists() {
        eprintln!("skipping: ../shared/fixtures absent ({})", path.display());
        return None;
    }
    Some(std::fs::read(path).expect("read shared fixture"))
}

fn local_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn local(rel: &str) -> Vec<u8> {
    std::fs::read(local_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse(platform: Platform, body: &[u8]) -> ParsedPage {
    parse_ctx(platform, body, &ParseContext::default())
}

fn parse_ctx(platform: Platform, body: &[u8], ctx: &ParseContext) -> ParsedPage {
    parse_payload(platform, body, None, ctx).unwrap_or_else(|e| panic!("{e}"))
}

fn fails(platform: Platform, body: &[u8]) -> ParseError {
    match parse_payload(platform, body, None, &ParseContext::default()) {
        Ok(page) => panic!("{platform} accepted a bad payload: {page:?}"),
        Err(e) => e,
    }
}

fn time(m: &NewMention) -> String {
    rfc3339::format(&m.created_at)
}

// ---- shared real-world fixtures ----------------------------------------------------------------

#[test]
fn shared_reddit_search_listing() {
    let Some(body) = shared("reddit/search_listing_2023.json") else { return };
    let page = parse(Platform::Reddit, &body);
    assert_eq!(page.mentions.len(), 25);
    assert_eq!(page.skipped, 0);
    assert_eq!(page.next_page.as_deref(), Some("t3_155olnd"));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "t3_14ynl0l");
    assert_eq!(m.author.as_deref(), Some("afk_inside"));
    assert_eq!(m.kind, MentionKind::Post);
    assert_eq!(time(m), "2023-07-13T15:16:41Z");
    assert_eq!(m.title.as_deref(), Some("Poetic Pop Quiz. All correct answers."));
    assert_eq!(
        m.url.as_deref(),
        Some("https://www.reddit.com/r/afkarena/comments/14ynl0l/poetic_pop_quiz_all_correct_answers/")
    );
    assert_eq!(m.metrics.get("score"), Some(&863));
}

#[test]
fn shared_hackernews_search_by_date() {
    let Some(body) = shared("hackernews/search_by_date_nodejs_2017.json") else { return };
    let page = parse(Platform::HackerNews, &body);
    assert_eq!(page.mentions.len(), 20);
    assert_eq!(page.mentions.iter().filter(|m| m.kind == MentionKind::Comment).count(), 16);
    assert_eq!(page.next_page.as_deref(), Some("1"));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "15353312");
    assert_eq!(m.author.as_deref(), Some("RealJon"));
    assert_eq!(time(m), "2017-09-27T23:33:24Z");
    assert_eq!(m.parent_id.as_deref(), Some("15352681"));
    assert_eq!(m.url.as_deref(), Some("https://news.ycombinator.com/item?id=15353312"));
    assert!(m.text.starts_with("You don't need to plug in any Java code"), "{}", m.text);
    assert!(m.text.contains("read and write. No plans"), "paragraphs separate words: {}", m.text);
}

#[test]
fn shared_mastodon_public_timeline() {
    let Some(body) = shared("mastodon/public_timeline_statuses.json") else { return };
    let page = parse(Platform::Mastodon, &body);
    assert_eq!(page.mentions.len(), 8);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "http://localhost:3000/ap/users/117020566092212359/statuses/117020593378945190");
    assert_eq!(m.text, "Toot, finally!");
    assert_eq!(m.author.as_deref(), Some("mastodonpy_test_2@localhost"));
    assert_eq!(m.lang.as_deref(), Some("ja"));
    assert_eq!(time(m), "2026-08-01T13:55:50Z");
    assert_eq!(page.next_page.as_deref(), Some("117020574694606796"));
}

#[test]
fn shared_bluesky_search_posts() {
    let Some(body) = shared("bluesky/search_posts_redistricting_2023.json") else { return };
    let page = parse(Platform::Bluesky, &body);
    assert_eq!(page.mentions.len(), 23);
    assert_eq!(page.next_page.as_deref(), Some("25"));
    assert_eq!(page.mentions.iter().filter(|m| m.kind == MentionKind::Comment).count(), 6);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "at://did:plc:xrs7uicyfcp5qbnhnqy7kucb/app.bsky.feed.post/3kghpycppiw2n");
    assert_eq!(m.url.as_deref(), Some("https://bsky.app/profile/planetcarnival.bsky.social/post/3kghpycppiw2n"));
    assert_eq!(m.author.as_deref(), Some("planetcarnival.bsky.social"));
    assert_eq!(time(m), "2023-12-14T00:37:20Z");
    assert!(m.text.starts_with("I was upset last year when redistricting"));
    assert_eq!(m.lang.as_deref(), Some("en"));
    assert!(m.parent_id.as_deref().unwrap_or_default().starts_with("at://"));
}

#[test]
fn shared_lemmy_post_list() {
    let Some(body) = shared("lemmy/post_list_all_hot_v3_2023.json") else { return };
    let page = parse(Platform::Lemmy, &body);
    assert_eq!(page.mentions.len(), 2);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "https://lemmy.world/post/2808539");
    assert_eq!(m.title.as_deref(), Some("Fuck SUVs in particular."));
    assert_eq!(m.author.as_deref(), Some("STRIKINGdebate2@lemmy.world"));
    assert_eq!(time(m), "2023-08-07T13:35:18Z", "offset-less Lemmy 0.18 times are UTC");
    assert_eq!(m.metrics.get("score"), Some(&1276));
}

#[test]
fn shared_youtube_comment_threads() {
    let Some(body) = shared("youtube/comment_threads_by_video.json") else { return };
    let page = parse(Platform::YouTube, &body);
    assert_eq!(page.mentions.len(), 5);
    assert!(page.next_page.as_deref().unwrap_or_default().starts_with("QURTSl9p"));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "UgyZ1jqkHKYvi1-ruOZ4AaABAg");
    assert_eq!(m.kind, MentionKind::Comment);
    assert_eq!(m.author.as_deref(), Some("himani agarwal"));
    assert_eq!(m.text, "Google.com", "textOriginal is preferred over the HTML textDisplay");
    assert_eq!(time(m), "2019-11-26T15:51:44Z");
    assert_eq!(m.url.as_deref(), Some("https://www.youtube.com/watch?v=F1UP7wRCPH8&lc=UgyZ1jqkHKYvi1-ruOZ4AaABAg"));
    assert_eq!(m.parent_id.as_deref(), Some("F1UP7wRCPH8"));
}

#[test]
fn shared_stackexchange_questions() {
    let Some(body) = shared("stackexchange/questions_sort_votes_2018.json") else { return };
    let page = parse(Platform::StackExchange, &body);
    assert_eq!(page.mentions.len(), 10);
    assert_eq!(page.hints.has_more, Some(true));
    assert_eq!(page.hints.quota_remaining, Some(299));
    assert_eq!(page.hints.backoff_secs, None);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "stackoverflow.com:11227809");
    assert_eq!(m.title.as_deref(), Some("Why is it faster to process a sorted array than an unsorted array?"));
    assert_eq!(m.author.as_deref(), Some("GManNickG"));
    assert_eq!(time(m), "2012-06-27T13:51:36Z");
    assert_eq!(m.kind, MentionKind::Post);
}

#[test]
fn shared_github_search_issues() {
    let Some(body) = shared("github/search_issues_compile_cpp.json") else { return };
    let page = parse(Platform::GitHub, &body);
    assert_eq!(page.mentions.len(), 30);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "12068673");
    assert_eq!(m.url.as_deref(), Some("https://github.com/hrydgard/ppsspp/pull/997"));
    assert_eq!(m.author.as_deref(), Some("oioitff"));
    assert_eq!(time(m), "2013-03-15T15:46:16Z");
    assert!(m.text.starts_with("I use ffmpeg for video decoding"));
    assert_eq!(m.metrics.get("comments"), Some(&1017));
}

#[test]
fn shared_appstore_feed_without_review_dates() {
    let Some(body) = shared("appstore/customerreviews_jp_reality_app.json") else { return };
    let page = parse(Platform::AppStore, &body);
    assert_eq!(page.mentions.len(), 50);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "jp:6290024630", "country read from the feed's own link");
    assert_eq!(m.rating, Some(4));
    assert_eq!(m.author.as_deref(), Some("ヤミ。"));
    assert_eq!(m.title.as_deref(), Some("神アプリ"));
    assert_eq!(m.kind, MentionKind::Review);
    assert_eq!(time(m), "2020-08-08T03:17:03Z", "the feed's updated stands in for the missing review date");
    let ctx = ParseContext { country: Some("GB".into()), ..ParseContext::default() };
    assert_eq!(parse_ctx(Platform::AppStore, &body, &ctx).mentions[0].external_id, "gb:6290024630");
}

#[test]
fn shared_x_recent_search_with_expansions() {
    let Some(body) = shared("x/search_recent_science_expansions_2020.json") else { return };
    let page = parse(Platform::X, &body);
    assert_eq!((page.mentions.len(), page.skipped), (10, 0));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "1332344846833639425");
    assert_eq!(m.author.as_deref(), Some("@stmanfr"), "handle from includes.users");
    assert_eq!(m.url.as_deref(), Some("https://x.com/stmanfr/status/1332344846833639425"));
    assert_eq!(time(m), "2020-11-27T15:25:39Z");
    assert_eq!(m.lang.as_deref(), Some("en"));
    assert_eq!(m.metrics.get("retweet_count"), Some(&1));
    assert!(m.text.contains("#art & #science of #propaganda"), "{}", m.text);
    assert!(page.mentions.iter().all(|m| m.author.is_some()), "every author is in includes.users");
    assert_eq!(page.next_page.as_deref(), Some("b26v89c19zqg8o3fosesr6z0c2eac8nalgxjenpv5qjy5"));
}

/// play.google.com's batchexecute reply (not the Developer API): the review list is a JSON string inside the
/// `UsvDTd` envelope, after the `)]}'` prefix.
#[test]
fn shared_googleplay_batchexecute_reviews() {
    let Some(body) = shared("googleplay/batchexecute_reviews_twitter_relevant_2021.json") else { return };
    let page = parse(Platform::GooglePlay, &body);
    assert_eq!((page.mentions.len(), page.skipped), (40, 0));
    let m = &page.mentions[0];
    assert_eq!(
        m.external_id,
        "gp:AOqpTOEG141w8NXyoj4CFpinzfXvBYYywrWQdoRk3NMYLgGE-8TmYXHQhFgs-pXL25gDnLulPidwqJvbcxNK3A"
    );
    assert_eq!(m.author.as_deref(), Some("hayzel rose ilagan"));
    assert_eq!(m.rating, Some(5));
    assert_eq!(m.kind, MentionKind::Review);
    assert_eq!(time(m), "2021-01-20T01:34:05Z");
    assert!(m.text.starts_with("I see that a lot here rate the app"), "{}", m.text);
    assert!(m.text.contains("who might \"react\" on it"), "escapes of the inner JSON decoded: {}", m.text);
    assert_eq!(m.metrics.get("thumbsUpCount"), Some(&1114));
    assert_eq!(m.url, None, "the reply does not name the app");
    let ratings: Vec<u8> = page.mentions.iter().filter_map(|m| m.rating).collect();
    assert_eq!(ratings.len(), 40);
    assert!(page.next_page.as_deref().is_some_and(|t| t.starts_with("CsIBCr8B")), "{:?}", page.next_page);
    // The app's page named in the context gives each review its link.
    let ctx = ParseContext {
        base_url: Some("https://play.google.com/store/apps/details?id=com.twitter.android".into()),
        ..ParseContext::default()
    };
    let linked = parse_ctx(Platform::GooglePlay, &body, &ctx);
    assert_eq!(
        linked.mentions[1].url.as_deref(),
        Some("https://play.google.com/store/apps/details?id=com.twitter.android&reviewId=gp%3AAOqpTOEAwZX1e7CUex4D06PVP2O7i9ENYHktm-BqxQUyEtyOuPyXioDPQm7tuB7N7wEVIhwUHxxfu65kXETAXw")
    );
}

/// Graph API v2.1 `/{post-id}/comments` of a page post (2014): the request is read from `paging.next`, so the
/// items are comments of that post, by users (none by the page).
#[test]
fn shared_facebook_page_post_comments() {
    let Some(body) = shared("facebook_page/post_comments_spurs_summary_2014.json") else { return };
    let page = parse(Platform::FacebookPage, &body);
    assert_eq!((page.mentions.len(), page.skipped), (25, 0));
    assert!(page.mentions.iter().all(|m| m.kind == MentionKind::Comment));
    assert!(page.mentions.iter().all(|m| m.parent_id.as_deref() == Some("25781101980_10152312644461981")));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "10152312644461981_10152312650821981");
    assert_eq!(m.author.as_deref(), Some("Jen Hayden"));
    assert_eq!(m.text, "Spurs looked awesome! #gospursgo");
    assert_eq!(time(m), "2014-10-02T03:17:28Z");
    assert_eq!(m.metrics.get("like_count"), Some(&8));
    assert_eq!(m.url, None, "v2.1 comments carry no permalink_url");
    assert!(page.mentions[1].text.ends_with("on the 20th😄"), "{}", page.mentions[1].text);
    assert_eq!(page.next_page.as_deref(), Some("MTE="));
}

/// Instagram Graph API v11.0 `/{media-id}/comments`: only `timestamp`, `text` and `id`, the cursor redacted.
#[test]
fn shared_instagram_media_comments() {
    let Some(body) = shared("instagram/media_comments_page1.json") else { return };
    let page = parse(Platform::Instagram, &body);
    assert_eq!((page.mentions.len(), page.skipped), (2, 0));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "17858154961981086");
    assert_eq!((m.kind, m.text.as_str(), m.author.as_deref()), (MentionKind::Comment, "Beautiful!", None));
    assert_eq!(time(m), "2020-06-01T10:56:52Z");
    assert_eq!(m.parent_id.as_deref(), Some("17846368219941692"), "the media of paging.next");
    assert_eq!(page.next_page.as_deref(), Some("after"));
}

#[test]
fn shared_rss2_feed() {
    let Some(body) = shared("feeds/nbc_newyork_news_rss2.xml") else { return };
    let page = parse(Platform::Feed, &body);
    assert_eq!(page.mentions.len(), 1);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "4956764");
    assert_eq!(m.kind, MentionKind::Article);
    assert_eq!(m.author.as_deref(), Some("Gaby Acevedo and Jessica Cunnington"));
    assert!(m.title.as_deref().unwrap_or_default().starts_with("NYC cops search for stabbing suspect"));
    assert!(m.url.as_deref().unwrap_or_default().starts_with("https://www.nbcnewyork.com/news/local/"));
    assert!(m.text.starts_with("A young man was left for dead"), "{}", m.text);
    assert_eq!(m.lang.as_deref(), Some("en-US"));
}

#[test]
fn shared_google_alerts_atom() {
    let Some(body) = shared("google_alerts/google_alerts_atom.xml") else { return };
    let page = parse(Platform::Feed, &body);
    assert_eq!(page.mentions.len(), 20);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "tag:google.com,2013:googlealerts/feed:8974135267215335962");
    assert_eq!(
        m.title.as_deref(),
        Some("Report offers Prediction of Automotive Slack Market by Top key players like Haldex, Meritor, Bendix ...")
    );
    assert!(m.url.as_deref().unwrap_or_default().starts_with("https://www.aglobalmarketresearch.com/report-offers"));
    assert_eq!(time(m), "2019-07-10T11:53:37Z");
    assert!(m.text.starts_with("Automotive Slack Market reports"), "{}", m.text);
    assert_eq!(m.author, None, "empty <name> is no author");
}

#[test]
fn shared_stackoverflow_page_with_selectors() {
    let Some(body) = shared("html/stackoverflow_question_regex_xhtml.html") else { return };
    let ctx = ParseContext {
        base_url: Some("https://stackoverflow.com/questions/1732348/regex".into()),
        html: Some(HtmlSelectors {
            item: "div.answer".into(),
            text: ".js-post-body > p".into(),
            author: Some(".user-details a".into()),
            date: Some(".relativetime".into()),
            link: Some("a.js-share-link".into()),
            id: Some(":scope".into()),
            title: None,
        }),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::Html, &body, &ctx);
    assert_eq!(page.mentions.len() + page.skipped, 30);
    assert!(page.mentions.len() >= 25, "{} parsed", page.mentions.len());
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "answer-1732454");
    assert!(m.text.starts_with("You can't parse [X]HTML with regex."), "{}", m.text);
    assert!(m.url.as_deref().unwrap_or_default().starts_with("https://stackoverflow.com/"), "{:?}", m.url);
}

// ---- hand-written fixtures, one per platform ---------------------------------------------------

#[test]
fn reddit_comments_posts_and_skips() {
    let page = parse(Platform::Reddit, &local("reddit/comment_search.json"));
    assert_eq!(page.mentions.len(), 2);
    assert_eq!(page.skipped, 1, "the t1 without id time is skipped, `more` is ignored");
    let c = &page.mentions[0];
    assert_eq!((c.external_id.as_str(), c.kind), ("t1_k2a", MentionKind::Comment));
    assert_eq!(c.text, "Acme support fixed it & fast > expected");
    assert_eq!(c.parent_id.as_deref(), Some("t3_abc"));
    assert_eq!(page.mentions[1].title.as_deref(), Some("Acme & friends"));
    assert_eq!(page.next_page.as_deref(), Some("t1_k2b"));
}

#[test]
fn empty_results_are_not_errors() {
    let page = parse(Platform::Reddit, &local("reddit/empty.json"));
    assert_eq!((page.mentions.len(), page.skipped, page.next_page), (0, 0, None));
    for (platform, body) in [
        (Platform::HackerNews, r#"{"hits":[],"nbHits":0,"page":0,"nbPages":0}"#),
        (Platform::Mastodon, "[]"),
        (Platform::Mastodon, r#"{"accounts":[],"statuses":[],"hashtags":[]}"#),
        (Platform::Bluesky, r#"{"posts":[]}"#),
        (Platform::Lemmy, r#"{"posts":[]}"#),
        (Platform::YouTube, r#"{"kind":"youtube#searchListResponse","items":[]}"#),
        (Platform::StackExchange, r#"{"items":[],"has_more":false,"quota_max":300,"quota_remaining":200}"#),
        (Platform::GitHub, r#"{"total_count":0,"incomplete_results":false,"items":[]}"#),
        (
            Platform::AppStore,
            r#"{"feed":{"author":{"name":{"label":"iTunes Store"}},"updated":{"label":"2024-01-01T00:00:00-07:00"}}}"#,
        ),
        (Platform::Yelp, r#"{"reviews":[],"total":0}"#),
        (Platform::X, r#"{"meta":{"result_count":0}}"#),
        (Platform::Threads, r#"{"data":[]}"#),
        (Platform::FacebookPage, r#"{"data":[],"paging":{"cursors":{"before":"a","after":"b"}}}"#),
        (Platform::Instagram, r#"{"data":[]}"#),
        (Platform::Feed, r#"<rss version="2.0"><channel><title>t</title></channel></rss>"#),
        (Platform::Feed, r#"{"version":"https://jsonfeed.org/version/1","items":[]}"#),
    ] {
        let page = parse(platform, body.as_bytes());
        assert!(page.mentions.is_empty() && page.skipped == 0, "{platform}: {page:?}");
    }
}

#[test]
fn hackernews_story_and_comment() {
    let page = parse(Platform::HackerNews, &local("hackernews/stories.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    let story = &page.mentions[0];
    assert_eq!(story.kind, MentionKind::Post);
    assert_eq!(story.title.as_deref(), Some("Show HN: Acme & Co"));
    assert_eq!(story.metrics.get("points"), Some(&42));
    let comment = &page.mentions[1];
    assert_eq!(comment.text, "I disagree 'strongly'");
    assert_eq!(comment.parent_id.as_deref(), Some("39000001"));
}

#[test]
fn mastodon_search_reblog_and_uri() {
    let page = parse(Platform::Mastodon, &local("mastodon/search_v2.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "https://mastodon.social/users/alice/statuses/111");
    assert_eq!(m.text, "Loving Acme! Second para");
    assert_eq!(m.author.as_deref(), Some("alice@mastodon.social"));
    let boosted = &page.mentions[1];
    assert_eq!(boosted.external_id, "https://fosstodon.org/users/carol/statuses/333", "a reblog is its original");
    assert_eq!(boosted.author.as_deref(), Some("carol@fosstodon.org"));
    assert_eq!(boosted.title.as_deref(), Some("rant"));
    assert_eq!(boosted.kind, MentionKind::Comment);
    assert_eq!(time(boosted), "2024-01-01T00:00:00Z");
}

#[test]
fn bluesky_reply_with_invalid_handle() {
    let page = parse(Platform::Bluesky, &local("bluesky/search_posts.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    assert_eq!(page.mentions[0].text, "Acme is great");
    assert_eq!(page.mentions[0].metrics.get("likeCount"), Some(&5));
    let reply = &page.mentions[1];
    assert_eq!(reply.url.as_deref(), Some("https://bsky.app/profile/did:plc:def456/post/3kabc"));
    assert_eq!(time(reply), "2024-05-06T08:00:00Z", "indexedAt when createdAt is null");
    assert_eq!(page.next_page.as_deref(), Some("2"));
}

#[test]
fn lemmy_search_posts_and_comments() {
    let page = parse(Platform::Lemmy, &local("lemmy/search.json"));
    assert_eq!((page.mentions.len(), page.skipped), (3, 1));
    assert_eq!(page.mentions[0].text, "Pretty **good**");
    let top = &page.mentions[1];
    assert_eq!(top.kind, MentionKind::Comment);
    assert_eq!(top.author.as_deref(), Some("bob@lemmy.ml"));
    assert_eq!(top.parent_id.as_deref(), Some("https://lemmy.world/post/10"));
    assert_eq!(page.mentions[2].parent_id, None);
}

#[test]
fn youtube_search_videos_only() {
    let page = parse(Platform::YouTube, &local("youtube/search.json"));
    assert_eq!((page.mentions.len(), page.skipped), (1, 1), "channel ignored, dateless video skipped");
    let v = &page.mentions[0];
    assert_eq!(v.external_id, "dQw4w9WgXcQ");
    assert_eq!(v.url.as_deref(), Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ"));
    assert_eq!(v.title.as_deref(), Some("Acme & you"));
    assert_eq!(v.author.as_deref(), Some("Reviews Inc"));
    assert_eq!(page.next_page.as_deref(), Some("CAUQAA"));
}

#[test]
fn youtube_api_error_is_a_parse_error() {
    let body = br#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.","errors":[]}}"#;
    assert!(fails(Platform::YouTube, body).reason.contains("exceeded your quota"));
}

#[test]
fn x_recent_search_with_authors_from_includes() {
    let page = parse(Platform::X, &local("x/search_recent.json"));
    assert_eq!((page.mentions.len(), page.skipped), (3, 0));
    let first = &page.mentions[0];
    assert_eq!(first.external_id, "1788201342551458231");
    assert_eq!(first.url.as_deref(), Some("https://x.com/danaw/status/1788201342551458231"));
    assert_eq!(first.author.as_deref(), Some("@danaw"));
    assert_eq!(first.text, "Three hours on hold with @AcmeAir and still no refund. Never again & I mean it.");
    assert_eq!(first.kind, MentionKind::Post);
    assert_eq!(first.lang.as_deref(), Some("en"));
    assert_eq!(time(first), "2024-05-08T14:21:07Z");
    assert_eq!(first.metrics.get("like_count"), Some(&31));
    assert_eq!(first.metrics.get("impression_count"), Some(&1890));
    assert_eq!(page.mentions[1].author.as_deref(), Some("@lucia_viaja"));
    assert_eq!(page.mentions[1].lang.as_deref(), Some("es"));
    let orphan = &page.mentions[2];
    assert_eq!(orphan.lang, None, "X's `und` is no tag");
    assert_eq!(orphan.author, None, "author not in includes.users");
    assert_eq!(orphan.url.as_deref(), Some("https://x.com/i/web/status/1788190001234567890"));
    assert_eq!(page.next_page.as_deref(), Some("b26v89c19zqg8o3fr5p3hq9bbc6b6pfwh51nocz4u2xdp"));
}

#[test]
fn x_errors_without_data_are_a_parse_error() {
    let body = br#"{"errors":[{"parameters":{"since_id":["1"]},"message":"Invalid","title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}]}"#;
    let err = fails(Platform::X, body);
    assert!(err.reason.contains("Invalid Request: One or more parameters"), "{err}");
    // A partial error next to data (an author that could not be expanded) does not lose the posts.
    let partial = br#"{"data":[{"id":"1","text":"acme","created_at":"2024-05-08T14:21:07.000Z"},{"id":"2"}],"errors":[{"title":"Not Found Error","detail":"Could not find user"}],"meta":{"result_count":2}}"#;
    let page = parse(Platform::X, partial);
    assert_eq!((page.mentions.len(), page.skipped, page.next_page), (1, 1, None));
    assert!(fails(Platform::X, br#"{"data":{"id":"1"}}"#).reason.contains("not an array"));
}

#[test]
fn googleplay_developer_api_reviews() {
    let ctx = ParseContext {
        base_url: Some(
            "https://androidpublisher.googleapis.com/androidpublisher/v3/applications/com.acme.app/reviews?maxResults=100"
                .into(),
        ),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::GooglePlay, &local("googleplay/reviews_list.json"), &ctx);
    assert_eq!((page.mentions.len(), page.skipped), (2, 1), "the review without lastModified is skipped");
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "gp:AOqpTOGacmeReview0003");
    assert_eq!(m.title.as_deref(), Some("Não abre mais"), "the title comes before the tab");
    assert_eq!(m.text, "Depois da atualização o app da Acme fecha sozinho ao abrir & perdi meus dados.");
    assert_eq!((m.rating, m.lang.as_deref(), m.author.as_deref()), (Some(1), Some("pt-BR"), Some("Ana Souza")));
    assert_eq!(time(m), "2024-06-03T09:00:00Z");
    assert_eq!(
        m.url.as_deref(),
        Some("https://play.google.com/store/apps/details?id=com.acme.app&reviewId=gp%3AAOqpTOGacmeReview0003")
    );
    let metrics: Vec<(&str, i64)> = m.metrics.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(metrics, [("developer_reply", 1), ("thumbsDownCount", 1), ("thumbsUpCount", 12)]);
    let m = &page.mentions[1];
    assert_eq!((m.author.as_deref(), m.title.as_deref(), m.rating), (None, None, Some(4)));
    assert_eq!(time(m), "2024-06-02T08:00:00Z", "seconds as a number too");
    assert_eq!(page.next_page.as_deref(), Some("CgwI8Kb_sgYQgL7U4QE"));
    // Google leaves an empty list out.
    let empty = parse(Platform::GooglePlay, br#"{"pageInfo":{"totalResults":0}}"#);
    assert_eq!((empty.mentions.len(), empty.next_page), (0, None));
    assert!(fails(Platform::GooglePlay, br#"{"kind":"something else"}"#).reason.contains("no `reviews`"));
    let denied =
        br#"{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}"#;
    assert!(fails(Platform::GooglePlay, denied).reason.contains("The caller does not have permission"));
}

#[test]
fn googleplay_batchexecute_reply_by_content() {
    let page = parse(Platform::GooglePlay, &local("googleplay/batchexecute_reviews.txt"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    let m = &page.mentions[0];
    assert_eq!(
        (m.external_id.as_str(), m.author.as_deref(), m.rating),
        ("gp:AOqpTOHacmeScraped02", Some("Jo Park"), Some(2))
    );
    assert_eq!(time(m), "2024-06-03T08:00:00Z");
    assert_eq!(m.metrics.get("developer_reply"), Some(&1));
    assert_eq!(page.next_page.as_deref(), Some("CsIBCr8BKpgBtoken"));
    // The last page: no token after the list.
    let last = format!(
        ")]}}'\n[[\"wrb.fr\",\"UsvDTd\",{},null,null,null,\"generic\"]]",
        serde_json::json!(r#"[[["gp:1",["A"],3,null,"t",[1717300000,0]]]]"#)
    );
    let page = parse(Platform::GooglePlay, last.as_bytes());
    assert_eq!((page.mentions.len(), page.next_page), (1, None));
}

/// Hostile bodies for both of Google Play's formats: each a `ParseError` with its reason, never a panic.
#[test]
fn googleplay_hostile_replies_are_parse_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b")]}'\n[[\"wrb.fr\",\"UsvDTd\",\"[[[\\\"gp:1\\\"", "truncated batchexecute reply"),
        (b")]}'\n[[\"wrb.fr\",\"UsvDTd\",null,null,null,[3],\"generic\"],[\"e\",4,null,null,131]]", "carries no data (status [3])"),
        (b")]}'\n[[\"wrb.fr\",\"Ws7gDc\",\"[]\",null,null,null,\"generic\"]]", "replies to Ws7gDc only"),
        (b")]}'\n[[\"wrb.fr\",\"UsvDTd\",\"not json\",null]]", "not JSON"),
        (b")]}'\n[[\"wrb.fr\",\"UsvDTd\",\"{\\\"a\\\":1}\",null]]", "not an array"),
        (b")]}'\n{\"x\":1}", "no [\"wrb.fr\""),
        (b")]}'", "no [\"wrb.fr\""),
        (b"{\"reviews\":{\"reviewId\":\"1\"}}", "`reviews` is not an array"),
        (b"[1,2,3]", "expected a JSON object"),
        (b"{\"reviews\":[{\"reviewId\":\"gp:1\",\"comments\":[{\"userComment\":{\"text\":\"x\",\"lastModified\":{\"seconds\":\"", "truncated JSON"),
    ];
    for (body, want) in cases {
        let err = fails(Platform::GooglePlay, body);
        assert!(err.reason.contains(want), "{}: {err}", String::from_utf8_lossy(body));
    }
    // Wrong types inside an otherwise good reply: skipped items, no panic.
    let odd = br#"{"reviews":[null,7,{"reviewId":5},{"reviewId":"a","comments":"x"},{"reviewId":"b","comments":[{"userComment":{"lastModified":{"seconds":"NaN"},"starRating":"9"}}]}]}"#;
    assert_eq!(parse(Platform::GooglePlay, odd).skipped, 5);
    let odd = br#")]}'
[["wrb.fr","UsvDTd","[[null,7,[5],[\"id\",null,9,null,[],[1e300]],[\"id2\",[[]],0,null,null,[\"1700000000\"]]],{}]",null]]"#;
    assert_eq!(parse(Platform::GooglePlay, odd).skipped, 5);
}

/// A page feed: the page's own post carries its customers' comments (the page's own reply is left out), a
/// visitor's post is a mention with its comment, a photo without text only carries its comment.
#[test]
fn facebook_page_feed_leaves_out_the_pages_own_words() {
    let ctx = ParseContext {
        base_url: Some("https://graph.facebook.com/v25.0/104719572301842/feed?fields=id&limit=25".into()),
        ..ParseContext::default()
    };
    let body = local("facebook_page/page_feed.json");
    let page = parse_ctx(Platform::FacebookPage, &body, &ctx);
    let got: Vec<(&str, MentionKind, Option<&str>)> =
        page.mentions.iter().map(|m| (m.external_id.as_str(), m.kind, m.parent_id.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("122187301234567890_1093311775600231", MentionKind::Comment, Some("104719572301842_122187301234567890")),
            ("122187301234567890_1093301122334455", MentionKind::Comment, Some("104719572301842_122187301234567890")),
            ("104719572301842_122187299876543210", MentionKind::Post, None),
            ("122187299876543210_2210455518723390", MentionKind::Comment, Some("104719572301842_122187299876543210")),
            ("122187288812345678_880011223344556", MentionKind::Comment, Some("104719572301842_122187288812345678")),
        ]
    );
    assert_eq!(page.skipped, 1, "the post without a time");
    let first = &page.mentions[0];
    assert_eq!(first.author.as_deref(), Some("Dana Whitfield"));
    assert_eq!(time(first), "2026-11-02T10:41:17Z");
    assert_eq!((first.metrics.get("like_count"), first.metrics.get("comment_count")), (Some(&12), Some(&1)));
    assert!(first.url.as_deref().unwrap().ends_with("?comment_id=1093311775600231"));
    let anonymous = &page.mentions[1];
    assert_eq!(anonymous.author, None, "`from` is missing where the token may not see the author");
    assert_eq!(anonymous.url.as_deref(), Some("https://www.facebook.com/104719572301842/posts/122187301234567890"));
    assert_eq!(page.mentions[2].text, "Third time my loyalty stamps vanished from the Acme app. Who do I talk to?");
    assert_eq!(page.next_page.as_deref(), Some("QVFIUkZA5X3JQWkx3bU1PZAmpIYWVfaFN3eXRLQjFqRk5XX0pXN3N4bERhVWtn"));
    // Without the request the page is unknown: its own post and reply are kept like the rest.
    assert_eq!(parse(Platform::FacebookPage, &body).mentions.len(), 7);
}

/// `/{post-id}/comments?filter=stream`: replies beside comments with `parent`, numbers as strings or ids as
/// numbers tolerated, a sticker without text kept with empty text, `null` items skipped.
#[test]
fn facebook_page_comment_stream_with_replies() {
    let body = local("facebook_page/post_comments_stream.json");
    let ctx = ParseContext {
        base_url: Some(
            "https://graph.facebook.com/v25.0/104719572301842_122187301234567890/comments?filter=stream&limit=100"
                .into(),
        ),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::FacebookPage, &body, &ctx);
    let ids: Vec<&str> = page.mentions.iter().map(|m| m.external_id.as_str()).collect();
    assert_eq!(
        ids,
        ["122187301234567890_1093340098761234", "122187301234567890_1093335566778899", "1093330000000001"],
        "the page's own reply is left out"
    );
    assert_eq!(page.skipped, 1);
    assert!(page.mentions.iter().all(|m| m.parent_id.as_deref() == Some("104719572301842_122187301234567890")));
    assert_eq!(page.mentions[1].metrics.get("like_count"), Some(&4));
    assert_eq!(page.mentions[2].text, "");
    assert!(page.next_page.as_deref().is_some_and(|c| c.starts_with("WTI5dGJXVnVkRjlq")));
    // Without the request: the comments edge comes from `paging.next`, the page is unknown and its reply kept.
    let page = parse(Platform::FacebookPage, &body);
    let reply = &page.mentions[1];
    assert_eq!((page.mentions.len(), reply.kind), (4, MentionKind::Comment));
    assert_eq!(
        reply.parent_id.as_deref(),
        Some("122187301234567890_1093340098761234"),
        "a reply's parent is its comment"
    );
}

#[test]
fn instagram_media_comments_and_replies_and_tags() {
    let body = local("instagram/media_with_comments.json");
    let media = ParseContext {
        base_url: Some("https://graph.facebook.com/v25.0/17841400123456789/media?fields=id&limit=25".into()),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::Instagram, &body, &media);
    let got: Vec<(&str, Option<&str>, Option<&str>)> =
        page.mentions.iter().map(|m| (m.external_id.as_str(), m.parent_id.as_deref(), m.author.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("17998877665544332", Some("18034567890123456"), Some("hike_with_mo")),
            ("17911223344556677", Some("18034567890123456"), Some("trailrunner.jess"))
        ],
        "the account's own reply (from.id = the media request's node) is left out"
    );
    let m = &page.mentions[0];
    assert_eq!((m.kind, m.url.as_deref()), (MentionKind::Comment, Some("https://www.instagram.com/p/DBxQz4LtK9a/")));
    assert_eq!(time(m), "2026-11-02T18:12:09Z");
    assert_eq!(m.metrics.get("like_count"), Some(&7));
    assert_eq!(page.next_page.as_deref(), Some("QVFIUkRtcjFiR3hUS0pVbGZAtV0hNNVRkTkxFMVN1OXNH"));
    assert_eq!(parse(Platform::Instagram, &body).mentions.len(), 3, "without the request the account is unknown");
    // Replies nest under comments, which nest under media.
    let orphan = br#"{"data":[{"id":"1","timestamp":"2026-11-02T16:00:00+0000","comments":{"data":[{"id":"2","text":"a","timestamp":"2026-11-02T16:00:00+0000","replies":{"data":[{"id":"3","text":"b","timestamp":"2026-11-02T17:00:00+0000","from":{"id":"9","username":"acme"}}]}}]}}]}"#;
    let page = parse(Platform::Instagram, orphan);
    assert_eq!(page.mentions.iter().map(|m| m.parent_id.as_deref()).collect::<Vec<_>>(), [Some("1"), Some("2")]);
    assert_eq!(page.mentions[1].author.as_deref(), Some("acme"), "from.username");

    let ctx = ParseContext {
        base_url: Some("https://graph.facebook.com/v25.0/17841400123456789/tags?fields=id&limit=50".into()),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::Instagram, &local("instagram/tags.json"), &ctx);
    assert_eq!((page.mentions.len(), page.skipped, page.next_page.as_deref()), (1, 0, None), "a reel without caption");
    let m = &page.mentions[0];
    assert_eq!((m.kind, m.author.as_deref()), (MentionKind::Post, Some("lakes.and.fells")));
    assert_eq!(m.url.as_deref(), Some("https://www.instagram.com/p/DBqWm8RgH3c/"));
    assert!(m.text.starts_with("Week three in my @acmeoutdoors boots"));
    assert_eq!((m.metrics.get("like_count"), m.metrics.get("comments_count")), (Some(&211), Some(&9)));
}

#[test]
fn threads_keyword_search_posts_and_replies() {
    let page = parse(Platform::Threads, &local("threads/keyword_search.json"));
    assert_eq!((page.mentions.len(), page.skipped), (3, 1));
    let post = &page.mentions[0];
    assert_eq!(post.external_id, "18123456789012345");
    assert_eq!((post.kind, post.author.as_deref()), (MentionKind::Post, Some("nomadnina")));
    assert_eq!(post.url.as_deref(), Some("https://www.threads.net/@nomadnina/post/DBzT4kPsQ2x"));
    assert_eq!(time(post), "2026-11-03T07:55:41Z");
    assert_eq!(post.text, "Acme Air lost my bag AGAIN. Third time this year.");
    let reply = &page.mentions[1];
    assert_eq!((reply.kind, reply.parent_id.as_deref()), (MentionKind::Comment, Some("18123456789012345")));
    assert_eq!(page.mentions[2].text, "", "an image alone");
    assert_eq!(page.next_page.as_deref(), Some("QVFIUkxZANmtNdHZAtMjZAPbG9kV0VXSzF6cC1mcWJq"));
}

/// A Graph error body, at any status, is a parse error carrying Graph's own words.
#[test]
fn graph_api_errors_are_parse_errors() {
    let body = br#"{"error":{"message":"Error validating access token: Session has expired on Friday, 07-Nov-26 10:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}"#;
    for p in [Platform::FacebookPage, Platform::Instagram, Platform::Threads] {
        let err = fails(p, body);
        assert!(err.reason.contains("OAuthException 190: Error validating access token: Session has expired"), "{err}");
    }
    for bad in [&br#"{"data":{"id":"1"}}"#[..], b"{}", b"[]", br#"{"paging":{}}"#] {
        for p in [Platform::FacebookPage, Platform::Instagram, Platform::Threads] {
            fails(p, bad);
        }
    }
    // One object with its comments edge (`GET /{post-id}?fields=comments{…}`) is read like a list of one.
    let one = br#"{"id":"9_1","created_time":"2026-11-02T10:00:00+0000","comments":{"data":[{"id":"1_2","message":"hi","created_time":"2026-11-02T11:00:00+0000"}]}}"#;
    assert_eq!(parse(Platform::FacebookPage, one).mentions.len(), 1);
}

#[test]
fn google_business_reviews_with_translations_replies_and_anonymous_reviewers() {
    let page = parse(Platform::GoogleBusiness, &local("google_business/reviews.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1), "the review without a time is skipped");
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "AbFvOqn3kYt0Acme0003");
    assert_eq!((m.kind, m.rating, m.author.as_deref()), (MentionKind::Review, Some(2), Some("Camille Martin")));
    assert_eq!(
        m.text, "Longue attente au comptoir et le personnel ne connaissait pas la promotion Acme.",
        "the original"
    );
    assert_eq!(time(m), "2024-06-03T08:15:27Z", "updateTime: the order the API is asked for");
    assert_eq!(m.metrics.get("owner_reply"), Some(&1));
    assert_eq!(m.location, None, "the payload names no location: the poller adds the configured name");
    let anonymous = &page.mentions[1];
    assert_eq!((anonymous.author.as_deref(), anonymous.rating, anonymous.text.as_str()), (None, Some(5), ""));
    assert_eq!(page.next_page.as_deref(), Some("ChYKFGdlbmVyYXRlZC1wYWdlLXRva2Vu"));
    // Google leaves an empty list out; errors and other documents are parse errors.
    let empty = parse(Platform::GoogleBusiness, br#"{"averageRating": 4.2, "totalReviewCount": 0}"#);
    assert_eq!((empty.mentions.len(), empty.next_page), (0, None));
    let cases: &[(&[u8], &str)] = &[
        (br#"{"error":{"code":403,"message":"Google My Business API has not been used in project 1 before or it is disabled.","status":"PERMISSION_DENIED"}}"#, "has not been used in project"),
        (br#"{"locations":[]}"#, "no `reviews`"),
        (br#"{"reviews":{"reviewId":"x"}}"#, "not an array"),
        (br#"{"reviews":[{"reviewId":"x","updateTime":"2024-06-03T08:15:27Z","comment":"trunc"#, "truncated JSON"),
        (b"<!DOCTYPE html><html><title>Error 404 (Not Found)!!1</title></html>", "got HTML"),
    ];
    for (body, want) in cases {
        let err = fails(Platform::GoogleBusiness, body);
        assert!(err.reason.contains(want), "{}: {err}", String::from_utf8_lossy(body));
    }
    let odd = br#"{"reviews":[null,1,{"reviewId":7},{"reviewId":"a","updateTime":5,"starRating":5,"reviewer":"x"},{"name":"accounts/1/locations/2/reviews/b","createTime":"2024-06-03T08:15:27Z","starRating":["FIVE"],"reviewer":{"isAnonymous":"yes","displayName":3},"comment":{}}]}"#;
    let page = parse(Platform::GoogleBusiness, odd);
    assert_eq!((page.mentions.len(), page.skipped), (1, 4));
    assert_eq!((page.mentions[0].external_id.as_str(), page.mentions[0].rating), ("b", None), "id from `name`");
}

#[test]
fn stackexchange_excerpts_with_hints() {
    let ctx = ParseContext {
        base_url: Some("https://api.stackexchange.com/2.3/search/excerpts?site=stackoverflow&q=acme".into()),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::StackExchange, &local("stackexchange/excerpts.json"), &ctx);
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    assert_eq!(page.hints.backoff_secs, Some(10));
    assert_eq!(page.hints.quota_remaining, Some(9876));
    let q = &page.mentions[0];
    assert_eq!(q.external_id, "stackoverflow.com:777");
    assert_eq!(q.url.as_deref(), Some("https://stackoverflow.com/q/777"));
    assert_eq!(q.title.as_deref(), Some("Acme 'config' question"));
    assert_eq!(q.text, "How do I configure Acme…");
    let a = &page.mentions[1];
    assert_eq!((a.external_id.as_str(), a.kind), ("stackoverflow.com:778", MentionKind::Comment));
    assert_eq!(a.parent_id.as_deref(), Some("stackoverflow.com:777"));
    assert_eq!(a.url.as_deref(), Some("https://stackoverflow.com/a/778"));
}

#[test]
fn github_issue_with_null_body_and_pr() {
    let page = parse(Platform::GitHub, &local("github/search_issues.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    assert_eq!(page.mentions[0].text, "");
    assert_eq!(page.mentions[0].metrics.get("reactions"), Some(&2));
    assert_eq!(page.mentions[1].author, None);
    assert_eq!(page.mentions[1].text, "Fixes #5 Details");
    let err = fails(Platform::GitHub, br#"{"message":"API rate limit exceeded for 1.2.3.4.","documentation_url":"x"}"#);
    assert!(err.reason.contains("rate limit"), "{err}");
}

#[test]
fn appstore_single_entry_object() {
    let page = parse(Platform::AppStore, &local("appstore/single_entry.json"));
    assert_eq!(page.mentions.len(), 1);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "gb:99887766");
    assert_eq!(m.rating, Some(2));
    assert_eq!(time(m), "2024-06-30T17:00:00Z");
    assert_eq!(m.metrics.get("vote_count"), Some(&4));
    assert!(page.next_page.as_deref().unwrap_or_default().contains("page=2"));
}

#[test]
fn trustpilot_next_data_json_ld_and_articles_agree() {
    let page = parse(Platform::Trustpilot, &local("trustpilot/next_data.html"));
    assert_eq!((page.mentions.len(), page.skipped), (1, 1));
    assert_eq!(page.next_page.as_deref(), Some("2"));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "65a1b2c3d4e5f60718293a4b");
    assert_eq!(m.rating, Some(1));
    assert_eq!(m.author.as_deref(), Some("Jane D"));
    assert_eq!(m.title.as_deref(), Some("Never again"));
    assert_eq!(m.text, "Delivery took three weeks & nobody answered.");
    assert_eq!(time(m), "2024-01-05T09:10:11Z");
    assert_eq!(m.url.as_deref(), Some("https://www.trustpilot.com/reviews/65a1b2c3d4e5f60718293a4b"));
    for fallback in ["trustpilot/json_ld.html", "trustpilot/articles.html"] {
        let page = parse(Platform::Trustpilot, &local(fallback));
        assert_eq!(page.mentions.len(), 1, "{fallback}");
        let f = &page.mentions[0];
        assert_eq!((f.external_id.as_str(), f.rating, f.created_at), (m.external_id.as_str(), m.rating, m.created_at));
        assert_eq!(f.author.as_deref(), Some("Jane D"), "{fallback}");
        assert!(f.text.starts_with("Delivery took three weeks"), "{fallback}: {}", f.text);
    }
    assert!(fails(Platform::Trustpilot, &local("hostile/cloudflare.html")).reason.contains("no reviews found"));
}

#[test]
fn yelp_reviews_local_time_read_as_utc() {
    let page = parse(Platform::Yelp, &local("yelp/reviews.json"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "xAG4O7l-t1ubbwVAlPnDKg");
    assert_eq!(time(m), "2016-08-29T00:41:13Z");
    assert_eq!(m.author.as_deref(), Some("Ella A."));
    assert_eq!(m.text, "Went back again. Coffee was cold & staff rude...");
    assert_eq!((m.rating, m.kind), (Some(2), MentionKind::Review));
    assert_eq!(page.mentions[1].rating, Some(5), "4.6 rounds to 5");
}

#[test]
fn feed_rss1_rdf() {
    let page = parse(Platform::Feed, &local("feed/rss1.rdf"));
    assert_eq!((page.mentions.len(), page.skipped), (2, 0), "the item without a date is kept");
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "https://news.example/a/1");
    assert_eq!(m.author.as_deref(), Some("Max Muster"));
    assert_eq!(time(m), "2024-02-01T07:00:00Z");
    assert_eq!(m.text, "Acme & partners recall widgets.");
    assert_eq!(m.url.as_deref(), Some("https://news.example/a/1?utm_source=rss"), "url as given");
}

#[test]
fn feed_atom() {
    let ctx = ParseContext { base_url: Some("https://blog.example/feed.atom".into()), ..ParseContext::default() };
    let page = parse_ctx(Platform::Feed, &local("feed/atom.xml"), &ctx);
    assert_eq!(page.mentions.len(), 2);
    let m = &page.mentions[0];
    assert_eq!(m.title.as_deref(), Some("Acme 2.0 released"));
    assert_eq!(m.url.as_deref(), Some("https://blog.example/posts/acme-2"));
    assert_eq!(m.author.as_deref(), Some("Ann Author"));
    assert_eq!(m.text, "Full text & more");
    assert_eq!(time(m), "2024-02-28T10:00:00Z", "published wins over updated");
    assert_eq!(m.lang.as_deref(), Some("en"));
    assert_eq!(time(&page.mentions[1]), "2024-03-02T00:00:00Z");
    assert_eq!(page.next_page.as_deref(), Some("https://blog.example/feed.atom?page=2"));
}

#[test]
fn feed_json_feed() {
    let fetched = chrono::DateTime::parse_from_rfc3339("2024-04-03T00:00:00Z").unwrap().to_utc();
    let ctx = ParseContext { fetched_at: Some(fetched), ..ParseContext::default() };
    let page = parse_ctx(Platform::Feed, &local("feed/jsonfeed.json"), &ctx);
    assert_eq!((page.mentions.len(), page.skipped), (3, 0));
    let m = &page.mentions[0];
    assert_eq!(m.text, "Acme was down for 2h.");
    assert_eq!(m.author.as_deref(), Some("Feed Author"));
    assert_eq!(time(m), "2024-04-01T17:00:00Z");
    assert_eq!(page.mentions[1].external_id, "2", "1.0 feeds may use numbers as ids");
    assert_eq!(page.mentions[1].author.as_deref(), Some("Item Author"));
    assert_eq!(page.next_page.as_deref(), Some("https://watch.example/feed.json?page=2"));
    let undated = &page.mentions[2];
    assert_eq!((undated.external_id.as_str(), undated.created_at), ("3", fetched), "no date: the fetch time");
}

#[test]
fn feed_latin1_declared_in_xml() {
    let body = local("feed/latin1.xml");
    for content_type in [None, Some("application/rss+xml")] {
        let page = parse_payload(Platform::Feed, &body, content_type, &ParseContext::default()).unwrap();
        let m = &page.mentions[0];
        assert_eq!(m.title.as_deref(), Some("Café Acme réouvre – enfin"), "windows-1252 0x96 is an en dash");
        assert_eq!(m.author.as_deref(), Some("Rédacteur"));
        assert_eq!(m.text, "Le café Acme rouvre.");
        assert_eq!(m.lang.as_deref(), Some("fr"));
    }
    let header_wins =
        parse_payload(Platform::Feed, &body, Some("text/xml; charset=utf-8"), &ParseContext::default()).unwrap();
    assert!(header_wins.mentions[0].title.as_deref().unwrap_or_default().contains('\u{FFFD}'));
}

#[test]
fn feed_google_news_source_as_author() {
    let page = parse(Platform::Feed, &local("feed/google_news.xml"));
    let m = &page.mentions[0];
    assert_eq!(m.author.as_deref(), Some("Example Times"));
    assert_eq!(m.text, "Acme shares fall after recall Example Times");
    assert_eq!(m.lang.as_deref(), Some("en-US"));
}

/// RSS 0.91 items carry no date and no guid: they get the time they were fetched, and an id that is the same
/// on every fetch (the link, else a hash of title and text).
#[test]
fn feed_rss091_items_without_dates_get_the_fetch_time_and_stable_ids() {
    let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
    let parse_at = |fetched| {
        parse_ctx(
            Platform::Feed,
            &local("feed/rss091.xml"),
            &ParseContext { fetched_at: Some(at(fetched)), ..ParseContext::default() },
        )
    };
    let page = parse_at("2024-06-01T12:00:00Z");
    assert_eq!((page.mentions.len(), page.skipped), (3, 1), "the empty item is skipped");
    assert!(page.mentions.iter().all(|m| time(m) == "2024-06-01T12:00:00Z"), "{:?}", page.mentions);
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "https://corner.example/2024/acme-cafe.html", "the link as id");
    assert_eq!(m.title.as_deref(), Some("Acme opens a café next door"));
    assert_eq!(m.text, "The new Acme café serves tea & toast – and it is cheap.");
    assert_eq!(
        page.mentions[1].text, "Third time this week… please park round the back – thanks, Acme.",
        "&#150; is the windows-1252 en dash, as in HTML"
    );
    let letter = &page.mentions[2];
    assert_eq!((letter.url.as_deref(), letter.external_id.len()), (None, 64), "no link: a hash as id");
    assert_eq!(letter.text, "I bought an Acme kettle here in 1987 and it still works.");

    let later = parse_at("2024-06-01T12:15:00Z");
    let ids = |p: &ParsedPage| p.mentions.iter().map(|m| m.external_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&later), ids(&page), "the next poll sees the same ids");

    let bad_date = br#"<rss version="0.92"><channel><item><title>Acme</title><link>https://x.example/1</link>
        <pubDate>next Tuesday</pubDate></item></channel></rss>"#;
    let page = parse(Platform::Feed, bad_date);
    assert_eq!((page.mentions.len(), page.skipped), (0, 1), "a date that does not parse is skipped, not replaced");
}

#[test]
fn html_selectors_with_relative_links() {
    let ctx = ParseContext {
        base_url: Some("https://forum.example/latest".into()),
        html: Some(HtmlSelectors {
            item: "div.post".into(),
            text: ".body".into(),
            title: Some("h3.t".into()),
            author: Some(".who".into()),
            date: Some("time".into()),
            link: Some("a.perma".into()),
            id: None,
        }),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::Html, &local("html/forum.html"), &ctx);
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    let m = &page.mentions[0];
    assert_eq!(m.external_id, "p1");
    assert_eq!(m.url.as_deref(), Some("https://forum.example/thread/1#p1"));
    assert_eq!(m.text, "Since the update it takes & minutes.");
    assert_eq!(m.author.as_deref(), Some("alice"));
    assert_eq!(m.title.as_deref(), Some("Acme is slow"));
    assert_eq!(page.mentions[1].external_id, "https://other.example/t/2", "no id attribute: the link");
    assert_eq!(time(&page.mentions[1]), "2024-05-02T00:00:00Z");
}

#[test]
fn html_without_selectors_or_with_a_bad_one_fails() {
    assert!(fails(Platform::Html, b"<html></html>").reason.contains("selectors"));
    let ctx = ParseContext {
        html: Some(HtmlSelectors { item: "div[".into(), text: "p".into(), ..HtmlSelectors::default() }),
        ..ParseContext::default()
    };
    let err = parse_payload(Platform::Html, b"<html></html>", None, &ctx).unwrap_err();
    assert!(err.reason.contains("html.item"), "{err}");
}

#[test]
fn html_without_date_selector_uses_fetch_time() {
    let fetched = chrono::DateTime::parse_from_rfc3339("2024-09-09T09:09:09Z").unwrap().to_utc();
    let ctx = ParseContext {
        fetched_at: Some(fetched),
        html: Some(HtmlSelectors { item: "li".into(), text: ":scope".into(), ..HtmlSelectors::default() }),
        ..ParseContext::default()
    };
    let page = parse_ctx(Platform::Html, b"<ul><li>Acme one</li><li>Acme two</li><li> </li></ul>", &ctx);
    assert_eq!((page.mentions.len(), page.skipped), (2, 1));
    assert_eq!(page.mentions[0].created_at, fetched);
    assert_eq!(page.mentions[0].external_id.len(), 64, "text hash as id");
}

// ---- hostile payloads --------------------------------------------------------------------------

const JSON_PLATFORMS: [Platform; 15] = [
    Platform::Reddit,
    Platform::HackerNews,
    Platform::Mastodon,
    Platform::Bluesky,
    Platform::Lemmy,
    Platform::YouTube,
    Platform::StackExchange,
    Platform::GitHub,
    Platform::Yelp,
    Platform::X,
    Platform::GooglePlay,
    Platform::GoogleBusiness,
    Platform::Threads,
    Platform::FacebookPage,
    Platform::Instagram,
];

/// Meta's platforms read the same Graph API envelope, tolerant of each other's field names.
const GRAPH_PLATFORMS: [Platform; 3] = [Platform::Threads, Platform::FacebookPage, Platform::Instagram];

#[test]
fn html_instead_of_json_is_a_parse_error() {
    let body = local("hostile/cloudflare.html");
    for p in JSON_PLATFORMS.into_iter().chain([Platform::AppStore]) {
        let err = fails(p, &body);
        assert!(err.reason.contains("got HTML"), "{p}: {err}");
        assert!(err.to_string().starts_with(p.as_str()), "{err}");
    }
    assert!(fails(Platform::Feed, &body).reason.contains("root element is <html>"));
}

#[test]
fn truncated_payloads_are_parse_errors() {
    let err = fails(Platform::Reddit, &local("hostile/truncated.json"));
    assert!(err.reason.contains("truncated JSON"), "{err}");
    let err = fails(Platform::Feed, &local("hostile/truncated_rss.xml"));
    assert!(err.reason.contains("truncated"), "{err}");
}

#[test]
fn other_platforms_payloads_are_rejected() {
    // Every JSON platform's hand-written fixture is fed to every other JSON platform.
    let samples = [
        (Platform::Reddit, "reddit/comment_search.json"),
        (Platform::HackerNews, "hackernews/stories.json"),
        (Platform::Bluesky, "bluesky/search_posts.json"),
        (Platform::StackExchange, "stackexchange/excerpts.json"),
        (Platform::Yelp, "yelp/reviews.json"),
        (Platform::X, "x/search_recent.json"),
        (Platform::GooglePlay, "googleplay/reviews_list.json"),
        (Platform::GoogleBusiness, "google_business/reviews.json"),
        (Platform::Threads, "threads/keyword_search.json"),
        (Platform::FacebookPage, "facebook_page/page_feed.json"),
        (Platform::Instagram, "instagram/media_with_comments.json"),
        (Platform::AppStore, "appstore/single_entry.json"),
    ];
    for (own, file) in samples {
        let body = local(file);
        for p in JSON_PLATFORMS.into_iter().chain([Platform::AppStore, Platform::Feed]) {
            if p == own {
                continue;
            }
            // Lemmy reads any object with a `posts` array, GitHub and YouTube any with `items`:
            // the formats overlap, so only "no panic, and no mentions invented" holds for those.
            match parse_payload(p, &body, None, &ParseContext::default()) {
                Err(_) => {}
                Ok(page) => assert!(
                    page.mentions.is_empty()
                        || matches!((own, p), (Platform::StackExchange, Platform::GitHub))
                        || (GRAPH_PLATFORMS.contains(&own) && GRAPH_PLATFORMS.contains(&p)),
                    "{p} read {file}: {page:?}"
                ),
            }
        }
    }
}

#[test]
fn wrong_types_and_nulls_do_not_panic() {
    let bodies = [
        r#"{"data":{"children":[null,1,"x",{"kind":"t3","data":null},{"kind":"t3","data":{"name":5,"created_utc":"1700000000","title":[]}}]}}"#,
        r#"{"hits":[null,{"objectID":1,"created_at_i":1e300},{"objectID":{},"created_at_i":-5}]}"#,
        r#"[null,{"uri":1},{"uri":"u","created_at":"not a date","reblog":"x"}]"#,
        r#"{"posts":[{"uri":"at://x","record":{"createdAt":"2024-01-01T00:00:00Z","langs":"en","reply":5},"author":null}]}"#,
        r#"{"posts":[{"post":null},{"post":{"ap_id":"x","published":7}}],"comments":"no"}"#,
        r#"{"items":[{"kind":"youtube#commentThread","snippet":{"topLevelComment":"x"}},{"id":{"videoId":7}}]}"#,
        r#"{"items":[{"question_id":"1","creation_date":"1700000000","owner":{"display_name":null}}],"backoff":-3}"#,
        r#"{"feed":{"entry":[null,{"id":{"label":5},"updated":{"label":"2024-01-01"}}],"link":"x"}}"#,
        r#"{"reviews":[{"id":"a","time_created":"2024-01-01 00:00:00","rating":"NaN"},{"id":1}]}"#,
        r#"{"data":[null,1,"x",{"id":{},"created_time":5},{"id":"1","timestamp":"not a date"},{"id":"2","created_time":"2024-01-01T00:00:00+0000","comments":"no","from":"x","message":7,"parent":[]}],"paging":{"next":5,"cursors":[]}}"#,
        r#"{"data":[{"id":"p","comments":{"data":[{"id":"c","replies":{"data":"x"},"comments":{"data":[null,{"id":[],"text":{}}]}}],"paging":null}}],"paging":{"next":"not a url"}}"#,
    ];
    for body in bodies {
        for p in Platform::ALL {
            let _ = parse_payload(p, body.as_bytes(), None, &ParseContext::default());
        }
    }
    let page = parse(Platform::Reddit, bodies[0].as_bytes());
    assert_eq!((page.mentions.len(), page.skipped), (0, 2), "t3 without data, t3 without an id");
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let depth = 100_000;
    let json = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let xml = format!("<rss>{}{}</rss>", "<a>".repeat(depth), "</a>".repeat(depth));
    let html = format!("<html><body>{}x{}</body></html>", "<div>".repeat(depth / 10), "</div>".repeat(depth / 10));
    for p in Platform::ALL {
        for body in [&json, &xml, &html] {
            let _ = parse_payload(p, body.as_bytes(), None, &ParseContext::default());
        }
    }
    assert!(fails(Platform::Feed, xml.as_bytes()).reason.contains("nested deeper"));
    for p in [Platform::Html, Platform::Trustpilot] {
        let ctx = ParseContext {
            html: Some(HtmlSelectors { item: "div".into(), text: ":scope".into(), ..HtmlSelectors::default() }),
            ..ParseContext::default()
        };
        let err = parse_payload(p, html.as_bytes(), None, &ctx).unwrap_err();
        assert!(err.reason.contains("nested deeper"), "{err}");
    }
}

#[test]
fn garbage_and_oversized_bodies() {
    let garbage: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for p in Platform::ALL {
        let _ = parse_payload(p, &garbage, Some("text/html; charset=shift_jis"), &ParseContext::default());
        let _ = parse_payload(p, b"", None, &ParseContext::default());
        let _ = parse_payload(p, "<aé€😀".as_bytes(), None, &ParseContext::default());
        let _ = parse_payload(p, b"\xEF\xBB\xBF", Some("application/json; charset=utf-16"), &ParseContext::default());
    }
    let huge = vec![b' '; hearsay::sources::MAX_BODY_BYTES + 1];
    assert!(fails(Platform::Reddit, &huge).reason.contains("limit"));
    assert!(fails(Platform::Reddit, b"").reason.contains("empty body"));
}

#[test]
fn platform_names_round_trip() {
    for p in Platform::ALL {
        assert_eq!(p.as_str().parse::<Platform>(), Ok(p));
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{}\"", p.as_str()));
    }
    assert!("myspace".parse::<Platform>().unwrap_err().contains("hackernews"));
}

#[test]
fn parsed_mentions_serialise_as_records() {
    let page = parse(Platform::Yelp, &local("yelp/reviews.json"));
    let line = serde_json::to_string(&page.mentions[0]).unwrap();
    let back: NewMention = serde_json::from_str(&line).unwrap();
    assert_eq!(back, page.mentions[0]);
}

// ---- text.rs ----------------------------------------------------------------------------------

#[test]
fn decode_body_charset_precedence() {
    let latin1 = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><a>caf\xe9</a>";
    assert!(text::decode_body(latin1, None).contains("café"));
    assert!(text::decode_body(latin1, Some("text/xml; charset=\"windows-1252\"")).contains("café"));
    assert!(text::decode_body(b"caf\xe9", Some("text/plain; Charset=ISO-8859-1")).contains("café"));
    assert!(text::decode_body(b"caf\xe9", None).contains('\u{FFFD}'), "default UTF-8, invalid replaced");
    let meta = b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1251\"></head>\xcf\xf0\xe8";
    assert!(text::decode_body(meta, None).ends_with("При"));
    assert!(text::decode_body(b"<meta charset=koi8-r>\xf0", None).ends_with('П'));
    let bom_utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("hé".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    assert_eq!(text::decode_body(&bom_utf16, Some("text/plain; charset=iso-8859-1")), "hé", "BOM wins");
    assert_eq!(text::decode_body(b"\xEF\xBB\xBFhi", None), "hi");
    assert_eq!(text::decode_body(b"<?xml encoding=\"utf-16\"?>x", None), "<?xml encoding=\"utf-16\"?>x");
    assert_eq!(text::decode_body(b"plain", Some("text/plain; charset=bogus")), "plain");
}

#[test]
fn html_to_text_cases() {
    let cases = [
        ("<p>Hello&nbsp;<b>world</b></p><p>again</p>", "Hello world again"),
        ("a<br>b<br/>c", "a b c"),
        ("x &lt; y &amp;&amp; z &gt; 1", "x < y && z > 1"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("&#39;q&#x27; &#X41; &#128512; &#0; &#xD800;", "'q' A 😀 \u{FFFD} \u{FFFD}"),
        ("&unknown; &amp &", "&unknown; & &"), // `&amp` is one of the spec's legacy names without `;`
        ("<script>var a = '<p>';</script>kept<style>p{}</style>", "kept"),
        ("<!-- <p>hidden</p> -->shown", "shown"),
        ("<a href=\"x>y\" title='a>b'>link</a>", "link"),
        ("  lots \n\t of   space  ", "lots of space"),
        ("cut <a href=\"", "cut"),
        ("<SCRIPT>x</SCRIPT>ok", "ok"),
        ("caf&eacute; &mdash; &hellip;", "café — …"),
    ];
    for (html, want) in cases {
        assert_eq!(text::html_to_text(html), want, "{html:?}");
    }
}

#[test]
fn html_to_text_is_linear() {
    let big = "<p>Acme &amp; co <b>rocks</b></p>".repeat(30_000);
    let start = std::time::Instant::now();
    let out = text::html_to_text(&big);
    assert!(out.starts_with("Acme & co rocks Acme"));
    let unclosed = "<a ".repeat(100_000) + &"&".repeat(100_000) + &"<!--".repeat(50_000);
    let _ = text::html_to_text(&unclosed);
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
}

#[test]
fn canonical_url_cases() {
    let cases = [
        ("HTTPS://Example.COM:443/a?utm_source=x&b=2&a=1#frag", Some("https://example.com/a?a=1&b=2")),
        ("http://example.com:80/", Some("http://example.com/")),
        ("http://example.com:8080/x?fbclid=1&gclid=2&ref=hn&si=abc", Some("http://example.com:8080/x")),
        (
            "https://www.google.com/url?rct=j&sa=t&url=https://news.example/story%3Fid%3D1%26utm_medium%3Drss&ct=ga",
            Some("https://news.example/story?id=1"),
        ),
        ("https://google.com/url?q=https://a.example/", Some("https://a.example/")),
        ("https://www.google.com/search?q=acme", Some("https://www.google.com/search?q=acme")),
        ("mailto:a@b.example", None),
        ("not a url", None),
        ("/relative", None),
    ];
    for (raw, want) in cases {
        assert_eq!(text::canonical_url(raw).as_deref(), want, "{raw}");
    }
}

#[test]
fn text_hash_ignores_case_punctuation_and_urls() {
    let a = text::text_hash(Some("Acme Recalls Widgets!"), "Read more: https://a.example/x?utm=1");
    let b = text::text_hash(Some("acme recalls   widgets"), "read more — www.b.example");
    assert_eq!(a, b);
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, text::text_hash(Some("acme recalls gadgets"), "read more"));
    assert_eq!(text::text_hash(None, "x"), text::text_hash(Some(""), "x"));
}

#[test]
fn parse_time_formats() {
    use hearsay::sources::parse_time;
    let cases = [
        ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"),
        ("2024-01-02T03:04:05.999+02:00", "2024-01-02T01:04:05Z"),
        ("Tue, 02 Jan 2024 03:04:05 GMT", "2024-01-02T03:04:05Z"),
        ("Mon, 02 Jan 2024 03:04:05 +0000", "2024-01-02T03:04:05Z"),
        ("02 Jan 2024 03:04:05 EST", "2024-01-02T08:04:05Z"),
        ("2023-08-07T13:35:18.433381", "2023-08-07T13:35:18Z"),
        ("2016-08-29 00:41:13", "2016-08-29T00:41:13Z"),
        ("2009-11-13 22:38:26Z", "2009-11-13T22:38:26Z"),
        ("2024-05-02", "2024-05-02T00:00:00Z"),
        ("1700000000", "2023-11-14T22:13:20Z"),
        ("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T14:02:33Z"),
        ("Mon, 03 Jun 2024 09:00:00 CEST", "2024-06-03T09:00:00Z"),
        ("June 3, 2024", "2024-06-03T00:00:00Z"),
    ];
    for (raw, want) in cases {
        assert_eq!(parse_time(raw).map(|t| rfc3339::format(&t)).as_deref(), Some(want), "{raw}");
    }
    for bad in ["", "yesterday", "2024-13-45", "99999999999999999999", "Tue, 99 Foo"] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}
