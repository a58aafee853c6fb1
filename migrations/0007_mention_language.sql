-- Where each mention's language came from (src/lang.rs): `lang` is now set on every new mention, to the
-- platform's tag (primary subtag, lower-case) or, when the platform tags nothing, to the detected language
-- ("und" when the text is too short to tell).
--
-- lang_source: 'platform' (the platform's or the imported record's tag) or 'detected'; NULL for mentions stored
--              before this migration, whose `lang` is the platform's tag as it was given, or NULL.
-- lang_confidence: detection's confidence in `lang`, 0-1, when detection ran and agrees with it; NULL for a
--              platform's tag taken as given.
--
-- No backfill here (detection is Rust code): `hearsay reclassify` detects the language of the mentions it
-- queues that have none yet.
ALTER TABLE mentions ADD COLUMN lang_source TEXT CHECK (lang_source IN ('platform', 'detected'));
ALTER TABLE mentions ADD COLUMN lang_confidence REAL CHECK (lang_confidence BETWEEN 0 AND 1);
