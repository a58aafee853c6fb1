-- Ingest without a flag table; one index fewer on every label write. Same contents.
--
-- 1. `Store::ingest` now turns the schema's triggers off on its own connection while it writes mentions new to
--    the database (SQLITE_DBCONFIG_ENABLE_TRIGGER, per connection, back on before it touches older mentions) and
--    does their work itself. The `ingest_bulk` flag table of migration 5 is no longer needed, and the three
--    insert triggers go back to their unconditional form, so every other writer (the daemon's labels, relabel,
--    sqlite3 by hand) no longer pays a subquery per row for it.
DROP TRIGGER mentions_fts_ai;
CREATE TRIGGER mentions_fts_ai AFTER INSERT ON mentions BEGIN
    INSERT INTO mentions_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

DROP TRIGGER sentiment_label_ai;
CREATE TRIGGER sentiment_label_ai AFTER INSERT ON sentiment BEGIN
    UPDATE mention_brands SET label = NEW.effective WHERE mention_id = NEW.mention_id;
END;

DROP TRIGGER brand_hours_ai;
CREATE TRIGGER brand_hours_ai AFTER INSERT ON mention_brands WHEN NEW.first_copy = 1 BEGIN
    INSERT INTO brand_hours (brand_id, hour, label, n)
    VALUES (NEW.brand_id, NEW.created_at / 3600, coalesce(NEW.label, ''), 1)
    ON CONFLICT (brand_id, hour, label) DO UPDATE SET n = n + 1;
END;

DROP TABLE ingest_bulk;

-- 2. Nothing looks sentiment up by its effective label any more: filters and counts read the label copy in
--    mention_brands (migration 3) or brand_hours (migration 4), and a third of all rows per label is too many
--    for an index to help a query by hand. It cost an index insert per label written.
DROP INDEX sentiment_effective;
