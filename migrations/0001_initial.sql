-- hearsay schema v1. Times are INTEGER seconds since the Unix epoch (UTC); the *_v views show them as text.
-- Documented for brand managers in ARCHITECTURE.md ("The database").

CREATE TABLE mentions (
    id            INTEGER PRIMARY KEY,
    platform      TEXT    NOT NULL,
    external_id   TEXT    NOT NULL,
    url           TEXT,
    canonical_url TEXT,
    author        TEXT,
    title         TEXT,
    text          TEXT    NOT NULL DEFAULT '',
    -- sha256 of the normalised text: syndicated copies share it and count once in spike statistics
    text_hash     TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    fetched_at    INTEGER NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('post', 'comment', 'review', 'article')),
    lang          TEXT,
    rating        INTEGER CHECK (rating BETWEEN 1 AND 5),
    metrics       TEXT,                -- JSON object of platform counters
    parent_id     TEXT,
    source        TEXT,                -- configured source name; NULL when imported
    UNIQUE (platform, external_id)
);
CREATE INDEX mentions_created_at ON mentions (created_at);
CREATE INDEX mentions_canonical_url ON mentions (canonical_url);
CREATE INDEX mentions_text_hash ON mentions (text_hash);

CREATE TABLE brands (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

-- Which brand(s) a mention matched, and with which query terms.
CREATE TABLE mention_brands (
    mention_id  INTEGER NOT NULL REFERENCES mentions (id) ON DELETE CASCADE,
    brand_id    INTEGER NOT NULL REFERENCES brands (id),
    created_at  INTEGER NOT NULL,          -- copy of mentions.created_at: per-brand time scans stay on this index
    terms       TEXT,                      -- JSON array of matched terms
    first_copy  INTEGER NOT NULL DEFAULT 1, -- 0 when an earlier mention of this brand had the same text_hash
    PRIMARY KEY (mention_id, brand_id)
) WITHOUT ROWID;
CREATE INDEX mention_brands_brand_time ON mention_brands (brand_id, created_at, mention_id);

-- One row per mention once it has a label. `override_label` (hearsay relabel) wins over `label` everywhere.
CREATE TABLE sentiment (
    mention_id     INTEGER PRIMARY KEY REFERENCES mentions (id) ON DELETE CASCADE,
    label          TEXT CHECK (label IN ('negative', 'neutral', 'positive')),
    score_negative REAL,
    score_neutral  REAL,
    score_positive REAL,
    model_version  TEXT,
    classified_at  INTEGER,
    override_label TEXT CHECK (override_label IN ('negative', 'neutral', 'positive')),
    override_at    INTEGER,
    effective      TEXT GENERATED ALWAYS AS (coalesce(override_label, label)) STORED
);
CREATE INDEX sentiment_effective ON sentiment (effective);

-- Mentions the model has not labelled yet (model missing or failing): retried, and visible as such.
CREATE TABLE classify_queue (
    mention_id INTEGER PRIMARY KEY REFERENCES mentions (id) ON DELETE CASCADE,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);

-- Polling state per (source, brand): a restart resumes exactly here.
CREATE TABLE source_state (
    source               TEXT    NOT NULL,
    brand                TEXT    NOT NULL,
    platform             TEXT    NOT NULL,
    cursor               TEXT,
    etag                 TEXT,
    last_modified        TEXT,
    next_poll_at         INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_error_class     TEXT,
    last_error_at        INTEGER,
    last_success_at      INTEGER,
    items_last_poll      INTEGER,
    new_last_poll        INTEGER,
    degraded_since       INTEGER,
    PRIMARY KEY (source, brand)
);

-- Every poll, for health and `hearsay sources status`.
CREATE TABLE poll_log (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    brand       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    latency_ms  INTEGER NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('ok', 'not_modified', 'error')),
    http_status INTEGER,
    items_seen  INTEGER NOT NULL DEFAULT 0,
    items_new   INTEGER NOT NULL DEFAULT 0,
    error_class TEXT,
    error       TEXT
);
CREATE INDEX poll_log_source_time ON poll_log (source, brand, started_at);

-- Alert lifecycle state per (brand, kind), as the detector's serialised state machine.
CREATE TABLE alert_state (
    brand TEXT NOT NULL,
    kind  TEXT NOT NULL,
    state TEXT NOT NULL,   -- JSON
    PRIMARY KEY (brand, kind)
);

-- Notification log: one row per alert event (firing, reminder, resolved).
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    brand       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    fired_at    INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    details     TEXT    NOT NULL,   -- JSON: observed, expected, p_value, …
    event_key   TEXT    NOT NULL UNIQUE
);

CREATE TABLE silences (
    id         INTEGER PRIMARY KEY,
    brand      TEXT    NOT NULL,
    until      INTEGER NOT NULL,
    comment    TEXT,
    created_at INTEGER NOT NULL
);

-- Email outbox: written in the same transaction as the alert row; sent (and marked) afterwards.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    message_id      TEXT    NOT NULL UNIQUE,
    alert_id        INTEGER REFERENCES alerts (id),
    recipients      TEXT    NOT NULL,   -- JSON array
    subject         TEXT    NOT NULL,
    message         BLOB    NOT NULL,   -- the complete RFC 5322 message
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at, next_attempt_at);

-- Full-text index over title + text (external content: no second copy of the text).
CREATE VIRTUAL TABLE mentions_fts USING fts5 (
    title, text, content = 'mentions', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER mentions_fts_ai AFTER INSERT ON mentions BEGIN
    INSERT INTO mentions_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER mentions_fts_ad AFTER DELETE ON mentions BEGIN
    INSERT INTO mentions_fts (mentions_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER mentions_fts_au AFTER UPDATE OF title, text ON mentions BEGIN
    INSERT INTO mentions_fts (mentions_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO mentions_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

-- Readable views for sqlite3 users.
CREATE VIEW mentions_v AS
SELECT m.id,
       b.name                                            AS brand,
       m.platform,
       s.effective                                       AS sentiment,
       s.override_label IS NOT NULL                      AS overridden,
       strftime('%Y-%m-%dT%H:%M:%SZ', m.created_at, 'unixepoch') AS created_at,
       m.author,
       m.title,
       m.text,
       m.url,
       m.kind,
       m.lang,
       m.rating,
       mb.terms                                          AS matched_terms,
       s.model_version,
       m.external_id
FROM mentions m
JOIN mention_brands mb ON mb.mention_id = m.id
JOIN brands b ON b.id = mb.brand_id
LEFT JOIN sentiment s ON s.mention_id = m.id;

CREATE VIEW sources_v AS
SELECT source, brand, platform,
       strftime('%Y-%m-%dT%H:%M:%SZ', last_success_at, 'unixepoch') AS last_success,
       last_error, last_error_class,
       strftime('%Y-%m-%dT%H:%M:%SZ', next_poll_at, 'unixepoch') AS next_poll,
       consecutive_failures,
       strftime('%Y-%m-%dT%H:%M:%SZ', degraded_since, 'unixepoch') AS degraded_since,
       items_last_poll
FROM source_state;

CREATE VIEW alerts_v AS
SELECT id, brand, kind, event,
       strftime('%Y-%m-%dT%H:%M:%SZ', fired_at, 'unixepoch') AS fired_at,
       strftime('%Y-%m-%dT%H:%M:%SZ', recorded_at, 'unixepoch') AS recorded_at,
       details
FROM alerts;
