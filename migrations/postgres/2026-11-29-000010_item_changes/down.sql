DROP TRIGGER items_change_seq ON items;
DROP FUNCTION items_change_seq();
DROP INDEX items_change_seq;
DROP INDEX items_seq;
DROP SEQUENCE item_change_seq;
ALTER TABLE items DROP COLUMN change_seq;
ALTER TABLE items DROP COLUMN seq;
