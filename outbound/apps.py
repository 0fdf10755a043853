"""App config of the outbound side (its management commands: run_worker)."""

from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "outbound"
