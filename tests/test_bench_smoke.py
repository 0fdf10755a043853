"""`python -m bench --smoke` runs end to end and writes a well-formed row for every scenario.

Only the shape is checked: the figures depend on the machine and are never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from tests.support import REPO_ROOT

# A hang guard, not a speed check: the smoke run starts about thirty server processes.
SMOKE_TIME_LIMIT = 600
ROW_KEYS = {"value", "unit", "baseline", "ratio", "target", "target_on", "better", "met"}
SCENARIO_PREFIXES = (
    "ingest.",
    "ingest.uvicorn.",
    "latency.",
    "fanout.",
    "connections.",
    "replay.",
    "ingest.big_body",
    "connections.handshakes_per_s",
    "reconnect.storm",
    "search.p95",
    "eventlog.prune",
)


def postgres_server_url() -> str:
    """The PostgreSQL server of this test run (the bench creates its own scratch database on it)."""
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}@{host}:{port}/postgres"


def redis_url() -> str:
    parts = urlsplit(os.environ["REDIS_URL"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/0", "", ""))


def check_row(name: str, row: dict[str, object]) -> None:
    assert row.keys() >= ROW_KEYS, name
    assert row["better"] in ("higher", "lower"), name
    assert row["target_on"] in ("ratio", "value"), name
    assert isinstance(row["unit"], str), name
    assert row["unit"], name
    assert row["target"] is None or isinstance(row["target"], int | float), name
    assert row["met"] in (True, False, None), name
    if "skipped" in row:
        assert isinstance(row["skipped"], str), name
        assert row["skipped"], name
        return
    for key in ("value", "baseline", "ratio"):
        assert row[key] is None or isinstance(row[key], int | float), (name, key)
    assert isinstance(row.get("details"), dict), name
    if row["target"] is not None:
        assert isinstance(row["met"], bool), name


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.redis
def test_bench_smoke_writes_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "results"
    committed = REPO_ROOT / "bench" / "results" / "latest.json"
    before = committed.read_bytes() if committed.exists() else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    command = [
        sys.executable, "-m", "bench", "--smoke", "--out", str(out),
        "--postgres", postgres_server_url(), "--redis", redis_url(),
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=SMOKE_TIME_LIMIT, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads((out / "latest.json").read_text())
    assert document["mode"] == "smoke"
    scenarios = document["scenarios"]
    for prefix in SCENARIO_PREFIXES:
        assert any(name.startswith(prefix) for name in scenarios), prefix
    for name, row in scenarios.items():
        check_row(name, row)
    assert (out / "latest.md").read_text().startswith("Mode `smoke`")
    # A smoke run never touches the committed full results.
    assert (committed.read_bytes() if committed.exists() else None) == before
