DROP TRIGGER items_changed;
DROP TRIGGER items_numbered;
DROP INDEX items_change_seq;
DROP INDEX items_seq;
ALTER TABLE items DROP COLUMN change_seq;
ALTER TABLE items DROP COLUMN seq;
