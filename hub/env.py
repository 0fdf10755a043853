"""Typed readers of environment variables for the settings module."""

from __future__ import annotations

import os

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool) -> bool:
    """`1`, `true`, `yes`, `on` in any case are true; any other set value is false."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_WORDS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_host_ports(name: str, default_port: int) -> list[tuple[str, int]]:
    """Comma-separated `host:port` items (`host` alone takes `default_port`; `[::1]:26379` for IPv6).

    A port that is not a number raises ValueError naming the variable, so a typo stops the start.
    """
    pairs = []
    for item in env_list(name, ""):
        host, colon, port = item.rpartition(":")
        if not colon or host.endswith(":"):
            host, port = item, str(default_port)
        host = host.removeprefix("[").removesuffix("]")
        if not host or not port.isdigit():
            raise ValueError(f"{name}: {item!r} is not host:port")
        pairs.append((host, int(port)))
    return pairs
