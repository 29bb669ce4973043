#!/usr/bin/env bash
# Search at scale on PostgreSQL, query by query: the SQL that `compact_registry::search`
# runs (page newest-first, page by relevance with the rank window, exact total, one facet),
# for each term class, timed with pgbench (prepared statements, one client).
#
#   bench/search/run.sh [items] [seconds per query]      (default 1000000 and 5)
#
# Needs PostgreSQL at $BENCH_DATABASE_URL's server (default postgres://postgres@127.0.0.1:5432)
# and pgbench. Writes bench/results/search-postgres-<date>.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITEMS=${1:-1000000}
SECONDS_PER_QUERY=${2:-5}
SERVER=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432}
DB=${BENCH_DB:-compact_bench_search}
URL="$SERVER/$DB"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "${BENCH_REUSE:-}" ]; then   # BENCH_REUSE=1 BENCH_DB=… measures a loaded database
  cargo build --release --bin compact
  psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  DATABASE_URL=$URL target/release/compact migrate >/dev/null
  echo "loading $ITEMS items…"
  time psql "$URL" -q -v n="$ITEMS" -f bench/search/gen-postgres.sql
fi

# The viewer: a user of org7 (a member of grp8), as search::matching builds it.
VISIBLE="items.deleted_at IS NULL AND items.id IN (SELECT ia.item_id FROM item_access ia
  WHERE ia.item_kind IN ('document', 'update') AND (ia.grantee_type IN ('public', 'platform')
  OR (ia.grantee_type = 'organization' AND ia.grantee_id = 'org7')
  OR (ia.grantee_type = 'user' AND ia.grantee_id = 'user7')
  OR (ia.grantee_type = 'group' AND ia.grantee_id IN
      (SELECT group_id FROM group_members WHERE organization_id = 'org7'))))"
MATCH="((items.language IN ('zh', 'other') AND items.search_vector @@ websearch_to_tsquery('simple', :q))
  OR (items.language = 'ar' AND items.search_vector @@ websearch_to_tsquery('arabic', :q))
  OR (items.language = 'en' AND items.search_vector @@ websearch_to_tsquery('english', :q))
  OR (items.language = 'fr' AND items.search_vector @@ websearch_to_tsquery('french', :q))
  OR (items.language = 'ru' AND items.search_vector @@ websearch_to_tsquery('russian', :q))
  OR (items.language = 'es' AND items.search_vector @@ websearch_to_tsquery('spanish', :q)))"
write() { printf '%s\n' "$2" > "$WORK/$1.sql"; }
write newest "SELECT items.id FROM items WHERE $VISIBLE AND $MATCH ORDER BY items.created_at DESC, items.id DESC LIMIT 21;"
write window "SELECT items.id FROM items WHERE $VISIBLE AND $MATCH ORDER BY items.created_at DESC, items.id DESC LIMIT 1000;"
write total "SELECT count(*) FROM items WHERE $VISIBLE AND $MATCH;"
write facet "SELECT items.tlp, count(*) FROM items WHERE $VISIBLE AND $MATCH GROUP BY items.tlp;"

declare -A TERMS=([0.1%]=delta [1%]=gamma [15%]=beta [97%]=alpha [and]="alpha beta")
echo '| query | term | p50 ms | p99 ms |' > "$WORK/table.md"
echo '|---|---|---|---|' >> "$WORK/table.md"
JSON="["
for query in newest window total facet; do
  for class in 0.1% 1% 15% 97% and; do
    term=${TERMS[$class]}
    rm -f "$WORK"/pgbench_log.*
    (cd "$WORK" && pgbench -n -M prepared -c 1 -T "$SECONDS_PER_QUERY" -l -D q="'$term'" \
      -f "$query.sql" "$URL" >/dev/null 2>&1)
    read -r p50 p99 < <(cat "$WORK"/pgbench_log.* | awk '{print $3}' | sort -n |
      awk '{a[NR]=$1} END {printf "%.1f %.1f\n", a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000}')
    echo "| $query | $class ($term) | $p50 | $p99 |" | tee -a "$WORK/table.md"
    JSON+="{\"query\":\"$query\",\"class\":\"$class\",\"p50_ms\":$p50,\"p99_ms\":$p99},"
  done
done
mkdir -p bench/results
OUT=bench/results/search-postgres-$(date -u +%Y-%m-%d).json
printf '{"date":"%s","commit":"%s","machine":"%s, %s cores","items":%s,"queries":%s]}\n' \
  "$(date -u +%FT%TZ)" "$(git describe --always --dirty=-modified)" "$(uname -sr)" "$(nproc)" "$ITEMS" "${JSON%,}" > "$OUT"
cat "$WORK/table.md"
echo "written to $OUT"
