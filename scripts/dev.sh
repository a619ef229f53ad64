#!/usr/bin/env bash
# `make dev`: run Hermes locally end to end. Elasticsearch is already up (make es-up);
# this starts the three functions with functions-framework, posts a full-load CloudEvent
# (binary mode) for the sample data, and serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ES_URL:?ES_URL must point at Elasticsearch (make es-up prints it)}"
export ES_URL
export DATA_SOURCE_URL="${DATA_SOURCE_URL:-file://$PWD/examples/sample.ndjson}"
SEARCH_PORT="${SEARCH_PORT:-8080}" FULL_LOAD_PORT="${FULL_LOAD_PORT:-8081}" DELTA_LOAD_PORT="${DELTA_LOAD_PORT:-8082}"
FF=.venv/bin/functions-framework

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

start() {  # name target port
  "$FF" --source "functions/$1/main.py" --target "$2" --port "$3" --host 127.0.0.1 &
  pids+=($!)
}
start search search "$SEARCH_PORT"
start full_load full_load "$FULL_LOAD_PORT"
start delta_load delta_load "$DELTA_LOAD_PORT"

for port in "$SEARCH_PORT" "$FULL_LOAD_PORT" "$DELTA_LOAD_PORT"; do
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
done

echo "--- full load of $DATA_SOURCE_URL"
curl -fsS "http://127.0.0.1:$FULL_LOAD_PORT/" \
  -H "Ce-Specversion: 1.0" -H "Ce-Type: dev.hermes.load.full" -H "Ce-Source: make-dev" \
  -H "Ce-Id: dev-$(date +%s)" -H "Content-Type: application/json" -d '{}'
echo
cat <<TXT
--- Hermes is running (Ctrl-C stops the functions; make es-down stops Elasticsearch)
  curl 'http://127.0.0.1:$SEARCH_PORT/search?q=pariss'
  curl 'http://127.0.0.1:$SEARCH_PORT/suggest?q=tok'
  curl 'http://127.0.0.1:$SEARCH_PORT/documents/paris'
  make delta-load DELTA_URL=http://127.0.0.1:$DELTA_LOAD_PORT/
TXT
wait
