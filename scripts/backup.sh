#!/usr/bin/env bash
# Back up the portal's PostgreSQL database: scripts/backup.sh [FILE]
#   DATABASE_URL names the database (as for the portal); FILE defaults to
#   var/backups/portal-<UTC time>.dump. PostgreSQL's custom format (compressed, restorable
#   table by table); no owners or grants, so it restores under any role.
# The file is checked to be readable (pg_restore --list) before the script says it is done.
# Restore with scripts/restore.sh; the drill in tests/portal/test_backup_drill.py does both.
# The dump holds every member's phone and the password hashes: only its owner may read it (mode 0600,
# and 0700 for a directory the script makes), whatever the caller's umask.
set -euo pipefail
umask 077
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to the portal database (postgres://user:pw@host:5432/name)}"
case "$DATABASE_URL" in postgres://*|postgresql://*) ;; *) echo "backup.sh: DATABASE_URL is not PostgreSQL" >&2; exit 2 ;; esac
file=${1:-var/backups/portal-$(date -u +%Y%m%dT%H%M%SZ).dump}
mkdir -p "$(dirname "$file")"
tmp="$file.partial"
trap 'rm -f "$tmp"' EXIT
pg_dump --format=custom --no-owner --no-privileges --file="$tmp" --dbname="$DATABASE_URL"
pg_restore --list "$tmp" >/dev/null
mv "$tmp" "$file"
echo "backup: $file ($(du -h "$file" | cut -f1))"
