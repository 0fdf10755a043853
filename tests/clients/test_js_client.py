"""The JavaScript client (clients/js/) under Node's own test runner, against the hubs of this package.

`ws` (the WebSocket of the tests, not a dependency of the client) comes from the npm registry through
`npm ci` and the committed package-lock.json, into clients/js/node_modules/ (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from tests.clients.control import serving
from tests.clients.harness import ClientWorld
from tests.conftest import REQUIRE_SERVICES
from tests.support import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

JS_CLIENT = REPO_ROOT / "clients" / "js"


def npm_and_node() -> tuple[str, str]:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if REQUIRE_SERVICES:
            pytest.fail("Node and npm are required (HUB_REQUIRE_SERVICES)")
        pytest.skip("no node or npm on PATH")
    return npm, node


def test_js_client_suite_under_node_test_runner(world: ClientWorld) -> None:
    npm, node = npm_and_node()
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=JS_CLIENT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    with serving(world) as control:
        run = subprocess.run(
            [node, "--test", "--test-concurrency=1", "--test-reporter=spec", "test/"],
            cwd=JS_CLIENT,
            env={**os.environ, "HUB_CONTROL": control},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    print(run.stdout)
    assert run.returncode == 0, run.stdout + run.stderr
    # Every scenario ran, under both servers.
    assert re.search(r"\bpass 13\b", run.stdout), run.stdout
