DROP INDEX items_search_simple, items_search_ar, items_search_en, items_search_fr,
    items_search_ru, items_search_es;
CREATE INDEX items_search ON items USING GIN (search_vector);
