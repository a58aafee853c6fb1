//! The demo's story: weeks of ordinary chatter about a fictional bank, then an afternoon when its card payments
//! fail and go through twice. The bank has customers in Germany too: some of its Mastodon chatter is in German,
//! and during the incident nearly half of the Mastodon complaints are (their posts tagged "en", the app's
//! default, which hearsay's language check corrects), so the alert counts a complaint wave in two languages.
//!
//! Everything here is generated from a fixed seed and the end time, so two runs tell the same story. Texts come
//! from templates written for this demo (none is copied from a real platform) with slots for merchants, amounts,
//! places and app features, plus optional openers and closers, so that hundreds of mentions read differently and
//! the store's syndication hash does not fold them together.
//!
//! This module is pure: no IO, no clock. The mock server (`server.rs`) decides what is visible when.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Timelike};

/// The fictional brand, as the demo's config names it.
pub const BRAND: &str = "Nimbus Bank";
/// The brand query: the name as a phrase, or the one-word handle.
pub const QUERY: &str = "\"nimbus bank\" OR nimbusbank";
/// The concert venue that shares the name: mentioned on social media, excluded by the config.
pub const EXCLUDED_PHRASE: &str = "nimbus bank arena";
/// The bank's App Store app id (numeric, as Apple's are) and the storefronts polled.
pub const APP_ID: &str = "6444000111";
pub const COUNTRIES: [&str; 2] = ["us", "gb"];
/// The Mastodon instances polled; a status is visible through both, and stored once.
pub const INSTANCES: [&str; 2] = ["social.example", "toot.example"];

/// The platforms the mock server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Site {
    Reddit,
    HackerNews,
    Mastodon,
    AppStore,
    News,
}

impl Site {
    pub const ALL: [Site; 5] = [Site::Reddit, Site::HackerNews, Site::Mastodon, Site::AppStore, Site::News];

    /// The name hearsay stores (`mentions.platform`) and the demo's source name.
    pub fn platform(self) -> &'static str {
        match self {
            Site::Reddit => "reddit",
            Site::HackerNews => "hackernews",
            Site::Mastodon => "mastodon",
            Site::AppStore => "appstore",
            Site::News => "feed",
        }
    }
}

/// What the author meant: used to shape the story, never shown to hearsay (the model decides the sentiment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Positive,
    Neutral,
    Negative,
    /// A complaint about the incident.
    Incident,
    /// About the concert venue: the brand query's exclusion drops it.
    OffTopic,
}

/// One post, comment, review or article as the platform holds it.
#[derive(Debug, Clone)]
pub struct Post {
    pub site: Site,
    /// Unique across the scenario; each platform derives its own id format from it.
    pub seq: u64,
    /// Unix seconds.
    pub created_at: i64,
    pub author: String,
    pub title: Option<String>,
    pub text: String,
    /// A reply / comment rather than a top-level post (Reddit, Hacker News, Mastodon).
    pub comment: bool,
    /// 1–5 for reviews.
    pub rating: Option<u8>,
    /// Votes, points or favourites.
    pub engagement: u32,
    /// Replies / comments under it.
    pub replies: u32,
    /// Reddit subreddit, App Store storefront, Mastodon home instance, news publisher.
    pub place: &'static str,
    pub tone: Tone,
}

/// The whole story.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// First moment of the history (Unix seconds).
    pub start: i64,
    /// When the demo switches from 6-hour to 5-minute steps.
    pub crisis_start: i64,
    /// When card payments start failing.
    pub incident_at: i64,
    /// The last simulated moment.
    pub end: i64,
    /// Oldest first.
    pub posts: Vec<Post>,
}

/// How big a story to tell.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Days of ordinary history before the incident day.
    pub baseline_days: u32,
    /// Ordinary mentions per hour, on average over a day.
    pub per_hour: f64,
}

impl Size {
    /// Three weeks at about three mentions an hour: ~1,500 mentions, a realistic small brand.
    pub const FULL: Size = Size { baseline_days: 21, per_hour: 3.0 };
    /// Eight days (just past the detector's one-week warm-up) at a quieter rate, for tests.
    pub const QUICK: Size = Size { baseline_days: 8, per_hour: 1.6 };
}

/// Minutes of 5-minute steps before the incident starts.
pub const CALM_MINUTES: i64 = 30;
/// How long the incident plays.
pub const INCIDENT_MINUTES: i64 = 120;

/// The end of the story on the clock its daily and weekly rhythm follows: Thursday 2026-11-26, 18:00 UTC.
const RHYTHM_END: i64 = 1_795_716_000;

/// Builds the story ending at `end` (Unix seconds, rounded down to five minutes by the caller). Two stories with
/// the same size and seed are the same up to a shift in time.
pub fn build(end: i64, size: Size, seed: u64) -> Scenario {
    let crisis_start = end - (CALM_MINUTES + INCIDENT_MINUTES) * 60;
    let incident_at = crisis_start + CALM_MINUTES * 60;
    let start = crisis_start - i64::from(size.baseline_days) * 86_400;
    let mut g = Generator { rng: Rng::new(seed), seen: HashSet::new(), seq: 0, posts: Vec::new() };

    // Ordinary chatter, hour by hour, with a daily rhythm and quieter weekends, up to the very end. The rhythm
    // follows a fixed clock that always ends at RHYTHM_END (a Thursday, 18:00 UTC), not the wall clock, so the
    // story (and what the detector makes of it) is the same whenever the demo runs, only shifted in time.
    let mut hour = start - (start - end).rem_euclid(3600);
    while hour < end {
        let t = DateTime::from_timestamp(hour - end + RHYTHM_END, 0).unwrap_or_default();
        let weekend = t.weekday().num_days_from_monday() >= 5;
        let lambda = size.per_hour * DIURNAL[t.hour() as usize] * if weekend { 0.75 } else { 1.08 };
        for _ in 0..g.rng.poisson(lambda) {
            let at = hour + g.rng.below(3600) as i64;
            if (start..end).contains(&at) {
                g.ordinary(at);
            }
        }
        hour += 3600;
    }

    // The incident: a faulty card-processing update declines payments and takes others twice.
    let mut minute = 0;
    while minute < INCIDENT_MINUTES {
        let per_hour = match minute {
            0..=9 => 10.0,
            10..=29 => 42.0,
            30..=89 => 66.0,
            _ => 45.0,
        };
        for _ in 0..g.rng.poisson(per_hour / 60.0) {
            let at = incident_at + minute * 60 + g.rng.below(60) as i64;
            g.incident(at, minute);
        }
        minute += 1;
    }
    // The press notices, and the bank apologises.
    g.article(incident_at + 50 * 60, &INCIDENT_NEWS[0], Tone::Incident);
    g.article(incident_at + 75 * 60, &INCIDENT_NEWS[1], Tone::Incident);
    g.article(incident_at + 105 * 60, &INCIDENT_NEWS[2], Tone::Incident);
    g.hn_story(incident_at + 35 * 60, "Ask HN: Is Nimbus Bank down for anyone else?", Tone::Incident);

    let mut posts = g.posts;
    posts.retain(|p| p.created_at < end);
    posts.sort_by_key(|p| (p.created_at, p.seq));
    Scenario { start, crisis_start, incident_at, end, posts }
}

/// Where the first sentence of `text` ends (its `.`, `?` or `!`), when more text follows it and the sentence is
/// long enough to be a title ("Hmm." is not).
fn sentence_end(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (16..b.len().saturating_sub(1)).find(|&i| matches!(b[i], b'.' | b'?' | b'!') && b[i + 1] == b' ')
}

/// Relative activity per UTC hour (mean 1): quiet nights, busy afternoons and evenings.
const DIURNAL: [f64; 24] = [
    0.35, 0.28, 0.22, 0.2, 0.22, 0.3, 0.45, 0.7, 0.95, 1.15, 1.25, 1.35, 1.4, 1.45, 1.5, 1.55, 1.55, 1.5, 1.45, 1.4,
    1.3, 1.1, 0.85, 0.55,
];

struct Generator {
    rng: Rng,
    seen: HashSet<String>,
    seq: u64,
    posts: Vec<Post>,
}

impl Generator {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// An ordinary mention somewhere.
    fn ordinary(&mut self, at: i64) {
        let r = self.rng.f64();
        let tone = if r < 0.36 {
            Tone::Positive
        } else if r < 0.83 {
            Tone::Neutral
        } else if r < 0.97 {
            Tone::Negative
        } else {
            Tone::OffTopic
        };
        let site = self.rng.weighted(&[
            (Site::Reddit, 0.3),
            (Site::Mastodon, 0.24),
            (Site::HackerNews, 0.12),
            (Site::AppStore, 0.22),
            (Site::News, 0.12),
        ]);
        match (site, tone) {
            (Site::AppStore, Tone::OffTopic) | (Site::News, Tone::OffTopic) => self.social(Site::Reddit, at, tone),
            (Site::AppStore, _) => self.review(at, tone),
            (Site::News, _) => {
                let a = match tone {
                    Tone::Negative => self.rng.pick(&NEGATIVE_NEWS),
                    _ => self.rng.pick(&ORDINARY_NEWS),
                };
                self.article(at, a, tone)
            }
            (Site::HackerNews, Tone::Neutral) if self.rng.chance(0.25) => {
                let (title, _) = *self.rng.pick(&ORDINARY_NEWS);
                let title = self.fill(title, false);
                self.hn_story(at, &title, tone)
            }
            (Site::Mastodon, tone) if tone != Tone::OffTopic && self.rng.chance(GERMAN_SHARE_ORDINARY) => {
                self.social_german(at, tone)
            }
            (site, tone) => self.social(site, at, tone),
        }
    }

    /// A Mastodon post in German: no English openers or tails, so that it reads as one language.
    fn social_german(&mut self, at: i64, tone: Tone) {
        let templates: &[&str] = match tone {
            Tone::Positive => &SOCIAL_POSITIVE_DE,
            Tone::Negative => &SOCIAL_NEGATIVE_DE,
            Tone::Incident => &SOCIAL_INCIDENT_DE,
            _ => &SOCIAL_NEUTRAL_DE,
        };
        let mut text = String::new();
        for attempt in 0..32 {
            let template = *self.rng.pick(templates);
            text = self.fill(template, true);
            if attempt > 0 {
                text = format!("{text} {}", self.rng.pick(&CLOSERS_DE));
            }
            if attempt > 4 {
                text = format!("{text} Kunde seit {} Jahren.", 2 + self.rng.below(9));
            }
            if self.seen.insert(text.clone()) {
                break;
            }
        }
        self.push_social(Site::Mastodon, at, text, tone)
    }

    /// A complaint (or a worried question) during the incident, `minute` minutes in.
    fn incident(&mut self, at: i64, minute: i64) {
        let site = self.rng.weighted(&[
            (Site::Reddit, 0.3),
            (Site::Mastodon, 0.3),
            (Site::HackerNews, 0.1),
            (Site::AppStore, 0.3),
        ]);
        // The first minutes are confusion ("is it down?"); anger and double charges come next.
        let tone = if minute < 10 && self.rng.chance(0.5) { Tone::Neutral } else { Tone::Incident };
        match site {
            Site::AppStore => self.review(at, Tone::Incident),
            Site::Mastodon if tone == Tone::Incident && self.rng.chance(GERMAN_SHARE_INCIDENT) => {
                self.social_german(at, Tone::Incident)
            }
            _ if tone == Tone::Neutral => {
                let text = self.unique(&INCIDENT_QUESTIONS);
                self.push_social(site, at, text, Tone::Neutral)
            }
            _ => self.social(site, at, Tone::Incident),
        }
    }

    fn social(&mut self, site: Site, at: i64, tone: Tone) {
        let templates: &[&str] = match tone {
            Tone::Positive => &SOCIAL_POSITIVE,
            Tone::Neutral => &SOCIAL_NEUTRAL,
            Tone::Negative => &SOCIAL_NEGATIVE,
            Tone::Incident => &SOCIAL_INCIDENT,
            Tone::OffTopic => &SOCIAL_VENUE,
        };
        let text = self.unique(templates);
        self.push_social(site, at, text, tone)
    }

    fn push_social(&mut self, site: Site, at: i64, text: String, tone: Tone) {
        let seq = self.next_seq();
        let comment = match site {
            Site::Reddit => self.rng.chance(0.55),
            Site::HackerNews => true,
            _ => self.rng.chance(0.2),
        };
        let (title, text) = if site == Site::Reddit && !comment {
            // A Reddit post: the first sentence is the title, the rest (if any) the body.
            match sentence_end(&text) {
                Some(i) => (Some(text[..=i].trim().to_string()), text[i + 1..].trim().to_string()),
                None => (Some(text), String::new()),
            }
        } else {
            (None, text)
        };
        let place = match site {
            Site::Reddit => *self.rng.pick(&SUBREDDITS),
            Site::Mastodon => *self.rng.pick(&INSTANCES),
            _ => "",
        };
        let heat = if tone == Tone::Incident { 3.0 } else { 1.0 };
        let post = Post {
            site,
            seq,
            created_at: at,
            author: self.handle(),
            title,
            text,
            comment,
            rating: None,
            engagement: self.engagement(heat),
            replies: self.rng.below(if tone == Tone::Incident { 40 } else { 12 }) as u32,
            place,
            tone,
        };
        self.posts.push(post);
    }

    fn review(&mut self, at: i64, tone: Tone) {
        let (pool, extras, ratings): (&[(&str, &str)], &[&str], &[u8]) = match tone {
            Tone::Positive => (&REVIEWS_POSITIVE[..], &REVIEW_EXTRAS_POSITIVE[..], &[5, 5, 4][..]),
            Tone::Neutral => (&REVIEWS_NEUTRAL[..], &REVIEW_EXTRAS_NEUTRAL[..], &[3, 4, 3][..]),
            Tone::Negative => (&REVIEWS_NEGATIVE[..], &REVIEW_EXTRAS_NEGATIVE[..], &[2, 1, 2][..]),
            _ => (&REVIEWS_INCIDENT[..], &REVIEW_EXTRAS_INCIDENT[..], &[1, 1, 1, 2][..]),
        };
        let (mut title, mut text) = ("", String::new());
        for attempt in 0..32 {
            let (t, body) = *self.rng.pick(pool);
            title = t;
            text = self.fill(body, false);
            if attempt >= 2 || self.rng.chance(0.5) {
                let extra = *self.rng.pick(extras);
                text = format!("{text} {}", self.fill(extra, false));
            }
            if attempt >= 5 || self.rng.chance(0.25) {
                let tail = *self.rng.pick(&REVIEW_TAILS);
                text = format!("{text} {}", self.fill(tail, false));
            }
            if self.seen.insert(format!("{title}\n{text}")) {
                break;
            }
        }
        let seq = self.next_seq();
        let post = Post {
            site: Site::AppStore,
            seq,
            created_at: at,
            author: self.reviewer(),
            title: Some(title.to_string()),
            text,
            comment: false,
            rating: Some(*self.rng.pick(ratings)),
            engagement: self.rng.below(if tone == Tone::Incident { 30 } else { 6 }) as u32,
            replies: 0,
            place: pick_str(&mut self.rng, &COUNTRIES),
            tone,
        };
        self.posts.push(post);
    }

    fn article(&mut self, at: i64, (title, summary): &(&str, &str), tone: Tone) {
        let title = self.fill(title, false);
        let summary = self.fill(summary, false);
        if !self.seen.insert(format!("{title} {summary}")) {
            return;
        }
        let seq = self.next_seq();
        let post = Post {
            site: Site::News,
            seq,
            created_at: at,
            author: String::new(),
            title: Some(title),
            text: summary,
            comment: false,
            rating: None,
            engagement: 0,
            replies: 0,
            place: pick_str(&mut self.rng, &PUBLISHERS),
            tone,
        };
        self.posts.push(post);
    }

    fn hn_story(&mut self, at: i64, title: &str, tone: Tone) {
        if !self.seen.insert(title.to_string()) {
            return;
        }
        let seq = self.next_seq();
        let heat = if tone == Tone::Incident { 4.0 } else { 1.5 };
        let post = Post {
            site: Site::HackerNews,
            seq,
            created_at: at,
            author: self.handle(),
            title: Some(title.to_string()),
            text: String::new(),
            comment: false,
            rating: None,
            engagement: self.engagement(heat),
            replies: self.rng.below(60) as u32,
            place: "",
            tone,
        };
        self.posts.push(post);
    }

    /// A template filled in, with an optional opener and closer, that no earlier post used (a personal tail is
    /// added when the plain variations run out).
    fn unique(&mut self, templates: &[&str]) -> String {
        let mut text = String::new();
        for attempt in 0..32 {
            let t = *self.rng.pick(templates);
            text = self.fill(t, true);
            if self.rng.chance(0.3) {
                text = format!("{} {}", self.rng.pick(&OPENERS), text);
            }
            if self.rng.chance(0.3) {
                text = format!("{} {}", text, self.rng.pick(&CLOSERS));
            }
            if attempt >= 6 {
                let tail = *self.rng.pick(&TAILS);
                text = format!("{text} {}", self.fill(tail, false));
            }
            if self.seen.insert(text.clone()) {
                break;
            }
        }
        text
    }

    /// Replaces `{slot}`s. `social` allows the handle spellings of the brand.
    fn fill(&mut self, template: &str, social: bool) -> String {
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else { break };
            let slot = &rest[open + 1..open + close];
            let value = match slot {
                "brand" => {
                    let r = self.rng.f64();
                    if social && r < 0.14 {
                        "@NimbusBank".to_string()
                    } else if social && r < 0.22 {
                        "nimbus bank".to_string()
                    } else if r < 0.3 {
                        "NimbusBank".to_string()
                    } else {
                        BRAND.to_string()
                    }
                }
                "merchant" => self.rng.pick(&MERCHANTS).to_string(),
                "city" => self.rng.pick(&CITIES).to_string(),
                "feature" => self.rng.pick(&FEATURES).to_string(),
                "duration" => self.rng.pick(&DURATIONS).to_string(),
                "days" => self.rng.pick(&DAYS).to_string(),
                "years" => self.rng.pick(&YEARS).to_string(),
                "amount" => {
                    let cur = if self.rng.chance(0.5) { "£" } else { "$" };
                    format!("{cur}{}.{:02}", 3 + self.rng.below(180), self.rng.below(100))
                }
                "euro" => format!("{},{:02} €", 3 + self.rng.below(180), self.rng.below(100)),
                "rate" => format!("{}.{}", 3 + self.rng.below(2), self.rng.below(10)),
                "millions" => format!("{}.{}", 2 + self.rng.below(3), self.rng.below(10)),
                other => other.to_string(),
            };
            out.push_str(&value);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        out
    }

    fn handle(&mut self) -> String {
        format!("{}{}{}", self.rng.pick(&HANDLE_A), self.rng.pick(&HANDLE_B), self.rng.below(99))
    }

    fn reviewer(&mut self) -> String {
        format!("{} {}.", self.rng.pick(&FIRST_NAMES), (b'A' + self.rng.below(26) as u8) as char)
    }

    /// Votes: most posts get a handful, a few get hundreds.
    fn engagement(&mut self, heat: f64) -> u32 {
        let x = self.rng.f64();
        (1.0 + heat * 300.0 * x.powi(6) + heat * 8.0 * x) as u32
    }
}

/// One of `items` (a `&'static str`, where field inference needs the type spelled out).
fn pick_str(rng: &mut Rng, items: &[&'static str]) -> &'static str {
    items[rng.below(items.len() as u64) as usize]
}

/// splitmix64: small, fast, and the same numbers on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let total: f64 = items.iter().map(|(_, w)| w).sum();
        let mut r = self.f64() * total;
        for (item, w) in items {
            if r < *w {
                return *item;
            }
            r -= w;
        }
        items[items.len() - 1].0
    }

    /// Poisson-distributed count (Knuth; fine for the small rates used here).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u32, 1.0);
        loop {
            p *= self.f64();
            if p <= l || k > 1000 {
                return k;
            }
            k += 1;
        }
    }
}

const MERCHANTS: [&str; 14] = [
    "the supermarket",
    "a petrol station",
    "my local café",
    "the pharmacy",
    "the hardware store",
    "a ticket machine",
    "an online shop",
    "a restaurant",
    "the gym",
    "the taxi rank",
    "the bakery",
    "the cinema",
    "the corner shop",
    "a garden centre",
];
const CITIES: [&str; 12] = [
    "Leeds", "Porto", "Denver", "Lyon", "Glasgow", "Austin", "Dublin", "Bristol", "Valencia", "Cork", "Leipzig",
    "Tucson",
];
const FEATURES: [&str; 10] = [
    "the savings pots",
    "the instant notifications",
    "the budgeting view",
    "the virtual cards",
    "the round-up feature",
    "the phone payments",
    "the spending insights",
    "the travel mode",
    "the shared accounts",
    "the new dark mode",
];
const DURATIONS: [&str; 5] = ["20 minutes", "half an hour", "45 minutes", "an hour", "forty minutes"];
const DAYS: [&str; 5] = ["two days", "three days", "a week", "five days", "four working days"];
const YEARS: [&str; 4] = ["two years", "three years", "18 months", "four years"];
const SUBREDDITS: [&str; 5] = ["personalfinance", "UKPersonalFinance", "NimbusBank", "fintech", "povertyfinance"];
const PUBLISHERS: [&str; 5] =
    ["Fintech Daily", "The Money Ledger", "City Wire Report", "Consumer Watch Weekly", "Tech & Pocket"];
const HANDLE_A: [&str; 16] = [
    "quiet", "rusty", "night", "paper", "lucky", "salty", "amber", "pixel", "lazy", "brisk", "cobalt", "maple",
    "urban", "wild", "tidy", "sunny",
];
const HANDLE_B: [&str; 16] = [
    "fox", "owl", "kettle", "otter", "falcon", "teapot", "badger", "spark", "river", "moth", "lynx", "comet", "heron",
    "cactus", "walrus", "finch",
];
const FIRST_NAMES: [&str; 16] = [
    "Marta", "James", "Priya", "Tom", "Aisha", "Lukas", "Chloe", "Dan", "Sofia", "Kwame", "Elena", "Ravi", "Hannah",
    "Mateo", "Grace", "Owen",
];

const OPENERS: [&str; 8] = ["Honestly,", "PSA:", "Okay so", "Quick one:", "Update:", "Not gonna lie,", "Hmm.", "So"];
const TAILS: [&str; 10] = [
    "Posting from {city}.",
    "Android user here.",
    "iPhone user here.",
    "Customer for {years}.",
    "Edit: typo.",
    "First post here.",
    "(throwaway account)",
    "Long-time lurker.",
    "Using the web app.",
    "Not sponsored, obviously.",
];
const CLOSERS: [&str; 8] =
    ["Anyone else?", "#fintech", "Just saying.", "Thoughts?", "🙃", "#banking", "(UK)", "Cheers."];

const SOCIAL_POSITIVE: [&str; 16] = [
    "Really impressed with {brand} support today, they sorted my card problem in {duration}.",
    "I really like {feature} in the {brand} app. Saved {amount} this month without thinking about it.",
    "Paid at {merchant} in {city} with my {brand} card and the fee was exactly what they said. No surprises.",
    "{brand} refunded a dodgy charge from {merchant} within a day. Very happy customer.",
    "Opened a {brand} account in ten minutes from my sofa. My old bank needed two branch visits for the same thing.",
    "Shout-out to {brand} for blocking a fraudulent payment before I even noticed it.",
    "The latest {brand} app update is smooth, {feature} finally works the way I wanted.",
    "Been with {brand} for {years} now and still no complaints. Cheapest account I have had.",
    "{brand} raised the interest on my savings pot again, nice little bonus.",
    "Got my replacement {brand} card in two days after losing my wallet in {city}. Brilliant service.",
    "Love that {brand} sends the notification before the receipt even prints at {merchant}.",
    "Recommended {brand} to my parents and even they find the app easy to use.",
    "Splitting bills with flatmates is so much easier since we all moved to {brand}.",
    "{brand} customer service chat answered in under a minute on a Sunday evening. Impressive.",
    "Travelled to {city} last week and my {brand} card worked everywhere with no foreign fees.",
    "Small thing but {feature} in {brand} makes me actually look at my spending. Really helpful.",
];

const SOCIAL_NEUTRAL: [&str; 16] = [
    "Does {brand} support joint accounts yet? Thinking about switching.",
    "Anyone know if {brand} charges for cash withdrawals in {city}?",
    "Comparing {brand} with a couple of other online banks for a small business account. Opinions?",
    "How long does a {brand} transfer to an outside account usually take?",
    "{brand} is updating its terms next month, mostly about overdraft limits from what I can see.",
    "Is the {brand} metal card worth it or should I stick with the free one?",
    "Moving house next month, do I need to tell {brand} anything apart from the new address?",
    "Just got the email from {brand} about {feature}. Will try it this weekend.",
    "Question for {brand} users: can you set a monthly budget per category?",
    "Saw a {brand} advert on the train in {city} this morning.",
    "Has anyone used {brand} for paying rent by standing order?",
    "{brand} or a traditional bank for a teenager's first account?",
    "What is the daily card limit on {brand}? Buying a used bike from someone in {city}.",
    "Trying {feature} from {brand} this month, will report back.",
    "Does {brand} work with budgeting apps or do you have to export CSV files?",
    "My employer pays on the 25th, does {brand} show salary a day early like some banks do?",
];

const SOCIAL_NEGATIVE: [&str; 10] = [
    "On hold with {brand} support for {duration} now. Not impressed.",
    "The {brand} app logged me out three times today, getting a bit annoying.",
    "Why does a {brand} transfer take {days} when they advertise instant payments?",
    "{brand} closed my savings pot without warning, had to call them to find out why.",
    "The new {brand} app layout hides the statements, I can never find anything now.",
    "{brand} froze my card for a security check while I was paying at {merchant}. Embarrassing.",
    "Still waiting for {brand} to fix the wrong address on my account after {days}.",
    "Bit disappointed that {brand} dropped the cashback on groceries.",
    "{brand} support keeps sending me the same copy-paste answer. Frustrating.",
    "The {brand} app is painfully slow on my older phone since the last update.",
];

/// Shares of the bank's Mastodon posts written in German: of the ordinary chatter, and of the incident complaints.
const GERMAN_SHARE_ORDINARY: f64 = 0.12;
const GERMAN_SHARE_INCIDENT: f64 = 0.45;

const CLOSERS_DE: [&str; 6] = ["Echt jetzt?", "#banking", "Nur so als Info.", "Grüße aus Berlin.", "🙃", "#fintech"];

const SOCIAL_POSITIVE_DE: [&str; 6] = [
    "Der Support von {brand} hat mein Kartenproblem in {duration} gelöst. Sehr zufrieden!",
    "Ich bin begeistert von der {brand} App, alles funktioniert schnell und einfach.",
    "{brand} hat eine falsche Abbuchung von {merchant} sofort erstattet. Super Service!",
    "Konto bei {brand} in zehn Minuten eröffnet, ganz ohne Filiale. Klasse.",
    "Seit Jahren bei {brand} und immer noch glücklich. Bestes Konto, das ich hatte.",
    "Danke {brand}, die neue Sparfunktion ist wirklich hilfreich.",
];

const SOCIAL_NEUTRAL_DE: [&str; 6] = [
    "Bietet {brand} eigentlich Gemeinschaftskonten an? Überlege zu wechseln.",
    "Weiß jemand, ob {brand} Gebühren für Bargeld im Ausland verlangt?",
    "Wie lange dauert eine Überweisung von {brand} auf ein anderes Konto normalerweise?",
    "{brand} ändert nächsten Monat seine Geschäftsbedingungen, hauptsächlich beim Dispo.",
    "Vergleiche gerade {brand} mit anderen Onlinebanken für ein Geschäftskonto. Meinungen?",
    "Gibt es bei {brand} eine Karte für Kinder?",
];

const SOCIAL_NEGATIVE_DE: [&str; 5] = [
    "Seit {duration} in der Warteschleife bei {brand}. Nervig.",
    "Die {brand} App hat mich heute dreimal ausgeloggt, langsam reicht es.",
    "Der Support von {brand} schickt mir immer dieselbe Textbaustein-Antwort. Frustrierend.",
    "Enttäuscht, dass {brand} das Cashback beim Einkaufen gestrichen hat.",
    "Die {brand} App ist seit dem letzten Update furchtbar langsam.",
];

const SOCIAL_INCIDENT_DE: [&str; 12] = [
    "Meine {brand} Karte wurde bei {merchant} dreimal abgelehnt, obwohl genug Geld auf dem Konto ist. Was ist da los?",
    "{brand} hat {euro} doppelt abgebucht, und morgen ist die Miete fällig. Eine Katastrophe!",
    "Seit über einer Stunde in der Warteschleife bei {brand}, niemand geht ran. Karte immer noch gesperrt.",
    "Alle Kartenzahlungen heute doppelt abgebucht. {brand}, das ist eine absolute Frechheit.",
    "Stehe mit vollem Einkaufswagen an der Kasse und die {brand} Karte wird abgelehnt. Total peinlich.",
    "{brand} hat mir {euro} zweimal abgezogen und jetzt platzt meine Lastschrift. Wer zahlt die Gebühren?",
    "Die Statusseite von {brand} sagt, alles läuft. Meine abgelehnte Karte sagt etwas anderes. Unglaublich.",
    "Kein Wort von {brand} zu den doppelten Abbuchungen. Schlechteste Bank, die ich je hatte.",
    "Wechsle nach heute weg von {brand}. Abgelehnte Karten, doppelte Buchungen und null Kommunikation.",
    "{brand} sagt, ich soll 5 bis 7 Werktage auf mein eigenes Geld warten. Absolut inakzeptabel.",
    "Was auch immer {brand} über Nacht geändert hat, die Kartenzahlung ist kaputt. Ich bin wütend.",
    "Jeder, den ich bei {brand} kenne, hat heute abgelehnte Karten oder doppelte Abbuchungen. Furchtbar.",
];

const SOCIAL_INCIDENT: [&str; 22] = [
    "{brand} card declined at {merchant} three times in a row. Account has plenty of money. What is going on?",
    "Just got charged twice by {brand} for the same {amount} payment at {merchant}. Fantastic.",
    "{brand} has taken {amount} out of my account twice and my rent is due tomorrow. Fix this now.",
    "Stuck at {merchant} with a full basket and a declined {brand} card. Absolutely humiliating.",
    "The {brand} status page says everything is operational. My declined card says otherwise.",
    "Been on hold with {brand} for over an hour, nobody answers. Card still declined.",
    "Double charges all over my {brand} account today. Every single card payment went out twice.",
    "The {brand} app shows a negative balance after duplicate payments. I never go overdrawn.",
    "Cannot pay for anything today thanks to {brand}. Card declined, app won't load, support chat is dead.",
    "{brand} this is a disaster. Declined at {merchant}, charged twice online. Where is the update?",
    "Whatever {brand} changed overnight broke card payments. My partner is stuck in {city} with no money.",
    "Do not rely on {brand} today, half my payments bounced and the other half went through twice.",
    "{brand} charged me {amount} twice and now my direct debit failed. Who pays the late fee?",
    "Hours of declined payments and not a single word from {brand}. Worst bank I have ever used.",
    "{brand} support told me to wait 5 to 7 working days for my own money after a double charge. Unbelievable.",
    "Had to borrow cash from a stranger at {merchant} because my {brand} card kept getting declined.",
    "Switching away from {brand} after today. Declined cards and double charges with zero communication.",
    "My {brand} account is {amount} short after being charged twice. This is not acceptable.",
    "Charged twice by {brand} for a {amount} train ticket and then declined on the way home. Ridiculous.",
    "{brand} double charged my whole weekly shop and the refund button just errors. Furious.",
    "Every {brand} customer I know has declined cards or double charges today. Terrible handling.",
    "Declined at {merchant} with {brand} again. This outage is ruining my day.",
];

const INCIDENT_QUESTIONS: [&str; 6] = [
    "Is {brand} down? Card payment failing and the app just spins.",
    "Anyone else with {brand} seeing duplicate pending transactions?",
    "Card payments not going through with {brand}, is it just me?",
    "Is the {brand} app not loading for anyone else right now?",
    "{brand} card getting declined at {merchant}, known issue?",
    "Anyone heard anything from {brand} about the payment problems?",
];

const SOCIAL_VENUE: [&str; 5] = [
    "Great gig at the Nimbus Bank Arena in {city} last night, the sound was perfect.",
    "Queue for the Nimbus Bank Arena car park was over an hour. Never driving there again.",
    "Tickets for the Nimbus Bank Arena show in {city} sold out in ten minutes.",
    "Anyone know the bag policy at the Nimbus Bank Arena?",
    "The new food stalls at the Nimbus Bank Arena are actually decent.",
];

const REVIEWS_POSITIVE: [(&str, &str); 7] = [
    ("Best banking app", "Clean, fast and the notifications are instant. I use {feature} every week."),
    ("Love it", "Set up in minutes, the card arrived quickly and the app never gets in the way."),
    ("Great for travel", "Used it in {city} with no fees at all. The exchange rate is shown before paying."),
    ("Finally a bank app that works", "Everything is where you expect it. The support chat is quick too."),
    ("Very good", "The budgeting view makes it easy to see where the money goes each month."),
    ("Five stars", "Instant payments, a good savings rate and a friendly support team."),
    ("Switched and happy", "Moved my salary here {years} ago and would not go back to my old bank."),
];
const REVIEWS_NEUTRAL: [(&str, &str); 4] = [
    ("Good but missing features", "Solid app. Would like joint accounts and a better export to spreadsheets."),
    ("OK", "Does the job. Sometimes a bit slow to load the transaction list."),
    ("Decent", "Fine for everyday spending, not sure yet about the savings side."),
    ("Fine", "Works for paying at {merchant} and splitting bills. Nothing special otherwise."),
];
const REVIEWS_NEGATIVE: [(&str, &str); 5] = [
    ("Logs me out", "Keeps logging me out and asking for the passcode again. Annoying."),
    ("Slow support", "Took {days} to get an answer about a missing transfer."),
    ("Update made it worse", "The new layout hides the statements behind three menus."),
    ("Card frozen", "My card was frozen for a security check in the middle of a purchase at {merchant}."),
    ("Too slow", "The app takes ages to open on my phone since the last update."),
];
const REVIEWS_INCIDENT: [(&str, &str); 10] = [
    ("Card declined everywhere", "Card declined at {merchant} even with money in the account. The app shows an error."),
    ("Charged twice", "Every payment today went out twice. {amount} missing from my balance."),
    ("Down again", "The app won't load, card payments are failing and there is no information anywhere."),
    ("Fix the double charges", "Duplicate transactions on everything. The support queue is hours long."),
    ("Unusable today", "Could not pay for groceries. Declined three times at {merchant}. Very stressful."),
    ("Where is my money", "Charged twice for rent, now overdrawn for the first time ever."),
    ("Avoid for now", "Outage plus double charges and zero communication from the bank."),
    ("Awful", "Declined at {merchant}, charged twice online, the support chat is not answering."),
    ("Terrible", "Payments bouncing all day and {amount} taken twice. I want my money back."),
    ("Angry", "Double charged and declined, and nobody from the bank explains anything."),
];
const REVIEW_TAILS: [&str; 8] = [
    "iPhone 13.",
    "iPhone 15 Pro.",
    "On my iPad.",
    "Version 4.12.",
    "Customer for {years}.",
    "(UK)",
    "Updated review.",
    "From {city}.",
];
const REVIEW_EXTRAS_POSITIVE: [&str; 7] = [
    "Recommended it to my sister.",
    "Support sorted a card issue in {duration}.",
    "Used it in {city} last month without any problem.",
    "Much better than my old bank.",
    "The savings pots are a nice touch.",
    "Paying at {merchant} is instant.",
    "Keep it up!",
];
const REVIEW_EXTRAS_NEUTRAL: [&str; 6] = [
    "Would be five stars with joint accounts.",
    "Not bad for a free account.",
    "Still comparing it with my old bank.",
    "Support was fine when I needed it.",
    "Some screens feel cluttered.",
    "Works fine at {merchant}.",
];
const REVIEW_EXTRAS_NEGATIVE: [&str; 6] = [
    "Support took {duration} to reply.",
    "Please bring back the old layout.",
    "Had to reinstall twice.",
    "Not what it used to be.",
    "Considering moving my salary elsewhere.",
    "Please fix.",
];
const REVIEW_EXTRAS_INCIDENT: [&str; 7] = [
    "Happened at {merchant} today.",
    "The support chat has been loading for {duration}.",
    "Rent is due tomorrow.",
    "No email, no notification, nothing.",
    "Fix it and refund the fees.",
    "Stuck in {city} unable to pay for anything.",
    "Worst day with this bank so far.",
];

const ORDINARY_NEWS: [(&str, &str); 8] = [
    (
        "Nimbus Bank raises savings rate to {rate}%",
        "The online bank said the new rate applies to all savings pots from next month.",
    ),
    (
        "Nimbus Bank opens new office in {city}",
        "The digital lender plans to hire 150 people for its customer support and engineering teams.",
    ),
    (
        "Nimbus Bank adds {feature} to its app",
        "Customers can switch it on from the settings screen in the latest version.",
    ),
    (
        "Review: Nimbus Bank one year on",
        "We used the app as our main account for a year. Here is what worked and what did not.",
    ),
    (
        "Nimbus Bank passes {millions} million customers",
        "Growth came mostly from younger customers moving their salary accounts.",
    ),
    (
        "How Nimbus Bank checks card payments for fraud",
        "A look at the real-time checks the bank runs on every card payment.",
    ),
    (
        "Nimbus Bank to update account terms",
        "The changes mostly concern overdraft limits and notice periods, the bank said.",
    ),
    (
        "Nimbus Bank names new chief technology officer",
        "The executive joins from a payments company and starts in the spring.",
    ),
];
const NEGATIVE_NEWS: [(&str, &str); 2] = [
    (
        "Customers complain about Nimbus Bank support wait times",
        "Several customers reported waiting more than an hour for a reply last week.",
    ),
    ("Nimbus Bank criticised over slow account closures", "A consumer group said closing an account took too long."),
];
const INCIDENT_NEWS: [(&str, &str); 3] = [
    (
        "Nimbus Bank customers report declined cards and double charges",
        "Users said card payments failed or were taken twice this afternoon; the bank has not commented yet.",
    ),
    (
        "Nimbus Bank outage: card payments failing for many customers",
        "Customers complained of declined cards, duplicate payments and long support queues.",
    ),
    (
        "Nimbus Bank apologises after duplicate card payments",
        "The bank blamed a faulty update to its card processing and said duplicate charges will be refunded.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_is_reproducible_sized_and_ends_with_an_incident() {
        let end = 1_764_000_000;
        let a = build(end, Size::QUICK, 7);
        let b = build(end, Size::QUICK, 7);
        assert_eq!(a.posts.len(), b.posts.len());
        assert!(a.posts.iter().zip(&b.posts).all(|(x, y)| x.text == y.text && x.created_at == y.created_at));
        assert!(a.posts.iter().all(|p| (a.start..a.end).contains(&p.created_at)));
        let incident = a.posts.iter().filter(|p| p.tone == Tone::Incident).count();
        assert!((60..200).contains(&incident), "{incident} incident posts");
        let ordinary = a.posts.len() - incident;
        assert!((200..600).contains(&ordinary), "{ordinary} ordinary posts");
        for site in Site::ALL {
            assert!(a.posts.iter().any(|p| p.site == site), "{site:?} has posts");
        }
        let full = build(end, Size::FULL, 7);
        assert!((1300..2100).contains(&full.posts.len()), "{} posts", full.posts.len());
    }

    #[test]
    fn texts_rarely_repeat_and_name_the_brand() {
        let s = build(1_764_000_000, Size::FULL, 1);
        let texts: HashSet<String> = s.posts.iter().map(|p| format!("{:?} {}", p.title, p.text)).collect();
        assert!(texts.len() as f64 > s.posts.len() as f64 * 0.98, "{} distinct of {}", texts.len(), s.posts.len());
        let about = |p: &Post| {
            let t = format!("{} {}", p.title.as_deref().unwrap_or(""), p.text).to_lowercase();
            t.contains("nimbus bank") || t.contains("nimbusbank")
        };
        assert!(s.posts.iter().filter(|p| p.site != Site::AppStore).all(about));
    }
}
