"""Where the web tier's CPU of a sale and a lookup goes (issue 17): a CPU-time profile (cProfile with
time.process_time as its clock, so waiting for PostgreSQL does not count) of N API sales and N
lookups through the real views in this process, as bench_load's in-process figures are measured,
grouped by the layer each function belongs to, then the functions with the most own time.

    DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/bench_load \\
        .venv/bin/python -m bench.profile_sale [--calls 500] [--top 25]

The sales are real (receipts PROF-…, on members drawn from the database) and stay in it."""

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from .common import say, setup_django

# (label, substrings of a function's file path): the first that matches names its layer
LAYERS = [
    ("SQL compilation (django/db/models/sql)", ("django/db/models/sql/",)),
    ("ORM models, fields, querysets", ("django/db/models/",)),
    ("database adapter (django/db/backends, psycopg)", ("django/db/backends/", "psycopg")),
    ("DRF serializers and fields", ("rest_framework/serializers.py", "rest_framework/fields.py")),
    ("DRF views, parsers, renderers, auth, throttles", ("rest_framework/",)),
    (
        "Django request handling, middleware, URLs",
        ("django/core/", "django/middleware/", "django/urls/", "django/http/"),
    ),
    ("Django translation, settings, utils", ("django/utils/", "django/conf/", "django/dispatch/")),
    ("test client (not in production)", ("django/test/",)),
    ("portal: membership services", ("membership/",)),
    ("portal: pos", ("pos/",)),
    ("portal: campaigns (outbox consumers)", ("campaigns/",)),
    ("portal: settings, middleware", ("portal/",)),
    ("json, decimal, datetime, other stdlib", ("json/", "decimal", "datetime", "/lib/python3")),
]


def layer(filename: str) -> str:
    if filename.startswith("~") or filename == "":
        return "built-ins (C functions)"
    for label, parts in LAYERS:
        if any(p in filename for p in parts):
            return label
    return "other"


def report(profile: cProfile.Profile, calls: int, top: int) -> None:
    stats = pstats.Stats(profile)
    by_layer = defaultdict(float)
    total = 0.0
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_layer[layer(filename)] += tottime
        total += tottime
    say(f"  CPU per call {total * 1000 / calls:.3f} ms profiled (the profiler multiplies it: read the shares)")
    for label, seconds in sorted(by_layer.items(), key=lambda kv: -kv[1]):
        say(f"    {seconds / total:6.1%}  {seconds * 1000 / calls:5.2f} ms  {label}")
    say(f"  the {top} functions with the most own time:")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in rows:
        where = filename.split("site-packages/")[-1].replace(str(Path.cwd()) + "/", "")
        say(
            f"    {tottime / total:5.1%} own, {cumtime * 1000 / calls:5.2f} ms cum, "
            f"{ncalls / calls:5.1f}/call  {where}:{line}({name})"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    setup_django()
    from .bench_load import api_calls, prepare

    members_file = Path(tempfile.mkdtemp(prefix="bench-profile-")) / "members.txt"
    os.environ["BENCH_MEMBERS"] = str(members_file)
    calls = api_calls(prepare(members_file, 5000), receipt_prefix="PROF")

    def sale(i):
        response = calls["sale"](i)
        assert response.status_code == 201, response.content  # nosec B101

    def lookup(i):
        response = calls["lookup"](i)
        assert response.status_code == 200, response.content  # nosec B101

    for name, call in (("sale", sale), ("lookup", lookup)):
        for i in range(-20, 0):  # warm-up: per-process copies of settings, scenes, the token
            call(i - 100 if name == "sale" else i)
        started = time.process_time()
        for i in range(args.calls):
            call(i)
        plain = (time.process_time() - started) * 1000 / args.calls
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for i in range(args.calls, 2 * args.calls):
            call(i)
        profile.disable()
        say(f"{name}: {args.calls} calls, CPU per call without the profiler {plain:.2f} ms")
        report(profile, args.calls, args.top)


if __name__ == "__main__":
    main()
