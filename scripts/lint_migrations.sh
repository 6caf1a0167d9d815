#!/usr/bin/env bash
# `make lint`'s migration check (issue 30): django-migration-linter on PostgreSQL's SQL, so it runs where
# DATABASE_URL names PostgreSQL (CI does); SQLite rebuilds tables for most changes and says nothing of
# what a PostgreSQL release would do, so there the check is skipped with a word.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${DATABASE_URL:-}" in
  postgres://* | postgresql://*) ;;
  *) echo "lintmigrations: skipped (needs PostgreSQL: set DATABASE_URL; CI does)"; exit 0 ;;
esac
DJANGO_SETTINGS_MODULE=portal.settings.migration_lint .venv/bin/python manage.py lintmigrations
