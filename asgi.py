"""Entry point for `daphne asgi:application` run from the repository root."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

from hub.asgi import application

__all__ = ["application"]
