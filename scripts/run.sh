#!/usr/bin/env bash
# Start the web server, a Celery worker, Celery beat (database scheduler) and the webhooks' worker together.
# Ctrl-C stops them all. Called by `make run` after migrate, seed_demo and translations.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
LOG=${PORTAL_VAR_DIR:-var}/log
mkdir -p "$LOG"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
# Ctrl-C (or a TERM) is how one stops the portal: stop them all and end well, not with the status of
# a child stopped by the signal (make printed "Error 130" or "Error 143" for a normal stop)
stop() { trap - INT TERM; cleanup; echo "Stopped."; exit 0; }
trap cleanup EXIT
trap stop INT TERM

$BIN/celery -A portal worker --loglevel=INFO --concurrency=2 >"$LOG/worker.log" 2>&1 &
pids+=($!)
$BIN/celery -A portal beat --loglevel=INFO >"$LOG/beat.log" 2>&1 &
pids+=($!)
# webhook sends wait on their receivers: a worker of their own (docs/integration.md)
$BIN/celery -A portal worker -Q webhooks -n webhooks@%h --loglevel=INFO --concurrency=2 >"$LOG/webhooks.log" 2>&1 &
pids+=($!)

cat <<MSG

  Store-membership portal: http://$HOST:$PORT/
    staff sign-in  http://$HOST:$PORT/accounts/login/
    admin          http://$HOST:$PORT/admin/
    health         http://$HOST:$PORT/healthz
  Demo accounts (username / password):
    admin / admin-demo        HQ operator, all stores
    manager1 / manager1-demo  store manager, S001 旗舰店
    clerk1 / clerk1-demo      clerk, S001 旗舰店
    clerk2 / clerk2-demo      clerk, S002 社区店
  Demo member (phone / password), member pages http://$HOST:$PORT/m/ :
    13800138000 / member-demo 张三, SILVER
  Worker, beat and webhooks logs: $LOG/worker.log, $LOG/beat.log, $LOG/webhooks.log. Ctrl-C stops everything.

MSG
$BIN/python manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)
wait -n
