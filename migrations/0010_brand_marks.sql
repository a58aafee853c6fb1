-- Triage marks of the web console (issue 24): a person says a mention is spam, or not about the brand it matched.
--
-- brand_marks: one row per marked (mention, brand) match. `mark` is 'spam' or 'irrelevant'; `prev_first_copy` the
--              match's `first_copy` before it was marked, restored when the mark is lifted; `at` (Unix seconds) and
--              `actor` say who marked it (the audit log has the same, with the address).
--
-- A marked match gets `mention_brands.first_copy = 2`. Every count (the `brand_hours` rollup and its triggers, the
-- detector's buckets, stats, reports, digests, alert examples) reads only `first_copy = 1`, so a marked match
-- leaves them all at once, through the triggers that already follow `first_copy`, and comes back the same way.
-- The mention itself, its label and its other brands are untouched.
CREATE TABLE brand_marks (
    mention_id      INTEGER NOT NULL,
    brand_id        INTEGER NOT NULL,
    mark            TEXT    NOT NULL CHECK (mark IN ('spam', 'irrelevant')),
    prev_first_copy INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    PRIMARY KEY (mention_id, brand_id),
    FOREIGN KEY (mention_id, brand_id) REFERENCES mention_brands (mention_id, brand_id) ON DELETE CASCADE
) WITHOUT ROWID;
