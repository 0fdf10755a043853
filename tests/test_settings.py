"""Settings read from the environment (docs/design.md, section 2): the helpers as pure units, then the
settings module and `manage.py check` in subprocesses, since settings are read once at import."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.env import env_bool, env_host_ports, env_int, env_list, env_optional, env_str
from tests.support import REPO_ROOT

HUB_VARIABLE_PREFIXES = ("DATABASE_URL", "REDIS_", "DJANGO_", "WHATSAPP_", "HUB_", "MEDIA_ROOT", "PYTEST")
POSTGRES_URL = "postgres://hub@db.internal:5432/hub"
DEV_SECRETS = ("DJANGO_SECRET_KEY", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN")
TRUE_VALUES = ["1", "true", "YES", "On", " on "]
FALSE_VALUES = ["0", "no", "banana", "false", "", "off"]


def clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """This process's environment without any hub variable, plus `variables`; data stays in tmp_path."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(HUB_VARIABLE_PREFIXES)}
    env["DJANGO_SETTINGS_MODULE"] = "hub.settings"
    env["HUB_DATA_DIR"] = str(tmp_path / "data")
    env.update(variables)
    return env


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    variables = {
        "DATABASE_URL": POSTGRES_URL,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "WHATSAPP_APP_SECRET": secrets.token_hex(16),
        "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(24),
        "DJANGO_ALLOWED_HOSTS": "hub.example.com",
    }
    variables.update(overrides)
    return clean_env(tmp_path, **variables)


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_in_subprocess(env: dict[str, str]) -> dict[str, Any]:
    """Import hub.settings in a fresh interpreter under `env` and return the values the tests look at."""
    names = ("DEBUG", "DATABASES", "CHANNEL_LAYERS", "HUB_DATA_DIR", "MEDIA_ROOT", "ALLOWED_HOSTS")
    script = (
        "import json, hub.settings as s; "
        f"print(json.dumps({{name: getattr(s, name) for name in {names!r}}}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


# --- hub/env.py as pure units ---


@pytest.mark.parametrize("value", TRUE_VALUES)
def test_env_bool_true_word_any_case_is_true(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_TEST_FLAG", value)
    assert env_bool("HUB_TEST_FLAG", default=False) is True


@pytest.mark.parametrize("value", FALSE_VALUES)
def test_env_bool_other_value_is_false(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_TEST_FLAG", value)
    assert env_bool("HUB_TEST_FLAG", default=True) is False


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_unset_returns_default(monkeypatch: pytest.MonkeyPatch, default: bool) -> None:
    monkeypatch.delenv("HUB_TEST_FLAG", raising=False)
    assert env_bool("HUB_TEST_FLAG", default=default) is default


def test_env_optional_blank_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_VALUE", "   ")
    assert env_optional("HUB_TEST_VALUE") is None
    monkeypatch.delenv("HUB_TEST_VALUE")
    assert env_optional("HUB_TEST_VALUE") is None


def test_env_optional_set_returns_stripped_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_VALUE", " redis://localhost:6379/0 ")
    assert env_optional("HUB_TEST_VALUE") == "redis://localhost:6379/0"


def test_env_str_unset_returns_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_TEST_VALUE", raising=False)
    assert env_str("HUB_TEST_VALUE", "fallback") == "fallback"
    monkeypatch.setenv("HUB_TEST_VALUE", "set")
    assert env_str("HUB_TEST_VALUE", "fallback") == "set"


def test_env_int_blank_returns_default_and_number_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_NUMBER", "")
    assert env_int("HUB_TEST_NUMBER", 7) == 7
    monkeypatch.setenv("HUB_TEST_NUMBER", " 42 ")
    assert env_int("HUB_TEST_NUMBER", 7) == 42


def test_env_int_not_a_number_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_NUMBER", "many")
    with pytest.raises(ValueError, match="many"):
        env_int("HUB_TEST_NUMBER", 7)


def test_env_list_comma_separated_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_LIST", " hub.example.com, ,localhost,")
    assert env_list("HUB_TEST_LIST", "ignored") == ["hub.example.com", "localhost"]
    monkeypatch.delenv("HUB_TEST_LIST")
    assert env_list("HUB_TEST_LIST", "127.0.0.1,localhost") == ["127.0.0.1", "localhost"]


def test_env_host_ports_parses_pairs_and_defaults_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TEST_HOSTS", " sentinel-1:26380, sentinel-2 ,[::1]:26381,[fd00::2]")
    assert env_host_ports("HUB_TEST_HOSTS", 26379) == [
        ("sentinel-1", 26380),
        ("sentinel-2", 26379),
        ("::1", 26381),
        ("fd00::2", 26379),
    ]
    monkeypatch.delenv("HUB_TEST_HOSTS")
    assert env_host_ports("HUB_TEST_HOSTS", 26379) == []


@pytest.mark.parametrize("value", ["sentinel-1:port", ":26379", "sentinel-1:"])
def test_env_host_ports_bad_item_raises_naming_it(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_TEST_HOSTS", f"ok:26379,{value}")
    with pytest.raises(ValueError, match="HUB_TEST_HOSTS"):
        env_host_ports("HUB_TEST_HOSTS", 26379)


# --- the settings module, imported in subprocesses ---


@pytest.mark.parametrize("value", ["1", "true", "YES", "On"])
def test_settings_debug_true_word_turns_debug_on(tmp_path: Path, value: str) -> None:
    env = clean_env(tmp_path, DATABASE_URL=POSTGRES_URL, DJANGO_DEBUG=value)
    assert settings_in_subprocess(env)["DEBUG"] is True


@pytest.mark.parametrize("value", ["0", "no", "banana"])
def test_settings_debug_other_word_turns_debug_off(tmp_path: Path, value: str) -> None:
    env = clean_env(tmp_path, DJANGO_DEBUG=value)  # embedded mode, whose default is on
    assert settings_in_subprocess(env)["DEBUG"] is False


def test_settings_debug_unset_is_on_embedded_and_off_with_database_url(tmp_path: Path) -> None:
    assert settings_in_subprocess(clean_env(tmp_path))["DEBUG"] is True
    assert settings_in_subprocess(clean_env(tmp_path, DATABASE_URL=POSTGRES_URL))["DEBUG"] is False


def test_settings_without_database_url_use_sqlite_in_data_dir_and_memory_layer(tmp_path: Path) -> None:
    values = settings_in_subprocess(clean_env(tmp_path))

    data_dir = (tmp_path / "data").resolve()
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(database["NAME"]) == data_dir / "hub.sqlite3"
    assert Path(values["HUB_DATA_DIR"]) == data_dir
    assert Path(values["MEDIA_ROOT"]) == data_dir / "media"
    assert data_dir.is_dir()
    assert values["CHANNEL_LAYERS"]["default"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]


def test_settings_postgres_database_url_selects_postgresql(tmp_path: Path) -> None:
    database = settings_in_subprocess(clean_env(tmp_path, DATABASE_URL=POSTGRES_URL))["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["HOST"], database["PORT"], database["USER"]) == (
        "hub",
        "db.internal",
        5432,
        "hub",
    )


def test_settings_redis_url_selects_channels_redis(tmp_path: Path) -> None:
    env = clean_env(tmp_path, REDIS_URL="redis://cache.internal:6379/2")
    layer = settings_in_subprocess(env)["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"].startswith("channels_redis.")
    assert layer["CONFIG"]["hosts"] == ["redis://cache.internal:6379/2"]
    assert layer["CONFIG"]["prefix"] == "hub2"


def test_settings_redis_sentinels_configure_the_layer_to_find_the_primary(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        REDIS_URL="redis://ignored.internal:6379/5",
        REDIS_SENTINELS="sentinel-1:26379,sentinel-2:26380",
        REDIS_SENTINEL_MASTER="hub-primary",
        REDIS_SENTINEL_DB="3",
        REDIS_PASSWORD="primary-secret",
        REDIS_SENTINEL_PASSWORD="sentinel-secret",
    )
    layer = settings_in_subprocess(env)["CHANNEL_LAYERS"]["default"]
    assert layer["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert layer["CONFIG"] == {
        "hosts": [
            {
                "sentinels": [["sentinel-1", 26379], ["sentinel-2", 26380]],
                "master_name": "hub-primary",
                "db": 3,
                "password": "primary-secret",
                "sentinel_kwargs": {"password": "sentinel-secret"},
            }
        ],
        "prefix": "hub3",
    }


def test_settings_redis_sentinels_alone_default_the_master_name_and_database(tmp_path: Path) -> None:
    env = clean_env(tmp_path, REDIS_SENTINELS="sentinel-1")
    (host,) = settings_in_subprocess(env)["CHANNEL_LAYERS"]["default"]["CONFIG"]["hosts"]
    assert host == {"sentinels": [["sentinel-1", 26379]], "master_name": "mymaster", "db": 0}


def test_settings_redis_sentinels_with_a_bad_port_stop_the_start(tmp_path: Path) -> None:
    result = manage(clean_env(tmp_path, REDIS_SENTINELS="sentinel-1:2637x"), "check")
    assert result.returncode != 0
    assert "REDIS_SENTINELS" in result.stderr


# --- manage.py check ---


def test_check_deploy_with_production_values_is_clean(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("variable", DEV_SECRETS)
def test_check_debug_off_with_dev_secret_fails_naming_variable(tmp_path: Path, variable: str) -> None:
    env = production_env(tmp_path)
    del env[variable]

    result = manage(env, "check")

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "hub.E001" in line]
    assert len(errors) == 1, result.stderr
    assert variable in errors[0]


def test_check_debug_on_with_dev_secrets_passes(tmp_path: Path) -> None:
    result = manage(clean_env(tmp_path), "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hub.E001" not in result.stderr
