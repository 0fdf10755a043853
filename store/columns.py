"""Fits received values to their columns, so one odd field from Meta cannot fail a whole webhook."""

from __future__ import annotations

import re
from typing import TypeVar

from django.db import models

INT32_MAX = 2**31 - 1
# Deeper JSON is cut here: the raw body keeps it whole, and no walk over a row's JSON can overflow the stack.
MAX_JSON_DEPTH = 64
TOO_DEEP = "[nested deeper than 64 levels: see the raw webhook body]"
M = TypeVar("M", bound=models.Model)

# NUL, which PostgreSQL's text and jsonb refuse, and lone surrogates, which UTF-8 cannot encode.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def column_length(model: type[models.Model], name: str) -> int:
    field = model._meta.get_field(name)
    assert isinstance(field, models.CharField)
    assert field.max_length is not None
    return field.max_length


def storable_text(value: str) -> str:
    """`value` without NUL, and with each lone surrogate (a broken "\\ud800" escape) as U+FFFD."""
    if not _UNSTORABLE.search(value):
        return value
    return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else "\ufffd", value)


def fit(model: type[models.Model], name: str, value: str) -> str:
    """`value` as column `name` stores it: storable and cut to its length. Lookups use the same form,
    so a value too long for its column is found again on a redelivery."""
    return storable_text(value)[: column_length(model, name)]


def without_nul(value: object, depth: int = 0) -> object:
    """The value with every string storable (`storable_text`), in nested JSON too, cut at MAX_JSON_DEPTH.

    A webhook that can never be stored would be redelivered by Meta for days.
    """
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict | list | tuple) and depth >= MAX_JSON_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        pairs = [(storable_text(str(k)), k, without_nul(v, depth + 1), v) for k, v in value.items()]
        # Nothing replaced: keep the original object (callers test identity to see a change).
        if all(new_key is key and new is old for new_key, key, new, old in pairs):
            return value
        return {new_key: new for new_key, _, new, _ in pairs}
    if isinstance(value, list | tuple):
        items = [without_nul(item, depth + 1) for item in value]
        if isinstance(value, list) and all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items
    return value


def clip_to_columns(instance: M) -> M:
    """Make every string storable and cut it to its column's `max_length`; drop integers a 32-bit column
    cannot hold.

    On PostgreSQL an unstorable value would abort the transaction, the webhook would answer 5xx and Meta
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
