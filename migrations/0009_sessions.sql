-- Signed-in sessions of the web console (issue 24).
--
-- sessions: one row per signed-in browser. The cookie carries a random token; only its SHA-256 (hex) is stored,
--           so a copy of the database signs nobody in. `csrf` is the session's token for state-changing forms
--           (random, compared with what a POST carries). `created_at` bounds the absolute lifetime, `seen_at` the
--           idle one (both Unix seconds; `[http] session_max` / `session_idle`); `address` is where it signed in
--           from. Deleted at logout, when the account's password changes or the account is removed, and when
--           expired (the console sweeps them).
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL,
    address    TEXT
) WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);
