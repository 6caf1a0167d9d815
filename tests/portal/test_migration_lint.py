"""Issue 30: `make lint` fails on a migration that would break the release still serving, checked by
django-migration-linter on PostgreSQL's SQL (scripts/lint_migrations.sh). The project's own migrations
pass; a copy of the project with one more migration adding a NOT NULL column without a database default
(what broke every till during an upgrade: the old code's INSERTs fail) does not."""

import os
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from .gunicorn_run import copy_project

ROOT = Path(__file__).resolve().parents[2]
BAD = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("membership", "{last}")]
    operations = [migrations.AddField("member", "lint_probe", models.IntegerField(default=0))]
"""


@pytest.fixture
def postgres_url(on_postgres):
    settings = connection.settings_dict
    return (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    )


def lint(root: Path, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(root)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        ["bash", str(root / "scripts" / "lint_migrations.sh")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_projects_migrations_pass(postgres_url):
    done = lint(ROOT, postgres_url)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Erroneous migrations: 0/" in done.stdout


def test_a_not_null_column_without_a_database_default_fails_the_lint(postgres_url, tmp_path):
    copy_project(tmp_path)
    migrations = sorted(p.stem for p in (tmp_path / "membership" / "migrations").glob("0*.py"))
    (tmp_path / "membership" / "migrations" / "0999_lint_probe.py").write_text(BAD.format(last=migrations[-1]))
    done = lint(tmp_path, postgres_url)
    assert done.returncode == 1, done.stdout[-3000:]
    assert "0999_lint_probe" in done.stdout and "NOT NULL" in done.stdout
