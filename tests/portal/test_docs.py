"""The project's own documentation (issue 16): the README links nothing outside the repository,
docs/api.md's endpoint table is the schema's, and the start banner names the demo member."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command

from portal.management.commands.api_docs import BEGIN, END, endpoint_table, replace_block

ROOT = Path(__file__).resolve().parents[2]


def links(markdown: str) -> list[str]:
    targets = re.findall(r"\]\(([^)]+)\)", markdown)  # [text](target) and ![alt](target)
    targets += re.findall(r"`(\.\./[^`]+)`", markdown)  # paths written as code
    targets += re.findall(r"https?://[^\s)`'\"]+", markdown)
    return targets


def test_readme_links_nothing_outside_the_repository():
    readme = (ROOT / "README.md").read_text()
    for target in links(readme):
        assert not target.startswith(("http://", "https://")) or target.startswith("http://127.0.0.1"), target
        if target.startswith("http"):
            continue
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), target
        assert path.exists(), target
    assert "../shared" not in readme


def test_readme_links_the_projects_own_api_and_demo_docs():
    readme = (ROOT / "README.md").read_text()
    assert "(docs/api.md)" in readme and "(docs/demo-program.md)" in readme


def test_link_finder_catches_the_old_links():
    assert links("rules in `../shared/spec/product.md`") == ["../shared/spec/product.md"]


@pytest.mark.django_db
def test_api_docs_table_is_current():
    table = endpoint_table()
    text = (ROOT / "docs/api.md").read_text()
    assert replace_block(text, table) == text, "docs/api.md is stale: run `make api-docs`"


def test_api_docs_table_lists_every_endpoint_of_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    table = endpoint_table()
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path, operations in paths.items():
        for method in operations:
            if method in ("get", "post", "put", "patch", "delete"):
                assert f"| {method.upper()} | `{path}` |" in table
    assert "| POST | `/api/v1/sales/` | Record a sale | `receipt_no`, `member`?, `amount`?, `list_amount`?," in table


def test_api_docs_command_writes_the_block(tmp_path):
    doc = tmp_path / "api.md"
    doc.write_text(f"# API\n\nhand-written\n\n{BEGIN}\nold table\n{END}\n\nafter\n")
    call_command("api_docs", write=str(doc))
    text = doc.read_text()
    assert "old table" not in text and "hand-written" in text and text.endswith("after\n")
    assert "| GET | `/api/v1/members/lookup/` | Find a member | `?q` | 200 |" in text


def test_start_banner_lists_the_demo_member():
    banner = (ROOT / "scripts/run.sh").read_text()
    assert "13800138000 / member-demo" in banner
    for account in ("admin / admin-demo", "clerk1 / clerk1-demo"):
        assert account in banner


def test_demo_program_doc_matches_the_demo_data():
    from membership.demo import KNOWN_MEMBER, STAFF

    doc = (ROOT / "docs/demo-program.md").read_text()
    assert f"`{KNOWN_MEMBER['phone']}` | `{KNOWN_MEMBER['password']}`" in doc
    for username, password, *_ in STAFF:
        assert f"| `{username}` | `{password}` |" in doc


def test_every_outbox_event_and_job_is_listed_with_its_consumers():
    """Issue 30: every event type listed with its consumers (docs/architecture.md's table), held to
    the outbox's registry and to the receipt names the consuming tasks write."""
    from campaigns import tasks
    from campaigns.services import notifications
    from core import outbox

    text = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    text = text[text.index("**Every event and job with its consumers**") : text.index("Sent jobs are kept")]
    rows = dict(re.findall(r"^\s*\| `([a-z_.]+)`(?: \(job\))? \| ([^|]+) \|", text, re.M))
    assert set(rows) == set(outbox.EVENT_TYPES) | set(outbox.JOB_TYPES)
    consumers = {
        "member.enrolled": tasks.MEMBER_ENROLLED,
        "member.tier_changed": tasks.TIER_CHANGED,
        "purchase.recorded": tasks.PURCHASE_RECORDED,
        "return.recorded": tasks.RETURN_RECORDED,
        "points.expiring": tasks.POINTS_EXPIRING,
        notifications.JOB: notifications.CONSUMER,
    }
    for event, consumer in consumers.items():
        assert f"`{consumer}`" in rows[event], event
