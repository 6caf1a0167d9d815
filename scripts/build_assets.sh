#!/bin/sh
# Build what every web process of a release needs, once, before any of them starts:
#   - the static files with whitenoise's manifest (hashed names), in $PORTAL_VAR_DIR/staticfiles;
#   - the compiled Chinese catalogue (.mo), in $PORTAL_LOCALE_DIR (default: locale/ in the tree).
# The Dockerfile runs it at image build time, so every web container carries the same files; the
# production smoke test (tests/portal/test_production_smoke.py) runs it into a temporary directory.
# Needs no database and no broker. PYTHON picks the interpreter (default: python).
set -eu
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
# A build serves no metrics: the image sets PROMETHEUS_MULTIPROC_DIR and makes the directory only after
# this step, and collectstatic imports core.metrics, whose gauges open their files there at once
# (FileNotFoundError, issue 28).
unset PROMETHEUS_MULTIPROC_DIR
# collectstatic reads the production settings' storage (DEBUG=0); a build-only secret, never served.
DEBUG=0 \
SECRET_KEY=${SECRET_KEY:-build-only-secret-never-used-to-sign-anything-0123456789} \
ALLOWED_HOSTS=${ALLOWED_HOSTS:-build.invalid} \
  "$PYTHON" manage.py collectstatic --no-input --verbosity 0
out=${PORTAL_LOCALE_DIR:-locale}
if [ "$out" != "locale" ]; then
  case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
  # only the sources: the catalogue served is the one compiled here
  (cd locale && find . -name '*.po' -exec sh -c 'mkdir -p "$1/$(dirname "$2")" && cp "$2" "$1/$2"' _ "$out" {} \;)
fi
"$PYTHON" -m babel.messages.frontend -q compile -d "$out" -D django
"$PYTHON" -m babel.messages.frontend -q compile -d "$out" -D djangojs
