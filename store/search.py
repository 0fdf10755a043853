"""Searching messages by words: PostgreSQL full-text search on a GIN index, a word match elsewhere.

The document is the text, the caption and the file name (its `.`, `_` and `-` read as spaces, so
`invoice_march.pdf` is found by "invoice"). Migration 0007 indexes exactly `document_sql`; the query
below compiles to the same expression, which is what lets PostgreSQL use the index.

A search page is ordered by `search_order()`: newest first, as every page, but by an expression no
index sorts by. Left to the plain `timestamp` order, PostgreSQL walks the timestamp index backwards
and parses each row's text until it has a page, expecting the matches early; for a word in a few
messages of a million that walk read half the table (docs/performance.md, `search.p95`). With the
order out of the index's reach, it collects the GIN index's matches and sorts those.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import F, Func, Q, QuerySet
from django.db.models.expressions import OrderBy

# The stemming language of the index: "blenders" finds "blender". Changing it needs a new index.
SEARCH_CONFIG = "english"
MAX_WORDS = 16
_WORD = re.compile(r"\w+")
# The fallback's stemming: enough that a plural or a verb form finds its word.
_SUFFIXES = ("ies", "es", "s", "ing", "ed")


def document_sql(text: str, caption: str, filename: str) -> str:
    return (
        f"to_tsvector('{SEARCH_CONFIG}'::regconfig, COALESCE({text}, '') || ' ' || COALESCE({caption}, '')"
        f" || ' ' || translate(COALESCE({filename}, ''), '._-', '   '))"
    )


class MessageDocument(Func):
    """The indexed tsvector of a message (PostgreSQL only)."""

    arity = 3
    output_field = SearchVectorField()

    def __init__(self) -> None:
        super().__init__("text_body", "caption", "media_filename")

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        parts = [compiler.compile(expression) for expression in self.get_source_expressions()]
        params = [param for _, part_params in parts for param in part_params]
        return document_sql(*(sql for sql, _ in parts)), params


class Unindexed(Func):
    """A column's value through an identity no index matches (PostgreSQL: `col + interval '0'`)."""

    template = "(%(expressions)s + interval '0 seconds')"
    arity = 1


def search_order() -> tuple[OrderBy, ...]:
    """The newest-first order of a search page: (timestamp, id) descending."""
    if connection.vendor == "postgresql":
        return (Unindexed(F("timestamp")).desc(), F("id").desc())
    return (F("timestamp").desc(), F("id").desc())


def words_of(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:MAX_WORDS]


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def search_messages(messages: QuerySet[Any], query: str) -> QuerySet[Any]:
    """`messages` that hold every word of `query` (in any form on PostgreSQL)."""
    words = words_of(query)
    if not words:
        return messages.none()
    if connection.vendor == "postgresql":
        found = SearchQuery(" ".join(words), config=SEARCH_CONFIG, search_type="plain")
        matching: QuerySet[Any] = messages.alias(document=MessageDocument()).filter(document=found)
        return matching
    for word in words:
        part = stem(word)
        messages = messages.filter(
            Q(text_body__icontains=part) | Q(caption__icontains=part) | Q(media_filename__icontains=part)
        )
    return messages
