-- Hourly rollup of brand matches for `hearsay stats` (and anyone who wants per-hour counts in sqlite3):
-- per brand, UTC hour and effective label, how many first copies (syndicated copies count once, as in
-- stats and the detector). label = '' while a mention is not classified yet. Triggers on mention_brands
-- keep it equal to
--   SELECT brand_id, created_at / 3600, coalesce(label, ''), count(*) FROM mention_brands
--   WHERE first_copy = 1 GROUP BY 1, 2, 3
-- through inserts, label changes (model, override, reclassification), syndication marks and deletes.
CREATE TABLE brand_hours (
    brand_id INTEGER NOT NULL REFERENCES brands (id),
    hour     INTEGER NOT NULL,   -- unix seconds / 3600
    label    TEXT    NOT NULL,   -- negative | neutral | positive | '' (unclassified)
    n        INTEGER NOT NULL,
    PRIMARY KEY (brand_id, hour, label)
) WITHOUT ROWID;

INSERT INTO brand_hours (brand_id, hour, label, n)
SELECT brand_id, created_at / 3600, coalesce(label, ''), count(*)
FROM mention_brands WHERE first_copy = 1 GROUP BY 1, 2, 3;

CREATE TRIGGER brand_hours_ai AFTER INSERT ON mention_brands WHEN NEW.first_copy = 1 BEGIN
    INSERT INTO brand_hours (brand_id, hour, label, n)
    VALUES (NEW.brand_id, NEW.created_at / 3600, coalesce(NEW.label, ''), 1)
    ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER brand_hours_ad AFTER DELETE ON mention_brands WHEN OLD.first_copy = 1 BEGIN
    UPDATE brand_hours SET n = n - 1
    WHERE brand_id = OLD.brand_id AND hour = OLD.created_at / 3600 AND label = coalesce(OLD.label, '');
END;
CREATE TRIGGER brand_hours_au AFTER UPDATE OF label, first_copy, created_at, brand_id ON mention_brands
WHEN OLD.first_copy = 1 OR NEW.first_copy = 1 BEGIN
    UPDATE brand_hours SET n = n - 1
    WHERE OLD.first_copy = 1
      AND brand_id = OLD.brand_id AND hour = OLD.created_at / 3600 AND label = coalesce(OLD.label, '');
    INSERT INTO brand_hours (brand_id, hour, label, n)
    SELECT NEW.brand_id, NEW.created_at / 3600, coalesce(NEW.label, ''), 1 WHERE NEW.first_copy = 1
    ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + 1;
END;
