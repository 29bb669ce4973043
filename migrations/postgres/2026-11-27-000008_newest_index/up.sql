-- Newest-first over all kinds (search sorted by date, the candidates of bounded ranking):
-- without it a date-sorted search sorts every match.
CREATE INDEX items_created ON items (created_at DESC, id DESC);
