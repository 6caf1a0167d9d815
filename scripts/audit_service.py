"""Does the vulnerability service that pip-audit asks answer from this machine? Exit 0 if so; 1, with
the reason, if not. `.ci/run` runs `make audit` only then: the machines reach package registries only.

pip-audit's default service is PyPI's JSON API: for each requirement it asks
https://pypi.org/pypi/<name>/<version>/json, whose `vulnerabilities` lists that release's advisories.
This asks the same for the first pinned requirement of requirements.txt (a mirror that answers a
project's JSON but not a release's does not count: pip-audit would fail on every requirement)."""

import json
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

SERVICE = "https://pypi.org/pypi/{name}/{version}/json"


def first_pin(requirements: Path) -> tuple[str, str]:
    for line in requirements.read_text().splitlines():
        if m := re.match(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line):
            return m.group(1), m.group(2)
    raise SystemExit(f"no pinned requirement in {requirements}")


def answers(name: str, version: str, timeout: float = 10) -> str | None:
    """None when the service answers for this release; otherwise why not."""
    url = SERVICE.format(name=name, version=version)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec B310
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        return f"{url} answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url}: {type(exc).__name__}: {exc}"
    if "vulnerabilities" not in body:
        return f"{url} answered without `vulnerabilities`"
    return None


def main() -> int:
    name, version = first_pin(Path(__file__).resolve().parents[1] / "requirements.txt")
    why = answers(name, version)
    if why:
        print(f"the vulnerability service does not answer: {why}")
        return 1
    print(f"the vulnerability service answers ({SERVICE.format(name=name, version=version)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
