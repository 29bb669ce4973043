DROP TABLE digests_sent;
DROP TABLE digest_entries;
DROP TABLE subscriptions;
DROP TABLE attachments;
DROP TABLE idempotency_keys;
DROP TABLE item_versions;
DROP TABLE item_tags;
DROP TABLE items;
