-- The place a mention is about (issue 25): a Google Business Profile review's location, under the name configured
-- for it (`[[sources]] type = "google_business"`, `locations`), so that `hearsay stats --by location` splits a
-- brand's reviews by shop or branch. NULL for every other mention.
--
-- No index: `stats --by location` walks a brand's matches along `mention_brands`' own (brand, time) index and groups
-- the mentions it reaches, as `stats --by lang` does.
ALTER TABLE mentions ADD COLUMN location TEXT;
