"""Walk docs/deploy.md's first install by hand, as an operator would (issue 30).

    DATABASE_URL=postgres://…/<an empty database> CELERY_BROKER_URL=redis://… \
        .venv/bin/python scripts/walk_deploy.py [--keep DIR]

The commands are the documentation's own: every fenced block of docs/deploy.md marked ```sh walk, in
order, each run by bash (`set -euo pipefail`) in a copy of the release (the files git tracks or would
add, with this interpreter's virtualenv as its .venv and first on PATH, as an activated one is), with a
clean environment but for the variables the section asks the operator to set (DATABASE_URL,
CELERY_BROKER_URL, CACHE_URL, PORTAL_HOST, GUNICORN_BIND on a free loopback port). A block that fails
stops the walk, which prints the logs of var/log/ and exits 1. Whatever a block left running (web,
worker, beat in the background) is stopped at the end by the section's own last block; anything still
alive after it is killed and named, and the walk fails. Prints `walk: ok` when every block passed.
tests/portal/test_deploy_walk.py runs it against a fresh database on every CI run."""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess  # nosec B404: runs git and bash with argument lists written here
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "deploy.md"
BLOCK = re.compile(r"^```sh walk\n(.*?)^```$", re.MULTILINE | re.DOTALL)
KEPT = ("HOME", "LANG", "LC_ALL", "TERM", "TMPDIR", "USER", "LOGNAME")  # of the caller's environment


def blocks(text: str) -> list[str]:
    return BLOCK.findall(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_release(target: Path) -> Path:
    """The release's files as an operator unpacks them, with this interpreter's virtualenv."""
    listed = subprocess.run(  # nosec B603 B607
        ["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, check=True
    )
    for name in listed.stdout.splitlines():
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


def group_members(pgid: int) -> list[str]:
    """The live processes (not zombies) of process group `pgid`, as 'pid command'."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{stat.parent.name} {text[text.index('(') + 1 : text.rindex(')')]}")
    return found


def stop_groups(groups: list[int], timeout: float = 30) -> list[str]:
    """Wait for the blocks' process groups to end; TERM, then KILL, what is left. What had to be stopped."""
    deadline = time.monotonic() + timeout
    left = []
    while time.monotonic() < deadline:
        left = [member for pgid in groups for member in group_members(pgid)]
        if not left:
            return []
        time.sleep(0.3)
    for pgid in groups:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(3 if sig == signal.SIGTERM else 0)
    return left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="walk in this (new) directory and keep it afterwards")
    args = parser.parse_args()
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        if not os.environ.get(name):
            print(f"walk: set {name} (an empty PostgreSQL database; a Redis broker)", file=sys.stderr)
            return 2
    steps = blocks(DOC.read_text())
    if not steps:
        print(f"walk: no ```sh walk blocks in {DOC}", file=sys.stderr)
        return 2

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="walk-deploy-"))
    workdir.mkdir(parents=True, exist_ok=True)
    release = copy_release(workdir / "release")
    home = workdir / "home"
    home.mkdir()
    broker = os.environ["CELERY_BROKER_URL"]
    env = {k: os.environ[k] for k in KEPT if k in os.environ}
    env.update(
        HOME=str(home),
        PATH=f"{release / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        VIRTUAL_ENV=str(release / ".venv"),
        DATABASE_URL=os.environ["DATABASE_URL"],
        CELERY_BROKER_URL=broker,
        CACHE_URL=os.environ.get("CACHE_URL") or broker,
        PORTAL_HOST=os.environ.get("PORTAL_HOST", "member.example.com"),
        GUNICORN_BIND=f"127.0.0.1:{free_port()}",
    )
    print(f"walk: {len(steps)} blocks of {DOC.relative_to(ROOT)} in {release}, web on {env['GUNICORN_BIND']}")
    groups, failed = [], None
    started = time.monotonic()
    try:
        for number, script in enumerate(steps, 1):
            first = script.strip().splitlines()[0]
            print(f"== walk {number}/{len(steps)}: {first}", flush=True)
            proc = subprocess.Popen(  # nosec B603 B607: the documentation's own commands, by design
                ["bash", "-c", "set -euo pipefail\n" + script],
                cwd=release,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # what it starts in the background stays in its group
            )
            groups.append(proc.pid)
            began = time.monotonic()
            output, _ = proc.communicate(timeout=300)
            sys.stdout.write(output)
            print(f"-- {time.monotonic() - began:.1f} s", flush=True)
            if proc.returncode != 0:
                failed = f"block {number} exited {proc.returncode}"
                break
    finally:
        if failed:  # the doc's stop block did not run: stop what the blocks started
            for pgid in groups:
                try:
                    os.killpg(pgid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        left = stop_groups(groups)
    if left:
        print("walk: still running after the walk (killed): " + "; ".join(left))
        failed = failed or "processes left running"
    if failed:
        for log in sorted((release / "var" / "log").glob("*.log")):
            print(f"---- {log.name} (end)\n{log.read_text()[-3000:]}")
        print(f"walk: FAILED ({failed})")
    else:
        print(f"walk: ok ({len(steps)} blocks, {time.monotonic() - started:.0f} s)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
