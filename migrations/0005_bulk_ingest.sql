-- Faster ingest (hearsay import, and every poll's batch), same contents.
--
-- 1. `ingest_bulk` holds one row only inside an ingest's own write transaction (inserted after BEGIN, deleted
--    before COMMIT, so no other connection ever sees it). While it does, the three per-row triggers below stand
--    aside and the ingest does their work once per batch instead: one INSERT … SELECT into the full-text index,
--    and one upsert per (brand, hour, label) cell of brand_hours. Every other writer (the daemon's labels,
--    relabel, sqlite3 by hand) still goes through the triggers.
CREATE TABLE ingest_bulk (since INTEGER NOT NULL);

DROP TRIGGER mentions_fts_ai;
CREATE TRIGGER mentions_fts_ai AFTER INSERT ON mentions WHEN NOT EXISTS (SELECT 1 FROM ingest_bulk) BEGIN
    INSERT INTO mentions_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

DROP TRIGGER sentiment_label_ai;
CREATE TRIGGER sentiment_label_ai AFTER INSERT ON sentiment WHEN NOT EXISTS (SELECT 1 FROM ingest_bulk) BEGIN
    UPDATE mention_brands SET label = NEW.effective WHERE mention_id = NEW.mention_id;
END;

DROP TRIGGER brand_hours_ai;
CREATE TRIGGER brand_hours_ai AFTER INSERT ON mention_brands
WHEN NEW.first_copy = 1 AND NOT EXISTS (SELECT 1 FROM ingest_bulk) BEGIN
    INSERT INTO brand_hours (brand_id, hour, label, n)
    VALUES (NEW.brand_id, NEW.created_at / 3600, coalesce(NEW.label, ''), 1)
    ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + 1;
END;

-- 2. The syndication check looks text hashes up by their first 16 hex digits (64 bits; the full hash is still
--    compared), which makes the index a third of the size: its entries land at random places, so its size is
--    what decides how many pages every batch dirties.
DROP INDEX mentions_text_hash;
CREATE INDEX mentions_text_hash16 ON mentions (substr(text_hash, 1, 16));

-- 3. No query reads mentions by canonical_url (the column stays); its index only cost every insert.
DROP INDEX mentions_canonical_url;
