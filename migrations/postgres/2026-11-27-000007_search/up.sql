-- Versions get audiences of their own.
ALTER TABLE item_access DROP CONSTRAINT item_access_item_kind_check;
ALTER TABLE item_access ADD CONSTRAINT item_access_item_kind_check
    CHECK (item_kind IN ('document', 'update', 'version'));

-- Full-text search: a tsvector per item, built with the text search configuration of the
-- item's language; Chinese and Japanese characters are split apart so that a quoted run of
-- them (which the application makes of every CJK run in a query) matches as a phrase.
CREATE FUNCTION compact_ts_config(lang TEXT) RETURNS regconfig
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE lang
        WHEN 'ar' THEN 'arabic' WHEN 'en' THEN 'english' WHEN 'fr' THEN 'french'
        WHEN 'ru' THEN 'russian' WHEN 'es' THEN 'spanish' ELSE 'simple' END)::regconfig
$$;
CREATE FUNCTION compact_split_cjk(t TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regexp_replace(t, '([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])', ' \1 ', 'g')
$$;
ALTER TABLE items ADD COLUMN search_vector tsvector;
CREATE FUNCTION items_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector :=
        setweight(to_tsvector(compact_ts_config(NEW.language), compact_split_cjk(NEW.title)), 'A') ||
        setweight(to_tsvector(compact_ts_config(NEW.language), compact_split_cjk(NEW.summary || ' ' || NEW.tags)), 'B') ||
        setweight(to_tsvector(compact_ts_config(NEW.language), compact_split_cjk(NEW.body)), 'C');
    RETURN NEW;
END
$$;
CREATE TRIGGER items_search_vector BEFORE INSERT OR UPDATE OF title, summary, body, tags, language
    ON items FOR EACH ROW EXECUTE FUNCTION items_search_vector();
CREATE INDEX items_search ON items USING GIN (search_vector);
