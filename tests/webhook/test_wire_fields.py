"""Declared wire fields: paths, alternatives, the `$type` key and the columns they fill."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from webhook.wire import integer
from webhook.wire_fields import each, parse_wire, wire, wire_columns


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    sku: str = wire("sku")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    name: str = wire("name.first|nickname", column="text_body")
    count: int | None = wire("$type.count", integer, column="quantity")
    items: tuple[Item, ...] = wire("items", each(Item))


def test_parse_wire_takes_the_first_alternative_that_is_set() -> None:
    assert parse_wire(Sample, {"name": {"first": "Ada"}, "nickname": "A"}).name == "Ada"
    assert parse_wire(Sample, {"name": {}, "nickname": "A"}).name == "A"


def test_parse_wire_type_key_reads_under_the_object_its_type_names() -> None:
    parsed = parse_wire(Sample, {"type": "box", "box": {"count": "3"}, "items": [{"sku": "X"}, 7]})
    assert (parsed.count, parsed.items) == (3, (Item(sku="X"),))


def test_parse_wire_broken_shapes_read_as_missing() -> None:
    assert parse_wire(Sample, ["not", "an", "object"]) == Sample()
    assert parse_wire(Sample, {"type": 5, "name": "flat", "items": "none"}) == Sample()


def test_wire_columns_follow_declaration_order() -> None:
    parsed = parse_wire(Sample, {"nickname": "A", "type": "box", "box": {"count": 2}})
    assert list(wire_columns(parsed)) == [("text_body", "A"), ("quantity", 2)]


def test_wire_refuses_a_mutable_default() -> None:
    with pytest.raises(TypeError):
        wire("items", lambda value: [])
