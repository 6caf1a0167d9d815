#!/usr/bin/env bash
# Restore a backup of scripts/backup.sh: scripts/restore.sh FILE [--replace]
#   DATABASE_URL names the target database, which must exist (createdb) and be empty; with
#   --replace its objects are dropped first (the portal must be stopped: web, worker and beat).
# One transaction: a restore that fails leaves the target as it was. Afterwards, run
# `python manage.py migrate` (a newer release adds its migrations) and `manage.py check_ledger`.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:?usage: scripts/restore.sh FILE [--replace]}
replace=${2:-}
: "${DATABASE_URL:?set DATABASE_URL to the target database (postgres://user:pw@host:5432/name)}"
case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *) echo "restore.sh: DATABASE_URL is not PostgreSQL" >&2; exit 2 ;; esac
[ -r "$file" ] || { echo "restore.sh: cannot read $file" >&2; exit 2; }
tables=$(psql --dbname="$DATABASE_URL" -Atc "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
options=(--no-owner --no-privileges --single-transaction --exit-on-error)
if [ "$tables" != "0" ]; then
  if [ "$replace" != "--replace" ]; then
    echo "restore.sh: the target database has $tables tables; give --replace to drop them first" >&2
    exit 3
  fi
  options+=(--clean --if-exists)
fi
pg_restore "${options[@]}" --dbname="$DATABASE_URL" "$file"
echo "restored: $file"
