"""The byte ranges the media view serves (api/byte_range.py): pure, no I/O."""

from __future__ import annotations

import pytest

from api.byte_range import ByteSpan, Unsatisfiable, requested_span


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", ByteSpan(0, 99, 1000)),
        ("bytes=900-", ByteSpan(900, 999, 1000)),
        ("bytes=-100", ByteSpan(900, 999, 1000)),
        ("bytes=990-5000", ByteSpan(990, 999, 1000)),  # past the end: clipped to it
        ("Bytes = 10 - 19", ByteSpan(10, 19, 1000)),
    ],
)
def test_a_single_range_is_the_span_it_names(header: str, span: ByteSpan) -> None:
    assert requested_span(header, 1000) == span


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes=0-",
        "bytes=0-999",
        "bytes=-5000",
        "bytes=0-1,5-9",
        "items=0-9",
        "bytes=9-1",
        "bytes=-",
    ],
)
def test_no_range_or_one_not_served_as_a_range_is_the_whole_file(header: str | None) -> None:
    assert requested_span(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        requested_span(header, 1000)


def test_a_span_says_its_length_and_content_range() -> None:
    span = ByteSpan(10, 19, 1000)
    assert (span.length, span.content_range) == (10, "bytes 10-19/1000")
