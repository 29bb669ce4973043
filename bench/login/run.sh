#!/usr/bin/env bash
# Sign-in throughput against the argon2 bound, and authenticated GET latency while sign-ins
# saturate the machine. Needs oha (bench/README.md, "The harness"). Usage: bench/login/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN="${1:-10}"
PORT="${BENCH_PORT:-18181}"
BIN=target/release/compact
OUT=bench/results
mkdir -p "$OUT"
command -v oha >/dev/null || { echo "oha is needed: cargo install oha --version 1.16.0 --locked" >&2; exit 1; }
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release -p compact-api -p compact-bench >/dev/null

DATA=$(mktemp -d)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export COMPACT_DATA_DIR="$DATA" COMPACT_LOG_LEVEL=warn COMPACT_LOGIN_BURST=100000000 COMPACT_LOGIN_REPLENISH_MS=1 \
    COMPACT_RATE_LIMIT_BURST=100000000 COMPACT_RATE_LIMIT_REPLENISH_MS=1 \
    COMPACT_ADDRESS_LIMIT_BURST=100000000 COMPACT_ADDRESS_LIMIT_REPLENISH_MS=1
PASSWORD='a sturdy lantern over quiet meadows'
echo "$PASSWORD" | $BIN admin create --email bench.admin@unoct.example --name "Bench Admin" --password-stdin >/dev/null
# A second account for the GET, so the sign-in storm is someone else's.
echo "$PASSWORD" | $BIN admin create --email bench.reader@unoct.example --name "Bench Reader" --password-stdin >/dev/null
BOUND_JSON=$($BIN passwords benchmark --rounds 20)
$BIN serve --bind "127.0.0.1:$PORT" & SERVER=$!
until curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do sleep 0.2; done

TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"bench.reader@unoct.example\",\"password\":\"$PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
# load CONNECTIONS SECONDS [oha options…] URL: one JSON line (rps, p50_ms, p99_ms, …).
load() {
  local conns=$1 secs=$2; shift 2
  oha --no-tui --output-format json --worker-threads 1 -c "$conns" -z "${secs}s" -w "$@" |
    target/release/compact-bench load-summary
}
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
SIGN_IN=(-m POST -T application/json -d "{\"email\":\"bench.admin@unoct.example\",\"password\":\"$PASSWORD\"}"
  "http://127.0.0.1:$PORT/api/v1/auth/login")

# 1. The authenticated GET alone (one connection: a client, not a flood).
IDLE=$(load 1 "$SECONDS_PER_RUN" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me")
# 2. Sign-ins alone, saturating: the throughput compared with the argon2 bound.
LOGINS=$(load 8 "$SECONDS_PER_RUN" "${SIGN_IN[@]}")
# 3. The same GET while sign-ins saturate the machine.
load 8 "$SECONDS_PER_RUN" "${SIGN_IN[@]}" >/dev/null &
LOGIN_PID=$!
sleep 1
BUSY=$(load 1 "$((SECONDS_PER_RUN - 2))" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me")
wait $LOGIN_PID
RSS_KB=$(ps -o rss= -p "$SERVER" | tr -d ' ')

BOUND=$(echo "$BOUND_JSON" | sed 's/.*"bound_per_second":\([0-9.]*\).*/\1/')
LOGIN_RPS=$(echo "$LOGINS" | field rps)
RESULT=$(printf '{"date":"%s","commit":"%s","machine":"%s cores","argon2":%s,"logins_per_second":%s,"login_ratio_to_bound":%s,"me_p99_idle":"%s","me_p99_during_logins":"%s","server_rss_kb_after":%s}' \
    "$(date -u +%FT%TZ)" "$(git describe --always --dirty=-modified)" "$(nproc)" "$BOUND_JSON" "$LOGIN_RPS" \
    "$(awk -v a="$LOGIN_RPS" -v b="$BOUND" 'BEGIN {printf "%.2f", a / b}')" "$(echo "$IDLE" | field p99_ms)ms" "$(echo "$BUSY" | field p99_ms)ms" "$RSS_KB")
echo "$RESULT" | tee "$OUT/login-$(date -u +%Y%m%dT%H%M%SZ).json"
