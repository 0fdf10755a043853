"""Model fields tuned for the ingest path's bulk inserts."""

from __future__ import annotations

from typing import Any

from django.db import models


class PerValueJSONField(models.JSONField):
    """A JSONField inserted with one placeholder per value, never through PostgreSQL's UNNEST.

    Django 5.2 sends many rows on PostgreSQL as one array per column; with psycopg's client-side
    binding each JSON text in an array is then quoted in Python, element by element. A placeholder per
    value keeps libpq's escaping in C: half the CPU of the HubEvent insert of a 16-webhook group.
    Any field with `get_placeholder` turns UNNEST off for its model's bulk inserts.
    """

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> str:
        return "%s"
