"""Conversation labels: lower-case names, checked and ordered the same way wherever they are set (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_LABELS = 20
MAX_LABEL_LENGTH = 48
# Letters, digits, space, `-` and `_`: no quote or backslash, so a label is found in a JSON list's text
# exactly as written (store/queries.py, the label filter on SQLite).
_LABEL = re.compile(r"^[\w][\w \-]*$")


class LabelError(ValueError):
    """A label that cannot be stored; the message says why."""


def normalise_label(name: str) -> str:
    label = " ".join(name.split()).lower()
    if not label:
        raise LabelError("A label cannot be empty.")
    if len(label) > MAX_LABEL_LENGTH:
        raise LabelError(f"A label has at most {MAX_LABEL_LENGTH} characters.")
    if not _LABEL.match(label):
        raise LabelError(f"Label {label!r} may hold only letters, digits, spaces, '-' and '_'.")
    return label


def normalise_labels(names: Iterable[str]) -> list[str]:
    """The labels as stored: normalised, without duplicates, sorted."""
    labels = sorted({normalise_label(name) for name in names})
    if len(labels) > MAX_LABELS:
        raise LabelError(f"A conversation has at most {MAX_LABELS} labels.")
    return labels
