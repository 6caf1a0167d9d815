"""Issue 28: the soak (bench/bench_soak.py) in short: about 20 s of mixed till traffic from several
tills through real gunicorn, started as docs/deploy.md starts it (the static files built first by scripts/build_assets.sh,
PROMETHEUS_MULTIPROC_DIR set and not made beforehand, as in the image), on PostgreSQL and Redis. No error, and the figures are printed; no timing is
asserted (the machine is shared)."""

import os

import pytest

from bench import bench_soak

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker():
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        pytest.skip("needs Redis: set CELERY_BROKER_URL to redis:// (CI does)")


def test_a_short_soak_has_no_error_and_prints_its_figures(
    on_postgres, redis_broker, demo_program, tmp_path, capsys, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]  # gunicorn's; not MD5
    tills = bench_soak.prepare(clients=3)
    assert all(len(till["members"]) == bench_soak.MEMBERS_PER_CLIENT for till in tills)
    with bench_soak.serve(tmp_path, workers=2) as (base, master):
        result = bench_soak.soak(base, master, tills, seconds=20, warmup=3, sample_every=5)
    figures = bench_soak.report(result, warmup=3)
    out = capsys.readouterr().out
    assert figures["errors"] == 0, out + (tmp_path / "gunicorn.log").read_text()[-3000:]
    assert figures["requests"] > 0
    for figure in ("requests in", "errors 0", "latency p50", "p99", "RSS", "at start", "at end", "growth"):
        assert figure in out, out
    stats = result["stats"]
    assert {"lookup", "sale", "return", "quote (counter preview)", "/metrics"} <= set(stats.calls), stats.calls
    assert (tmp_path / "prometheus").is_dir()  # gunicorn_conf made it
