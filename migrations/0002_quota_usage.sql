-- Daily request-quota spending per source (YouTube Data API units), so that a restart or several brands
-- polling the same source never overspend the budget the operator configured.
CREATE TABLE quota_usage (
    source TEXT    NOT NULL,
    day    TEXT    NOT NULL, -- the platform's quota day, YYYY-MM-DD
    units  INTEGER NOT NULL,
    PRIMARY KEY (source, day)
);
