DROP INDEX items_created;
