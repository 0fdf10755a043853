"""fly.toml against what can be checked without Fly: it parses, every command it runs exists in the
image, and the ports and the health check match the hub's."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from functools import cache
from typing import Any

from django.core.management import get_commands
from django.urls import resolve

from tests.support import REPO_ROOT

FLY = REPO_ROOT / "fly.toml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
PROD_LOCK = REPO_ROOT / "requirements" / "prod.txt"


@cache
def fly() -> dict[str, Any]:
    return tomllib.loads(FLY.read_text())


def dockerfile_cmd() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match
    command: list[str] = json.loads(match[1])
    return command


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def assert_runs_in_the_image(command: str) -> None:
    words = shlex.split(command)
    dockerfile = DOCKERFILE.read_text()
    if words[0] == "uvicorn":
        # A console script of a package the image installs, serving a module the image copies.
        assert re.search(r"^uvicorn(\[[^\]]*\])?==", PROD_LOCK.read_text(), re.MULTILINE)
        module = words[1].partition(":")[0]
        assert re.search(rf"^COPY .*\b{module}\.py\b", dockerfile, re.MULTILINE), module
    else:
        assert words[:2] == ["python", "manage.py"], command
        assert re.search(r"^COPY .*\bmanage\.py\b", dockerfile, re.MULTILINE)
        assert words[2] in get_commands(), words[2]


def test_fly_toml_has_web_and_worker_groups_of_commands_the_image_has() -> None:
    processes = fly()["processes"]
    assert set(processes) == {"web", "worker"}
    for command in [*processes.values(), fly()["deploy"]["release_command"]]:
        assert_runs_in_the_image(command)
    assert shlex.split(fly()["deploy"]["release_command"])[2] == "migrate"
    assert shlex.split(processes["worker"])[2] == "run_worker"
    assert fly()["env"]["HUB_WORKER"] == "external"


def test_fly_toml_web_serves_the_images_command_on_the_port_fly_sends_to() -> None:
    service = fly()["http_service"]
    web = shlex.split(fly()["processes"]["web"])
    cmd = dockerfile_cmd()
    # The image's own command, plus the proxy headers of Fly's edge.
    assert web[: len(cmd)] == cmd
    assert set(web[len(cmd) :]) == {"--proxy-headers", "--forwarded-allow-ips", "*"}
    expose = re.search(r"^EXPOSE (\d+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert expose
    assert service["internal_port"] == int(option(web, "--port")) == int(expose[1])
    assert service["processes"] == ["web"]


def test_fly_toml_health_check_is_the_hubs_liveness_probe() -> None:
    (check,) = fly()["http_service"]["checks"]
    assert check["method"] == "GET"
    assert resolve(check["path"]).url_name == "health"
    # The drain (docs/reliability.md) fits in the time Fly waits after SIGTERM.
    assert fly()["kill_signal"] == "SIGTERM"
    assert fly()["kill_timeout"] >= 25
