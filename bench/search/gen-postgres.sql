-- A synthetic Compact for search benchmarks (psql -v n=1000000 -f gen-postgres.sql):
-- 60 organizations, 2,000 users, 10 groups; n items of ~30 words from a log-uniform
-- 50,000-word vocabulary, plus marker words by frequency class: alpha in 97 %, beta in
-- 15 %, gamma in 1 %, delta in 0.1 % of items; TLPs 10 % clear, 40 % green, 30 % amber
-- (owner + one organization + one group), 10 % amber+strict, 10 % red.
INSERT INTO organizations (id, name, acronym, acronym_normalized, kind, un_system, status, email_domains, created_at, updated_at)
SELECT 'org' || i, 'Org ' || i, 'O' || i, 'O' || i, 'compact_entity', false, 'active', '', now(), now() FROM generate_series(1, 60) i;
INSERT INTO users (id, organization_id, email, email_normalized, name, role, status, token_version, failed_logins, totp_enabled, totp_last_step, created_at, updated_at)
SELECT 'user' || i, 'org' || (1 + i % 60), 'u' || i || '@x.org', 'u' || i || '@x.org', 'U', 'focal_point', 'active', 0, 0, false, 0, now(), now() FROM generate_series(1, 2000) i;
INSERT INTO groups (id, name, name_normalized, kind, description, created_at, updated_at)
SELECT 'grp' || i, 'G' || i, 'g' || i, 'working_group', '', now(), now() FROM generate_series(1, 10) i;
INSERT INTO group_members (group_id, organization_id, added_at)
SELECT 'grp' || (1 + i % 10), 'org' || i, now() FROM generate_series(1, 60) i;
-- 1M items with a log-uniform vocabulary and marker words by frequency class.
ALTER TABLE items DISABLE TRIGGER items_search_vector;
INSERT INTO items (id, kind, owner_org_id, author_id, title, summary, body, language, doc_type, tags, tlp, recipients, version, created_at, updated_at, updated_by)
SELECT
  lpad(i::text, 8, '0'), CASE WHEN i % 4 = 0 THEN 'update' ELSE 'document' END,
  'org' || (1 + (i % 2000) % 60), 'user' || (1 + i % 2000),
  'Title ' || i, '', 
  (SELECT string_agg('w' || floor(exp(random() * ln(50000)))::int, ' ') FROM generate_series(1, 30 + (i % 2)))
   || CASE WHEN random() < 0.97 THEN ' alpha' ELSE '' END
   || CASE WHEN random() < 0.15 THEN ' beta' ELSE '' END
   || CASE WHEN random() < 0.01 THEN ' gamma' ELSE '' END
   || CASE WHEN random() < 0.001 THEN ' delta' ELSE '' END,
  'en', CASE WHEN i % 4 = 0 THEN 'update' ELSE 'report' END, '[]',
  (ARRAY['clear','green','green','green','green','amber','amber','amber','amber_strict','red'])[1 + i % 10],
  '{}', 1, now() - (i || ' seconds')::interval, now(), 'user' || (1 + i % 2000)
FROM generate_series(1, :n) i;
UPDATE items SET search_vector = setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', body), 'C');
ALTER TABLE items ENABLE TRIGGER items_search_vector;
INSERT INTO item_access (item_kind, item_id, grantee_type, grantee_id)
SELECT kind, id, CASE tlp WHEN 'clear' THEN 'public' WHEN 'green' THEN 'platform' WHEN 'red' THEN 'user' ELSE 'organization' END,
  CASE tlp WHEN 'clear' THEN '' WHEN 'green' THEN '' WHEN 'red' THEN author_id ELSE owner_org_id END FROM items;
INSERT INTO item_access (item_kind, item_id, grantee_type, grantee_id)
SELECT kind, id, 'organization', 'org' || (1 + (hashtext(id) & 2147483647) % 60) FROM items WHERE tlp IN ('amber', 'amber_strict')
ON CONFLICT DO NOTHING;
INSERT INTO item_access (item_kind, item_id, grantee_type, grantee_id)
SELECT kind, id, 'group', 'grp' || (1 + (hashtext(id) & 2147483647) % 10) FROM items WHERE tlp = 'amber'
ON CONFLICT DO NOTHING;
INSERT INTO item_tags (item_id, tag) SELECT id, 'tag' || (i % 50) FROM (SELECT id, row_number() OVER () i FROM items) t;
VACUUM ANALYZE;
