"""`python -m bench` (`make bench`): generate the data, then run the earn, expiry and review
benchmarks, each printing its figures.

    .venv/bin/python -m bench                                   # full size: 1M members, 10M lots
    .venv/bin/python -m bench --members 20000 --lots 200000 --calls 300   # smoke run, under a minute
    .venv/bin/python -m bench --skip-generate --only expiry     # one benchmark on the data already there
    make bench ARGS="--members 20000 --lots 200000 --calls 300"
"""

import argparse
import platform
import subprocess  # nosec B404
import sys

from . import bench_earn, bench_expiry, bench_review, generate
from .common import raw_connect, say, setup_django, timed

STEPS = ["earn", "expiry", "review"]


def machine() -> str:
    import os

    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    with raw_connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("shared_buffers", "work_mem", "max_wal_size", "synchronous_commit", "jit")
        }
    cpu = ""
    try:
        cpu = subprocess.run(  # nosec B603 B607
            ["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, PostgreSQL {version} ("
        + ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
        + ")"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    generate.add_arguments(parser)
    parser.add_argument("--calls", type=int, default=3000, help="earn: calls per mode (default 3000)")
    parser.add_argument("--threads", type=int, default=2, help="earn: threads of the threaded modes (default 2)")
    parser.add_argument("--batch-members", type=int, default=None, help="expiry: member-id range of expire_due")
    parser.add_argument("--skip-generate", action="store_true", help="use the data already in the database")
    parser.add_argument("--only", choices=STEPS, action="append", help="run only this benchmark (repeatable)")
    args = parser.parse_args(argv)
    db = setup_django()
    say(f"bench: database {db['NAME']} on {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}")
    say(f"bench: machine: {machine()}")
    with timed() as total:
        if not args.skip_generate:
            generate.generate(members=args.members, lots=args.lots, jobs=args.jobs, seed=args.seed)
        steps = args.only or STEPS
        if "earn" in steps:
            bench_earn.run(calls=args.calls, threads=args.threads)
        if "expiry" in steps:
            bench_expiry.run(batch_members=args.batch_members)
        if "review" in steps:
            bench_review.run()
    say(f"bench: all done in {total():.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
