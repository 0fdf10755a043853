"""Dataclass fields declared by where they sit in Meta's JSON, how they are read and what they fill.

A parsed type lists its fields once, e.g. `caption: str = wire("caption", column="caption")`, and
`parse_wire` builds it from a JSON object. A path names keys from the object inwards, dot-separated:
`$type` stands for the key that the object's own `type` names (Meta nests an interactive reply under
`interactive.<type>`), and `|` separates alternatives, the first non-empty one winning (a renamed key).
`column` names the field of `store.records.MessageRecord` the value fills at ingest; see `wire_columns`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from webhook.wire import JSONObject, obj, objects, text

T = TypeVar("T")
Reader = Callable[[object], Any]

WIRE = "wire"


@dataclasses.dataclass(frozen=True, slots=True)
class WireSpec:
    alternatives: tuple[tuple[str, ...], ...]
    read: Reader
    column: str
    # The one plain key, when the path is no more than that (most are): read without walking.
    key: str = ""


def wire(path: str, read: Reader = text, *, column: str = "") -> Any:
    """A field read from `path` with `read`; its default is what `read` makes of a missing value."""
    alternatives = tuple(tuple(part.split(".")) for part in path.split("|"))
    (first, *_), *others = alternatives
    plain = not others and len(alternatives[0]) == 1 and first != "$type"
    spec = WireSpec(alternatives=alternatives, read=read, column=column, key=first if plain else "")
    default = read(None)
    metadata = {WIRE: spec}
    if isinstance(default, list | dict):
        raise TypeError("a wire field's default must be immutable")
    return dataclasses.field(default=default, metadata=metadata)


def one(cls: type[T]) -> Callable[[object], T | None]:
    """Read a nested object as `cls`, or None when it is missing or not an object."""

    def read(value: object) -> T | None:
        return parse_wire(cls, value) if isinstance(value, dict) else None

    return read


def each(cls: type[T]) -> Callable[[object], tuple[T, ...]]:
    """Read a list of objects as a tuple of `cls`; anything but objects in it is skipped."""

    def read(value: object) -> tuple[T, ...]:
        return tuple(parse_wire(cls, item) for item in objects(value))

    return read


def _lookup(data: JSONObject, keys: tuple[str, ...]) -> object:
    value: object = data
    for key in keys:
        current = obj(value)
        if key == "$type":
            named = text(current.get("type"))
            value = current.get(named) if named else None
        else:
            value = current.get(key)
    return value


def _read(data: JSONObject, spec: WireSpec) -> object:
    if spec.key:
        return spec.read(data.get(spec.key))
    value: object = None
    for keys in spec.alternatives:
        value = spec.read(_lookup(data, keys))
        if value:
            return value
    return value


_PLANS: dict[type, tuple[tuple[str, WireSpec], ...]] = {}


def _plan(cls: type) -> tuple[tuple[str, WireSpec], ...]:
    # Read once per class: a webhook body parses many messages of few types.
    plan = _PLANS.get(cls)
    if plan is None:
        fields = dataclasses.fields(cls)
        plan = _PLANS[cls] = tuple((f.name, f.metadata[WIRE]) for f in fields if WIRE in f.metadata)
    return plan


def parse_wire(cls: type[T], data: object, **given: Any) -> T:
    """Build `cls` from a JSON object by its fields' wire declarations; `given` sets the others."""
    source = obj(data)
    values = {name: _read(source, spec) for name, spec in _plan(cls) if name not in given}
    return cls(**values, **given)


def wire_columns(parsed: object) -> Iterator[tuple[str, object]]:
    """(column, value) of each of a parsed object's fields that fills a column, in declaration order."""
    if parsed is None or not dataclasses.is_dataclass(parsed):
        return
    for f in dataclasses.fields(parsed):
        spec = f.metadata.get(WIRE)
        if spec is not None and spec.column:
            yield spec.column, getattr(parsed, f.name)
