#!/usr/bin/env bash
# The benchmark harness (issue 6): every figure is a ratio against a baseline measured in
# the same run, baseline and product rounds interleaved, medians quoted.
#
#   bench/run.sh --quick                     10,000 items, both backends, short rounds (< 5 min)
#   bench/run.sh --items 100000 [--backend postgres|sqlite|both] [--rounds 5] [--seconds 5]
#
# Needs oha (cargo install oha --version 1.16.0 --locked; cmake for its TLS library),
# pgbench and psql, and PostgreSQL at
# $BENCH_PG (default postgres://postgres@127.0.0.1:5432) for the PostgreSQL half.
# Writes bench/results/run-<date>-<items>.{md,json}.
#
# A million items take 10 to 30 minutes to generate. To time another build on data made
# before (by `compact-bench generate`, which writes the manifest), name it per backend:
#   BENCH_REUSE_postgres="URL MANIFEST" BENCH_REUSE_sqlite="URL MANIFEST" bench/run.sh --items N
# The data then holds the updates that earlier runs posted.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

# Searches get longer rounds in full mode; a figure slower than half a round gets one
# round of up to SLOW_CAP seconds (see below).
ITEMS=10000 ROUNDS=3 SECS=1 SEARCH_SECS=1 SLOW_CAP=8 BACKENDS="postgres sqlite" CONNS=${BENCH_CONNECTIONS:-4} MODE=quick
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) ITEMS=10000 ROUNDS=3 SECS=1 SEARCH_SECS=1 SLOW_CAP=8 MODE=quick ;;
    --items) ITEMS=$2 ROUNDS=5 SECS=5 SEARCH_SECS=10 SLOW_CAP=30 MODE=full; shift ;;
    --backend) BACKENDS=${2/both/postgres sqlite}; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --seconds) SECS=$2 SEARCH_SECS=$2; shift ;;   # whole seconds (pgbench -T)
    *) echo "unknown argument $1 (see the head of $0)" >&2; exit 2 ;;
  esac
  shift
done
FAST_SECS=$SECS
PG_SERVER=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
PORT=${BENCH_PORT:-18181}
BARE_PORT=${BENCH_BARE_PORT:-18190}
for tool in oha pgbench psql curl; do
  command -v $tool >/dev/null || { echo "$tool is needed (see bench/README.md, section The harness)" >&2; exit 1; }
done

# One invocation for both binaries: the same feature set, so nothing is rebuilt twice.
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -q -p compact-api -p compact-bench
BIN=$TARGET/release

WORK=$(mktemp -d)
SERVER="" BARE="" PG_DB=""
cleanup() {
  for pid in $SERVER $BARE; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$PG_DB" ] && [ -z "${BENCH_KEEP:-}" ]; then
    psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
MEASUREMENTS=$WORK/measurements.jsonl MEMORY=$WORK/memory.jsonl
: >"$MEASUREMENTS"; : >"$MEMORY"

# record FIGURE SIDE ROUND JSON: one line of the measurements file.
record() {
  local json=${4:-'{"rps":0,"errors":1}'}
  # After each product round, the server's memory now and its peak so far: which figure
  # raises the peak (the report quotes only the last).
  if [ "$2" = product ] && [ -n "${SERVER:-}" ]; then
    json="{\"server_rss_kb\":$(rss_kb "$SERVER" VmRSS),\"server_peak_kb\":$(rss_kb "$SERVER" VmHWM),${json#\{}"
  fi
  echo "{\"backend\":\"$BACKEND\",\"figure\":\"$1\",\"side\":\"$2\",\"round\":$3,${json#\{}" >>"$MEASUREMENTS"
  printf '  %-22s %-8s round %s  %s\n' "$1" "$2" "$3" "$json"
}

token() {
  curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$READER\",\"password\":\"$PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'
}

# load_json [oha options…] URL: one round from $CONNS keep-alive connections for $SECS
# seconds (requests still running at the end are waited for), as one JSON line. One client
# thread, as the server has the rest of the machine. Not wrk: see crates/bench/src/oha.rs.
load_json() {
  oha --no-tui --output-format json --worker-threads 1 -c "$CONNS" -z "${SECS}s" -w -t 60s "$@" |
    "$BIN/compact-bench" load-summary
}

# baseline_sql SCRIPT: the captured SQL replayed natively with the same concurrency.
baseline_sql() {
  local script=$WORK/sql/$1
  if [ "$BACKEND" = sqlite ]; then
    "$BIN/compact-bench" sql --database-url "$URL" --script "$script" --clients "$CONNS" --seconds "$SECS"
    return
  fi
  # pgbench, prepared statements; fresh ids for each POST (see compact-bench capture).
  local pgscript=$WORK/pgbench.sql
  { grep -q '{{' "$script" && echo '\set n random(1, 9000000000000000)'
    sed -e "s/{{ITEM_ID}}/('b' || :client_id::text || '-' || :n::text)/g" \
        -e "s/{{AUDIT_ID}}/('a' || :client_id::text || '-' || :n::text)/g" \
        -e "s/{{AUDIT_SEQ}}/(SELECT coalesce(max(seq), 0) + 1 FROM audit_events)/g" "$script"
  } >"$pgscript"
  rm -f "$WORK"/pgbench_log.*
  local out errors=0
  out=$(cd "$WORK" && pgbench -n -M prepared -c "$CONNS" -j 1 -T "$SECS" -l -f "$pgscript" "$URL" 2>&1) || errors=1
  grep -q "aborted" <<<"$out" && errors=1
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
  cat "$WORK"/pgbench_log.* 2>/dev/null | awk '{print $3}' | sort -n |
    awk -v tps="${tps:-0}" -v e="$errors" '{a[NR]=$1} END {
      p50 = NR ? a[int(NR*0.5)+1]/1000 : 0; p99 = NR ? a[int((NR-1)*0.99)+1]/1000 : 0;
      printf "{\"rps\":%s,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"requests\":%d,\"errors\":%d}\n", tps, p50, p99, NR, e}'
}

rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# The requests the server timed so far, and how many of them took over 50 ms there (its
# /metrics histogram, every route). Read around each product round: against the client's
# p99, it tells a tail inside the server from one outside it (scheduling, sockets, client).
server_timed() {
  curl -fsS "http://127.0.0.1:$PORT/metrics" | awk '
    /^compact_http_request_duration_seconds_bucket/ && /le="0.05"/ {fast += $NF}
    /^compact_http_request_duration_seconds_count/ {all += $NF}
    END {printf "%d %d\n", all, all - fast}'
}

"$BIN/compact-bench" bare --bind "127.0.0.1:$BARE_PORT" --workers "$(nproc)" & BARE=$!

for BACKEND in $BACKENDS; do
  echo "== $BACKEND, $ITEMS items"
  DATA=$WORK/data-$BACKEND; mkdir -p "$DATA"
  REUSE=BENCH_REUSE_$BACKEND
  if [ -n "${!REUSE:-}" ]; then
    read -r URL MANIFEST <<<"${!REUSE}"
    cp "$MANIFEST" "$WORK/manifest.json"
    echo "  reusing $URL, generated before"
  else
    if [ "$BACKEND" = postgres ]; then
      PG_DB=compact_bench_$MODE
      psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
      URL=$PG_SERVER/$PG_DB
    else
      URL=sqlite://$DATA/compact.db
    fi
    started=$(date +%s)
    "$BIN/compact-bench" generate --database-url "$URL" --items "$ITEMS" --manifest "$WORK/manifest.json"
    echo "  generated in $(( $(date +%s) - started )) s"
  fi
  "$BIN/compact-bench" capture --database-url "$URL" --manifest "$WORK/manifest.json" --out "$WORK/sql"
  M() { "$BIN/compact-bench" manifest --manifest "$WORK/manifest.json" "$1"; }
  READER=$(M reader-email) PASSWORD=$(M password)
  # What the rounds vary: documents the reader may see, sign-ins over the generated users,
  # and updates as a focal point's script posts them (oha picks a line at random each time).
  M documents | sed "s|^|http://127.0.0.1:$PORT/api/v1/documents/|" >"$WORK/document-urls.txt"
  M logins | sed "s|.*|{\"email\":\"&\",\"password\":\"$PASSWORD\"}|" >"$WORK/logins.jsonl"
  seq 10000 | sed 's|.*|{"title":"Benchmark update &","body":"A short update posted by the benchmark harness about border security cooperation. &","language":"en","tags":["financing"],"tlp":"green"}|' >"$WORK/updates.jsonl"

  COMPACT_DATA_DIR=$DATA DATABASE_URL=$URL COMPACT_LOG_LEVEL=warn \
    COMPACT_RATE_LIMIT_BURST=1000000000 COMPACT_RATE_LIMIT_REPLENISH_MS=1 \
    COMPACT_ADDRESS_LIMIT_BURST=1000000000 COMPACT_ADDRESS_LIMIT_REPLENISH_MS=1 \
    COMPACT_LOGIN_BURST=1000000000 COMPACT_LOGIN_REPLENISH_MS=1 \
    "$BIN/compact" serve --bind "127.0.0.1:$PORT" >"$WORK/server-$BACKEND.log" 2>&1 & SERVER=$!
  until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do sleep 0.2; done
  # Idle means once start-up work is done: the search count index loads in the background
  # (COMPACT_SEARCH_INDEX_AT_START), and its memory is part of what an idle server holds.
  loaded=
  for _ in $(seq 240); do
    curl -fsS "http://127.0.0.1:$PORT/metrics" |
      grep -Eq '^compact_search_count_index_(items [1-9]|limited 1)' && loaded=1 && break
    sleep 0.5
  done
  [ -n "$loaded" ] || echo "  warning: the search count index was not loaded after 120 s (see $WORK/server-$BACKEND.log)"
  sleep 1
  IDLE_KB=$(rss_kb "$SERVER" VmRSS)
  AUTH="Authorization: Bearer $(token)"
  # A first request of each kind, so one-time work (caches, statement preparation) is
  # not counted in the first round.
  curl -fsS -H "$AUTH" "http://127.0.0.1:$PORT/api/v1/me" >/dev/null

  while IFS=$'\t' read -r -u 3 figure sql path; do
    SECS=$FAST_SECS; [[ $figure == search* ]] && SECS=$SEARCH_SECS
    if [[ $figure == search* ]]; then
      # The first search of a text fills its bitmap in the count index (the very first one
      # also loads the catalog): timed apart, as rounds only see it once.
      first=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$AUTH" "http://127.0.0.1:$PORT$path")
      printf '%s\t%s\t%s\n' "$BACKEND" "$figure" "$first" >>"$WORK/first.tsv"
      echo "  $figure: first request ${first} s"
    fi
    rounds=$ROUNDS
    for round in $(seq "$ROUNDS"); do
      [ "$round" -le "$rounds" ] || break
      json=$(baseline_sql "$sql")
      record "$figure" baseline "$round" "$json"
      # A figure slower than half a round cannot be timed in rounds of this length: one
      # round only, with the product given time for about three requests per connection.
      p50=$(sed -n 's/.*"p50_ms":\([0-9.]*\).*/\1/p' <<<"$json")
      if [ "$round" = 1 ] && awk -v p="${p50:-0}" -v s="$SECS" 'BEGIN {exit !(p > s * 500)}'; then
        rounds=1
        SECS=$(awk -v p="$p50" -v s="$SECS" -v cap="$SLOW_CAP" 'BEGIN {t = int(3 * p / 1000) + 1; if (t > cap) t = cap; if (t < s) t = s; print t}')
      fi
      AUTH="Authorization: Bearer $(token)"   # access tokens live 10 minutes
      read -r timed_before over_before <<<"$(server_timed)"
      case "$figure" in
        "get document") json=$(load_json -H "$AUTH" --urls-from-file "$WORK/document-urls.txt") ;;
        "post update") json=$(load_json -H "$AUTH" -m POST -T application/json -Z "$WORK/updates.jsonl" "http://127.0.0.1:$PORT/api/v1/updates") ;;
        *) json=$(load_json -H "$AUTH" "http://127.0.0.1:$PORT$path") ;;
      esac
      read -r timed_after over_after <<<"$(server_timed)"
      [ -z "$json" ] ||
        json="{\"server_requests\":$((timed_after - timed_before)),\"server_over_50ms\":$((over_after - over_before)),${json#\{}"
      record "$figure" product "$round" "$json"
    done
  done 3<"$WORK/sql/index.tsv"
  SECS=$FAST_SECS

  for round in $(seq "$ROUNDS"); do
    record me baseline "$round" "$(load_json -H "$AUTH" "http://127.0.0.1:$BARE_PORT/me")"
    AUTH="Authorization: Bearer $(token)"
    record me product "$round" "$(load_json -H "$AUTH" "http://127.0.0.1:$PORT/api/v1/me")"
  done
  for round in $(seq "$ROUNDS"); do
    bound=$("$BIN/compact" passwords benchmark --rounds 6)
    field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$bound"; }
    record login baseline "$round" "{\"rps\":$(field bound_per_second),\"p50_ms\":$(field ms_per_hash),\"p99_ms\":$(field ms_per_hash)}"
    record login product "$round" "$(load_json -m POST -T application/json -Z "$WORK/logins.jsonl" "http://127.0.0.1:$PORT/api/v1/auth/login")"
  done

  echo "{\"backend\":\"$BACKEND\",\"idle_rss_kb\":$IDLE_KB,\"peak_rss_kb\":$(rss_kb "$SERVER" VmHWM)}" >>"$MEMORY"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
  if [ -n "$PG_DB" ] && [ -z "${BENCH_KEEP:-}" ]; then
    psql -q "$PG_SERVER/postgres" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null; PG_DB=""
  fi
done

mkdir -p bench/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
META=$(printf '{"date":"%s","commit":"%s","machine":"%s, %s vCPUs, %s","mode":"%s","items":%s,"rounds":%s,"seconds_per_round":%s,"search_seconds_per_round":%s,"connections":%s}' \
  "$(date -u +%FT%TZ)" "$(git describe --always --dirty=-modified)" "$(uname -sr)" "$(nproc)" \
  "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)" "$MODE" "$ITEMS" "$ROUNDS" "$SECS" "$SEARCH_SECS" "$CONNS")
"$BIN/compact-bench" report --measurements "$MEASUREMENTS" --memory "$MEMORY" --meta "$META" \
  --markdown "bench/results/run-$STAMP-$ITEMS.md" --json "bench/results/run-$STAMP-$ITEMS.json"
cp "$MEASUREMENTS" "bench/results/run-$STAMP-$ITEMS.measurements.jsonl"
if [ -s "$WORK/first.tsv" ]; then
  { echo; echo "First request of each search, before the rounds (its text's bitmap is made and"
    echo "its counts are counted; the count index's catalog was loaded at start):"; echo
    echo "| backend | figure | seconds |"; echo "|---|---|---|"
    awk -F'\t' '{printf "| %s | %s | %.3f |\n", $1, $2, $3}' "$WORK/first.tsv"
  } >>"bench/results/run-$STAMP-$ITEMS.md"
fi
echo "written to bench/results/run-$STAMP-$ITEMS.{md,json}"
