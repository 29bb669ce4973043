#!/usr/bin/env bash
# Sign-in throughput against the argon2 bound, and authenticated GET latency while sign-ins
# saturate the machine. Needs wrk (apt-get install wrk). Usage: bench/login/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN="${1:-10}"
PORT="${BENCH_PORT:-18181}"
BIN=target/release/compact
OUT=bench/results
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --bin compact >/dev/null

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
p99() { awk '/ 99%/ {print $2}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }

# 1. The authenticated GET alone (one connection: a client, not a flood).
IDLE=$(wrk -t1 -c1 -d"${SECONDS_PER_RUN}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me")
# 2. Sign-ins alone, saturating: the throughput compared with the argon2 bound.
LOGINS=$(wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" --latency -s bench/login/login.lua "http://127.0.0.1:$PORT/api/v1/auth/login")
# 3. The same GET while sign-ins saturate the machine.
BUSY_LOGINS=$(mktemp)
wrk -t1 -c8 -d"${SECONDS_PER_RUN}s" -s bench/login/login.lua "http://127.0.0.1:$PORT/api/v1/auth/login" >"$BUSY_LOGINS" &
LOGIN_PID=$!
sleep 1
BUSY=$(wrk -t1 -c1 -d"$((SECONDS_PER_RUN - 2))s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/me")
wait $LOGIN_PID
RSS_KB=$(ps -o rss= -p "$SERVER" | tr -d ' ')

BOUND=$(echo "$BOUND_JSON" | sed 's/.*"bound_per_second":\([0-9.]*\).*/\1/')
LOGIN_RPS=$(echo "$LOGINS" | rps)
RESULT=$(printf '{"date":"%s","commit":"%s","machine":"%s cores","argon2":%s,"logins_per_second":%s,"login_ratio_to_bound":%s,"me_p99_idle":"%s","me_p99_during_logins":"%s","server_rss_kb_after":%s}' \
    "$(date -u +%FT%TZ)" "$(git describe --always --dirty=-modified)" "$(nproc)" "$BOUND_JSON" "$LOGIN_RPS" \
    "$(awk -v a="$LOGIN_RPS" -v b="$BOUND" 'BEGIN {printf "%.2f", a / b}')" "$(echo "$IDLE" | p99)" "$(echo "$BUSY" | p99)" "$RSS_KB")
echo "$RESULT" | tee "$OUT/login-$(date -u +%Y%m%dT%H%M%SZ).json"
