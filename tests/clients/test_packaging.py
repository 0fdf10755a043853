"""The clients as packages: what `npm pack` ships, the Python client installed alone, versions.

Both are versioned with the hub (the repository's pyproject.toml) and state the protocol version they
speak, the one docs/websocket.md states.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.clients.test_js_client import JS_CLIENT, npm_and_node
from tests.support import REPO_ROOT

PY_CLIENT = REPO_ROOT / "clients" / "python"
HUB_VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def protocol_version_of_docs() -> int:
    docs = (REPO_ROOT / "docs" / "websocket.md").read_text()
    found = re.search(r"^This is version (\d+) of the protocol", docs, re.MULTILINE)
    assert found, "docs/websocket.md states no protocol version"
    return int(found[1])


def test_clients_versions_are_the_hubs_and_speak_the_documented_protocol() -> None:
    package = json.loads((JS_CLIENT / "package.json").read_text())
    module = (JS_CLIENT / "hub-client.js").read_text()
    python_project = tomllib.loads((PY_CLIENT / "pyproject.toml").read_text())["project"]
    python_init = (PY_CLIENT / "whatsapp_hub_client" / "__init__.py").read_text()
    python_policy = (PY_CLIENT / "whatsapp_hub_client" / "policy.py").read_text()
    protocol = protocol_version_of_docs()

    assert package["version"] == python_project["version"] == HUB_VERSION
    assert f'export const VERSION = "{HUB_VERSION}";' in module
    assert f'__version__ = "{HUB_VERSION}"' in python_init
    assert f"export const PROTOCOL_VERSION = {protocol};" in module
    assert f"PROTOCOL_VERSION = {protocol}\n" in python_policy
    for readme in (JS_CLIENT / "README.md", PY_CLIENT / "README.md"):
        text = readme.read_text()
        assert f"Version {HUB_VERSION}" in text, readme
        assert f"protocol version {protocol}" in text, readme


@pytest.mark.slow
def test_npm_pack_ships_the_module_its_types_readme_and_package_json() -> None:
    npm, _ = npm_and_node()
    packed = subprocess.run(
        [npm, "pack", "--dry-run", "--json", "--loglevel=error"],
        cwd=JS_CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert packed.returncode == 0, packed.stderr
    (tarball,) = json.loads(packed.stdout)
    assert sorted(f["path"] for f in tarball["files"]) == [
        "README.md",
        "hub-client.d.ts",
        "hub-client.js",
        "package.json",
    ]
    assert (tarball["name"], tarball["version"]) == ("whatsapp-hub-client", HUB_VERSION)
    package = json.loads((JS_CLIENT / "package.json").read_text())
    assert package["exports"]["."] == {"types": "./hub-client.d.ts", "default": "./hub-client.js"}
    assert package["types"] == "./hub-client.d.ts"
    assert package["type"] == "module"
    assert "dependencies" not in package  # `ws` is the tests' only


@pytest.mark.slow
def test_python_client_installs_alone_and_imports_without_django(tmp_path: Path) -> None:
    # From a copy, so that the build leaves nothing in the repository.
    source = tmp_path / "source"
    shutil.copytree(PY_CLIENT, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    # setuptools, the build backend, comes from the package index as pip fetches it for any build.
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", f"--target={target}", str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert (target / "whatsapp_hub_client" / "py.typed").is_file()
    # Isolated mode (-I) ignores PYTHONPATH and the current directory: only the installed copy is found.
    # Django is made unimportable; `websockets` comes from this interpreter's site-packages.
    program = f"""
import sys
sys.modules["django"] = None
sys.path.insert(0, {str(target)!r})
import whatsapp_hub_client
from whatsapp_hub_client import HubClient
assert whatsapp_hub_client.__file__.startswith({str(target)!r}), whatsapp_hub_client.__file__
HubClient("ws://127.0.0.1:9/ws/whatsapp/inbox/", token="hub_x")
print(whatsapp_hub_client.__version__, whatsapp_hub_client.PROTOCOL_VERSION)
loaded = [name for name, module in sys.modules.items() if module is not None]
print(sorted(name for name in loaded if name.split(".")[0] in ("django", "hub", "store", "realtime")))
"""
    run = subprocess.run(
        [sys.executable, "-I", "-c", program],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [f"{HUB_VERSION} {protocol_version_of_docs()}", "[]"]
