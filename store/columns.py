"""Fits received values to their columns, so one oversized field from Meta cannot fail a whole webhook."""

from __future__ import annotations

from typing import TypeVar

from django.db import models

INT32_MAX = 2**31 - 1
M = TypeVar("M", bound=models.Model)


def column_length(model: type[models.Model], name: str) -> int:
    field = model._meta.get_field(name)
    assert isinstance(field, models.CharField)
    assert field.max_length is not None
    return field.max_length


def without_nul(value: object) -> object:
    """The value with every NUL character removed, in nested JSON too: PostgreSQL's text and jsonb
    refuse U+0000, and a webhook that can never be stored would be redelivered by Meta for days."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {str(without_nul(k)): without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


def clip_to_columns(instance: M) -> M:
    """Truncate every string over its column's `max_length`; drop integers a 32-bit column cannot hold.

    On PostgreSQL an oversized value would abort the transaction, the webhook would answer 5xx and Meta
    would redeliver the same body for days: better to keep all else and cut the excess.
    """
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        if isinstance(value, str | dict | list):
            cleaned = without_nul(value)
            if cleaned is not value:
                setattr(instance, field.attname, cleaned)
                value = cleaned
        if isinstance(field, models.CharField) and isinstance(value, str) and field.max_length:
            if len(value) > field.max_length:
                setattr(instance, field.attname, value[: field.max_length])
        elif (
            isinstance(field, models.IntegerField)
            and not isinstance(field, models.BigIntegerField | models.AutoField)
            and isinstance(value, int)
            and abs(value) > INT32_MAX
        ):
            setattr(instance, field.attname, None if field.null else 0)
    return instance
