-- The effective sentiment label copied onto each brand match, so that per-brand time series (`hearsay stats`,
-- the spike detector, reports) are read from one covering index instead of joining `sentiment` row by row.
-- Triggers keep the copy equal to sentiment.effective (relabels included); NULL = not classified yet.
ALTER TABLE mention_brands ADD COLUMN label TEXT;

UPDATE mention_brands
SET label = (SELECT s.effective FROM sentiment s WHERE s.mention_id = mention_brands.mention_id);

DROP INDEX mention_brands_brand_time;
CREATE INDEX mention_brands_brand_time ON mention_brands (brand_id, created_at, first_copy, label);

CREATE TRIGGER sentiment_label_ai AFTER INSERT ON sentiment BEGIN
    UPDATE mention_brands SET label = NEW.effective WHERE mention_id = NEW.mention_id;
END;
CREATE TRIGGER sentiment_label_au AFTER UPDATE OF label, override_label ON sentiment BEGIN
    UPDATE mention_brands SET label = NEW.effective WHERE mention_id = NEW.mention_id;
END;
CREATE TRIGGER sentiment_label_ad AFTER DELETE ON sentiment BEGIN
    UPDATE mention_brands SET label = NULL WHERE mention_id = OLD.mention_id;
END;
-- A brand match added to a mention that is already classified (a new brand's query matched it).
CREATE TRIGGER mention_brands_label_ai AFTER INSERT ON mention_brands
WHEN NEW.label IS NULL AND EXISTS (SELECT 1 FROM sentiment s WHERE s.mention_id = NEW.mention_id)
BEGIN
    UPDATE mention_brands SET label = (SELECT s.effective FROM sentiment s WHERE s.mention_id = NEW.mention_id)
    WHERE mention_id = NEW.mention_id AND brand_id = NEW.brand_id;
END;
