#!/usr/bin/env bash
# Run the whole test suite (called by `make test`). DATABASE_URL and CELERY_BROKER_URL pick
# the stack: unset, SQLite and the filesystem broker; CI sets PostgreSQL and Redis.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$rc"
