-- Accounts for the web console (issue 24) and the audit log of every change a person makes.
--
-- users: one row per person who may sign in to the console. `name` is unique whatever its case, so "Ana" and
--        "ana" cannot be two accounts; `password_hash` is an argon2id PHC string (src/password.rs), never the
--        password. `role`: 'viewer' reads, 'editor' also relabels and silences.
-- audit: one row per change: `at` (Unix seconds), `actor` (an account name, or the OS user for the CLI),
--        `action` ('relabel', 'silence', 'unsilence', 'user_add', 'user_passwd', 'user_remove', later 'login'),
--        `target` (what it changed: a mention id, a brand, a silence id, an account), `detail` (JSON), `origin`
--        ('cli', or the client's address for the console). Rows are only ever added.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'editor')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT,
    detail TEXT,
    origin TEXT    NOT NULL
);

CREATE INDEX audit_at ON audit (at);
