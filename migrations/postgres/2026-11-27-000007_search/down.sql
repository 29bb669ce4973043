DROP INDEX items_search;
DROP TRIGGER items_search_vector ON items;
DROP FUNCTION items_search_vector();
ALTER TABLE items DROP COLUMN search_vector;
DROP FUNCTION compact_split_cjk(TEXT);
DROP FUNCTION compact_ts_config(TEXT);
DELETE FROM item_access WHERE item_kind = 'version';
ALTER TABLE item_access DROP CONSTRAINT item_access_item_kind_check;
ALTER TABLE item_access ADD CONSTRAINT item_access_item_kind_check
    CHECK (item_kind IN ('document', 'update'));
